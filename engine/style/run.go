package style

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
	"atelier/engine/tensor"
)

// ErrNonFinite reports that the loss became NaN or infinite.
var ErrNonFinite = errors.New("style: the loss is not finite")

// Frame is the state of a run after one iteration.
type Frame struct {
	// Scale is the index of the current coarse-to-fine pass (0 first) and
	// Scales their number.
	Scale, Scales int
	// Iteration counts the iterations of this scale, from 1;
	// TotalIteration those of the whole run.
	Iteration, TotalIteration int
	// Evals counts the network evaluations of the whole run.
	Evals int
	// Width and Height are the image's size at this scale.
	Width, Height int
	// Losses are the terms of the objective at Image. With Adam they are
	// those of the point the step started from.
	Losses Losses
	// shot gives Image the run's image of this iteration.
	shot *frameShot
	// Settings are the settings in effect for this iteration.
	Settings Settings
	// SettingsErr is non-nil when the last settings received on
	// Request.Updates were refused; the run goes on with Settings.
	SettingsErr error
	// Elapsed is the time since the run began.
	Elapsed time.Duration
}

// frameShot is the image of one frame, copied only when asked for.
type frameShot struct {
	r   *runner
	seq int
	img *tensor.Tensor
}

// Image returns the image of this iteration, RGB [1,3,H,W] in 0..255, with
// the content's chroma already recombined under ColourLuminance: a copy the
// caller may keep (every call returns the same tensor). The copy is made on
// the first call, so frames nobody looks at cost nothing; that call must
// come during the onFrame call that received the frame. Called later for
// the first time, Image returns nil.
func (f Frame) Image() *tensor.Tensor {
	s := f.shot
	if s == nil {
		return nil
	}
	if s.img == nil && s.r != nil && s.r.inFrame && s.r.frameSeq == s.seq {
		s.img = s.r.finish()
	}
	return s.img
}

// Result is the outcome of Run.
type Result struct {
	// Image is the final image (RGB [1,3,H,W], 0..255, owned by the caller),
	// after the colour mode's recombination. When the run was cancelled or
	// failed it is the image of the last completed iteration, which under
	// L-BFGS is the lowest-loss point found for the current objective; it
	// is nil only when the run failed before it had an image.
	Image *tensor.Tensor
	// Width and Height are Image's size.
	Width, Height int
	// Losses are those of the last iteration.
	Losses Losses
	// Iterations and Evals count the iterations and network evaluations.
	Iterations, Evals int
	// Seed is the seed the run used.
	Seed int64
	// Settings are the settings in effect at the end.
	Settings Settings
}

// runner holds one run's state.
type runner struct {
	net        features.Extractor
	req        Request
	settings   Settings
	settingErr error
	updates    <-chan Settings
	styleTaps  []string
	contentTap string
	sides      []int
	bank       *bank
	obj        *objective
	start      time.Time

	// the current scale
	side    int
	content *tensor.Tensor // content image resized to this scale
	x       *tensor.Tensor // the image being optimised
	iters   int

	// frames: the sequence number of the last one and whether onFrame is
	// running (Frame.Image copies the image only then)
	frameSeq int
	inFrame  bool
}

// Run transfers the style of req.Styles onto req.Content by optimising the
// image (Gatys, Ecker and Bethge 2016) over the features of net, coarse to
// fine, and returns the result.
//
// onFrame (optional) is called on Run's goroutine after every iteration;
// it should return quickly (hand the frame to a "latest wins" slot).
// Settings received on req.Updates take effect at the next iteration. Run
// checks ctx before every iteration and inside every network evaluation; a
// cancelled run returns ctx's error (context.Canceled) promptly together
// with the image so far. Errors wrap ErrRequest, ErrSettings, ErrNoStyle,
// ErrNonFinite, or the extractor's sentinel errors (features.ErrUnknownTap,
// features.ErrMissingWeights).
//
// With a ResNet-50 extractor, load it with the softmax transform
// (features.ResNet50Options{Softmax: true}), without which Gram losses on
// its features stylise poorly.
func Run(ctx context.Context, net features.Extractor, req Request, onFrame func(Frame)) (Result, error) {
	r, err := newRunner(ctx, net, req)
	if err != nil {
		return Result{Seed: req.Seed}, err
	}
	err = r.run(ctx, onFrame)
	return r.result(), err
}

// checkImage validates a user-supplied RGB image.
func checkImage(t *tensor.Tensor, what string) error {
	if t == nil {
		return fmt.Errorf("%w: no %s image", ErrRequest, what)
	}
	if len(t.Shape) != 4 || t.Shape[0] != 1 || t.Shape[1] != 3 || t.Shape[2] < 1 || t.Shape[3] < 1 || len(t.Data) != tensor.Volume(t.Shape) {
		return fmt.Errorf("%w: the %s image is %v, want RGB [1,3,H,W]", ErrRequest, what, t)
	}
	for _, v := range t.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%w: the %s image holds a value that is not finite", ErrRequest, what)
		}
	}
	return nil
}

