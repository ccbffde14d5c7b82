package features

import (
	"fmt"
	"math"
	"testing"

	"atelier/engine/tensor"
)

// softmaxLoss64 is sum(r * softmax_spatial(x/T)) in float64.
func softmaxLoss64(x []float64, r *tensor.Tensor, planes, size int, temp float64) float64 {
	s := 0.0
	for p := 0; p < planes; p++ {
		v := x[p*size : (p+1)*size]
		m := math.Inf(-1)
		for _, e := range v {
			m = math.Max(m, e)
		}
		z := 0.0
		for _, e := range v {
			z += math.Exp((e - m) / temp)
		}
		for i, e := range v {
			s += float64(r.Data[p*size+i]) * math.Exp((e-m)/temp) / z
		}
	}
	return s
}

func TestSpatialSoftmax(t *testing.T) {
	for _, temp := range []float32{0.5, 1, 3} {
		t.Run(fmt.Sprintf("T=%g", temp), func(t *testing.T) {
			x := randTensor(1, 2, 3, 4, 5)
			for i := range x.Data {
				x.Data[i] *= 3
			}
			s := NewSpatialSoftmax(temp)
			y := s.Forward(x)
			for p := 0; p < 6; p++ {
				sum := 0.0
				for _, v := range y.Data[p*20 : (p+1)*20] {
					sum += float64(v)
				}
				if math.Abs(sum-1) > 1e-6 {
					t.Errorf("plane %d sums to %g", p, sum)
				}
			}
			r := randTensor(2, y.Shape...)
			dx := s.Backward(r)
			x64 := make([]float64, len(x.Data))
			for i, v := range x.Data {
				x64[i] = float64(v)
			}
			const h = 1e-5
			for i := range x64 {
				orig := x64[i]
				x64[i] = orig + h
				lp := softmaxLoss64(x64, r, 6, 20, float64(temp))
				x64[i] = orig - h
				lm := softmaxLoss64(x64, r, 6, 20, float64(temp))
				x64[i] = orig
				num := (lp - lm) / (2 * h)
				if g := float64(dx.Data[i]); math.Abs(g-num) > 1e-5+1e-4*math.Abs(num) {
					t.Errorf("dx[%d] = %.7g, numeric %.7g", i, g, num)
				}
			}
		})
	}
}

func TestSpatialSoftmaxLargeValues(t *testing.T) {
	x := tensor.FromData([]float32{1000, 999, -1000, 0}, 1, 1, 2, 2)
	y := NewSpatialSoftmax(1).Forward(x)
	want := []float64{1 / (1 + math.Exp(-1)), math.Exp(-1) / (1 + math.Exp(-1)), 0, 0}
	for i, v := range y.Data {
		if math.IsNaN(float64(v)) || math.Abs(float64(v)-want[i]) > 1e-6 {
			t.Errorf("y[%d] = %g, want %g", i, v, want[i])
		}
	}
	if s := NewSpatialSoftmax(0); s.T != 1 {
		t.Errorf("temperature 0 gives T=%g, want 1", s.T)
	}
}
