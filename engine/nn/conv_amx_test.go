package nn

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"atelier/engine/tensor"
)

// amxCase is one convolution checked on the AMX path.
type amxCase struct {
	cin, cout, k, h, w int
	opt                ConvOpts
}

func (c amxCase) String() string {
	return fmt.Sprintf("%dx%d_%d-%d_%dx%d_%s", c.k, c.k, c.cin, c.cout, c.h, c.w, c.opt.Pad)
}

var amxCases = []amxCase{
	{cin: 128, cout: 64, k: 1, h: 37, w: 45, opt: ConvOpts{Pad: PadSame}},                                                      // the RDN 1x1
	{cin: 64, cout: 64, k: 5, h: 23, w: 31, opt: ConvOpts{Pad: PadSame}},                                                       // the RDN 5x5
	{cin: 16, cout: 64, k: 9, h: 20, w: 26, opt: ConvOpts{Pad: PadExplicit, PadTop: 4, PadBottom: 4, PadLeft: 4, PadRight: 4}}, // large kernel
	{cin: 33, cout: 17, k: 1, h: 9, w: 70, opt: ConvOpts{}},                                                                    // odd K, rows padded
	{cin: 20, cout: 40, k: 4, h: 11, w: 13, opt: ConvOpts{Pad: PadSame}},                                                       // even kernel: uneven padding
	{cin: 17, cout: 50, k: 3, h: 12, w: 19, opt: ConvOpts{}},                                                                   // 3x3 unpadded: not Winograd
	{cin: 16, cout: 32, k: 5, h: 3, w: 2, opt: ConvOpts{Pad: PadSame}},                                                         // image smaller than the kernel
}

// TestConv2DAMXMatchesReference checks the AMX forward pass against the
// float64 direct convolution in both precisions, through Conv2D.
func TestConv2DAMXMatchesReference(t *testing.T) {
	if !wgAMX {
		t.Skip("no AMX on this machine: the path is never taken")
	}
	for _, reduced := range []bool{false, true} {
		for i, tc := range amxCases {
			t.Run(fmt.Sprintf("reduced=%v/%v", reduced, tc), func(t *testing.T) {
				x := randTensor(int64(i), 2, tc.cin, tc.h, tc.w)
				w := randTensor(int64(i+100), tc.cout, tc.cin, tc.k, tc.k)
				b := randTensor(int64(i+200), tc.cout)
				c := NewConv2D(w, b, tc.opt)
				c.SetReducedPrecision(reduced)
				got := c.Forward(x)
				if c.amx == nil || c.amx == amxOff {
					t.Fatal("the AMX path was not taken")
				}
				want := refConv(x, w, b, tc.opt, 1)
				if !got.SameShape(want) {
					t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
				}
				w64 := make([]float64, len(want.Data))
				for j, v := range want.Data {
					w64[j] = float64(v)
				}
				tol := 2e-5
				if reduced {
					tol = 5e-4
				}
				if e := relErr(got.Data, w64); e > tol {
					t.Fatalf("relative error %.3g, want at most %g", e, tol)
				}
			})
		}
	}
}

// TestAMXConvParts checks that an input given in parts (a concatenation
// never built), a residual and the ReLU give what the concatenated input
// and separate layers give.
func TestAMXConvParts(t *testing.T) {
	if !wgAMX {
		t.Skip("no AMX on this machine")
	}
	const h, w = 19, 27
	a := randTensor(1, 1, 64, h, w)
	bb := randTensor(2, 1, 32, h, w)
	wt := randTensor(3, 48, 96, 1, 1)
	bias := randTensor(4, 48)
	r := randTensor(5, 1, 48, h, w)
	cat := NewConcat()
	x := cat.Forward(a, bb)
	want := refConv(x, wt, bias, ConvOpts{}, 1)
	for i := range want.Data {
		want.Data[i] = max(want.Data[i]+r.Data[i], 0)
	}
	e := newAMXConv(48, 96, 1, 1)
	y := make([]float32, 48*h*w)
	parts := []amxPart{{x: a.Data, cin: 64}, {x: bb.Data, cin: 32}}
	e.forward(wt.Data, bias.Data, parts, amxGeom{h: h, w: w, oh: h, ow: w}, r.Data, true, y)
	w64 := make([]float64, len(want.Data))
	for j, v := range want.Data {
		w64[j] = float64(v)
	}
	if err := relErr(y, w64); err > 2e-5 {
		t.Fatalf("relative error %.3g", err)
	}
}

