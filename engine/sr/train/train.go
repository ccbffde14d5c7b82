package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"atelier/engine/features"
	"atelier/engine/imageio"
	"atelier/engine/nn"
	"atelier/engine/sr"
	"atelier/engine/tensor"
)

// Architectures Config.Arch accepts.
const (
	ArchSRCNN = "srcnn"
	ArchSRNet = "srnet"
)

// Losses Config.Loss accepts.
const (
	LossPixel      = "pixel"
	LossPerceptual = "perceptual"
)

// ErrConfig reports a configuration Run cannot use.
var ErrConfig = errors.New("train: bad configuration")

// Config configures Run. Zero fields take the documented defaults.
type Config struct {
	// Arch is ArchSRCNN or ArchSRNet.
	Arch string
	// Scale is the upscaling factor (SRCNN: any 2-4; srnet: 2 or 4).
	Scale int
	// Images are the high-resolution training images.
	Images []string
	// EvalImages are measured (Y-PSNR as sr-eval) every EvalEvery
	// iterations and at the end; the best weights are kept with the pixel
	// loss, the latest with the perceptual loss (whose aim is not PSNR).
	// Empty: no evaluation, the last weights are kept.
	EvalImages []string
	// Iters is the number of Adam steps (default 1000).
	Iters int
	// MaxDuration stops training early; the learning-rate schedule follows
	// whichever of iterations and time is further along. 0: no limit.
	MaxDuration time.Duration
	// Batch (default 16) and Patch (input patch side; default 45 for
	// SRCNN, 32 for srnet) size each step.
	Batch, Patch int
	// Margin is how many input pixels along each patch edge the loss
	// leaves out (default 6 for SRCNN, its receptive-field radius; 4 for
	// srnet): there the network sees zero padding, which it never sees in
	// use (the upscaler mirrors the image outwards instead).
	Margin int
	// LR is Adam's initial step (default 1e-3); it decays along a cosine
	// to LR/20.
	LR float64
	// Prescale shrinks every training image by this factor (antialiased
	// bicubic, rounded to 8 bits) before anything else; 2 or more removes
	// JPEG artefacts and leaves targets as sharp per pixel as clean test
	// images. 0 or 1: none.
	Prescale int
	// Seed makes initialisation and sampling repeatable.
	Seed uint64
	// Feats and Blocks size srnet (defaults 32 and 6).
	Feats, Blocks int
	// Loss is LossPixel (default) or LossPerceptual (srnet only).
	Loss string
	// VGGDir is the VGG19 TF.js model folder for the perceptual loss.
	VGGDir string
	// FeatureWeight weighs the relu2_2 reconstruction against the pixel
	// MSE; 0 picks it on the first batch so that the feature term is 10
	// times the pixel term.
	FeatureWeight float64
	// Init is a model folder whose weights training starts from (the same
	// architecture), for fine-tuning the perceptual net from the pixel one.
	Init string
	// Out is the folder the best (or last) model is written to.
	Out string
	// EvalEvery is the number of iterations between evaluations (default
	// 250).
	EvalEvery int
	// Progress, when not nil, is called after every iteration.
	Progress func(Status)
}

// Status is the state of a run after one iteration.
type Status struct {
	Iter, Iters int
	// Loss is a moving average of the training loss.
	Loss float64
	// PSNR is the mean Y-PSNR on EvalImages when this iteration was
	// evaluated, else 0; Best is the best so far and Bicubic bicubic's.
	PSNR, Best, Bicubic float64
	Elapsed, ETA        time.Duration
}

// Result summarises a run.
type Result struct {
	Arch       string  `json:"arch"`
	Loss       string  `json:"loss"`
	Scale      int     `json:"scale"`
	Params     int     `json:"params"`
	Iterations int     `json:"iterations"`
	Seconds    float64 `json:"seconds"`
	FirstLoss  float64 `json:"first_loss"`
	FinalLoss  float64 `json:"final_loss"`
	// BestPSNR is the best mean Y-PSNR on the evaluation images, reached
	// at BestIter; BicubicPSNR is bicubic's on the same images.
	BestPSNR    float64 `json:"best_psnr,omitempty"`
	BestIter    int     `json:"best_iter,omitempty"`
	BicubicPSNR float64 `json:"bicubic_psnr,omitempty"`
	// SavedPSNR is the PSNR of the weights written to Out, from iteration
	// SavedIter.
	SavedPSNR float64 `json:"saved_psnr,omitempty"`
	SavedIter int     `json:"saved_iter,omitempty"`
	Out       string  `json:"out"`
}

