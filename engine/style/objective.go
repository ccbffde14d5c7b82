package style

import (
	"context"
	"math"

	"atelier/engine/features"
	"atelier/engine/tensor"
)

// Losses are the weighted terms of the objective at one image.
type Losses struct {
	// Content is ContentWeight × the content loss (see ContentLoss).
	Content float64
	// Style is the effective style weight × Σ tap weight × the style
	// loss of each tap (see StyleLayer.Loss).
	Style float64
	// TV is TVWeight × the total variation (see TVLoss).
	TV float64
	// Under NormTarget each term is first divided by its scale (see
	// Normalisation).
	// Total is their sum, the value the optimiser minimises.
	Total float64
}

// objective is the Gatys loss of an image of one size and its gradient
// with respect to the pixels. It owns every buffer it needs, so evaluating
// it repeatedly does not allocate beyond what the extractor does.
type objective struct {
	ctx context.Context
	net features.Extractor

	styleTaps  []string
	tapWeights []float64
	contentTap string

	content *tensor.Tensor   // content features at this scale
	targets []*tensor.Tensor // style Gram targets, one per style tap
	layers  []StyleLayer

	// Loss scales: 1 for absolute losses; under NormTarget the reciprocal
	// mean square of the content features, of each style target, and the
	// reciprocal total variation of the content image.
	relative bool
	cNorm    float64
	sNorm    []float64
	tvNorm   float64

	cw, sw, tvw float64
	weighted    bool // setWeights was called

	taps  []string // taps to extract for the current weights
	img   tensor.Tensor
	gradT tensor.Tensor
	grads map[string]*tensor.Tensor
	gbuf  map[string]*tensor.Tensor

	err   error // first extractor error; the run stops with it
	evals int
	last  Losses
	log   [64]Losses // evaluations of the current step, for reporting
	nlog  int
}

func newObjective(ctx context.Context, net features.Extractor, styleTaps []string, tapWeights []float64, contentTap string) *objective {
	return &objective{ctx: ctx, net: net, styleTaps: styleTaps, tapWeights: tapWeights, contentTap: contentTap,
		layers: make([]StyleLayer, len(styleTaps)), grads: map[string]*tensor.Tensor{}, gbuf: map[string]*tensor.Tensor{},
		cNorm: 1, tvNorm: 1, sNorm: ones(len(styleTaps))}
}

func ones(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = 1
	}
	return out
}

// reciprocal returns 1/v, or 1 when v is not a positive finite number.
func reciprocal(v float64) float64 {
	if v > 0 && !math.IsInf(v, 0) {
		return 1 / v
	}
	return 1
}

// meanSquare is Σ v² / len(v).
func meanSquare(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return s / float64(max(len(v), 1))
}

// setContent sets the content features and image of this scale.
func (o *objective) setContent(feats, img *tensor.Tensor) {
	o.content = feats
	if o.relative {
		o.cNorm = reciprocal(meanSquare(feats.Data))
		o.tvNorm = reciprocal(TVLoss(img, 1, nil))
	}
}

// setTargets sets the style targets.
func (o *objective) setTargets(ts []*tensor.Tensor) {
	o.targets = ts
	if o.relative {
		for i, t := range ts {
			o.sNorm[i] = reciprocal(meanSquare(t.Data))
		}
	}
}

// setSize sets the image size of the following evaluations.
func (o *objective) setSize(h, w int) {
	o.img.Shape = []int{1, 3, h, w}
	o.gradT.Shape = o.img.Shape
}

// setWeights sets the loss weights and the taps they need; it reports
// whether anything changed.
func (o *objective) setWeights(cw, sw, tvw float64) bool {
	if o.weighted && cw == o.cw && sw == o.sw && tvw == o.tvw {
		return false
	}
	o.cw, o.sw, o.tvw, o.weighted = cw, sw, tvw, true
	o.taps = nil
	if sw > 0 {
		o.taps = append(o.taps, o.styleTaps...)
	}
	if cw > 0 && !contains(o.taps, o.contentTap) {
		o.taps = append(o.taps, o.contentTap)
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// gradFor returns the gradient buffer of a tap for this evaluation and
// whether it is fresh: the first loss on a tap writes its gradient over the
// buffer's old values (no clearing pass), the following ones add to it.
func (o *objective) gradFor(tap string, shape []int) (*tensor.Tensor, bool) {
	if g, ok := o.grads[tap]; ok {
		return g, false
	}
	g := tensor.Ensure(o.gbuf[tap], shape...)
	o.gbuf[tap] = g
	o.grads[tap] = g
	return g, true
}

// beginStep forgets the evaluations logged for the previous step.
func (o *objective) beginStep() { o.nlog = 0 }

// lossesOf returns the logged terms of the evaluation of this step whose
// total is total (the point the optimiser accepted), or the last ones.
func (o *objective) lossesOf(total float64) Losses {
	n := min(o.nlog, len(o.log))
	for k := 1; k <= n; k++ {
		l := o.log[(o.nlog-k)%len(o.log)]
		if l.Total == total {
			return l
		}
	}
	return o.last
}

// eval implements nn.Objective. Once the context is cancelled or the
// extractor failed, it returns +Inf without running the network, so that
// the optimiser's line search winds down at once.
func (o *objective) eval(x, grad []float32) float64 {
	if o.err != nil || o.ctx.Err() != nil {
		return math.Inf(1)
	}
	o.evals++
	o.img.Data = x
	var l Losses
	clear(o.grads)
	if len(o.taps) > 0 {
		feats, err := o.net.Extract(&o.img, o.taps)
		if err != nil {
			o.err = err
			return math.Inf(1)
		}
		if o.sw > 0 {
			for i, tap := range o.styleTaps {
				f := feats[tap]
				g, fresh := o.gradFor(tap, f.Shape)
				l.Style += o.layers[i].loss(f, o.targets[i], o.sw*o.tapWeights[i]*o.sNorm[i], g, fresh)
			}
		}
		if o.cw > 0 {
			f := feats[o.contentTap]
			g, fresh := o.gradFor(o.contentTap, f.Shape)
			l.Content = contentLoss(f, o.content, o.cw*o.cNorm, g, fresh)
		}
		copy(grad, o.net.Backward(o.grads).Data)
	} else {
		clear(grad)
	}
	if o.tvw > 0 {
		o.gradT.Data = grad
		l.TV = TVLoss(&o.img, o.tvw*o.tvNorm, &o.gradT)
	}
	l.Total = l.Content + l.Style + l.TV
	o.last = l
	o.log[o.nlog%len(o.log)] = l
	o.nlog++
	return l.Total
}
