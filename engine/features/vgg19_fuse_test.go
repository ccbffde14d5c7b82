package features

import (
	"errors"
	"math"
	"slices"
	"testing"

	"atelier/engine/tensor"
)

// TestVGG19FuseReLU checks that the fused network gives the unfused one's
// relu taps and input gradient, and has no pre-activation taps.
func TestVGG19FuseReLU(t *testing.T) {
	plain, err := LoadVGG19(vggDir(t), VGG19Options{})
	if err != nil {
		t.Fatal(err)
	}
	fused, err := LoadVGG19(vggDir(t), VGG19Options{FuseReLU: true})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(fused.Taps(), "conv1_1") || !slices.Contains(fused.Taps(), "relu3_2") {
		t.Errorf("fused taps %v", fused.Taps())
	}
	if _, err := fused.Extract(loadImage(t, "content/tubingen.jpg", 32, 24), []string{"conv2_1"}); !errors.Is(err, ErrUnknownTap) {
		t.Errorf("a pre-activation tap of the fused network: err = %v, want ErrUnknownTap", err)
	}
	img := loadImage(t, "content/tubingen.jpg", 48, 36)
	taps := []string{"relu1_1", "relu2_1", "relu3_1", "relu3_2"}
	run := func(v *VGG19) (map[string]*tensor.Tensor, *tensor.Tensor) {
		outs, err := v.Extract(img, taps)
		if err != nil {
			t.Fatal(err)
		}
		feats := map[string]*tensor.Tensor{}
		grads := map[string]*tensor.Tensor{}
		for _, tap := range taps {
			feats[tap] = outs[tap].Clone()
			grads[tap] = outs[tap].Clone() // the gradient of Σ f²/2
		}
		return feats, v.Backward(grads).Clone()
	}
	pf, pg := run(plain)
	ff, fg := run(fused)
	rel := func(a, b *tensor.Tensor) float64 {
		m := 0.0
		for _, v := range b.Data {
			m = math.Max(m, math.Abs(float64(v)))
		}
		return tensor.MaxAbsDiff(a, b) / m
	}
	for _, tap := range taps {
		if d := rel(ff[tap], pf[tap]); !(d < 1e-5) {
			t.Errorf("%s: fused differs by %g (relative)", tap, d)
		}
	}
	if d := rel(fg, pg); !(d < 1e-4) {
		t.Errorf("input gradient: fused differs by %g (relative)", d)
	}
}
