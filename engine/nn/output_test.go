package nn

import (
	"testing"

	"atelier/engine/tensor"
)

// TestSetOutput checks, for every OutputSetter, that Forward writes into a
// buffer given with SetOutput when it is large enough (returning it), into
// a new tensor when it is not, and that the values equal those of a twin
// layer with its own buffer.
func TestSetOutput(t *testing.T) {
	x := randTensor(1, 1, 16, 6, 7)
	x2 := randTensor(2, 1, 16, 6, 7)
	w3, b3 := randTensor(3, 8, 16, 3, 3), randTensor(4, 8)
	w1 := randTensor(5, 8, 16, 1, 1)
	type run func() *tensor.Tensor
	cases := []struct {
		name string
		mk   func() (OutputSetter, run)
	}{
		{"conv3x3", func() (OutputSetter, run) {
			c := NewConv2D(w3, b3, ConvOpts{Pad: PadSame})
			return c, func() *tensor.Tensor { return c.Forward(x) }
		}},
		{"conv3x3+relu fused", func() (OutputSetter, run) {
			c := NewConv2DReLU(NewConv2D(w3, b3, ConvOpts{Pad: PadSame}))
			return c, func() *tensor.Tensor { return c.Forward(x) }
		}},
		{"conv1x1+relu in place", func() (OutputSetter, run) {
			c := NewConv2DReLU(NewConv2D(w1, b3, ConvOpts{}))
			return c, func() *tensor.Tensor { return c.Forward(x) }
		}},
		{"relu", func() (OutputSetter, run) {
			r := NewReLU()
			return r, func() *tensor.Tensor { return r.Forward(x) }
		}},
		{"leaky relu", func() (OutputSetter, run) {
			r := NewLeakyReLU(0.1)
			return r, func() *tensor.Tensor { return r.Forward(x) }
		}},
		{"add", func() (OutputSetter, run) {
			a := NewAdd()
			return a, func() *tensor.Tensor { return a.Forward(x, x2) }
		}},
		{"concat", func() (OutputSetter, run) {
			c := NewConcat()
			return c, func() *tensor.Tensor { return c.Forward(x, x2) }
		}},
		{"upsample", func() (OutputSetter, run) {
			u := NewUpsample(2, Nearest)
			return u, func() *tensor.Tensor { return u.Forward(x) }
		}},
		{"depth to space", func() (OutputSetter, run) {
			p := NewDepthToSpaceTF(2)
			return p, func() *tensor.Tensor { return p.Forward(x) }
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, ref := tc.mk()
			want := ref().Clone()
			l, fwd := tc.mk()
			big := &tensor.Tensor{Data: make([]float32, 0, len(want.Data)+5)}
			l.SetOutput(big)
			if got := fwd(); got != big || &got.Data[0] != &big.Data[:1][0] {
				t.Fatalf("Forward did not return the buffer given with SetOutput")
			}
			if d := tensor.MaxAbsDiff(big, want); d != 0 || !tensor.ShapeEqual(big.Shape, want.Shape) {
				t.Fatalf("into the given buffer: shape %v, max diff %g", big.Shape, d)
			}
			small := &tensor.Tensor{Data: make([]float32, 0, 3)}
			l.SetOutput(small)
			got := fwd()
			if got == small {
				t.Fatalf("Forward used a buffer too small for its output")
			}
			if d := tensor.MaxAbsDiff(got, want); d != 0 {
				t.Fatalf("into a new buffer: max diff %g", d)
			}
			if again := fwd(); again != got {
				t.Fatalf("the new buffer did not become the output buffer")
			}
			l.SetOutput(nil)
			if own := fwd(); own == got || own == big || tensor.MaxAbsDiff(own, want) != 0 {
				t.Fatalf("SetOutput(nil) did not give the layer its own buffer again")
			}
		})
	}
}
