package nn

import (
	"errors"
	"testing"

	"atelier/engine/tensor"
)

func TestDense(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shape []int
		bias  bool
	}{
		{"rows", []int{3, 12}, true},
		{"flattened", []int{2, 3, 2, 2}, true},
		{"no bias", []int{1, 12}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := randTensor(1, tc.shape...)
			w := randTensor(2, 12, 5)
			var b *tensor.Tensor
			if tc.bias {
				b = randTensor(3, 5)
			}
			d := NewDense(w, b)
			y := d.Forward(x)
			n := tc.shape[0]
			if !tensor.ShapeEqual(y.Shape, []int{n, 5}) {
				t.Fatalf("shape %v", y.Shape)
			}
			for i := 0; i < n; i++ {
				for j := 0; j < 5; j++ {
					s := 0.0
					if b != nil {
						s = float64(b.Data[j])
					}
					for k := 0; k < 12; k++ {
						s += float64(x.Data[i*12+k]) * float64(w.Data[k*5+j])
					}
					if diff := float64(y.Data[i*5+j]) - s; diff > 1e-5 || diff < -1e-5 {
						t.Fatalf("y[%d,%d] = %v, want %v", i, j, y.Data[i*5+j], s)
					}
				}
			}
			checkLayerGrad(t, d, x, 1e-2)
		})
	}
}

func TestDenseErrors(t *testing.T) {
	w := randTensor(1, 12, 5)
	for _, tc := range []struct {
		name string
		d    *Dense
		in   []int
	}{
		{"nil", NewDense(nil, nil), []int{1, 12}},
		{"3-D weight", NewDense(randTensor(1, 2, 6, 5), nil), []int{1, 12}},
		{"bias", NewDense(w, randTensor(1, 12)), []int{1, 12}},
		{"input size", NewDense(w, nil), []int{1, 11}},
		{"1-D input", NewDense(w, nil), []int{12}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.d.OutShape(tc.in); !errors.Is(err, ErrShape) {
				t.Fatalf("error %v, want ErrShape", err)
			}
		})
	}
}
