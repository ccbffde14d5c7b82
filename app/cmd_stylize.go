package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"atelier/engine/imageio"
	"atelier/engine/job"
	"atelier/engine/service"
	"atelier/engine/service/runner"
)

const stylizeHelp = `Usage:
  atelier stylize --content IMAGE --style IMAGE[:WEIGHT] [--style ...] --out OUT.png [options]
  atelier stylize --from EARLIER.png --out OUT.png [options]

Repaints the content image in the manner of the style images (Gatys et al.),
optimising the picture over the features of a network: the full VGG19 when
downloaded, else ResNet-50, else the partial VGG19 of the shared reference
folder ("atelier models list" shows what is here). Several styles mix by
their weights; --morph-to and --morph move the style towards a second set.

--iters counts the iterations of the whole run: the coarse-to-fine scales
(--scales) share it, half going to the full size; the JSON line's
"iterations" is the number that ran.

Progress goes to stderr; the last line on stdout is one JSON object:
{"out", "seconds", "iterations", "content_loss", "style_loss",
"peak_rss_bytes", "first_frame_s", "network"}.

The settings and seed are stored in the output file; --from reruns an
earlier result's settings, any option given on the command line winning.
An existing output file is never replaced without --force.

Options:
`

// stylizeReport is the JSON line `atelier stylize` ends with.
type stylizeReport struct {
	Out          string  `json:"out"`
	Seconds      float64 `json:"seconds"`
	Iterations   int     `json:"iterations"`
	ContentLoss  float64 `json:"content_loss"`
	StyleLoss    float64 `json:"style_loss"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	FirstFrameS  float64 `json:"first_frame_s"`
	Network      string  `json:"network"`
}

// styleList is a repeatable IMAGE[:WEIGHT] flag.
type styleList []job.Style

func (l *styleList) String() string {
	var parts []string
	for _, s := range *l {
		parts = append(parts, fmt.Sprintf("%s:%g", s.Path, s.Weight))
	}
	return strings.Join(parts, ",")
}

// Set parses IMAGE or IMAGE:WEIGHT. The weight is the text after the last
// colon when it is a number, so paths with colons (C:\...) still work.
func (l *styleList) Set(v string) error {
	if v == "" {
		return errors.New("an image path is needed")
	}
	path, weight := v, 1.0
	if i := strings.LastIndexByte(v, ':'); i > 0 {
		if w, err := strconv.ParseFloat(v[i+1:], 64); err == nil {
			if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
				return fmt.Errorf("the weight of %s must be zero or more", v[:i])
			}
			path, weight = v[:i], w
		}
	}
	*l = append(*l, job.Style{Source: job.Source{Path: path}, Weight: weight})
	return nil
}

// stylizeFlags holds the command line; which flags were given decides what
// overrides the settings read with --from.
type stylizeFlags struct {
	opts      job.StylizeOptions // flag values (defaults where not given)
	styles    styleList
	morphTo   styleList
	preserve  bool
	colour    string
	network   string
	init      string
	out       string
	from      string
	force     bool
	saveEvery int
}

func newStylizeFlagSet(f *stylizeFlags) *flag.FlagSet {
	d := job.StylizeOptions{}.WithDefaults()
	fs := flag.NewFlagSet("stylize", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.opts.Content.Path, "content", "", "the content `IMAGE` to repaint")
	fs.Var(&f.styles, "style", "a style `IMAGE[:WEIGHT]` (repeat to mix several; weight 1 by default)")
	fs.Var(&f.morphTo, "morph-to", "a style `IMAGE[:WEIGHT]` of the second set that --morph moves towards (repeatable)")
	fs.Float64Var(&f.opts.Morph, "morph", 0, "the position `T` between the --style set (0) and the --morph-to set (1)")
	fs.IntVar(&f.opts.Size, "size", d.Size, "the longer side of the result in `PIXELS`")
	fs.Float64Var(&f.opts.ContentWeight, "content-weight", 0, "weight of the content loss (default: the network's, 5 for VGG19, 1 for ResNet-50)")
	fs.Float64Var(&f.opts.StyleWeight, "style-weight", 0, "weight of the style loss (default: the network's, 100 for VGG19, 20 for ResNet-50)")
	fs.Float64Var(&f.opts.StyleRatio, "style-ratio", 0, "when positive, the style weight is this `RATIO` times the content weight")
	fs.Float64Var(&f.opts.TVWeight, "tv-weight", 0, "weight of the total-variation smoothing (default: the network's, 10 for VGG19, 0.1 for ResNet-50; 0 turns it off)")
	fs.Float64Var(&f.opts.StyleScale, "style-scale", d.StyleScale, "size of the style images relative to the result (larger: bigger strokes)")
	fs.BoolVar(&f.preserve, "preserve-colors", false, "keep the content's colours (the same as --colour luminance)")
	fs.StringVar(&f.colour, "colour", "style", "whose colours the result keeps, `MODE`: style, luminance, match or match-cholesky")
	fs.Int64Var(&f.opts.Seed, "seed", 0, "seed of the random start (--init noise)")
	fs.IntVar(&f.opts.Iterations, "iters", d.Iterations, "optimiser iterations in all, split over the coarse-to-fine scales:\nhalf at full size, the rest shared by the coarser ones (400: 100, 100, 200 at 512 px)")
	fs.IntVar(&f.opts.Scales, "scales", 0, "coarse-to-fine scales, each twice the one before (0: automatic, up to 4)")
	fs.StringVar(&f.opts.Optimizer, "optimizer", d.Optimizer, "lbfgs or adam")
	fs.Float64Var(&f.opts.LearningRate, "learning-rate", job.DefaultLearningRate, "Adam's step in pixel units")
	fs.StringVar(&f.network, "network", "auto", "feature network: auto, vgg19 or resnet50")
	fs.StringVar(&f.init, "init", "content", "starting image: content, noise or style")
	fs.IntVar(&f.saveEvery, "save-every", 0, "also write the image every `N` iterations (OUT_iterNNNN.png)")
	fs.StringVar(&f.out, "out", "", "the result `FILE` (.png, .jpg or .jpeg)")
	fs.StringVar(&f.from, "from", "", "rerun the settings stored in this earlier result `FILE`")
	fs.BoolVar(&f.force, "force", false, "replace the output file when it exists")
	return fs
}

// stylizeCmd is `atelier stylize` with its dependencies, so tests can swap
// the service.
type stylizeCmd struct {
	newService func() *service.Service
	tty        bool
	stdout     io.Writer
	stderr     io.Writer
}

// runStylize implements `atelier stylize`.
func runStylize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &stylizeCmd{
		newService: func() *service.Service { return runner.New(nil) },
		tty:        isTerminal(stderr),
		stdout:     stdout,
		stderr:     stderr,
	}
	return c.run(ctx, args)
}

// stylizeMemoryLimit is the Go heap's soft limit while `atelier stylize`
// runs, unless GOMEMLIMIT says otherwise: near it the collector frees the
// buffers of earlier scales and spent preview frames at once, instead of
// letting the heap grow to twice the live data (a 1024 px run keeps about
// 3 GB live) before collecting.
const stylizeMemoryLimit = 3 << 30

func (c *stylizeCmd) run(ctx context.Context, args []string) error {
	defer softMemoryLimit(stylizeMemoryLimit)()
	var f stylizeFlags
	fs := newStylizeFlagSet(&f)
	if err := fs.Parse(args); err != nil {
		_, err = helpOrUsage(fs, err, stylizeHelp, c.stdout)
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("%q is not an option of stylize", fs.Arg(0))
	}
	req, err := f.request(fs)
	if err != nil {
		return err
	}
	return c.execute(ctx, req)
}

// request builds the job from the flags given and, with --from, the
// settings stored in the earlier result.
func (f *stylizeFlags) request(fs *flag.FlagSet) (job.Request, error) {
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })

	if f.out == "" {
		return job.Request{}, usageErrorf("stylize needs --out FILE for the result")
	}
	if _, err := imageio.FormatFromPath(f.out); err != nil {
		return job.Request{}, usageErrorf("the output %s must end in .png, .jpg or .jpeg", f.out)
	}

	o := job.StylizeOptions{}.WithDefaults()
	if f.from != "" {
		prev, err := settingsFrom(f.from)
		if err != nil {
			return job.Request{}, err
		}
		o = prev
	}
	set := func(name string, apply func()) {
		if given[name] {
			apply()
		}
	}
	set("content", func() { o.Content = f.opts.Content })
	set("style", func() { o.Styles = f.styles })
	set("morph-to", func() { o.MorphTo = f.morphTo })
	set("morph", func() { o.Morph = f.opts.Morph })
	set("size", func() { o.Size = f.opts.Size })
	set("content-weight", func() { o.ContentWeight = f.opts.ContentWeight })
	set("style-weight", func() { o.StyleWeight = f.opts.StyleWeight })
	set("style-ratio", func() { o.StyleRatio = f.opts.StyleRatio })
	set("tv-weight", func() {
		o.TVWeight = f.opts.TVWeight
		if o.TVWeight == 0 {
			o.TVWeight = -1 // the options' way of saying "off"
		}
	})
	set("style-scale", func() { o.StyleScale = f.opts.StyleScale })
	set("seed", func() { o.Seed = f.opts.Seed })
	set("iters", func() { o.Iterations = f.opts.Iterations })
	set("scales", func() { o.Scales = f.opts.Scales })
	set("optimizer", func() { o.Optimizer = f.opts.Optimizer })
	set("learning-rate", func() { o.LearningRate = f.opts.LearningRate })
	set("preserve-colors", func() {
		if f.preserve {
			o.Colour = job.ColourLuminance
		} else if o.Colour == job.ColourLuminance {
			o.Colour = job.ColourStyle
		}
	})
	if given["colour"] {
		switch f.colour {
		case "style":
			o.Colour = job.ColourStyle
		default:
			o.Colour = job.ColourMode(f.colour)
		}
		if given["preserve-colors"] && f.preserve && o.Colour != job.ColourLuminance {
			return job.Request{}, usageErrorf("--preserve-colors and --colour %s contradict each other", f.colour)
		}
	}
	if given["network"] {
		o.Network = f.network
		if f.network == "auto" {
			o.Network = job.NetworkAuto
		}
	}
	if given["init"] {
		o.Init = f.init
		if f.init == "content" {
			o.Init = job.InitContent
		}
	}
	if given["iters"] && f.opts.Iterations <= 0 {
		return job.Request{}, usageErrorf("--iters must be at least 1")
	}

	if o.Content.IsZero() {
		return job.Request{}, usageErrorf("stylize needs --content IMAGE (or --from an earlier result)")
	}
	if len(o.Styles) == 0 {
		return job.Request{}, usageErrorf("stylize needs at least one --style IMAGE")
	}
	req := job.Request{
		Kind:      job.KindStylize,
		Stylize:   &o,
		Out:       f.out,
		Overwrite: f.force,
		SaveEvery: f.saveEvery,
	}
	if err := req.Validate(); err != nil {
		// Ranges and names come from the command line: a usage error,
		// except for the weights of all styles being zero, which may come
		// from --from as well and is said the same way.
		return job.Request{}, usageErrorf("%s", job.Plain(err).Error())
	}
	if !f.force {
		if _, err := os.Stat(f.out); err == nil {
			return job.Request{}, fmt.Errorf("%s already exists; give --force to replace it, or choose another --out", f.out)
		}
	}
	return req, nil
}

// settingsFrom reads the settings stored in an earlier result.
func settingsFrom(path string) (job.StylizeOptions, error) {
	meta, err := imageio.ReadMetadata(path)
	if err != nil {
		return job.StylizeOptions{}, fmt.Errorf("--from: %w", job.Plain(err))
	}
	raw, ok := meta[imageio.SettingsKey]
	if !ok {
		return job.StylizeOptions{}, fmt.Errorf("--from: %s holds no Atelier settings (it was not made by atelier stylize)", path)
	}
	var o job.StylizeOptions
	if err := json.Unmarshal([]byte(raw), &o); err != nil {
		return job.StylizeOptions{}, fmt.Errorf("--from: the settings stored in %s are damaged: %v", path, err)
	}
	return o.WithDefaults(), nil
}

// execute runs the job through the service, drawing progress on stderr,
// and prints the JSON line.
func (c *stylizeCmd) execute(ctx context.Context, req job.Request) error {
	svc := c.newService()
	start := time.Now()
	h, err := svc.Start(ctx, req)
	if err != nil {
		return err
	}
	bar := &jobBar{w: c.stderr, tty: c.tty}
	var firstFrame time.Duration
	var final job.Update
	for u := range h.Updates() {
		if u.Frame != nil && firstFrame == 0 {
			firstFrame = time.Since(start)
		}
		if u.Kind.Final() {
			final = u
			break
		}
		bar.update(u)
	}
	bar.finish()
	switch final.Kind {
	case job.Cancelled:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errors.New("the job was cancelled")
	case job.Error:
		return final.Err
	case job.Done:
	default:
		return fmt.Errorf("the job ended without a result (%v)", final.Kind)
	}
	if firstFrame == 0 && final.Frame != nil {
		firstFrame = time.Since(start)
	}
	fmt.Fprintf(c.stderr, "Wrote %s (%dx%d) in %s.\n", final.Out, final.Image.Rect.Dx(), final.Image.Rect.Dy(), roundDuration(time.Since(start)))
	rep := stylizeReport{
		Out:          final.Out,
		Seconds:      round3(time.Since(start).Seconds()),
		Iterations:   final.Iteration,
		ContentLoss:  final.Losses.Content,
		StyleLoss:    final.Losses.Style,
		PeakRSSBytes: peakRSS(),
		FirstFrameS:  round3(firstFrame.Seconds()),
		Network:      final.Metadata[runner.NetworkKey],
	}
	line, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "%s\n", line)
	return err
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