func newRunner(ctx context.Context, net features.Extractor, req Request) (*runner, error) {
	if net == nil {
		return nil, fmt.Errorf("%w: no feature network", ErrRequest)
	}
	if err := checkImage(req.Content, "content"); err != nil {
		return nil, err
	}
	if len(req.Styles) == 0 {
		return nil, fmt.Errorf("%w: no style image", ErrNoStyle)
	}
	for i, s := range req.Styles {
		if err := checkImage(s, fmt.Sprintf("style %d", i+1)); err != nil {
			return nil, err
		}
	}
	for i, s := range req.MorphStyles {
		if err := checkImage(s, fmt.Sprintf("morph style %d", i+1)); err != nil {
			return nil, err
		}
	}
	if req.Start != nil {
		if err := checkImage(req.Start, "starting"); err != nil {
			return nil, err
		}
	}
	_, _, ch, cw := req.Content.Dims()
	if req.Size <= 0 {
		req.Size = min(max(ch, cw), defaultMaxSize)
	}
	if req.Iterations <= 0 {
		req.Iterations = defaultIterations
	}
	if !(req.StyleScale > 0) || math.IsInf(req.StyleScale, 0) {
		req.StyleScale = 1
	}
	if req.History < 0 {
		req.History = 0
	}
	if !(req.LearningRate > 0) {
		req.LearningRate = defaultLearningRate
	}
	if req.Init < InitContent || req.Init > InitStyle {
		return nil, fmt.Errorf("%w: unknown init %d", ErrRequest, int(req.Init))
	}
	if req.Optimizer < LBFGS || req.Optimizer > Adam {
		return nil, fmt.Errorf("%w: unknown optimizer %d", ErrRequest, int(req.Optimizer))
	}
	r := &runner{net: net, req: req, updates: req.Updates, styleTaps: req.StyleTaps, contentTap: req.ContentTap}
	if r.styleTaps == nil {
		r.styleTaps = net.DefaultStyleTaps()
	}
	if r.contentTap == "" {
		r.contentTap = net.DefaultContentTap()
	}
	if len(r.styleTaps) == 0 {
		return nil, fmt.Errorf("%w: no style taps", ErrRequest)
	}
	weights := req.StyleTapWeights
	if weights == nil {
		weights = make([]float64, len(r.styleTaps))
		for i := range weights {
			weights[i] = 1
		}
	} else if len(weights) != len(r.styleTaps) {
		return nil, fmt.Errorf("%w: %d style tap weights for %d style taps", ErrRequest, len(weights), len(r.styleTaps))
	}
	for i, w := range weights {
		if !(w >= 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("%w: style tap weight %d is %v", ErrRequest, i+1, w)
		}
	}
	if req.Settings != nil {
		r.settings = req.Settings.clone()
	} else {
		r.settings = DefaultSettingsFor(net, req.Normalise)
	}
	if err := r.settings.validate(len(req.Styles), len(req.MorphStyles)); err != nil {
		return nil, err
	}
	sides, err := scaleSides(req.Size, req.Scales)
	if err != nil {
		return nil, err
	}
	r.sides = sides
	r.bank = newBank(net, r.styleTaps, req.Styles, req.MorphStyles, req.StyleScale, req.Content)
	if req.Normalise < NormAuto || req.Normalise > NormTarget {
		return nil, fmt.Errorf("%w: unknown normalisation %d", ErrRequest, int(req.Normalise))
	}
	r.obj = newObjective(ctx, net, r.styleTaps, weights, r.contentTap)
	r.obj.relative = req.Normalise.resolve(net) == NormTarget
	return r, nil
}

// poll applies the latest settings waiting on the updates channel.
func (r *runner) poll() {
	var latest *Settings
	for r.updates != nil {
		select {
		case s, ok := <-r.updates:
			if !ok {
				r.updates = nil
				break
			}
			latest = &s
			continue
		default:
		}
		break
	}
	if latest == nil {
		return
	}
	s := latest.clone()
	if err := s.validate(len(r.req.Styles), len(r.req.MorphStyles)); err != nil {
		r.settingErr = err
		return
	}
	r.settingErr = nil
	r.settings = s
}

// sync brings the objective in line with the settings; it reports whether
// the objective changed.
func (r *runner) sync() (bool, error) {
	s := r.settings
	changed := r.obj.setWeights(s.ContentWeight, s.EffectiveStyleWeight(), s.TVWeight)
	targets, blended, err := r.bank.blend(s, r.side)
	if err != nil {
		return false, err
	}
	if blended {
		r.obj.setTargets(targets)
	}
	return changed || blended, nil
}

