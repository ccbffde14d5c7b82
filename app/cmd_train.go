package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"atelier/engine/model"
	"atelier/engine/sr/train"
)

const trainHelp = `Usage:
  atelier train srcnn --images DIR --scale 3 [options]
  atelier train srnet --images DIR --scale 2|4 [--loss pixel|perceptual] [options]

Trains one of Atelier's own super-resolution networks with its own engine
(Adam, random patches with flips and transposes) and writes it as a TF.js
layers model folder (model.json + one .bin shard):

  srcnn  SRCNN 9-1-5 (Dong et al.) on the luma of the bicubic enlargement,
         predicting its correction (residual learning)
  srnet  a small residual network with pixel-shuffle upsampling on RGB,
         predicting the correction of bicubic; --loss perceptual adds the
         VGG19 relu2_2 feature reconstruction loss (Johnson et al.)

Each training image is shrunk and enlarged as sr-eval does; the loss leaves
out a margin along patch edges, where the network would see zero padding
(the upscaler mirrors images outwards instead). With --eval DIR
the network is measured (Y-PSNR) every --eval-every iterations and the best
weights are kept. Ends with one JSON line.

Options:
`

// trainFlags holds the command line of `atelier train`.
type trainFlags struct {
	images, eval, out, init, vgg, loss string
	scale, iters, batch, patch, margin int
	feats, blocks, evalEvery, prescale int
	seed                               uint64
	lr, featureWeight                  float64
	minutes                            float64
}

func newTrainFlagSet(f *trainFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.images, "images", "", "the folder `DIR` of high-resolution training images (required)")
	fs.IntVar(&f.scale, "scale", 0, "upscaling factor `N` (required)")
	fs.IntVar(&f.iters, "iters", 2000, "Adam steps")
	fs.Float64Var(&f.minutes, "minutes", 0, "stop after this many `MINUTES` (0: no limit)")
	fs.StringVar(&f.out, "out", "", "output model `FOLDER` (default ./NET-xN)")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed")
	fs.IntVar(&f.batch, "batch", 16, "patches per step")
	fs.IntVar(&f.patch, "patch", 0, "input patch side in `PIXELS` (0: 45 for srcnn, 32 for srnet)")
	fs.IntVar(&f.margin, "margin", 0, "input `PIXELS` along patch edges the loss leaves out (0: 6 for srcnn, 4 for srnet)")
	fs.Float64Var(&f.lr, "lr", 1e-3, "initial learning rate (cosine decay to a twentieth)")
	fs.StringVar(&f.eval, "eval", "", "folder of evaluation images (e.g. CSet5); the best weights are kept")
	fs.IntVar(&f.evalEvery, "eval-every", 250, "iterations between evaluations")
	fs.StringVar(&f.loss, "loss", "pixel", "srnet loss: pixel or perceptual")
	fs.StringVar(&f.vgg, "vgg", "", "VGG19 TF.js model `FOLDER` for the perceptual loss (default: the shared or cached one)")
	fs.Float64Var(&f.featureWeight, "feature-weight", 0, "weight of the feature loss (0: 10 times the pixel loss at the start)")
	fs.StringVar(&f.init, "init", "", "start from the weights in this model `FOLDER` (same architecture)")
	fs.IntVar(&f.feats, "feats", 32, "srnet channels")
	fs.IntVar(&f.blocks, "blocks", 6, "srnet residual blocks")
	fs.IntVar(&f.prescale, "prescale", 1, "shrink the training images by this `FACTOR` first (2 removes JPEG artefacts)")
	return fs
}