// TestAMXConvWeightChange checks that changed weights are packed again.
func TestAMXConvWeightChange(t *testing.T) {
	if !wgAMX {
		t.Skip("no AMX on this machine")
	}
	x := randTensor(1, 1, 40, 10, 12)
	w := randTensor(2, 32, 40, 1, 1)
	c := NewConv2D(w, nil, ConvOpts{})
	c.Forward(x)
	for i := range w.Data {
		w.Data[i] *= -2
	}
	got := c.Forward(x)
	want := refConv(x, w, nil, ConvOpts{}, 1)
	if d := maxDiff(got.Data, want.Data); d > 1e-4 {
		t.Fatalf("after a weight change the output is off by %g", d)
	}
	w.Data[7] += 3 // a change the sample may miss
	c.WeightsChanged()
	got = c.Forward(x)
	want = refConv(x, w, nil, ConvOpts{}, 1)
	if d := maxDiff(got.Data, want.Data); d > 1e-4 {
		t.Fatalf("after WeightsChanged the output is off by %g", d)
	}
}

// TestConv2DReLUOnAMX checks the fused ReLU of the AMX path forward and
// backward against the two layers run separately.
func TestConv2DReLUOnAMX(t *testing.T) {
	if !wgAMX {
		t.Skip("no AMX on this machine")
	}
	x := randTensor(1, 1, 24, 14, 15)
	w := randTensor(2, 32, 24, 5, 5)
	b := randTensor(3, 32)
	dy := randTensor(4, 1, 32, 14, 15)
	opt := ConvOpts{Pad: PadSame}
	fused := NewConv2DReLU(NewConv2D(w, b, opt))
	fused.SetWeightGrad(false)
	y := fused.Forward(x).Clone()
	dx := fused.Backward(dy).Clone()
	if !fused.amxFused {
		t.Fatal("the fused AMX path was not taken")
	}
	conv := NewConv2D(w, b, opt)
	conv.amx = amxOff
	conv.SetWeightGrad(false)
	var relu ReLU
	y2 := relu.Forward(conv.Forward(x))
	dx2 := conv.Backward(relu.Backward(dy))
	if d := maxDiff(y.Data, y2.Data); d > 1e-4 {
		t.Fatalf("forward off by %g", d)
	}
	if d := maxDiff(dx.Data, dx2.Data); d > 1e-4 {
		t.Fatalf("backward off by %g", d)
	}
}

// BenchmarkConv2DAMX times the RDN layers on AMX and on the im2col core.
func BenchmarkConv2DAMX(b *testing.B) {
	for _, tc := range []amxCase{
		{cin: 128, cout: 64, k: 1, h: 256, w: 256, opt: ConvOpts{Pad: PadSame}},
		{cin: 64, cout: 64, k: 5, h: 256, w: 256, opt: ConvOpts{Pad: PadSame}},
		{cin: 128, cout: 32, k: 3, h: 256, w: 256, opt: ConvOpts{Pad: PadSame}},
		{cin: 192, cout: 64, k: 3, h: 256, w: 256, opt: ConvOpts{Pad: PadSame}},
		{cin: 64, cout: 64, k: 3, h: 256, w: 256, opt: ConvOpts{Pad: PadSame}},
	} {
		for _, path := range []string{"amx", "amx-reduced", "im2col", "winograd", "winograd-reduced"} {
			b.Run(fmt.Sprintf("%v/%s", tc, path), func(b *testing.B) {
				if path != "im2col" && !wgAMX {
					b.Skip("no AMX")
				}
				if strings.HasPrefix(path, "winograd") && tc.k != 3 {
					b.Skip("not a Winograd layer")
				}
				rng := rand.New(rand.NewSource(1))
				x := tensor.FromData(randFloats(rng, tc.cin*tc.h*tc.w, -1, 1), 1, tc.cin, tc.h, tc.w)
				w := tensor.FromData(randFloats(rng, tc.cout*tc.cin*tc.k*tc.k, -1, 1), tc.cout, tc.cin, tc.k, tc.k)
				c := NewConv2D(w, nil, tc.opt)
				c.SetReducedPrecision(strings.HasSuffix(path, "-reduced"))
				if path == "im2col" {
					c.amx = amxOff
				}
				if !strings.HasPrefix(path, "winograd") {
					c.SetWinograd(false)
				}
				c.Forward(x)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					c.Forward(x)
				}
			})
		}
	}
}

