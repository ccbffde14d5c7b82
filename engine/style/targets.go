package style

import (
	"fmt"
	"math"

	"atelier/engine/features"
	"atelier/engine/imageio"
	"atelier/engine/tensor"
)

// gramKey names the Gram matrices of one style image at one output size.
type gramKey struct {
	set, index int // 0: Styles, 1: MorphStyles
	side       int // the output scale's longer side
	colour     ColourMode
}

// bank computes the Gram matrices of the style images once per scale (and
// colour matching), caches them, and blends them into the target of the
// current settings.
type bank struct {
	net     features.Extractor
	taps    []string
	sets    [2][]*tensor.Tensor
	scale   float64
	content colourStats // of the full-size content, for colour matching
	cache   map[gramKey][]*tensor.Tensor

	target []*tensor.Tensor // blended target per tap, [C,C]
	// what the target was blended from
	have     bool
	side     int
	mixA     []float64
	mixB     []float64
	morph    float64
	matching ColourMode
}

func newBank(net features.Extractor, taps []string, a, b []*tensor.Tensor, scale float64, content *tensor.Tensor) *bank {
	return &bank{net: net, taps: taps, sets: [2][]*tensor.Tensor{a, b}, scale: scale,
		content: statsOf(content), cache: map[gramKey][]*tensor.Tensor{}}
}

// matchingMode reduces a colour mode to what changes the style images.
func matchingMode(m ColourMode) ColourMode {
	if _, ok := m.matching(); ok {
		return m
	}
	return ColourStyle
}

// grams returns the Gram matrices (one per tap, [C,C]) of one style image
// for an output whose longer side is side, computing them on first use.
func (b *bank) grams(set, index, side int, colour ColourMode) ([]*tensor.Tensor, error) {
	key := gramKey{set, index, side, matchingMode(colour)}
	if g, ok := b.cache[key]; ok {
		return g, nil
	}
	img := b.sets[set][index]
	long := max(int(math.Round(b.scale*float64(side))), minSide)
	sized, err := imageio.ResizeLong(img, long)
	if err != nil {
		return nil, fmt.Errorf("style: resizing style image %d: %w", index+1, err)
	}
	if method, ok := colour.matching(); ok {
		sized = matchTo(sized, b.content, method)
	}
	feats, err := b.net.Extract(sized, b.taps)
	if err != nil {
		return nil, fmt.Errorf("%w: style image %d at %d px: %w", ErrRequest, index+1, long, err)
	}
	out := make([]*tensor.Tensor, len(b.taps))
	for i, tap := range b.taps {
		g := Gram(nil, feats[tap])
		out[i] = g.Reshape(g.Shape[1], g.Shape[2])
	}
	b.cache[key] = out
	return out, nil
}

// stale reports whether the target must be blended again for s at side.
func (b *bank) stale(s Settings, side int) bool {
	return !b.have || b.side != side || b.morph != s.Morph || matchingMode(s.Colour) != b.matching ||
		!sameFloats(b.mixA, s.Mix) || !sameFloats(b.mixB, s.MorphMix)
}

func sameFloats(a, b []float64) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// blend returns the style target for settings s (already validated) at an
// output whose longer side is side: (1−t)·Σ a_i·G(A_i) + t·Σ b_i·G(B_i),
// with the mixes normalised to sum 1. Styles with a zero coefficient are
// skipped (their Gram matrices are not even computed). It reports whether
// the target changed.
func (b *bank) blend(s Settings, side int) ([]*tensor.Tensor, bool, error) {
	if !b.stale(s, side) {
		return b.target, false, nil
	}
	t := s.Morph
	type term struct {
		set, index int
		w          float64
	}
	var terms []term
	if t < 1 {
		for i, w := range normalised(s.Mix, len(b.sets[0])) {
			if w > 0 {
				terms = append(terms, term{0, i, (1 - t) * w})
			}
		}
	}
	if t > 0 {
		for i, w := range normalised(s.MorphMix, len(b.sets[1])) {
			if w > 0 {
				terms = append(terms, term{1, i, t * w})
			}
		}
	}
	if len(terms) == 0 {
		return nil, false, fmt.Errorf("%w: every weight of the mix is zero", ErrNoStyle)
	}
	gs := make([][]*tensor.Tensor, len(terms))
	for k, tm := range terms {
		g, err := b.grams(tm.set, tm.index, side, s.Colour)
		if err != nil {
			return nil, false, err
		}
		gs[k] = g
	}
	if b.target == nil {
		b.target = make([]*tensor.Tensor, len(b.taps))
	}
	for i := range b.taps {
		c := gs[0][i].Shape[0]
		dst := tensor.Ensure(b.target[i], c, c)
		for j := range dst.Data {
			var v float64
			for k, tm := range terms {
				v += tm.w * float64(gs[k][i].Data[j])
			}
			dst.Data[j] = float32(v)
		}
		b.target[i] = dst
	}
	b.have, b.side, b.morph, b.matching = true, side, s.Morph, matchingMode(s.Colour)
	b.mixA, b.mixB = cloneFloats(s.Mix), cloneFloats(s.MorphMix)
	return b.target, true, nil
}

func cloneFloats(a []float64) []float64 {
	if a == nil {
		return nil
	}
	return append(make([]float64, 0, len(a)), a...)
}
