package features

import (
	"fmt"
	"math"
	"testing"

	"atelier/engine/tensor"
)

// softmaxRef64 is the SWAG transform in float64: per image, K times the
// softmax of x/T over all K elements.
func softmaxRef64(x []float64, n int, temp float64) []float64 {
	k := len(x) / n
	y := make([]float64, len(x))
	for b := 0; b < n; b++ {
		v := x[b*k : (b+1)*k]
		m := math.Inf(-1)
		for _, e := range v {
			m = math.Max(m, e)
		}
		z := 0.0
		for _, e := range v {
			z += math.Exp((e - m) / temp)
		}
		for i, e := range v {
			y[b*k+i] = float64(k) * math.Exp((e-m)/temp) / z
		}
	}
	return y
}

// softmaxLoss64 is sum(r * transform(x)) in float64.
func softmaxLoss64(x []float64, r *tensor.Tensor, n int, temp float64) float64 {
	s := 0.0
	for i, v := range softmaxRef64(x, n, temp) {
		s += float64(r.Data[i]) * v
	}
	return s
}

func TestSoftmaxTransform(t *testing.T) {
	for _, tc := range []struct {
		temp  float32
		shape []int
	}{
		{0.5, []int{1, 3, 4, 5}},
		{1, []int{2, 2, 3, 4}},
		{4, []int{2, 5, 2, 3}},
	} {
		t.Run(fmt.Sprintf("T=%g/%v", tc.temp, tc.shape), func(t *testing.T) {
			x := randTensor(1, tc.shape...)
			for i := range x.Data {
				x.Data[i] *= 3
			}
			n, k := tc.shape[0], tensor.Volume(tc.shape[1:])
			x64 := make([]float64, len(x.Data))
			for i, v := range x.Data {
				x64[i] = float64(v)
			}
			s := NewSoftmaxTransform(tc.temp)
			y := s.Forward(x)
			want := softmaxRef64(x64, n, float64(tc.temp))
			for b := 0; b < n; b++ {
				sum := 0.0
				for _, v := range y.Data[b*k : (b+1)*k] {
					sum += float64(v)
				}
				// The softmax runs over the whole image, not per channel:
				// the image's elements sum to K, its channels do not to
				// H·W each.
				if math.Abs(sum-float64(k)) > 1e-5*float64(k) {
					t.Errorf("image %d sums to %g, want %d", b, sum, k)
				}
			}
			for i, v := range y.Data {
				if math.Abs(float64(v)-want[i]) > 1e-5*math.Max(1, want[i]) {
					t.Fatalf("y[%d] = %g, want %g", i, v, want[i])
				}
			}

			r := randTensor(2, y.Shape...)
			dx := s.Backward(r)
			const h = 1e-5
			for i := range x64 {
				orig := x64[i]
				x64[i] = orig + h
				lp := softmaxLoss64(x64, r, n, float64(tc.temp))
				x64[i] = orig - h
				lm := softmaxLoss64(x64, r, n, float64(tc.temp))
				x64[i] = orig
				num := (lp - lm) / (2 * h)
				if g := float64(dx.Data[i]); math.Abs(g-num) > 1e-5+1e-4*math.Abs(num) {
					t.Errorf("dx[%d] = %.7g, numeric %.7g", i, g, num)
				}
			}
		})
	}
}

// TestSoftmaxTransformAcrossChannels tells the whole-tensor softmax from a
// per-channel one: a channel of larger activations takes more of the mass.
func TestSoftmaxTransformAcrossChannels(t *testing.T) {
	x := tensor.FromData([]float32{0, 0, 1, 1}, 1, 2, 1, 2)
	y := NewSoftmaxTransform(1).Forward(x)
	e := math.E
	k := 4.0
	want := []float64{k / (2 + 2*e), k / (2 + 2*e), k * e / (2 + 2*e), k * e / (2 + 2*e)}
	for i, v := range y.Data {
		if math.Abs(float64(v)-want[i]) > 1e-6 {
			t.Errorf("y[%d] = %g, want %g", i, v, want[i])
		}
	}
}

func TestSoftmaxTransformLargeValues(t *testing.T) {
	x := tensor.FromData([]float32{1000, 999, -1000, 0}, 1, 1, 2, 2)
	y := NewSoftmaxTransform(1).Forward(x)
	z := 1 + math.Exp(-1)
	want := []float64{4 / z, 4 * math.Exp(-1) / z, 0, 0}
	for i, v := range y.Data {
		if math.IsNaN(float64(v)) || math.Abs(float64(v)-want[i]) > 1e-5 {
			t.Errorf("y[%d] = %g, want %g", i, v, want[i])
		}
	}
	if s := NewSoftmaxTransform(0); s.T != DefaultSoftmaxTemperature {
		t.Errorf("temperature 0 gives T=%g, want %g", s.T, float32(DefaultSoftmaxTemperature))
	}
}

// TestSoftmaxTransformSizeInvariant checks the reason for the factor K: an
// image and the same image tiled 2x2 give the same values.
func TestSoftmaxTransformSizeInvariant(t *testing.T) {
	x := randTensor(3, 1, 2, 3, 3)
	big := tensor.New(1, 2, 6, 6)
	for c := 0; c < 2; c++ {
		for y := 0; y < 6; y++ {
			for xx := 0; xx < 6; xx++ {
				big.Data[(c*6+y)*6+xx] = x.Data[(c*3+y%3)*3+xx%3]
			}
		}
	}
	small := NewSoftmaxTransform(2).Forward(x).Clone()
	large := NewSoftmaxTransform(2).Forward(big)
	for c := 0; c < 2; c++ {
		for y := 0; y < 6; y++ {
			for xx := 0; xx < 6; xx++ {
				a, b := large.Data[(c*6+y)*6+xx], small.Data[(c*3+y%3)*3+xx%3]
				if math.Abs(float64(a-b)) > 1e-5 {
					t.Fatalf("tiled image differs at c%d y%d x%d: %g, want %g", c, y, xx, a, b)
				}
			}
		}
	}
}
