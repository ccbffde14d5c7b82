package texture

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"time"

	"atelier/engine/features"
	"atelier/engine/imageio"
	"atelier/engine/nn"
	"atelier/engine/style"
	"atelier/engine/tensor"
)

// gatysTaps are the layers of Gatys et al. (2015) in VGG19 terms.
var gatysTaps = []string{"relu1_1", "pool1", "pool2", "pool3", "pool4"}

// DefaultTaps returns the Gram method's default taps for net: relu1_1,
// pool1, pool2, pool3 and pool4 (Gatys et al. 2015), those net's weights
// reach, or net's default style taps when it has none of them (ResNet-50).
func DefaultTaps(net features.Extractor) []string {
	have := map[string]bool{}
	for _, t := range net.Taps() {
		have[t] = true
	}
	var out []string
	for _, t := range gatysTaps {
		if have[t] {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return net.DefaultStyleTaps()
	}
	return out
}

// Coarse-to-fine planning of the Gram method.
const (
	// minGramSide is the smallest side of a coarse pass (output and
	// sample); passes that would be smaller are dropped.
	minGramSide = 32
	// minAutoGramSide is the smallest shorter side of the output at the
	// first automatic pass, and maxAutoGramScales bounds their number.
	minAutoGramSide   = 128
	maxAutoGramScales = 4
)

// noiseStd is the standard deviation of the starting noise, around the
// sample's mean colour.
const noiseStd = 30

// firstStepPixels is how far the first L-BFGS step of a pass moves the
// pixel with the largest gradient, in 0..255 units, before the line search
// adjusts it (nn.LBFGS's own first step, min(1, 1/|g|₁), is orders of
// magnitude too short on this objective).
const firstStepPixels = 16

// gramObjective is the Gram style loss of an image of one size and its
// gradient with respect to the pixels. It owns its buffers, so evaluating
// it repeatedly does not allocate beyond what the extractor does.
type gramObjective struct {
	ctx     context.Context
	net     features.Extractor // the image's network, wrapped in Padded
	taps    []string
	weights []float64
	targets []*tensor.Tensor // one Gram matrix [C,C] per tap
	norms   []float64        // Σ A² of each target
	scale   float64          // multiplies every tap's loss
	layers  []style.StyleLayer
	img     tensor.Tensor
	grads   map[string]*tensor.Tensor
	gbuf    map[string]*tensor.Tensor
	err     error // the first extractor error; the run stops with it
	evals   int
}

// setTargets computes the sample's Gram matrices through plain (the
// network without wrap-around: the sample is not periodic).
func (o *gramObjective) setTargets(plain features.Extractor, sample *tensor.Tensor) error {
	feats, err := plain.Extract(sample, o.taps)
	if err != nil {
		return err
	}
	o.targets = o.targets[:0]
	o.norms = o.norms[:0]
	for _, tap := range o.taps {
		a := style.Gram(nil, feats[tap])
		var ss float64
		for _, v := range a.Data {
			ss += float64(v) * float64(v)
		}
		o.targets = append(o.targets, a)
		o.norms = append(o.norms, max(ss, 1e-12))
	}
	return nil
}

// eval implements nn.Objective. Once the context is cancelled or the
// extractor failed it returns +Inf without running the network, so that
// the line search winds down at once.
func (o *gramObjective) eval(x, grad []float32) float64 {
	if o.err != nil || o.ctx.Err() != nil {
		return math.Inf(1)
	}
	o.evals++
	o.img.Data = x
	feats, err := o.net.Extract(&o.img, o.taps)
	if err != nil {
		o.err = err
		return math.Inf(1)
	}
	clear(o.grads)
	var loss float64
	for i, tap := range o.taps {
		f := feats[tap]
		g := tensor.EnsureZero(o.gbuf[tap], f.Shape...)
		o.gbuf[tap], o.grads[tap] = g, g
		loss += o.layers[i].Loss(f, o.targets[i], o.tapWeight(i, f), g)
	}
	copy(grad, o.net.Backward(o.grads).Data)
	return loss
}

// tapWeight is the weight to give style.StyleLayer.Loss for tap i with
// features f so that the tap's loss is weight × Σ(G−A)²/ΣA².
func (o *gramObjective) tapWeight(i int, f *tensor.Tensor) float64 {
	c := float64(f.Shape[1])
	return o.weights[i] * c * c / o.norms[i] * o.scale
}

// gramScaleUp multiplies the loss the optimiser sees: the relative Gram
// errors are small numbers (1 for noise, 0.01 for a good texture), whose
// gradients would fall under nn.LBFGS's absolute tolerances.
const gramScaleUp = 1e6

// gramScale is the geometry of one coarse-to-fine pass.
type gramScale struct {
	h, w   int // output
	sh, sw int // sample
}

// gramScales plans the passes, coarse to fine; the last has the request's
// size and the sample as it is.
func gramScales(req *Request) []gramScale {
	n := req.Scales
	if n == 0 {
		n = 1
		for n < maxAutoGramScales && min(req.Width, req.Height)>>n >= minAutoGramSide {
			n++
		}
	}
	_, _, sh, sw := req.Sample.Dims()
	var out []gramScale
	for k := n - 1; k >= 0; k-- {
		f := float64(int(1) << k)
		s := gramScale{h: int(math.Round(float64(req.Height) / f)), w: int(math.Round(float64(req.Width) / f)),
			sh: int(math.Round(float64(sh) / f)), sw: int(math.Round(float64(sw) / f))}
		if k > 0 && min(s.h, s.w, s.sh, s.sw) < minGramSide {
			continue
		}
		out = append(out, s)
	}
	return out
}

// runGram is Run for the Gram method.
func runGram(ctx context.Context, net features.Extractor, req Request, onFrame func(Frame)) (Result, error) {
	start := time.Now()
	res := Result{Seed: req.Seed}
	taps := req.Taps
	if len(taps) == 0 {
		taps = DefaultTaps(net)
	}
	if len(taps) == 0 {
		return res, fmt.Errorf("%w: the feature network has no taps to match", ErrRequest)
	}
	weights := req.TapWeights
	if weights == nil {
		weights = make([]float64, len(taps))
		for i := range weights {
			weights[i] = 1
		}
	}
	obj := &gramObjective{ctx: ctx, net: net, taps: taps, weights: weights, scale: gramScaleUp,
		layers: make([]style.StyleLayer, len(taps)), grads: map[string]*tensor.Tensor{}, gbuf: map[string]*tensor.Tensor{}}
	if req.Tileable {
		obj.net = NewCircular(net, 0)
	}
	scales := gramScales(&req)
	total := 0
	for k := range scales {
		total += gramBudget(req.Iterations, k, len(scales))
	}

	var x *tensor.Tensor
	for k, sc := range scales {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		sample := req.Sample
		if _, _, sh, sw := sample.Dims(); sh != sc.sh || sw != sc.sw {
			var err error
			if sample, err = imageio.Resize(sample, sc.sw, sc.sh); err != nil {
				return res, fmt.Errorf("texture: %w", err)
			}
		}
		if err := obj.setTargets(net, sample); err != nil {
			return res, fmt.Errorf("texture: the sample: %w", err)
		}
		if x == nil {
			x = noiseImage(req.Sample, sc.h, sc.w, req.Seed)
		} else {
			var err error
			if x, err = imageio.Resize(x, sc.w, sc.h); err != nil {
				return res, fmt.Errorf("texture: %w", err)
			}
		}
		obj.img.Shape = x.Shape
		lb := nn.NewLBFGS(len(x.Data), req.History)
		lb.SetBounds(0, 255)
		grad := make([]float32, len(x.Data))
		lb.LR = firstStep(obj, x.Data, grad)
		if err := obj.stepError(); err != nil {
			return res, err
		}
		budget := gramBudget(req.Iterations, k, len(scales))
		for it := 1; it <= budget; it++ {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			loss, err := lb.Step(x.Data, obj.eval)
			lb.LR = 1
			if serr := obj.stepError(); serr != nil {
				return res, serr
			}
			converged := false
			switch {
			case errors.Is(err, nn.ErrConverged):
				converged = true
			case errors.Is(err, nn.ErrNonFinite) || math.IsNaN(loss) || math.IsInf(loss, 0):
				return res, fmt.Errorf("%w at scale %d, iteration %d", ErrNonFinite, k+1, it)
			case err != nil:
				return res, fmt.Errorf("texture: %w", err)
			}
			res.Iterations++
			res.Evals = obj.evals
			loss /= gramScaleUp
			res.Loss = loss
			res.Image, res.Width, res.Height = x, sc.w, sc.h
			if onFrame != nil {
				onFrame(Frame{Scale: k, Scales: len(scales), Iteration: it, TotalIteration: res.Iterations, Total: total,
					Width: sc.w, Height: sc.h, Loss: loss, Image: x.Clone(), Elapsed: time.Since(start)})
			}
			if converged {
				break
			}
		}
	}
	res.Image = x.Clone()
	return res, nil
}

// stepError returns the error that ended a step early: the context's or
// the extractor's.
func (o *gramObjective) stepError() error {
	if err := o.ctx.Err(); err != nil {
		return err
	}
	if o.err != nil {
		return fmt.Errorf("texture: %w", o.err)
	}
	return nil
}

// gramBudget is the iteration budget of pass k of n: the request's for the
// last, half of it (at least 1) for the others.
func gramBudget(iters, k, n int) int {
	if k == n-1 {
		return iters
	}
	return max(iters/2, 1)
}

// firstStep returns the L-BFGS learning rate that makes the first step move
// the pixel with the largest gradient firstStepPixels; it evaluates the
// objective once (into grad) and returns 1 when the gradient is zero or
// not finite.
func firstStep(o *gramObjective, x, grad []float32) float64 {
	loss := o.eval(x, grad)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 1
	}
	return nn.FirstStepLR(grad, firstStepPixels)
}