// startScale prepares scale k: the content and its features, the starting
// image, the style targets.
func (r *runner) startScale(k int) error {
	r.side = r.sides[k]
	_, _, ch, cw := r.req.Content.Dims()
	w, h := imageio.FitLongSide(cw, ch, r.side)
	content, err := imageio.Resize(r.req.Content, w, h)
	if err != nil {
		return fmt.Errorf("style: resizing the content: %w", err)
	}
	r.content = content
	feats, err := r.net.Extract(content, []string{r.contentTap})
	if err != nil {
		return fmt.Errorf("%w: content at %dx%d: %w", ErrRequest, w, h, err)
	}
	r.obj.setContent(feats[r.contentTap].Clone(), content)
	r.obj.setSize(h, w)

	switch {
	case r.x != nil:
		x, err := imageio.Resize(r.x, w, h)
		if err != nil {
			return fmt.Errorf("style: upsampling the previous scale: %w", err)
		}
		r.x = x
	case r.req.Start != nil:
		x, err := imageio.Resize(r.req.Start, w, h)
		if err != nil {
			return fmt.Errorf("style: resizing the starting image: %w", err)
		}
		r.x = x
	case r.req.Init == InitNoise:
		rng := rand.New(rand.NewSource(r.req.Seed))
		r.x = tensor.New(1, 3, h, w)
		for i := range r.x.Data {
			r.x.Data[i] = clamp255(float32(127.5 + 40*rng.NormFloat64()))
		}
	case r.req.Init == InitStyle:
		x, err := imageio.Resize(r.initStyle(), w, h)
		if err != nil {
			return fmt.Errorf("style: resizing the style for the start: %w", err)
		}
		r.x = x
	default:
		r.x = content.Clone()
	}
	return nil
}

// initStyle returns the style image InitStyle starts from.
func (r *runner) initStyle() *tensor.Tensor {
	set, mix := r.req.Styles, r.settings.Mix
	if r.settings.Morph >= 1 {
		set, mix = r.req.MorphStyles, r.settings.MorphMix
	}
	for i, w := range mix {
		if w > 0 {
			return set[i]
		}
	}
	return set[0]
}

func (r *runner) run(ctx context.Context, onFrame func(Frame)) error {
	r.start = time.Now()
	budgets := SplitIterations(r.req.Iterations, len(r.sides))
	carry := 0
	for k := range r.sides {
		if err := ctx.Err(); err != nil {
			return err
		}
		budget := budgets[k] + carry
		if budget == 0 {
			continue // too few iterations to spend some here
		}
		if err := r.startScale(k); err != nil {
			return err
		}
		done, err := r.optimise(ctx, k, budget, onFrame)
		if err != nil {
			return err
		}
		carry = budget - done
	}
	return nil
}

// optimise runs up to budget iterations at scale k and returns how many it
// ran (fewer when L-BFGS converged).
func (r *runner) optimise(ctx context.Context, k, budget int, onFrame func(Frame)) (int, error) {
	n := len(r.x.Data)
	var lb *nn.LBFGS
	var adam *nn.Adam
	var grad []float32
	if r.req.Optimizer == Adam {
		adam = nn.NewAdam(n, r.req.LearningRate)
		adam.SetBounds(0, 255)
		grad = make([]float32, n)
	} else {
		lb = nn.NewLBFGS(n, HistoryFor(n, r.req.History))
		lb.SetBounds(0, 255)
		grad = make([]float32, n)
	}
	if _, err := r.sync(); err != nil {
		return 0, err
	}
	for it := 1; it <= budget; it++ {
		if err := ctx.Err(); err != nil {
			return it - 1, err
		}
		r.poll()
		changed, err := r.sync()
		if err != nil {
			return it - 1, err
		}
		if lb != nil && (changed || it == 1) {
			lb.Reset()
			lb.LR = r.firstStep(lb, grad)
		}
		if err := ctx.Err(); err != nil {
			return it - 1, err
		}
		r.obj.beginStep()
		var losses Losses
		converged := false
		if lb != nil {
			loss, err := lb.Step(r.x.Data, r.obj.eval)
			lb.LR = 1
			if cerr := r.stepError(ctx); cerr != nil {
				return it - 1, cerr
			}
			switch {
			case errors.Is(err, nn.ErrConverged):
				converged = true
			case errors.Is(err, nn.ErrNonFinite):
				return it - 1, fmt.Errorf("%w at scale %d, iteration %d", ErrNonFinite, k+1, it)
			case err != nil:
				return it - 1, fmt.Errorf("style: %w", err)
			}
			losses = r.obj.lossesOf(loss)
		} else {
			loss := r.obj.eval(r.x.Data, grad)
			if cerr := r.stepError(ctx); cerr != nil {
				return it - 1, cerr
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return it - 1, fmt.Errorf("%w at scale %d, iteration %d", ErrNonFinite, k+1, it)
			}
			losses = r.obj.last
			adam.Step(r.x.Data, grad)
		}
		r.iters++
		if onFrame != nil {
			_, _, h, w := r.x.Dims()
			r.frameSeq++
			r.inFrame = true
			onFrame(Frame{Scale: k, Scales: len(r.sides), Iteration: it, TotalIteration: r.iters, Evals: r.obj.evals,
				Width: w, Height: h, Losses: losses, shot: &frameShot{r: r, seq: r.frameSeq}, Settings: r.settings.clone(),
				SettingsErr: r.settingErr, Elapsed: time.Since(r.start)})
			r.inFrame = false
		}
		r.obj.last = losses
		if converged {
			return it, nil
		}
	}
	return budget, nil
}

