package nn

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"testing"

	"atelier/engine/tensor"
)

// refPadIndex resolves a padded position independently of padIndex.
func refPadIndex(p, n int, mode PadMode) int {
	if p >= 0 && p < n {
		return p
	}
	switch mode {
	case PadReflect:
		for p < 0 || p >= n {
			if p < 0 {
				p = -p
			}
			if p >= n {
				p = 2*(n-1) - p
			}
		}
		return p
	case PadCircular:
		return ((p % n) + n) % n
	}
	return -1
}

// refSamePad is TensorFlow's "same" padding for one axis.
func refSamePad(in, k, stride, dil int) (out, before, after int) {
	out = int(math.Ceil(float64(in) / float64(stride)))
	total := (out-1)*stride + (k-1)*dil + 1 - in
	if total < 0 {
		total = 0
	}
	return out, total / 2, total - total/2
}

// refConv is a direct float64 grouped convolution: weight [cout, cin/groups,
// kh, kw], output channel o reading input channels of group o/(cout/groups).
func refConv(x, w, b *tensor.Tensor, o ConvOpts, groups int) *tensor.Tensor {
	s, d := max(o.Stride, 1), max(o.Dilation, 1)
	n, cin, h, wd := x.Dims()
	cout, cinG, kh, kw := w.Dims()
	pt, pb, pl, pr := o.PadTop, o.PadBottom, o.PadLeft, o.PadRight
	var oh, ow int
	if o.Pad == PadSame {
		oh, pt, pb = refSamePad(h, kh, s, d)
		ow, pl, pr = refSamePad(wd, kw, s, d)
	} else {
		oh = (h+pt+pb-(kh-1)*d-1)/s + 1
		ow = (wd+pl+pr-(kw-1)*d-1)/s + 1
	}
	_ = cin
	mode := o.Pad
	if mode == PadSame {
		mode = PadExplicit
	}
	coutG := cout / groups
	y := tensor.New(n, cout, oh, ow)
	for i := 0; i < n; i++ {
		for co := 0; co < cout; co++ {
			gi := co / coutG
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					sum := 0.0
					if b != nil {
						sum = float64(b.Data[co])
					}
					for ci := 0; ci < cinG; ci++ {
						c := gi*cinG + ci
						for ky := 0; ky < kh; ky++ {
							iy := refPadIndex(oy*s+ky*d-pt, h, mode)
							if iy < 0 {
								continue
							}
							for kx := 0; kx < kw; kx++ {
								ix := refPadIndex(ox*s+kx*d-pl, wd, mode)
								if ix < 0 {
									continue
								}
								sum += float64(x.Data[((i*cin+c)*h+iy)*wd+ix]) * float64(w.Data[((co*cinG+ci)*kh+ky)*kw+kx])
							}
						}
					}
					y.Data[((i*cout+co)*oh+oy)*ow+ox] = float32(sum)
				}
			}
		}
	}
	return y
}

type convCase struct {
	name   string
	k      int
	stride int
	dil    int
	opt    ConvOpts // padding fields only
	h, w   int
}

// convCases is the test table: every kernel size, stride, dilation and
// padding mode, on spatial sizes of the dilated kernel's extent plus margin
// and plus margin+1, so that both odd and even extents occur.
func convCases(margin int) []convCase {
	var cs []convCase
	for _, k := range []int{1, 3, 5, 9} {
		for _, s := range []int{1, 2} {
			for _, d := range []int{1, 2} {
				if k == 1 && d == 2 {
					continue // identical to d == 1
				}
				eff := (k-1)*d + 1
				p := (eff - 1) / 2
				h, w := eff+margin+1, eff+margin // odd and even extents alternate
				modes := []struct {
					name string
					opt  ConvOpts
				}{
					{"valid", ConvOpts{}},
					{"zero-asym", ConvOpts{PadTop: p + 1, PadBottom: p / 2, PadLeft: p / 2, PadRight: p + 2}},
					{"same", ConvOpts{Pad: PadSame}},
					{"reflect", ConvOpts{Pad: PadReflect, PadTop: p, PadBottom: p + 1, PadLeft: p + 1, PadRight: p}},
					{"circular", ConvOpts{Pad: PadCircular, PadTop: p, PadBottom: p, PadLeft: p + 1, PadRight: p}},
				}
				for _, m := range modes {
					cs = append(cs, convCase{
						name: fmt.Sprintf("k%d_s%d_d%d_%s", k, s, d, m.name),
						k:    k, stride: s, dil: d, opt: m.opt, h: h, w: w,
					})
				}
			}
		}
	}
	// TF "same" at stride 2 on small even and odd inputs, where the padding
	// is asymmetric or absent.
	for _, hw := range [][2]int{{6, 7}, {7, 6}, {8, 8}, {5, 5}} {
		for _, k := range []int{1, 2, 3, 4} {
			cs = append(cs, convCase{name: fmt.Sprintf("same_s2_k%d_%dx%d", k, hw[0], hw[1]), k: k, stride: 2, dil: 1, opt: ConvOpts{Pad: PadSame}, h: hw[0], w: hw[1]})
		}
	}
	return cs
}