// runTrain implements `atelier train`.
func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f trainFlags
	fs := newTrainFlagSet(&f)
	if len(args) == 0 {
		return usageErrorf("train needs a network: srcnn or srnet (atelier help train)")
	}
	arch := args[0]
	if arch == "--help" || arch == "-h" || arch == "help" {
		_, err := helpOrUsage(fs, flag.ErrHelp, trainHelp, stdout)
		return err
	}
	if err := fs.Parse(args[1:]); err != nil {
		_, err = helpOrUsage(fs, err, trainHelp, stdout)
		return err
	}
	switch {
	case arch != train.ArchSRCNN && arch != train.ArchSRNet:
		return usageErrorf("there is no network %q to train; train srcnn or srnet", arch)
	case fs.NArg() > 0:
		return usageErrorf("%q is not an option of train", fs.Arg(0))
	case f.images == "":
		return usageErrorf("train needs --images DIR, a folder of high-resolution images")
	case f.scale == 0:
		return usageErrorf("train needs --scale N")
	case f.iters < 1 || f.batch < 1 || f.patch < 0 || f.margin < 0 || f.lr <= 0 || f.minutes < 0 || f.evalEvery < 1 || f.prescale < 1:
		return usageErrorf("--iters, --batch, --lr, --eval-every and --prescale must be positive, --patch, --margin and --minutes not negative")
	}
	images, err := train.ListImages(f.images)
	if err != nil {
		return err
	}
	var evalImages []string
	if f.eval != "" {
		if evalImages, err = train.ListImages(f.eval); err != nil {
			return err
		}
	}
	if f.out == "" {
		f.out = fmt.Sprintf("%s-x%d", arch, f.scale)
	}
	if f.loss == train.LossPerceptual && f.vgg == "" {
		f.vgg = defaultVGGDir()
	}
	bar := &trainBar{w: stderr, tty: isTerminal(stderr)}
	cfg := train.Config{
		Arch: arch, Scale: f.scale, Images: images, EvalImages: evalImages,
		Prescale: f.prescale, Iters: f.iters, MaxDuration: time.Duration(f.minutes * float64(time.Minute)),
		Batch: f.batch, Patch: f.patch, Margin: f.margin, LR: f.lr, Seed: f.seed,
		Feats: f.feats, Blocks: f.blocks, Loss: f.loss, VGGDir: f.vgg, FeatureWeight: f.featureWeight,
		Init: f.init, Out: f.out, EvalEvery: f.evalEvery, Progress: bar.update,
	}
	fmt.Fprintf(stderr, "training %s x%d on %d images (%s loss), writing %s\n", arch, f.scale, len(images), f.loss, f.out)
	res, err := train.Run(ctx, cfg)
	bar.end()
	if err != nil {
		return err
	}
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", line)
	return err
}

// defaultVGGDir is the full VGG19 in the models cache when present, else
// the partial one of the shared reference folder (enough for relu2_2).
func defaultVGGDir() string {
	if dir, err := model.CacheDir(); err == nil {
		p := filepath.Join(dir, "vgg19-full")
		if _, err := model.OpenLayersModel(p); err == nil {
			return p
		}
	}
	if sh, err := model.SharedDir(); err == nil {
		return filepath.Join(sh, "models", "vgg19-tfjs")
	}
	return "vgg19-tfjs"
}

// trainBar prints training progress: one redrawn line on a terminal, a
// plain line every few seconds (and at each evaluation) elsewhere.
type trainBar struct {
	w     io.Writer
	tty   bool
	last  time.Time
	drawn bool
}

func (b *trainBar) update(s train.Status) {
	now := time.Now()
	if s.PSNR == 0 && s.Iter != s.Iters && now.Sub(b.last) < map[bool]time.Duration{true: 200 * time.Millisecond, false: plainEvery}[b.tty] {
		return
	}
	b.last = now
	line := fmt.Sprintf("iter %d/%d  loss %.6f", s.Iter, s.Iters, s.Loss)
	if s.PSNR != 0 {
		line += fmt.Sprintf("  PSNR %.3f dB (best %.3f, bicubic %.3f, %+.3f)", s.PSNR, s.Best, s.Bicubic, s.Best-s.Bicubic)
	} else if s.Best != 0 {
		line += fmt.Sprintf("  best %.3f dB (%+.3f over bicubic)", s.Best, s.Best-s.Bicubic)
	}
	line += fmt.Sprintf("  %s elapsed, ETA %s", s.Elapsed.Round(time.Second), s.ETA.Round(time.Second))
	switch {
	case !b.tty:
		fmt.Fprintln(b.w, line)
	case s.PSNR != 0: // keep evaluations on screen
		fmt.Fprintf(b.w, "\r\033[K%s\n", line)
		b.drawn = false
	default:
		fmt.Fprintf(b.w, "\r\033[K%s", line)
		b.drawn = true
	}
}

func (b *trainBar) end() {
	if b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}