// TestFusedConv2D checks the fused convolution of parts with a residual and
// a ReLU against the layers run one after the other, on the AMX path where
// there is one and on the fallback, including parts that cannot share
// channel pairs (an odd part before the last), which take the fallback.
func TestFusedConv2D(t *testing.T) {
	const h, w = 13, 17
	for _, tc := range []struct {
		name     string
		chans    []int
		k        int
		residual bool
		relu     bool
	}{
		{"1x1 two parts residual", []int{64, 32}, 1, true, false},
		{"3x3 five parts relu", []int{64, 32, 32, 32, 32}, 3, false, true},
		{"5x5 one part residual relu", []int{48}, 5, true, true},
		{"odd last part", []int{32, 17}, 3, true, false},
		{"odd first part", []int{17, 32}, 1, false, true},
	} {
		for _, amx := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/amx=%v", tc.name, amx), func(t *testing.T) {
				if amx && !wgAMX {
					t.Skip("no AMX on this machine")
				}
				var xs []*tensor.Tensor
				cin := 0
				for i, c := range tc.chans {
					xs = append(xs, randTensor(int64(10+i), 1, c, h, w))
					cin += c
				}
				wt := randTensor(1, 40, cin, tc.k, tc.k)
				b := randTensor(2, 40)
				opt := ConvOpts{Pad: PadSame}
				want := refConv(NewConcat().Forward(xs...), wt, b, opt, 1)
				if tc.residual {
					r := randTensor(3, 1, 40, h, w)
					xs = append(xs, r)
					for i := range want.Data {
						want.Data[i] += r.Data[i]
					}
				}
				if tc.relu {
					for i, v := range want.Data {
						want.Data[i] = max(v, 0)
					}
				}
				c := NewConv2D(wt, b, opt)
				if !amx {
					c.amx = amxOff
				}
				f := NewFusedConv2D(c, len(tc.chans), tc.residual, tc.relu)
				for range 2 {
					got := f.Forward(xs...)
					if !got.SameShape(want) {
						t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
					}
					w64 := make([]float64, len(want.Data))
					for i, v := range want.Data {
						w64[i] = float64(v)
					}
					if e := relErr(got.Data, w64); e > 2e-5 {
						t.Fatalf("off by %.3g of the output scale", e)
					}
				}
			})
		}
	}
}

// TestConv2DAMXSkipsFewChannels checks that layers with few input channels
// (SRCNN's 9x9 on luma) keep sgemm, where AMX would waste its padding.
func TestConv2DAMXSkipsFewChannels(t *testing.T) {
	x := randTensor(1, 1, 1, 20, 20)
	w := randTensor(2, 64, 1, 9, 9)
	c := NewConv2D(w, nil, ConvOpts{Pad: PadSame})
	got := c.Forward(x)
	if c.amx != amxOff {
		t.Fatal("a one-channel 9x9 convolution took the AMX path")
	}
	if d := maxDiff(got.Data, refConv(x, w, nil, ConvOpts{Pad: PadSame}, 1).Data); d > 1e-4 {
		t.Fatalf("off by %g", d)
	}
}