// noiseImage returns the starting image: Gaussian noise (standard deviation
// noiseStd) around the sample's mean colour, clamped to 0..255, drawn from
// seed.
func noiseImage(sample *tensor.Tensor, h, w int, seed int64) *tensor.Tensor {
	mean := channelMeans(sample)
	rng := rand.New(rand.NewSource(seed))
	x := tensor.New(1, 3, h, w)
	for c := 0; c < 3; c++ {
		plane := x.Data[c*h*w : (c+1)*h*w]
		for i := range plane {
			plane[i] = float32(min(max(mean[c]+noiseStd*rng.NormFloat64(), 0), 255))
		}
	}
	return x
}

// channelMeans returns the mean of each channel of img [1,C,H,W].
func channelMeans(img *tensor.Tensor) []float64 {
	_, c, h, w := img.Dims()
	out := make([]float64, c)
	for ch := range out {
		var s float64
		for _, v := range img.Data[ch*h*w : (ch+1)*h*w] {
			s += float64(v)
		}
		out[ch] = s / float64(h*w)
	}
	return out
}

// StyleLoss returns the Gram method's loss (see Result.Loss) of img against
// sample, both RGB [1,3,H,W] in 0..255 of any sizes, at the given taps
// (DefaultTaps(net) when empty) weighed by weights (1 each when nil); with
// tileable, img is seen as a torus. It measures how well any image, from
// either method, matches the sample's feature statistics.
func StyleLoss(net features.Extractor, sample, img *tensor.Tensor, taps []string, weights []float64, tileable bool) (float64, error) {
	if len(taps) == 0 {
		taps = DefaultTaps(net)
	}
	if weights == nil {
		weights = make([]float64, len(taps))
		for i := range weights {
			weights[i] = 1
		}
	}
	if len(weights) != len(taps) {
		return 0, fmt.Errorf("%w: %d tap weights for %d taps", ErrRequest, len(weights), len(taps))
	}
	obj := &gramObjective{ctx: context.Background(), net: net, taps: taps, weights: weights, scale: 1,
		layers: make([]style.StyleLayer, len(taps))}
	if tileable {
		obj.net = NewCircular(net, 0)
	}
	if err := obj.setTargets(net, sample); err != nil {
		return 0, fmt.Errorf("texture: the sample: %w", err)
	}
	feats, err := obj.net.Extract(img, taps)
	if err != nil {
		return 0, fmt.Errorf("texture: %w", err)
	}
	var loss float64
	for i, tap := range taps {
		loss += obj.layers[i].Loss(feats[tap], obj.targets[i], obj.tapWeight(i, feats[tap]), nil)
	}
	return loss, nil
}
