package nn

import (
	"errors"
	"fmt"
	"testing"

	"atelier/engine/tensor"
)

func TestPad2DRows(t *testing.T) {
	x := tensor.FromData([]float32{1, 2, 3}, 1, 1, 1, 3)
	for _, tc := range []struct {
		mode        PadMode
		left, right int
		want        []float32
	}{
		{PadExplicit, 2, 1, []float32{0, 0, 1, 2, 3, 0}},
		{PadReflect, 2, 2, []float32{3, 2, 1, 2, 3, 2, 1}},
		{PadCircular, 2, 3, []float32{2, 3, 1, 2, 3, 1, 2, 3}},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			y := NewPad2D(tc.mode, 0, 0, tc.left, tc.right).Forward(x)
			if !tensor.ShapeEqual(y.Shape, []int{1, 1, 1, len(tc.want)}) {
				t.Fatalf("shape %v", y.Shape)
			}
			for i, v := range tc.want {
				if y.Data[i] != v {
					t.Fatalf("got %v, want %v", y.Data, tc.want)
				}
			}
		})
	}
}

func TestPad2DAgainstReferenceAndGradients(t *testing.T) {
	for _, mode := range []PadMode{PadExplicit, PadReflect, PadCircular} {
		for _, p := range [][4]int{{1, 2, 0, 3}, {3, 0, 2, 2}, {0, 0, 0, 0}, {4, 4, 4, 4}} {
			t.Run(fmt.Sprintf("%v_%v", mode, p), func(t *testing.T) {
				x := randTensor(5, 2, 3, 5, 6)
				l := NewPad2D(mode, p[0], p[1], p[2], p[3])
				y := l.Forward(x)
				shape, err := l.OutShape(x.Shape)
				if err != nil {
					t.Fatal(err)
				}
				if !tensor.ShapeEqual(shape, y.Shape) || !tensor.ShapeEqual(shape, []int{2, 3, 5 + p[0] + p[1], 6 + p[2] + p[3]}) {
					t.Fatalf("OutShape %v, Forward %v", shape, y.Shape)
				}
				_, _, oh, ow := y.Dims()
				for i := 0; i < 6; i++ {
					for oy := 0; oy < oh; oy++ {
						for ox := 0; ox < ow; ox++ {
							iy, ix := refPadIndex(oy-p[0], 5, mode), refPadIndex(ox-p[2], 6, mode)
							want := float32(0)
							if iy >= 0 && ix >= 0 {
								want = x.Data[(i*5+iy)*6+ix]
							}
							if got := y.Data[(i*oh+oy)*ow+ox]; got != want {
								t.Fatalf("plane %d (%d,%d): %v, want %v", i, oy, ox, got, want)
							}
						}
					}
				}
				checkLayerGrad(t, l, x, 1e-3)
			})
		}
	}
}

func TestPad2DErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    *Pad2D
		in   []int
	}{
		{"same mode", NewPad2D(PadSame, 1, 1, 1, 1), []int{1, 1, 4, 4}},
		{"negative", NewPad2D(PadExplicit, -1, 0, 0, 0), []int{1, 1, 4, 4}},
		{"reflect too wide", NewPad2D(PadReflect, 0, 0, 4, 0), []int{1, 1, 4, 4}},
		{"circular too wide", NewPad2D(PadCircular, 5, 0, 0, 0), []int{1, 1, 4, 4}},
		{"3-D", NewPad2D(PadExplicit, 1, 1, 1, 1), []int{1, 4, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.l.OutShape(tc.in); !errors.Is(err, ErrShape) {
				t.Fatalf("error %v, want ErrShape", err)
			}
		})
	}
}

// TestPad2DThenConvEqualsPaddedConv checks that a separate reflection pad
// followed by a valid convolution equals a reflect-padded convolution.
func TestPad2DThenConvEqualsPaddedConv(t *testing.T) {
	x := randTensor(1, 2, 3, 9, 8)
	w := randTensor(2, 4, 3, 3, 3)
	pad := NewPad2D(PadReflect, 1, 2, 2, 1)
	seq := &Sequential{Layers: []Layer{pad, NewConv2D(w, nil, ConvOpts{})}}
	one := NewConv2D(w, nil, ConvOpts{Pad: PadReflect, PadTop: 1, PadBottom: 2, PadLeft: 2, PadRight: 1})
	if d := tensor.MaxAbsDiff(seq.Forward(x), one.Forward(x)); d > 1e-5 {
		t.Fatalf("forward differs by %g", d)
	}
	r := randTensor(3, one.y.Shape...)
	if d := tensor.MaxAbsDiff(seq.Backward(r), one.Backward(r)); d > 1e-5 {
		t.Fatalf("backward differs by %g", d)
	}
}