func (c convCase) opts() ConvOpts {
	o := c.opt
	o.Stride, o.Dilation = c.stride, c.dil
	return o
}

func TestConv2DForwardMatchesReference(t *testing.T) {
	for i, tc := range convCases(3) {
		for _, withBias := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s_bias%v", tc.name, withBias), func(t *testing.T) {
				const cin, cout = 3, 4
				x := randTensor(int64(i), 2, cin, tc.h, tc.w)
				w := randTensor(int64(i+100), cout, cin, tc.k, tc.k)
				var b *tensor.Tensor
				if withBias {
					b = randTensor(int64(i+200), cout)
				}
				c := NewConv2D(w, b, tc.opts())
				want := refConv(x, w, b, tc.opts(), 1)
				shape, err := c.OutShape(x.Shape)
				if err != nil {
					t.Fatal(err)
				}
				if !tensor.ShapeEqual(shape, want.Shape) {
					t.Fatalf("OutShape %v, want %v", shape, want.Shape)
				}
				// Twice, to exercise buffer reuse.
				for rep := 0; rep < 2; rep++ {
					y := c.Forward(x)
					if !y.SameShape(want) {
						t.Fatalf("shape %v, want %v", y.Shape, want.Shape)
					}
					if d := tensor.MaxAbsDiff(y, want); d > 1e-4 {
						t.Fatalf("max diff %g", d)
					}
				}
			})
		}
	}
}

func TestConv2DGradients(t *testing.T) {
	for i, tc := range convCases(1) {
		t.Run(tc.name, func(t *testing.T) {
			cin, cout := 2, 3
			if tc.k >= 5 {
				cin, cout = 1, 2 // keeps the many perturbed forwards cheap
			}
			x := randTensor(int64(i), 2, cin, tc.h, tc.w)
			w := randTensor(int64(i+100), cout, cin, tc.k, tc.k)
			b := randTensor(int64(i+200), cout)
			checkLayerGrad(t, NewConv2D(w, b, tc.opts()), x, 1e-2)
		})
	}
}

