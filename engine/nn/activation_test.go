package nn

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"

	"atelier/engine/tensor"
)

func TestActivationsAgainstGorgonia(t *testing.T) {
	cases := []struct {
		name  string
		layer Layer
		op    func(x *G.Node) (*G.Node, error)
		scale float32
	}{
		{"ReLU", NewReLU(), G.Rectify, 1},
		{"LeakyReLU0.1", NewLeakyReLU(0.1), func(x *G.Node) (*G.Node, error) { return G.LeakyRelu(x, 0.1) }, 1},
		{"LeakyReLU-0.5", NewLeakyReLU(-0.5), func(x *G.Node) (*G.Node, error) { return G.LeakyRelu(x, -0.5) }, 1},
		{"Tanh", NewTanh(), G.Tanh, 3},
		{"Sigmoid", NewSigmoid(), G.Sigmoid, 8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := awayFromZero(randTensor(3, 2, 3, 5, 4), 0.05)
			for i := range x.Data {
				x.Data[i] *= tc.scale
			}
			want, r, wantDx, _ := gorgoniaOracle(t, x, func(_ *G.ExprGraph, xn *G.Node, _ []*G.Node) (*G.Node, error) { return tc.op(xn) })
			y := tc.layer.Forward(x)
			assertClose(t, "y", y, want, 1e-6)
			dx := tc.layer.Backward(r)
			assertClose(t, "dx", dx, wantDx, 1e-6)
			checkLayerGrad(t, tc.layer, x, 1e-2)
		})
	}
}

func TestSigmoidExtremeInputs(t *testing.T) {
	x := tensor.FromData([]float32{-1000, -90, 0, 90, 1000}, 5)
	y := NewSigmoid().Forward(x)
	want := []float32{0, 0, 0.5, 1, 1}
	for i, v := range y.Data {
		if math.IsNaN(float64(v)) || math.Abs(float64(v-want[i])) > 1e-7 {
			t.Fatalf("sigmoid(%v) = %v, want %v", x.Data[i], v, want[i])
		}
	}
}

// softmaxRef is a float64 channel softmax over axis 1.
func softmaxRef(x *tensor.Tensor) *tensor.Tensor {
	n, c, s := softmaxDims(x.Shape)
	y := tensor.New(x.Shape...)
	for b := 0; b < n; b++ {
		for p := 0; p < s; p++ {
			sum := 0.0
			for k := 0; k < c; k++ {
				sum += math.Exp(float64(x.Data[(b*c+k)*s+p]))
			}
			for k := 0; k < c; k++ {
				y.Data[(b*c+k)*s+p] = float32(math.Exp(float64(x.Data[(b*c+k)*s+p])) / sum)
			}
		}
	}
	return y
}

func TestSoftmax(t *testing.T) {
	t.Run("NC/gorgonia", func(t *testing.T) {
		x := randTensor(5, 3, 7)
		for i := range x.Data {
			x.Data[i] *= 4
		}
		want, r, wantDx, _ := gorgoniaOracle(t, x, func(_ *G.ExprGraph, xn *G.Node, _ []*G.Node) (*G.Node, error) { return G.SoftMax(xn, 1) })
		l := NewSoftmax()
		assertClose(t, "y", l.Forward(x), want, 1e-6)
		assertClose(t, "dx", l.Backward(r), wantDx, 1e-6)
	})
	for _, shape := range [][]int{{2, 5, 1, 1}, {2, 4, 3, 3}} {
		t.Run("NCHW", func(t *testing.T) {
			x := randTensor(6, shape...)
			for i := range x.Data {
				x.Data[i] = x.Data[i]*5 + 50 // large offset: the max shift matters
			}
			l := NewSoftmax()
			assertClose(t, "y", l.Forward(x), softmaxRef(x), 1e-6)
			// The checker's step grows with |x|; check the gradient near 0.
			checkLayerGrad(t, l, randTensor(7, shape...), 1e-2)
		})
	}
}

func TestActivationBackwardShapeMismatchPanics(t *testing.T) {
	l := NewReLU()
	l.Forward(randTensor(1, 1, 2, 3, 3))
	defer func() {
		if recover() == nil {
			t.Fatal("Backward with a wrongly shaped dy did not panic")
		}
	}()
	l.Backward(tensor.New(1, 2, 3, 4))
}

func TestActivationsDoNotAllocate(t *testing.T) {
	x := randTensor(2, 1, 8, 16, 16)
	for _, l := range []Layer{NewReLU(), NewLeakyReLU(0.2), NewTanh(), NewSigmoid(), NewSoftmax()} {
		y := l.Forward(x)
		dy := y.Clone()
		allocs := testing.AllocsPerRun(5, func() {
			l.Forward(x)
			l.Backward(dy)
		})
		if allocs != 0 {
			t.Errorf("%T: %v allocations per forward+backward, want 0", l, allocs)
		}
	}
}

func BenchmarkReLU(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			x := randTensor(1, 1, sz.c, sz.h, sz.w)
			l := NewReLU()
			dy := l.Forward(x).Clone()
			l.Backward(dy)
			b.ReportAllocs()
			b.SetBytes(int64(4 * len(x.Data)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				l.Forward(x)
				l.Backward(dy)
			}
		})
	}
}

// benchSizes are the NCHW sizes (N=1) the layer benchmarks run at.
var benchSizes = []struct {
	name    string
	c, h, w int
}{
	{"64x128x128", 64, 128, 128},
	{"64x256x256", 64, 256, 256},
}
