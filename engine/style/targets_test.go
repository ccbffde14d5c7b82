package style

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"atelier/engine/features"
	"atelier/engine/tensor"
)

// cloneTargets copies a bank's target, which the next blend overwrites.
func cloneTargets(ts []*tensor.Tensor) []*tensor.Tensor {
	out := make([]*tensor.Tensor, len(ts))
	for i, t := range ts {
		out[i] = t.Clone()
	}
	return out
}

func blendOrFail(t *testing.T, b *bank, s Settings, side int) []*tensor.Tensor {
	t.Helper()
	if err := s.validate(len(b.sets[0]), len(b.sets[1])); err != nil {
		t.Fatal(err)
	}
	ts, _, err := b.blend(s, side)
	if err != nil {
		t.Fatal(err)
	}
	return cloneTargets(ts)
}

func sameTargets(a, b []*tensor.Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameBits(a[i], b[i]) {
			return false
		}
	}
	return true
}

// maxRelDiff is the largest difference between two targets relative to
// the largest entry of each tap.
func maxRelDiff(a, b []*tensor.Tensor) float64 {
	var worst float64
	for i := range a {
		var scale float64
		for _, v := range b[i].Data {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		worst = math.Max(worst, tensor.MaxAbsDiff(a[i], b[i])/scale)
	}
	return worst
}

// lerpTargets returns Σ w_k·ts_k per tap, in float64.
func lerpTargets(ws []float64, ts ...[]*tensor.Tensor) []*tensor.Tensor {
	out := make([]*tensor.Tensor, len(ts[0]))
	for i := range out {
		out[i] = tensor.New(ts[0][i].Shape...)
		for j := range out[i].Data {
			var v float64
			for k, t := range ts {
				v += ws[k] * float64(t[i].Data[j])
			}
			out[i].Data[j] = float32(v)
		}
	}
	return out
}

func TestMixedStyles(t *testing.T) {
	net := partialVGG(t)
	const side = 48
	content := sharedImage(t, tubingen, side)
	a, b := sharedImage(t, starry, side), sharedImage(t, scream, side)
	taps := net.DefaultStyleTaps()
	onlyA := blendOrFail(t, newBank(net, taps, []*tensor.Tensor{a}, nil, 1, content), Settings{}, side)
	onlyB := blendOrFail(t, newBank(net, taps, []*tensor.Tensor{b}, nil, 1, content), Settings{}, side)
	if maxRelDiff(onlyA, onlyB) < 0.05 {
		t.Fatal("the two styles give nearly the same Gram matrices; the test could not tell them apart")
	}
	mixed := newBank(net, taps, []*tensor.Tensor{a, b}, nil, 1, content)
	for _, tc := range []struct {
		mix  []float64
		want []*tensor.Tensor
	}{
		{[]float64{1, 0}, onlyA},
		{[]float64{0, 1}, onlyB},
		{[]float64{0, 3}, onlyB}, // normalised
		{[]float64{1, 1}, lerpTargets([]float64{0.5, 0.5}, onlyA, onlyB)},
		{nil, lerpTargets([]float64{0.5, 0.5}, onlyA, onlyB)},
		{[]float64{1, 3}, lerpTargets([]float64{0.25, 0.75}, onlyA, onlyB)},
	} {
		t.Run(fmt.Sprint(tc.mix), func(t *testing.T) {
			got := blendOrFail(t, mixed, Settings{Mix: tc.mix}, side)
			if tc.mix != nil && (tc.mix[0] == 0 || tc.mix[1] == 0) {
				if !sameTargets(got, tc.want) {
					t.Fatalf("a mix with one weight zero differs from the single style by %.3g", maxRelDiff(got, tc.want))
				}
				return
			}
			if d := maxRelDiff(got, tc.want); d > 1e-6 {
				t.Fatalf("mix differs from the weighted blend by %.3g", d)
			}
		})
	}
	// Both styles' Gram matrices were computed once for this size and are
	// reused.
	if n := len(mixed.cache); n != 2 {
		t.Errorf("%d cached Gram sets, want 2", n)
	}
	if _, changed, _ := mixed.blend(Settings{Mix: []float64{1, 3}}, side); changed {
		t.Error("blending the same mix again reported a change")
	}
	if _, changed, _ := mixed.blend(Settings{Mix: []float64{1, 2}}, side); !changed {
		t.Error("a new mix did not reblend")
	}
}

func TestMorph(t *testing.T) {
	net := partialVGG(t)
	const side = 48
	content := sharedImage(t, tubingen, side)
	a, b, c := sharedImage(t, starry, side), sharedImage(t, scream, side), sharedImage(t, matisse, side)
	taps := net.DefaultStyleTaps()
	setA := []*tensor.Tensor{a}
	setB := []*tensor.Tensor{b, c}
	mixB := []float64{1, 2}
	endA := blendOrFail(t, newBank(net, taps, setA, nil, 1, content), Settings{}, side)
	endB := blendOrFail(t, newBank(net, taps, setB, nil, 1, content), Settings{Mix: mixB}, side)
	m := newBank(net, taps, setA, setB, 1, content)
	for _, tc := range []struct {
		t    float64
		want []*tensor.Tensor
	}{
		{0, endA}, {1, endB},
		{0.25, lerpTargets([]float64{0.75, 0.25}, endA, endB)},
		{0.5, lerpTargets([]float64{0.5, 0.5}, endA, endB)},
	} {
		t.Run(fmt.Sprint(tc.t), func(t *testing.T) {
			got := blendOrFail(t, m, Settings{MorphMix: mixB, Morph: tc.t}, side)
			if tc.t == 0 || tc.t == 1 {
				if !sameTargets(got, tc.want) {
					t.Fatalf("morph %v differs from its end point by %.3g", tc.t, maxRelDiff(got, tc.want))
				}
				return
			}
			if d := maxRelDiff(got, tc.want); d > 1e-6 {
				t.Fatalf("morph %v differs from the blend of the end points by %.3g", tc.t, d)
			}
		})
	}
}

func TestSettingsValidation(t *testing.T) {
	ok := DefaultSettings()
	for _, tc := range []struct {
		name   string
		mod    func(*Settings)
		nA, nB int
		want   error
	}{
		{"defaults", func(*Settings) {}, 2, 0, nil},
		{"all mix weights zero", func(s *Settings) { s.Mix = []float64{0, 0} }, 2, 0, ErrNoStyle},
		{"no styles", func(*Settings) {}, 0, 0, ErrNoStyle},
		{"morph mix zero", func(s *Settings) { s.Morph = 0.5; s.MorphMix = []float64{0} }, 1, 1, ErrNoStyle},
		{"A unused at t=1", func(s *Settings) { s.Morph = 1; s.Mix = []float64{0} }, 1, 1, nil},
		{"morph without B", func(s *Settings) { s.Morph = 0.5 }, 1, 0, ErrSettings},
		{"morph > 1", func(s *Settings) { s.Morph = 1.5 }, 1, 1, ErrSettings},
		{"negative weight", func(s *Settings) { s.StyleWeight = -1 }, 1, 0, ErrSettings},
		{"NaN TV", func(s *Settings) { s.TVWeight = math.NaN() }, 1, 0, ErrSettings},
		{"negative mix", func(s *Settings) { s.Mix = []float64{1, -1} }, 2, 0, ErrSettings},
		{"mix length", func(s *Settings) { s.Mix = []float64{1} }, 2, 0, ErrSettings},
		{"colour mode", func(s *Settings) { s.Colour = 9 }, 1, 0, ErrSettings},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok.clone()
			tc.mod(&s)
			err := s.validate(tc.nA, tc.nB)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("validate = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestScaleSides(t *testing.T) {
	for _, tc := range []struct {
		size, scales int
		want         []int
	}{
		{96, 0, []int{96}},
		{256, 0, []int{128, 256}},
		{512, 0, []int{128, 256, 512}},
		{1024, 0, []int{128, 256, 512, 1024}},
		{4096, 0, []int{512, 1024, 2048, 4096}},
		{300, 3, []int{75, 150, 300}},
		{64, 1, []int{64}},
	} {
		got, err := scaleSides(tc.size, tc.scales)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("scaleSides(%d, %d) = %v, %v; want %v", tc.size, tc.scales, got, err, tc.want)
		}
	}
	if _, err := scaleSides(64, 4); !errors.Is(err, ErrRequest) {
		t.Errorf("a first scale of 8 px gave %v, want ErrRequest", err)
	}
}

// sizeSpy records the sizes of the images an extractor is run on.
type sizeSpy struct {
	features.Extractor
	sizes []string
}

func (s *sizeSpy) Extract(img *tensor.Tensor, taps []string) (map[string]*tensor.Tensor, error) {
	s.sizes = append(s.sizes, fmt.Sprintf("%dx%d", img.Shape[3], img.Shape[2]))
	return s.Extractor.Extract(img, taps)
}

func TestStyleScale(t *testing.T) {
	net := partialVGG(t)
	content := sharedImage(t, tubingen, 64)
	style := sharedImage(t, starry, 64) // 1024x640 originally: 64x40
	for _, tc := range []struct {
		scale float64
		want  string
	}{{1, "[48x30 64x40]"}, {0.5, "[24x15 32x20]"}, {2, "[96x60 128x80]"}} {
		t.Run(fmt.Sprint(tc.scale), func(t *testing.T) {
			spy := &sizeSpy{Extractor: net}
			b := newBank(spy, net.DefaultStyleTaps(), []*tensor.Tensor{style}, nil, tc.scale, content)
			for _, side := range []int{48, 64, 48, 64} {
				if _, _, err := b.blend(Settings{}, side); err != nil {
					t.Fatal(err)
				}
			}
			// One extraction per output size, reused when the size comes back.
			if got := fmt.Sprint(spy.sizes); got != tc.want {
				t.Errorf("style extracted at %s, want %s", got, tc.want)
			}
		})
	}
}