// TestConv2DBandedMatchesReference uses inputs big enough that the column
// buffer is split into several bands of output positions that start and end
// inside rows, including a short last band and rows wider than a band, and
// checks that the buffer stays within its budget.
func TestConv2DBandedMatchesReference(t *testing.T) {
	for _, tc := range []struct {
		name string
		cin  int
		h, w int
		opt  ConvOpts
	}{
		{"same", 64, 70, 61, ConvOpts{Pad: PadSame}},
		{"reflect_s2", 120, 67, 90, ConvOpts{Pad: PadReflect, Stride: 2, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
		{"rows_wider_than_band", 512, 2, 300, ConvOpts{Pad: PadCircular, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := randTensor(1, 1, tc.cin, tc.h, tc.w)
			w := randTensor(2, 2, tc.cin, 3, 3)
			c := NewConv2D(w, nil, tc.opt)
			y := c.Forward(x)
			k := &c.core
			ohw := k.g.oh * k.g.ow
			if k.band >= ohw || ohw%k.band == 0 || k.band%k.g.ow == 0 {
				t.Fatalf("band of %d positions for %dx%d outputs: test does not exercise banding", k.band, k.g.oh, k.g.ow)
			}
			if d := tensor.MaxAbsDiff(y, refConv(x, w, nil, tc.opt, 1)); d > 1e-3 {
				t.Fatalf("max diff %g", d)
			}
			// Adjoint check of the banded backward: <conv(x), r> == <x, conv^T(r)>,
			// and the weight gradient against the unbanded float64 reference.
			r := randTensor(3, y.Shape...)
			ZeroGrads(c.Params())
			dx := c.Backward(r)
			if a, b := tensorDot(y, r), tensorDot(x, dx); math.Abs(a-b) > 1e-4*math.Abs(a)+1e-3 {
				t.Fatalf("<conv x, r> = %g, <x, conv^T r> = %g", a, b)
			}
			for _, idx := range []int{0, 4, 8, len(w.Data) - 1} {
				want := refWeightGrad(x, r, w.Shape, tc.opt, idx)
				if got := float64(c.weight.Grad.Data[idx]); math.Abs(got-want) > 1e-4*math.Abs(want)+1e-3 {
					t.Fatalf("dL/dw[%d] = %g, want %g", idx, got, want)
				}
			}
			if n := cap(k.col); n > colBudget {
				t.Fatalf("column buffer of %d floats exceeds the budget of %d", n, colBudget)
			}
		})
	}
}

// TestConv2DColumnBufferBoundAtVGGScale checks the band size chosen for
// VGG's conv1_2 on a 512x512 image without running it: a naive im2col would
// need 151M floats.
func TestConv2DColumnBufferBoundAtVGGScale(t *testing.T) {
	c := NewConv2D(tensor.New(64, 64, 3, 3), nil, ConvOpts{Pad: PadSame})
	if err := c.core.setup(512, 512); err != nil {
		t.Fatal(err)
	}
	if n := c.core.band * 64 * 9; n > colBudget || c.core.band < 512 {
		t.Fatalf("band of %d positions needs %d floats (budget %d)", c.core.band, n, colBudget)
	}
}

// refWeightGrad is dL/dw[idx] for L = <conv(x, w), r>: the sum over the
// output of r times the (padded) input value that weight idx multiplies.
func refWeightGrad(x, r *tensor.Tensor, wshape []int, o ConvOpts, idx int) float64 {
	s, d := max(o.Stride, 1), max(o.Dilation, 1)
	n, cin, h, wd := x.Dims()
	_, cout, oh, ow := r.Dims()
	kh, kw := wshape[2], wshape[3]
	co, ci, ky, kx := idx/(cin*kh*kw), idx/(kh*kw)%cin, idx/kw%kh, idx%kw
	pt, pl := o.PadTop, o.PadLeft
	mode := o.Pad
	if mode == PadSame {
		_, pt, _ = refSamePad(h, kh, s, d)
		_, pl, _ = refSamePad(wd, kw, s, d)
		mode = PadExplicit
	}
	sum := 0.0
	for i := 0; i < n; i++ {
		for oy := 0; oy < oh; oy++ {
			iy := refPadIndex(oy*s+ky*d-pt, h, mode)
			for ox := 0; ox < ow; ox++ {
				ix := refPadIndex(ox*s+kx*d-pl, wd, mode)
				if iy >= 0 && ix >= 0 {
					sum += float64(r.Data[((i*cout+co)*oh+oy)*ow+ox]) * float64(x.Data[((i*cin+ci)*h+iy)*wd+ix])
				}
			}
		}
	}
	return sum
}

func tensorDot(a, b *tensor.Tensor) float64 {
	s := 0.0
	for i := range a.Data {
		s += float64(a.Data[i]) * float64(b.Data[i])
	}
	return s
}

func TestConv2DWeightGradAccumulatesAndSwitchesOff(t *testing.T) {
	x := randTensor(1, 2, 3, 8, 7)
	w := randTensor(2, 4, 3, 3, 3)
	b := randTensor(3, 4)
	c := NewConv2D(w, b, ConvOpts{Pad: PadSame})
	y := c.Forward(x)
	r := randTensor(4, y.Shape...)
	c.Backward(r)
	once := c.weight.Grad.Clone()
	onceB := c.bias.Grad.Clone()
	if once.Norm() == 0 || onceB.Norm() == 0 {
		t.Fatal("no weight gradient")
	}
	c.Backward(r)
	for i := range once.Data {
		if d := c.weight.Grad.Data[i] - 2*once.Data[i]; math.Abs(float64(d)) > 1e-4 {
			t.Fatalf("weight grad does not accumulate: %g vs 2*%g", c.weight.Grad.Data[i], once.Data[i])
		}
	}
	ZeroGrads(c.Params())
	c.SetWeightGrad(false)
	dx1 := c.Backward(r).Clone()
	if c.weight.Grad.Norm() != 0 || c.bias.Grad.Norm() != 0 {
		t.Fatal("weight gradients computed while switched off")
	}
	c.SetWeightGrad(true)
	if d := tensor.MaxAbsDiff(dx1, c.Backward(r)); d != 0 {
		t.Fatalf("dx depends on the weight-gradient switch: %g", d)
	}
}

func TestConv2DBadShapesGiveErrors(t *testing.T) {
	good := randTensor(1, 4, 3, 3, 3)
	for _, tc := range []struct {
		name string
		w, b *tensor.Tensor
		opt  ConvOpts
		in   []int
	}{
		{"nil weight", nil, nil, ConvOpts{}, []int{1, 3, 8, 8}},
		{"3-D weight", randTensor(1, 4, 3, 3), nil, ConvOpts{}, []int{1, 3, 8, 8}},
		{"HWIO of 2-D", HWIOToOIHW(randTensor(1, 4, 3)), nil, ConvOpts{}, []int{1, 3, 8, 8}},
		{"bias length", good, randTensor(1, 5), ConvOpts{}, []int{1, 3, 8, 8}},
		{"negative stride", good, nil, ConvOpts{Stride: -1}, []int{1, 3, 8, 8}},
		{"negative pad", good, nil, ConvOpts{PadTop: -1}, []int{1, 3, 8, 8}},
		{"unknown mode", good, nil, ConvOpts{Pad: PadMode(9)}, []int{1, 3, 8, 8}},
		{"channels", good, nil, ConvOpts{}, []int{1, 4, 8, 8}},
		{"3-D input", good, nil, ConvOpts{}, []int{3, 8, 8}},
		{"too small", good, nil, ConvOpts{}, []int{1, 3, 2, 8}},
		{"reflect too wide", good, nil, ConvOpts{Pad: PadReflect, PadLeft: 8}, []int{1, 3, 8, 8}},
		{"circular too wide", good, nil, ConvOpts{Pad: PadCircular, PadTop: 9}, []int{1, 3, 8, 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewConv2D(tc.w, tc.b, tc.opt)
			if _, err := c.OutShape(tc.in); !errors.Is(err, ErrShape) {
				t.Fatalf("OutShape error %v, want ErrShape", err)
			}
		})
	}
}

func TestConv2DForwardPanicsOnUncheckedMismatch(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a 4-channel input to a 3-channel conv")
		}
	}()
	NewConv2D(randTensor(1, 4, 3, 3, 3), nil, ConvOpts{}).Forward(randTensor(2, 1, 4, 8, 8))
}

