package nn

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"atelier/engine/tensor"
)

func TestConvTranspose2DIsAdjointOfConv2D(t *testing.T) {
	for _, tc := range []struct {
		k, s, d int
		opt     ConvTransposeOpts
		h, w    int
	}{
		{3, 1, 1, ConvTransposeOpts{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}, 6, 7},
		{3, 2, 1, ConvTransposeOpts{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, OutPadH: 1, OutPadW: 1}, 5, 6},
		{4, 2, 1, ConvTransposeOpts{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}, 5, 4},
		{3, 2, 2, ConvTransposeOpts{PadTop: 2, PadBottom: 1, PadLeft: 0, PadRight: 2, OutPadW: 1}, 4, 5},
		{5, 1, 1, ConvTransposeOpts{}, 3, 4},
		{3, 2, 1, ConvTransposeOpts{Pad: PadSame}, 4, 5},
		{4, 2, 1, ConvTransposeOpts{Pad: PadSame}, 5, 4},
		{1, 2, 1, ConvTransposeOpts{Pad: PadSame}, 3, 3},
		{9, 1, 1, ConvTransposeOpts{Pad: PadSame}, 5, 6},
	} {
		opt := tc.opt
		opt.Stride, opt.Dilation = tc.s, tc.d
		t.Run(fmt.Sprintf("k%d_s%d_d%d_%v", tc.k, tc.s, tc.d, opt), func(t *testing.T) {
			const in, out = 3, 2
			w := randTensor(1, in, out, tc.k, tc.k)
			b := randTensor(2, out)
			ct := NewConvTranspose2D(w, nil, opt)
			x := randTensor(3, 2, in, tc.h, tc.w)
			y := ct.Forward(x)
			shape, err := ct.OutShape(x.Shape)
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.ShapeEqual(shape, y.Shape) {
				t.Fatalf("OutShape %v, Forward %v", shape, y.Shape)
			}
			wantH := (tc.h-1)*tc.s - opt.PadTop - opt.PadBottom + tc.d*(tc.k-1) + opt.OutPadH + 1
			wantW := (tc.w-1)*tc.s - opt.PadLeft - opt.PadRight + tc.d*(tc.k-1) + opt.OutPadW + 1
			if opt.Pad == PadSame {
				wantH, wantW = tc.h*tc.s, tc.w*tc.s
			}
			if y.Shape[2] != wantH || y.Shape[3] != wantW {
				t.Fatalf("output %v, want %dx%d", y.Shape, wantH, wantW)
			}
			// The matching convolution maps y's shape back to x's.
			copt := ConvOpts{Stride: tc.s, Dilation: tc.d, Pad: opt.Pad, PadTop: opt.PadTop, PadBottom: opt.PadBottom, PadLeft: opt.PadLeft, PadRight: opt.PadRight}
			conv := NewConv2D(w, nil, copt)
			u := randTensor(4, y.Shape...)
			cu := conv.Forward(u)
			if !cu.SameShape(x) {
				t.Fatalf("conv of the output shape gives %v, want %v", cu.Shape, x.Shape)
			}
			// <conv(u), x> == <u, convT(x)>, against the float64 reference.
			lhs := tensorDot(refConv(u, w, nil, copt, 1), x)
			rhs := tensorDot(u, y)
			if math.Abs(lhs-rhs) > 1e-4*(math.Abs(lhs)+1) {
				t.Fatalf("<conv u, x> = %g, <u, convT x> = %g", lhs, rhs)
			}
			checkLayerGrad(t, NewConvTranspose2D(w, b, opt), x, 1e-2)
		})
	}
}

func TestConvTranspose2DBiasAndErrors(t *testing.T) {
	w := randTensor(1, 3, 2, 3, 3)
	b := tensor.FromData([]float32{0.5, -1}, 2)
	x := randTensor(2, 1, 3, 4, 4)
	opt := ConvTransposeOpts{Stride: 2, Pad: PadSame}
	plain := NewConvTranspose2D(w, nil, opt).Forward(x).Clone()
	biased := NewConvTranspose2D(w, b, opt).Forward(x)
	hw := 8 * 8
	for i, v := range biased.Data {
		if d := v - plain.Data[i] - b.Data[i/hw]; math.Abs(float64(d)) > 1e-6 {
			t.Fatalf("bias not added at %d", i)
		}
	}
	for _, tc := range []struct {
		name string
		l    *ConvTranspose2D
		in   []int
	}{
		{"nil weight", NewConvTranspose2D(nil, nil, ConvTransposeOpts{}), []int{1, 3, 4, 4}},
		{"bias length", NewConvTranspose2D(w, randTensor(1, 3), ConvTransposeOpts{}), []int{1, 3, 4, 4}},
		{"reflect", NewConvTranspose2D(w, nil, ConvTransposeOpts{Pad: PadReflect}), []int{1, 3, 4, 4}},
		{"output padding", NewConvTranspose2D(w, nil, ConvTransposeOpts{Stride: 2, OutPadH: 2}), []int{1, 3, 4, 4}},
		{"channels", NewConvTranspose2D(w, nil, ConvTransposeOpts{}), []int{1, 2, 4, 4}},
		{"padding eats output", NewConvTranspose2D(w, nil, ConvTransposeOpts{PadTop: 3, PadBottom: 3}), []int{1, 3, 1, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.l.OutShape(tc.in); !errors.Is(err, ErrShape) {
				t.Fatalf("error %v, want ErrShape", err)
			}
		})
	}
}