func (c *Config) defaults() error {
	if c.Arch != ArchSRCNN && c.Arch != ArchSRNet {
		return fmt.Errorf("%w: architecture %q (want %s or %s)", ErrConfig, c.Arch, ArchSRCNN, ArchSRNet)
	}
	if c.Loss == "" {
		c.Loss = LossPixel
	}
	if c.Loss != LossPixel && c.Loss != LossPerceptual {
		return fmt.Errorf("%w: loss %q (want %s or %s)", ErrConfig, c.Loss, LossPixel, LossPerceptual)
	}
	if c.Loss == LossPerceptual && c.Arch != ArchSRNet {
		return fmt.Errorf("%w: the perceptual loss trains srnet only", ErrConfig)
	}
	switch {
	case c.Arch == ArchSRCNN && (c.Scale < 2 || c.Scale > 4):
		return fmt.Errorf("%w: srcnn trains x2, x3 or x4, not x%d", ErrConfig, c.Scale)
	case c.Arch == ArchSRNet && c.Scale != 2 && c.Scale != 4:
		return fmt.Errorf("%w: srnet trains x2 or x4, not x%d", ErrConfig, c.Scale)
	case len(c.Images) == 0:
		return fmt.Errorf("%w: no training images", ErrConfig)
	case c.Out == "":
		return fmt.Errorf("%w: no output folder", ErrConfig)
	case c.Iters < 0 || c.Batch < 0 || c.Patch < 0 || c.Margin < 0 || c.LR < 0 || c.EvalEvery < 0 || c.Prescale < 0:
		return fmt.Errorf("%w: negative iterations, batch, patch, learning rate or evaluation interval", ErrConfig)
	}
	if c.Iters == 0 {
		c.Iters = 1000
	}
	if c.Batch == 0 {
		c.Batch = 16
	}
	if c.Patch == 0 {
		c.Patch = 32
		if c.Arch == ArchSRCNN {
			c.Patch = 45
		}
	}
	if c.Margin == 0 {
		c.Margin = 4
		if c.Arch == ArchSRCNN {
			c.Margin = 6
		}
	}
	if c.Patch < 8 || c.Margin < 0 || c.Patch-2*c.Margin < 4 {
		return fmt.Errorf("%w: patch %d with a margin of %d leaves less than 4 pixels measured", ErrConfig, c.Patch, c.Margin)
	}
	if c.LR == 0 {
		c.LR = 1e-3
	}
	if c.Feats == 0 {
		c.Feats = 32
	}
	if c.Blocks == 0 {
		c.Blocks = 6
	}
	if c.EvalEvery == 0 {
		c.EvalEvery = 250
	}
	return nil
}

// trainer holds the state of one run.
type trainer struct {
	cfg   Config
	net   *Net
	batch batcher
	adam  *nn.Adam
	dy    *tensor.Tensor
	// margin is Config.Margin in output pixels.
	margin int

	// perceptual loss
	vgg      *features.VGG19
	fw       float64
	img, ref *tensor.Tensor // 0..255 prediction and target images
	refFeat  *tensor.Tensor
	fgrad    *tensor.Tensor

	eval []evalImage
}

// evalImage is one evaluation image: its shrunk input and the reference.
type evalImage struct{ lr, hr *tensor.Tensor }

// Run trains a network as cfg says and writes it to cfg.Out. It stops at
// ctx's cancellation with ctx.Err(), keeping the best model written so far.
func Run(ctx context.Context, cfg Config) (Result, error) {
	t, err := newTrainer(cfg)
	if err != nil {
		return Result{}, err
	}
	return t.run(ctx)
}

// newTrainer builds the network, loads the images and, for the perceptual
// loss, VGG19.
func newTrainer(cfg Config) (*trainer, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5352))
	var (
		net *Net
		err error
	)
	if cfg.Arch == ArchSRCNN {
		net, err = NewSRCNN(rng)
	} else {
		net, err = NewSRNet(rng, cfg.Scale, cfg.Feats, cfg.Blocks)
	}
	if err != nil {
		return nil, err
	}
	if cfg.Init != "" {
		if err := net.LoadInto(cfg.Init); err != nil {
			return nil, err
		}
	}
	t := &trainer{cfg: cfg, net: net, adam: nn.NewAdam(net.NumParams(), cfg.LR), margin: cfg.Margin * net.Scale}
	luma := cfg.Arch == ArchSRCNN
	samples, err := loadSamples(cfg.Images, cfg.Scale, max(cfg.Prescale, 1), luma, cfg.Loss == LossPerceptual)
	if err != nil {
		return nil, err
	}
	t.batch = batcher{samples: samples, scale: net.Scale, patch: cfg.Patch, rng: rng}
	if cfg.Loss == LossPerceptual {
		if t.vgg, err = features.LoadVGG19(cfg.VGGDir, features.VGG19Options{}); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		t.fw = cfg.FeatureWeight
	}
	for _, p := range cfg.EvalImages {
		img, err := imageio.Load(p, imageio.Options{MinSide: -1})
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		lr, hr, err := sr.Downscale(img.RGB, cfg.Scale)
		if err != nil {
			return nil, fmt.Errorf("train: %s: %w", filepath.Base(p), err)
		}
		t.eval = append(t.eval, evalImage{lr: lr, hr: hr})
	}
	return t, nil
}