func TestHWIOToOIHW(t *testing.T) {
	w := randTensor(1, 2, 3, 4, 5) // kh, kw, in, out
	o := HWIOToOIHW(w)
	if !tensor.ShapeEqual(o.Shape, []int{5, 4, 2, 3}) {
		t.Fatalf("shape %v", o.Shape)
	}
	for y := 0; y < 2; y++ {
		for x := 0; x < 3; x++ {
			for i := 0; i < 4; i++ {
				for c := 0; c < 5; c++ {
					if o.Data[((c*4+i)*2+y)*3+x] != w.Data[((y*3+x)*4+i)*5+c] {
						t.Fatalf("element (%d,%d,%d,%d) misplaced", y, x, i, c)
					}
				}
			}
		}
	}
}

// TestConv2DMemoryIsBounded counts every byte a first forward and backward
// allocate: the output, the input gradient and the bounded column buffer,
// where a whole-image im2col would need 37 MiB.
func TestConv2DMemoryIsBounded(t *testing.T) {
	x := randTensor(1, 1, 16, 256, 256)
	dy := randTensor(2, 1, 16, 256, 256)
	c := NewConv2D(randTensor(3, 16, 16, 3, 3), randTensor(4, 16), ConvOpts{Pad: PadSame})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c.Forward(x)
	c.Backward(dy)
	runtime.ReadMemStats(&after)
	tensors := uint64(2 * 4 * x.Len())     // y and dx
	limit := tensors + 4*colBudget + 1<<20 // plus index maps and slack
	if c.wino != nil {
		limit += uint64(c.wino.workspaceBytes(256, 256)) // shared Winograd buffers
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > limit {
		t.Fatalf("forward+backward allocated %d bytes, limit %d", got, limit)
	}
}
