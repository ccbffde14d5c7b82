package texture

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"atelier/engine/features"
	"atelier/engine/nn"
	"atelier/engine/tensor"
)

func TestCircularPad(t *testing.T) {
	for _, tc := range []struct {
		taps []string
		want int
	}{
		{[]string{"relu1_1"}, 1},
		{[]string{"conv1_2"}, 2},
		{[]string{"pool1"}, 4},
		{[]string{"relu2_1"}, 6},
		{[]string{"relu1_1", "relu3_1"}, 16},
		{[]string{"relu1_1", "pool1", "pool2", "pool3"}, 32},
		{[]string{"relu4_1"}, 40},
		{[]string{"stage3"}, 64},
		{[]string{"relu9_1"}, 64},
	} {
		t.Run(fmt.Sprint(tc.taps), func(t *testing.T) {
			if got := CircularPad(tc.taps); got != tc.want {
				t.Errorf("CircularPad(%v) = %d, want %d", tc.taps, got, tc.want)
			}
		})
	}
}

// TestPadFold checks the padding against nn.Pad2D (for margins the layer
// accepts) and against its definition for wider ones, and the fold against
// being its adjoint, <pad(x), y> = <x, fold(y)>.
func TestPadFold(t *testing.T) {
	for _, mode := range []nn.PadMode{nn.PadCircular, nn.PadReflect} {
		for _, tc := range []struct{ h, w, pad int }{{5, 7, 2}, {4, 3, 9}, {6, 6, 0}, {1, 5, 3}, {8, 9, 4}} {
			t.Run(fmt.Sprintf("%v/%dx%d+%d", mode, tc.w, tc.h, tc.pad), func(t *testing.T) {
				x := randImage(1, 2, 3, tc.h, tc.w)
				ymap, xmap := padMap(nil, mode, tc.h, tc.pad), padMap(nil, mode, tc.w, tc.pad)
				p := padImage(nil, x, ymap, xmap)
				ph, pw := tc.h+2*tc.pad, tc.w+2*tc.pad
				if want := []int{2, 3, ph, pw}; !tensor.ShapeEqual(p.Shape, want) {
					t.Fatalf("padded shape %v, want %v", p.Shape, want)
				}
				ref := nn.NewPad2D(mode, tc.pad, tc.pad, tc.pad, tc.pad)
				if _, err := ref.OutShape(x.Shape); err == nil {
					if d := tensor.MaxAbsDiff(p, ref.Forward(x)); d != 0 {
						t.Errorf("differs from nn.Pad2D by %g", d)
					}
				} else if mode == nn.PadCircular {
					for q := 0; q < 6; q++ {
						for y := 0; y < ph; y++ {
							for xx := 0; xx < pw; xx++ {
								got := p.Data[(q*ph+y)*pw+xx]
								want := x.Data[(q*tc.h+mod(y-tc.pad, tc.h))*tc.w+mod(xx-tc.pad, tc.w)]
								if got != want {
									t.Fatalf("padded[%d][%d][%d] = %v, want %v", q, y, xx, got, want)
								}
							}
						}
					}
				}
				y := randImage(2, 2, 3, ph, pw)
				f := foldImage(nil, y, tc.h, tc.w, ymap, xmap)
				var lhs, rhs float64
				for i := range p.Data {
					lhs += float64(p.Data[i]) * float64(y.Data[i])
				}
				for i := range x.Data {
					rhs += float64(x.Data[i]) * float64(f.Data[i])
				}
				if math.Abs(lhs-rhs) > 1e-5*math.Abs(lhs) {
					t.Errorf("<pad x, y> = %v, <x, fold y> = %v", lhs, rhs)
				}
			})
		}
	}
	// Mirroring several times over: the pattern of a 3-value axis.
	if got, want := padMap(nil, nn.PadReflect, 3, 6), []int{2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("mirror map %v, want %v", got, want)
	}
}

// TestMirrored checks the mirror-padded network: far from the borders its
// taps are the plain network's, at the borders they are those of the
// mirrored image (the plain network's zero padding differs there).
func TestMirrored(t *testing.T) {
	net := testVGG(t)
	const h, w = 48, 48
	x := randImage(8, 1, 3, h, w)
	m := NewMirrored(net, 0)
	fm, err := m.Extract(x, []string{"relu2_1"})
	if err != nil {
		t.Fatal(err)
	}
	a := fm["relu2_1"].Clone()
	fp, err := net.Extract(x, []string{"relu2_1"})
	if err != nil {
		t.Fatal(err)
	}
	b := fp["relu2_1"]
	_, c, fh, fw := a.Dims()
	inner, border, scale := 0.0, 0.0, 0.0
	for ch := 0; ch < c; ch++ {
		for y := 0; y < fh; y++ {
			for xx := 0; xx < fw; xx++ {
				i := (ch*fh+y)*fw + xx
				d := math.Abs(float64(a.Data[i] - b.Data[i]))
				scale = math.Max(scale, math.Abs(float64(b.Data[i])))
				if y >= 4 && y < fh-4 && xx >= 4 && xx < fw-4 { // 8 px of the image, beyond relu2_1's reach of 6
					inner = math.Max(inner, d)
				} else {
					border = math.Max(border, d)
				}
			}
		}
	}
	if inner > 1e-5*scale {
		t.Errorf("inside, the mirrored taps differ from the plain ones by %g (largest tap value %g)", inner, scale)
	}
	if border < 1e-2*scale {
		t.Errorf("at the borders the mirrored taps equal the zero-padded ones (max difference %g): the padding did nothing", border)
	}
}