func (t *trainer) run(ctx context.Context) (Result, error) {
	cfg := t.cfg
	res := Result{Arch: cfg.Arch, Loss: cfg.Loss, Scale: cfg.Scale, Params: t.net.NumParams(), Out: cfg.Out}
	start := time.Now()
	var bic float64
	if len(t.eval) > 0 {
		var err error
		if bic, err = t.measure(ctx, nil); err != nil {
			return res, err
		}
		res.BicubicPSNR = bic
	}
	best := math.Inf(-1)
	var avg float64
	for it := 1; it <= cfg.Iters; it++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		frac := float64(it-1) / float64(cfg.Iters)
		if cfg.MaxDuration > 0 {
			frac = max(frac, float64(time.Since(start))/float64(cfg.MaxDuration))
		}
		if frac >= 1 {
			break
		}
		t.adam.LR = cfg.LR * (0.05 + 0.95*0.5*(1+math.Cos(math.Pi*frac)))
		loss, err := t.step()
		if err != nil {
			return res, err
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return res, fmt.Errorf("train: the loss became %v at iteration %d; try a smaller learning rate", loss, it)
		}
		if it == 1 {
			res.FirstLoss, avg = loss, loss
		}
		avg = 0.9*avg + 0.1*loss
		res.Iterations, res.FinalLoss = it, avg
		st := Status{Iter: it, Iters: cfg.Iters, Loss: avg, Bicubic: bic, Elapsed: time.Since(start)}
		last := it == cfg.Iters || (cfg.MaxDuration > 0 && time.Since(start) >= cfg.MaxDuration)
		if len(t.eval) > 0 && (it%cfg.EvalEvery == 0 || last) {
			p, err := t.measure(ctx, t.net)
			if err != nil {
				return res, err
			}
			st.PSNR = p
			if p > best {
				best, res.BestPSNR, res.BestIter = p, p, it
			}
			if res.BestIter == it || cfg.Loss == LossPerceptual {
				if err := t.net.Save(cfg.Out, "atelier engine/sr/train"); err != nil {
					return res, err
				}
				res.SavedPSNR, res.SavedIter = p, it
			}
		}
		if len(t.eval) == 0 && last {
			if err := t.net.Save(cfg.Out, "atelier engine/sr/train"); err != nil {
				return res, err
			}
		}
		st.Best = res.BestPSNR
		per := st.Elapsed / time.Duration(it)
		st.ETA = per * time.Duration(cfg.Iters-it)
		if cfg.MaxDuration > 0 {
			st.ETA = min(st.ETA, max(cfg.MaxDuration-st.Elapsed, 0))
		}
		if cfg.Progress != nil {
			cfg.Progress(st)
		}
		if last {
			break
		}
	}
	if len(t.eval) == 0 && res.Iterations < cfg.Iters { // stopped by MaxDuration before saving
		if err := t.net.Save(cfg.Out, "atelier engine/sr/train"); err != nil {
			return res, err
		}
	}
	res.Seconds = math.Round(time.Since(start).Seconds()*10) / 10
	return res, nil
}

// step runs one batch forward and backward and takes an Adam step. It
// returns the batch loss.
func (t *trainer) step() (float64, error) {
	in, tgt, base := t.batch.next(t.cfg.Batch)
	nn.ZeroGrads(t.net.params)
	y, err := t.net.Forward(in)
	if err != nil {
		return 0, fmt.Errorf("train: %w", err)
	}
	if !y.SameShape(tgt) {
		return 0, fmt.Errorf("train: the network made %v for targets %v", y.Shape, tgt.Shape)
	}
	loss, err := t.lossGrad(y, tgt, base)
	if err != nil {
		return 0, err
	}
	if err := t.net.Backward(t.dy); err != nil {
		return 0, fmt.Errorf("train: %w", err)
	}
	t.adam.StepParams(t.net.params)
	return loss, nil
}