// HistoryFor returns the L-BFGS history of a run over n values (3 per
// pixel) when Request.History is history: history itself when positive,
// else 100 pairs, or fewer for large images so that the pairs (two
// vectors of n float32 each) take at most 384 MiB: 100 up to about 410x410
// pixels, 85 at 512x384, 64 at 512x512, 21 at 1024x768, 16 at 1024x1024.
// Fewer pairs cost little (SciPy's L-BFGS-B keeps 10); the history is what
// grows a long run's memory, and at 1024x768 the network's buffers already
// take 2.6 GB of the 3 GiB a run may use.
func HistoryFor(n, history int) int {
	if history > 0 {
		return history
	}
	return min(defaultHistory, max(maxHistoryBytes/(8*max(n, 1)), minAutoHistory))
}

// FirstStepPixels is how far the first L-BFGS step after a reset moves the
// pixel with the largest gradient, in 0..255 units, before the line search
// adjusts it.
const FirstStepPixels = 32

// firstStep returns the L-BFGS learning rate for the first step after a
// reset, so that it starts FirstStepPixels along the gradient instead of
// nn.LBFGS's min(1, 1/|g|₁), which on this objective is orders of
// magnitude too short and costs the line search many evaluations to
// grow. It evaluates the objective at the current image once (into grad)
// and primes lb with it, so the step does not evaluate it again; it
// returns 1 when the gradient is zero or not finite.
func (r *runner) firstStep(lb *nn.LBFGS, grad []float32) float64 {
	loss := r.obj.eval(r.x.Data, grad)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 1
	}
	lb.Prime(r.x.Data, loss, grad)
	return nn.FirstStepLR(grad, FirstStepPixels)
}

// stepError returns the error that ended a step early: the context's or
// the extractor's.
func (r *runner) stepError(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.obj.err != nil {
		return fmt.Errorf("style: %w", r.obj.err)
	}
	return nil
}

// finish returns a copy of the current image with the colour mode applied.
func (r *runner) finish() *tensor.Tensor {
	if r.settings.Colour == ColourLuminance {
		return PreserveColour(nil, r.x, r.content)
	}
	return r.x.Clone()
}

func (r *runner) result() Result {
	res := Result{Seed: r.req.Seed, Settings: r.settings.clone(), Iterations: r.iters, Evals: r.obj.evals, Losses: r.obj.last}
	if r.x != nil {
		res.Image = r.finish()
		_, _, res.Height, res.Width = r.x.Dims()
	}
	return res
}

// Evaluate returns the terms of req's objective at img, at the last (full)
// scale and with req's initial settings, and the gradient dL/dimg, without
// optimising: the loss a run of req would start from when img is its
// starting image. img must be RGB [1,3,H,W] of the output's size (the
// content fitted to req.Size); a mismatch wraps ErrRequest.
func Evaluate(ctx context.Context, net features.Extractor, req Request, img *tensor.Tensor) (Losses, *tensor.Tensor, error) {
	r, err := newRunner(ctx, net, req)
	if err != nil {
		return Losses{}, nil, err
	}
	if err := checkImage(img, "evaluated"); err != nil {
		return Losses{}, nil, err
	}
	if err := r.startScale(len(r.sides) - 1); err != nil {
		return Losses{}, nil, err
	}
	if !img.SameShape(r.x) {
		return Losses{}, nil, fmt.Errorf("%w: the evaluated image is %v, the output %v", ErrRequest, img.Shape, r.x.Shape)
	}
	if _, err := r.sync(); err != nil {
		return Losses{}, nil, err
	}
	grad := tensor.New(img.Shape...)
	x := append([]float32(nil), img.Data...)
	loss := r.obj.eval(x, grad.Data)
	if err := r.stepError(ctx); err != nil {
		return Losses{}, nil, err
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return r.obj.last, grad, ErrNonFinite
	}
	return r.obj.last, grad, nil
}
