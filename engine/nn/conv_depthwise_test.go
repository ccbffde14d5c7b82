package nn

import (
	"errors"
	"fmt"
	"testing"

	"atelier/engine/tensor"
)

// refDepthwise evaluates a depthwise convolution as a dense one whose
// weight is zero outside each channel's own filters.
func refDepthwise(x, w, b *tensor.Tensor, o ConvOpts) *tensor.Tensor {
	c := x.Shape[1]
	cm, _, kh, kw := w.Dims()
	m := cm / c
	dense := tensor.New(cm, c, kh, kw)
	for oc := 0; oc < cm; oc++ {
		copy(dense.Data[(oc*c+oc/m)*kh*kw:(oc*c+oc/m+1)*kh*kw], w.Data[oc*kh*kw:(oc+1)*kh*kw])
	}
	return refConv(x, dense, b, o, 1)
}

func TestDepthwiseConv2D(t *testing.T) {
	for _, tc := range []struct {
		k, mult int
		opt     ConvOpts
	}{
		{3, 1, ConvOpts{Pad: PadSame}},
		{3, 2, ConvOpts{Pad: PadSame, Stride: 2}},
		{5, 3, ConvOpts{Pad: PadReflect, PadTop: 2, PadBottom: 2, PadLeft: 1, PadRight: 3}},
		{3, 1, ConvOpts{Dilation: 2, Pad: PadCircular, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2}},
		{1, 2, ConvOpts{}},
		{4, 1, ConvOpts{Stride: 2}},
	} {
		t.Run(fmt.Sprintf("k%d_m%d_%+v", tc.k, tc.mult, tc.opt), func(t *testing.T) {
			const ch = 3
			x := randTensor(1, 2, ch, 9, 8)
			w := randTensor(2, ch*tc.mult, 1, tc.k, tc.k)
			b := randTensor(3, ch*tc.mult)
			l := NewDepthwiseConv2D(w, b, tc.opt)
			y := l.Forward(x)
			want := refDepthwise(x, w, b, tc.opt)
			shape, err := l.OutShape(x.Shape)
			if err != nil {
				t.Fatal(err)
			}
			if !y.SameShape(want) || !tensor.ShapeEqual(shape, want.Shape) {
				t.Fatalf("shape %v (OutShape %v), want %v", y.Shape, shape, want.Shape)
			}
			if d := tensor.MaxAbsDiff(y, want); d > 1e-5 {
				t.Fatalf("max diff %g", d)
			}
			checkLayerGrad(t, l, x, 1e-2)
		})
	}
}

func TestDepthwiseConv2DErrorsAndLayout(t *testing.T) {
	w := randTensor(1, 6, 1, 3, 3)
	for _, tc := range []struct {
		name string
		l    *DepthwiseConv2D
		in   []int
	}{
		{"not depthwise", NewDepthwiseConv2D(randTensor(1, 6, 2, 3, 3), nil, ConvOpts{}), []int{1, 3, 5, 5}},
		{"bias", NewDepthwiseConv2D(w, randTensor(1, 3), ConvOpts{}), []int{1, 3, 5, 5}},
		{"channels", NewDepthwiseConv2D(w, nil, ConvOpts{}), []int{1, 4, 5, 5}},
		{"too small", NewDepthwiseConv2D(w, nil, ConvOpts{}), []int{1, 3, 2, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.l.OutShape(tc.in); !errors.Is(err, ErrShape) {
				t.Fatalf("error %v, want ErrShape", err)
			}
		})
	}
	tf := randTensor(2, 2, 3, 4, 2) // kh, kw, C, m
	o := DepthwiseHWCMToOIHW(tf)
	if !tensor.ShapeEqual(o.Shape, []int{8, 1, 2, 3}) {
		t.Fatalf("shape %v", o.Shape)
	}
	if o.Data[((2*2+1)*2+1)*3+2] != tf.Data[((1*3+2)*4+2)*2+1] {
		t.Fatal("channel 2, multiplier 1, tap (1,2) misplaced")
	}
}