// lossGrad returns the loss of the network output y against the target
// and writes its gradient into t.dy: the mean squared error, plus the
// perceptual term when the run has one.
func (t *trainer) lossGrad(y, tgt, base *tensor.Tensor) (float64, error) {
	t.dy = tensor.EnsureZero(t.dy, y.Shape...)
	nb, c, h, w := y.Dims()
	m := t.margin
	ih, iw := h-2*m, w-2*m // the measured interior
	if ih < 1 || iw < 1 {
		return 0, fmt.Errorf("train: a %d x %d output patch has no interior inside a margin of %d", w, h, m)
	}
	n := float64(nb * c * ih * iw)
	var loss float64
	k := float32(2 / n)
	for p := range nb * c {
		for yy := m; yy < h-m; yy++ {
			row := (p*h + yy) * w
			for x := m; x < w-m; x++ {
				d := y.Data[row+x] - tgt.Data[row+x]
				loss += float64(d) * float64(d)
				t.dy.Data[row+x] = k * d
			}
		}
	}
	loss /= n
	if t.vgg != nil {
		fl, err := t.perceptual(y, tgt, base, loss)
		if err != nil {
			return 0, err
		}
		loss += fl
	}
	return loss, nil
}

// perceptualTap is the VGG19 layer of the feature reconstruction loss.
const perceptualTap = "relu2_2"

// perceptual adds FeatureWeight times the mean squared difference of VGG19
// relu2_2 between the prediction and the target, over the interior of the
// patches, to the loss and its gradient to t.dy. y and tgt are corrections
// of base (all /255); pix is the pixel loss, which sets the weight on the
// first call when FeatureWeight is 0.
func (t *trainer) perceptual(y, tgt, base *tensor.Tensor, pix float64) (float64, error) {
	nb, c, h, w := y.Dims()
	m := t.margin
	ih, iw := h-2*m, w-2*m
	t.img = tensor.Ensure(t.img, nb, c, ih, iw)
	t.ref = tensor.Ensure(t.ref, nb, c, ih, iw)
	for p := range nb * c {
		for yy := range ih {
			src := (p*h+yy+m)*w + m
			dst := (p*ih + yy) * iw
			for x := range iw {
				b := base.Data[src+x]
				t.ref.Data[dst+x] = 255 * (b + tgt.Data[src+x])
				t.img.Data[dst+x] = 255 * (b + y.Data[src+x])
			}
		}
	}
	taps := []string{perceptualTap}
	f, err := t.vgg.Extract(t.ref, taps)
	if err != nil {
		return 0, fmt.Errorf("train: %w", err)
	}
	t.refFeat = tensor.Ensure(t.refFeat, f[perceptualTap].Shape...)
	copy(t.refFeat.Data, f[perceptualTap].Data)
	f, err = t.vgg.Extract(t.img, taps)
	if err != nil {
		return 0, fmt.Errorf("train: %w", err)
	}
	cur := f[perceptualTap]
	n := float64(len(cur.Data))
	var fl float64
	t.fgrad = tensor.Ensure(t.fgrad, cur.Shape...)
	for i, v := range cur.Data {
		d := float64(v - t.refFeat.Data[i])
		fl += d * d
	}
	fl /= n
	if t.fw == 0 {
		t.fw = 10 * max(pix, 1e-8) / max(fl, 1e-12)
	}
	k := float32(2 * t.fw / n)
	for i, v := range cur.Data {
		t.fgrad.Data[i] = k * (v - t.refFeat.Data[i])
	}
	dimg := t.vgg.Backward(map[string]*tensor.Tensor{perceptualTap: t.fgrad})
	for p := range nb * c {
		for yy := range ih {
			dst := (p*h+yy+m)*w + m
			src := (p*ih + yy) * iw
			for x := range iw {
				t.dy.Data[dst+x] += 255 * dimg.Data[src+x]
			}
		}
	}
	return t.fw * fl, nil
}

// measure returns the mean Y-PSNR of net (bicubic when nil) on the
// evaluation images, measured as sr-eval does.
func (t *trainer) measure(ctx context.Context, net *Net) (float64, error) {
	var u sr.Upscaler = &sr.Bicubic{Factor: t.cfg.Scale}
	if net != nil {
		dir, err := os.MkdirTemp("", "atelier-train-eval")
		if err != nil {
			return 0, fmt.Errorf("train: %w", err)
		}
		defer os.RemoveAll(dir)
		if err := net.Save(dir, "atelier engine/sr/train"); err != nil {
			return 0, err
		}
		if u, err = sr.OpenModelDir(dir, t.cfg.Scale, sr.Options{}); err != nil {
			return 0, err
		}
	}
	var sum float64
	for _, e := range t.eval {
		out, err := u.Upscale(ctx, e.lr, nil)
		if err != nil {
			return 0, err
		}
		sr.Quantize(out.Data)
		q, err := sr.Compare(e.hr, out, t.cfg.Scale)
		if err != nil {
			return 0, err
		}
		sum += q.PSNR
	}
	return sum / float64(len(t.eval)), nil
}