// TestCircularShiftEquivariance checks that the wrapped network is the
// network with circular padding: shifting the image circularly by a
// multiple of the deepest stride shifts every tap by the same amount at
// its resolution, exactly (to float rounding). The plain network, with its
// zero padding, fails the same check, which shows the check can fail.
func TestCircularShiftEquivariance(t *testing.T) {
	net := testVGG(t)
	taps := []string{"relu1_1", "pool1", "relu2_1", "pool2", "relu3_1", "pool3"}
	strides := []int{1, 2, 2, 4, 4, 8}
	const h, w, dy, dx = 40, 48, 8, 16
	x := randImage(3, 1, 3, h, w)
	xs := roll(x, dy, dx)
	circ := NewCircular(net, 0)

	extract := func(e features.Extractor, img *tensor.Tensor) map[string]*tensor.Tensor {
		t.Helper()
		f, err := e.Extract(img, taps)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*tensor.Tensor{}
		for k, v := range f {
			out[k] = v.Clone()
		}
		return out
	}
	a, b := extract(circ, x), extract(circ, xs)
	for i, tap := range taps {
		s := strides[i]
		if got, want := a[tap].Shape, []int{1, a[tap].Shape[1], h / s, w / s}; !tensor.ShapeEqual(got, want) {
			t.Fatalf("%s: shape %v, want %v", tap, got, want)
		}
		if d := maxRel(b[tap], roll(a[tap], dy/s, dx/s)); d > 1e-4 {
			t.Errorf("%s: shifted image's features differ from the shifted features by %.3g (relative)", tap, d)
		}
	}
	pa, pb := extract(net, x), extract(net, xs)
	if d := maxRel(pb["relu3_1"], roll(pa["relu3_1"], dy/4, dx/4)); d < 1e-2 {
		t.Errorf("the zero-padded network is shift-equivariant to %.3g: the check cannot fail", d)
	}
}

// TestCircularBackward checks the wrapper's gradient: for the linear tap
// conv1_1 against the exact change of a linear loss along a random
// direction, and for a deep tap by shift equivariance of the gradient.
func TestCircularBackward(t *testing.T) {
	net := testVGG(t)
	circ := NewCircular(net, 0)
	const h, w = 24, 32
	x := randImage(4, 1, 3, h, w)

	t.Run("conv1_1 directional derivative", func(t *testing.T) {
		f, err := circ.Extract(x, []string{"conv1_1"})
		if err != nil {
			t.Fatal(err)
		}
		seed := randImage(5, f["conv1_1"].Shape...)
		for i := range seed.Data {
			seed.Data[i] = seed.Data[i]/255 - 0.5
		}
		lin := func(img *tensor.Tensor) float64 {
			f, err := circ.Extract(img, []string{"conv1_1"})
			if err != nil {
				t.Fatal(err)
			}
			var s float64
			for i, v := range f["conv1_1"].Data {
				s += float64(v) * float64(seed.Data[i])
			}
			return s
		}
		l0 := lin(x)
		g := circ.Backward(map[string]*tensor.Tensor{"conv1_1": seed}).Clone()
		v := randImage(6, 1, 3, h, w)
		xv := x.Clone()
		var want float64
		for i := range v.Data {
			v.Data[i] = (v.Data[i]/255 - 0.5) * 100 // large, so rounding does not matter: the loss is linear
			xv.Data[i] += v.Data[i]
			want += float64(g.Data[i]) * float64(v.Data[i])
		}
		got := lin(xv) - l0
		if math.Abs(got-want) > 1e-3*math.Abs(want) {
			t.Errorf("L(x+v) − L(x) = %v, <grad, v> = %v", got, want)
		}
	})

	t.Run("relu3_1 shift equivariance", func(t *testing.T) {
		grad := func(img, seed *tensor.Tensor) *tensor.Tensor {
			if _, err := circ.Extract(img, []string{"relu3_1"}); err != nil {
				t.Fatal(err)
			}
			return circ.Backward(map[string]*tensor.Tensor{"relu3_1": seed}).Clone()
		}
		seed := randImage(7, 1, 256, h/4, w/4)
		ga := grad(x, seed)
		gb := grad(roll(x, 8, 12), roll(seed, 2, 3))
		if d := maxRel(gb, roll(ga, 8, 12)); d > 1e-4 {
			t.Errorf("the gradient of the shifted image differs from the shifted gradient by %.3g (relative)", d)
		}
	})

	t.Run("errors", func(t *testing.T) {
		if _, err := circ.Extract(tensor.New(1, 1, 8, 8), []string{"relu1_1"}); !errors.Is(err, features.ErrInput) {
			t.Errorf("gray image: %v, want features.ErrInput", err)
		}
		if _, err := circ.Extract(x, []string{"nope"}); !errors.Is(err, features.ErrUnknownTap) {
			t.Errorf("unknown tap: %v, want features.ErrUnknownTap", err)
		}
	})
}
