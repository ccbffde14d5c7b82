// Package runner holds the service.Runners that do the engine's work in
// this process: loading images and feature networks, running the numeric
// code, turning its images into preview frames and writing the results.
//
// The composition root (app/) builds the service with New; the UI only
// ever sees the service and the job types.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"atelier/engine/features"
	"atelier/engine/imageio"
	"atelier/engine/job"
	"atelier/engine/service"
	"atelier/engine/style"
	"atelier/engine/tensor"
)

// NetworkKey is the metadata key naming the feature network a result was
// made with (its registry name).
const NetworkKey = "atelier:network"

// New returns a service with the stylize, texture and upscale runners; the
// first two use the networks f finds (nil: DefaultFinder, looked up at the
// first job), the upscaler the models in model.CacheDir().
func New(f *Finder) *service.Service {
	return service.New(map[job.Kind]service.Runner{
		job.KindStylize: &Stylize{Finder: f},
		job.KindTexture: &Texture{Finder: f},
		job.KindUpscale: &Upscale{},
	})
}

// Stylize runs stylize jobs with engine/style. It keeps the last feature
// network it loaded for the next job. Safe for use by one service.
type Stylize struct {
	// Finder finds the feature networks; nil means DefaultFinder.
	Finder *Finder

	nets netCache
}

// find looks for the network of the kind asked for.
func (s *Stylize) find(kind string) (Network, error) {
	return s.nets.find(&s.Finder, kind)
}

// load returns the extractor for n, loading it unless it is the one
// loaded last.
func (s *Stylize) load(n Network, rep *service.Reporter) (features.Extractor, error) {
	return s.nets.load(n, rep, Load)
}

// netCache finds feature networks with a runner's Finder and keeps the
// last one loaded for the next job.
type netCache struct {
	mu      sync.Mutex
	net     features.Extractor
	netInfo Network
}

// find looks for the network of the given kind with *f, setting *f to
// DefaultFinder first when it is nil.
func (c *netCache) find(f **Finder, kind string) (Network, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if *f == nil {
		d, err := DefaultFinder()
		if err != nil {
			return Network{}, err
		}
		*f = d
	}
	return (*f).Find(kind)
}

// load returns the network n, opening it with open unless it is the one
// loaded last.
func (c *netCache) load(n Network, rep *service.Reporter, open func(Network) (features.Extractor, error)) (features.Extractor, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.net != nil && c.netInfo == n {
		return c.net, nil
	}
	rep.Stage("loading " + n.String())
	c.net, c.netInfo = nil, Network{} // let the old one go before loading
	net, err := open(n)
	if err != nil {
		return nil, err
	}
	c.net, c.netInfo = net, n
	return net, nil
}

// Run implements service.Runner for job.KindStylize.
func (s *Stylize) Run(ctx context.Context, req job.Request, rep *service.Reporter) (service.Result, error) {
	if req.Stylize == nil {
		return service.Result{}, errors.New("runner: the request has no stylize options")
	}
	opts := req.Stylize.WithDefaults()
	if err := checkOut(req); err != nil {
		return service.Result{}, err
	}

	// Find the network first: a missing one is reported before any work.
	netInfo, err := s.find(opts.Network)
	if err != nil {
		return service.Result{}, err
	}

	rep.Stage("loading the images")
	// The engine resizes the content to Size and the styles to StyleScale
	// x Size: reading them at that size at once saves the time and memory
	// of the full pictures.
	styleSide := int(math.Ceil(opts.StyleScale * float64(opts.Size)))
	content, err := loadSource(opts.Content, "content image", opts.Size, rep)
	if err != nil {
		return service.Result{}, err
	}
	styles, err := loadStyles(opts.Styles, "style image", styleSide, rep)
	if err != nil {
		return service.Result{}, err
	}
	morphs, err := loadStyles(opts.MorphTo, "morph-to style image", styleSide, rep)
	if err != nil {
		return service.Result{}, err
	}
	var start *tensor.Tensor
	if opts.Start != nil {
		if start, err = loadSource(*opts.Start, "starting image", opts.Size, rep); err != nil {
			return service.Result{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return service.Result{}, err
	}

	net, err := s.load(netInfo, rep)
	if err != nil {
		return service.Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return service.Result{}, err
	}

	sreq, settings := styleRequest(opts, style.DefaultSettingsFor(net, style.NormAuto), content, styles, morphs)
	sreq.Start = start
	steer := make(chan style.Settings, 1)
	sreq.Updates = steer

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fr := &frames{
		rep: rep, opts: opts, req: req, settings: settings, steer: steer,
		nstyles: len(styles), nmorphs: len(morphs), cancel: cancel, netInfo: netInfo,
	}
	rep.Stage("optimising")
	rep.StartClock(service.Step{})
	res, err := style.Run(ctx, net, sreq, fr.onFrame)
	if fr.err != nil {
		return service.Result{}, fr.err
	}
	if err != nil {
		return service.Result{}, describeStyleError(err, netInfo)
	}
	if res.Image == nil {
		return service.Result{}, errors.New("runner: the optimisation produced no image")
	}

	final, err := imageio.ToRGBA(res.Image, nil)
	if err != nil {
		return service.Result{}, fmt.Errorf("runner: %w", err)
	}
	meta, err := metadata(opts, res.Settings, fr.scales, netInfo)
	if err != nil {
		return service.Result{}, err
	}
	out := service.Result{
		Image:      final,
		Frame:      preview(res.Image, rep.PreviewSide()),
		Metadata:   meta,
		Iterations: res.Iterations,
		Losses:     jobLosses(res.Losses),
	}
	if req.Out != "" {
		rep.Stage("writing " + filepath.Base(req.Out))
		if err := imageio.Save(req.Out, final, imageio.SaveOptions{Overwrite: req.Overwrite, Metadata: meta}); err != nil {
			return service.Result{}, fmt.Errorf("runner: %w", err)
		}
		out.Out = req.Out
	}
	return out, nil
}

// frames turns style's per-iteration frames into service steps, preview
// frames and intermediate files, and passes steering on.
type frames struct {
	rep      *service.Reporter
	opts     job.StylizeOptions
	req      job.Request
	settings style.Settings // the settings sent to the run most recently
	steer    chan style.Settings
	nstyles  int
	nmorphs  int
	cancel   context.CancelFunc
	netInfo  Network
	scales   int
	lastErr  string
	err      error // a failure to write an intermediate file; ends the run
	savedFor int   // the last iteration written
}

func (f *frames) onFrame(fr style.Frame) {
	f.scales = fr.Scales
	total := f.opts.Iterations // over all scales
	step := service.Step{
		Stage:     "optimising",
		Iteration: fr.TotalIteration,
		Total:     total,
		Scale:     fr.Scale + 1,
		Scales:    fr.Scales,
		Losses:    jobLosses(fr.Losses),
		Work:      work(fr, f.opts),
	}
	if fr.Scales > 1 {
		step.Stage = fmt.Sprintf("optimising at %dx%d", fr.Width, fr.Height)
	}
	if fr.SettingsErr != nil {
		if msg := job.Plain(fr.SettingsErr).Error(); msg != f.lastErr {
			f.lastErr = msg
			f.rep.Notice("a change of settings was refused: " + msg)
		}
	} else {
		f.lastErr = ""
	}
	f.rep.Step(step, func() *image.RGBA { return preview(fr.Image(), f.rep.PreviewSide()) })

	if p, ok := f.rep.Steering(); ok {
		f.settings = applyParams(f.settings, p)
		select { // latest wins: replace a value the run has not taken yet
		case <-f.steer:
		default:
		}
		f.steer <- f.settings
	}

	if f.req.SaveEvery > 0 && f.req.Out != "" && fr.TotalIteration%f.req.SaveEvery == 0 && fr.TotalIteration != f.savedFor {
		f.savedFor = fr.TotalIteration
		path := IntermediatePath(f.req.Out, fr.TotalIteration)
		meta, err := metadata(f.opts, fr.Settings, fr.Scales, f.netInfo)
		if err == nil {
			err = imageio.SaveTensor(path, fr.Image(), nil, imageio.SaveOptions{Overwrite: f.req.Overwrite, Metadata: meta})
		}
		if err != nil {
			f.err = fmt.Errorf("runner: writing the image of iteration %d: %w", fr.TotalIteration, err)
			f.cancel()
		}
	}
}

// work estimates the fraction of the run's work done: an iteration costs
// in proportion to its scale's pixels (each scale has four times those of
// the one before).
func work(fr style.Frame, o job.StylizeOptions) float64 {
	var total, done float64
	for k, budget := range style.SplitIterations(o.Iterations, fr.Scales) {
		cost := math.Pow(4, float64(k-(fr.Scales-1)))
		total += cost * float64(budget)
		switch {
		case k < fr.Scale:
			done += cost * float64(budget)
		case k == fr.Scale:
			done += cost * float64(min(fr.Iteration, budget))
		}
	}
	if total <= 0 {
		return 0
	}
	return min(done/total, 1)
}

// IntermediatePath is where SaveEvery writes iteration n: out with
// "_iterNNNN" before the extension.
func IntermediatePath(out string, n int) string {
	ext := filepath.Ext(out)
	return fmt.Sprintf("%s_iter%04d%s", strings.TrimSuffix(out, ext), n, ext)
}

// checkOut refuses, before any work, an output that would replace an
// existing file without Overwrite, or that is not PNG or JPEG.
func checkOut(req job.Request) error {
	if req.Out == "" {
		return nil
	}
	if _, err := imageio.FormatFromPath(req.Out); err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	if req.Overwrite {
		return nil
	}
	if _, err := os.Stat(req.Out); err == nil {
		return fmt.Errorf("runner: %w: %s already exists (choose another name, or allow overwriting)", imageio.ErrExists, req.Out)
	}
	if req.SaveEvery > 0 {
		ext := filepath.Ext(req.Out)
		pattern := strings.TrimSuffix(req.Out, ext) + "_iter[0-9][0-9][0-9][0-9]*" + ext
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			return fmt.Errorf("runner: %w: %s from an earlier run is in the way of the intermediate images (remove it, or allow overwriting)", imageio.ErrExists, m[0])
		}
	}
	return nil
}

// HugeInputPixels is the size above which an input picture is called out
// in a notice when it is scaled down on the way in: smaller ones are
// scaled to the working size silently, as the user asked for that size.
const HugeInputPixels = 40_000_000

// loadSource reads one input image as RGB 0..255, scaled down (never up)
// so that its longer side is at most maxSide. Pictures smaller than
// minInputSide on a side are refused.
func loadSource(src job.Source, what string, maxSide int, rep *service.Reporter) (*tensor.Tensor, error) {
	if src.Image != nil {
		b := src.Image.Bounds()
		if err := checkInputSize(b.Dx(), b.Dy(), what); err != nil {
			return nil, err
		}
		rgb, _ := imageio.FromImage(src.Image)
		if max(b.Dx(), b.Dy()) > maxSide {
			r, err := imageio.ResizeLong(rgb, maxSide)
			if err != nil {
				return nil, fmt.Errorf("runner: the %s: %w", what, err)
			}
			rgb = r
		}
		return rgb, nil
	}
	if src.Path == "" {
		return nil, fmt.Errorf("runner: no %s was given", what)
	}
	img, err := imageio.Load(src.Path, imageio.Options{MaxSide: maxSide, MinSide: -1})
	if err != nil {
		return nil, fmt.Errorf("runner: the %s: %w", what, err)
	}
	if err := checkInputSize(img.OriginalWidth, img.OriginalHeight, what+" "+filepath.Base(src.Path)); err != nil {
		return nil, err
	}
	_, _, h, w := img.RGB.Dims()
	scaled := w != img.OriginalWidth || h != img.OriginalHeight
	if scaled && img.OriginalWidth*img.OriginalHeight > HugeInputPixels {
		rep.Notice(fmt.Sprintf("The %s is %dx%d pixels (%d megapixels); it was scaled down to %dx%d as it was read.",
			what, img.OriginalWidth, img.OriginalHeight, img.OriginalWidth*img.OriginalHeight/1_000_000, w, h))
	}
	for _, n := range img.Notices {
		if scaled && strings.Contains(n, "scaled down") {
			continue // asked for: the engine works at the output size
		}
		rep.Notice(n)
	}
	return img.RGB, nil
}

// minInputSide is the smallest side an input picture may have.
const minInputSide = 16

func checkInputSize(w, h int, what string) error {
	if min(w, h) < minInputSide {
		return fmt.Errorf("runner: %w: the %s is %dx%d pixels, too small (at least %d on each side)",
			imageio.ErrTooSmall, what, w, h, minInputSide)
	}
	return nil
}

func loadStyles(styles []job.Style, what string, maxSide int, rep *service.Reporter) ([]*tensor.Tensor, error) {
	out := make([]*tensor.Tensor, len(styles))
	for i, s := range styles {
		name := what
		if len(styles) > 1 {
			name = fmt.Sprintf("%s %d (%s)", what, i+1, filepath.Base(s.Path))
		}
		t, err := loadSource(s.Source, name, maxSide, rep)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// styleRequest translates the job's options for engine/style; base holds
// the network's default weights, for the weights the options leave at 0.
func styleRequest(o job.StylizeOptions, base style.Settings, content *tensor.Tensor, styles, morphs []*tensor.Tensor) (style.Request, style.Settings) {
	set := style.Settings{
		ContentWeight: orDefault(o.ContentWeight, base.ContentWeight),
		StyleWeight:   orDefault(o.StyleWeight, base.StyleWeight),
		StyleRatio:    o.StyleRatio,
		TVWeight:      max(orDefault(o.TVWeight, base.TVWeight), 0),
		Mix:           weightsOf(o.Styles),
		Morph:         o.Morph,
		Colour:        colourMode(o.Colour),
	}
	if len(o.MorphTo) > 0 {
		set.MorphMix = weightsOf(o.MorphTo)
	}
	r := style.Request{
		Content:      content,
		Styles:       styles,
		MorphStyles:  morphs,
		Size:         o.Size,
		Scales:       o.Scales,
		Iterations:   o.Iterations,
		StyleScale:   o.StyleScale,
		Seed:         o.Seed,
		LearningRate: o.LearningRate,
		Settings:     &set,
	}
	if o.Optimizer == job.OptimizerAdam {
		r.Optimizer = style.Adam
	}
	switch o.Init {
	case job.InitNoise:
		r.Init = style.InitNoise
	case job.InitStyle:
		r.Init = style.InitStyle
	}
	return r, set
}

func orDefault(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

func weightsOf(styles []job.Style) []float64 {
	w := make([]float64, len(styles))
	for i, s := range styles {
		w[i] = s.Weight
	}
	return w
}

func colourMode(m job.ColourMode) style.ColourMode {
	switch m {
	case job.ColourLuminance:
		return style.ColourLuminance
	case job.ColourMatch:
		return style.ColourMatch
	case job.ColourMatchCholesky:
		return style.ColourMatchCholesky
	}
	return style.ColourStyle
}

func jobColour(m style.ColourMode) job.ColourMode {
	switch m {
	case style.ColourLuminance:
		return job.ColourLuminance
	case style.ColourMatch:
		return job.ColourMatch
	case style.ColourMatchCholesky:
		return job.ColourMatchCholesky
	}
	return job.ColourStyle
}

// applyParams returns s with the fields p sets replaced.
func applyParams(s style.Settings, p job.Params) style.Settings {
	if p.ContentWeight != nil {
		s.ContentWeight = *p.ContentWeight
	}
	if p.StyleWeight != nil {
		s.StyleWeight = *p.StyleWeight
	}
	if p.StyleRatio != nil {
		s.StyleRatio = *p.StyleRatio
	}
	if p.TVWeight != nil {
		s.TVWeight = max(*p.TVWeight, 0)
	}
	if p.StyleMix != nil {
		s.Mix = append([]float64(nil), p.StyleMix...)
	}
	if p.MorphMix != nil {
		s.MorphMix = append([]float64(nil), p.MorphMix...)
	}
	if p.Morph != nil {
		s.Morph = *p.Morph
	}
	if p.Colour != nil {
		s.Colour = colourMode(*p.Colour)
	}
	return s
}

func jobLosses(l style.Losses) job.Losses {
	return job.Losses{Total: l.Total, Content: l.Content, Style: l.Style, TV: l.TV}
}

// preview renders img (RGB 0..255) as a new RGBA image whose longer side is
// at most side.
func preview(img *tensor.Tensor, side int) *image.RGBA {
	if img == nil {
		return nil
	}
	_, _, h, w := img.Dims()
	if max(w, h) > side {
		small, err := imageio.ResizeLong(img, side)
		if err != nil {
			return nil
		}
		img = small
	}
	out, err := imageio.ToRGBA(img, nil)
	if err != nil {
		return nil
	}
	return out
}

// metadata records the options that make the result (with the settings in
// effect at the end, which steering may have changed) for `--from`.
func metadata(o job.StylizeOptions, s style.Settings, scales int, n Network) (map[string]string, error) {
	o.ContentWeight = s.ContentWeight
	o.StyleWeight = s.StyleWeight
	o.StyleRatio = s.StyleRatio
	o.TVWeight = s.TVWeight
	if s.TVWeight == 0 {
		o.TVWeight = -1 // off, as the options say it
	}
	o.Morph = s.Morph
	o.Colour = jobColour(s.Colour)
	o.Styles = withWeights(o.Styles, s.Mix)
	o.MorphTo = withWeights(o.MorphTo, s.MorphMix)
	if scales > 0 {
		o.Scales = scales
	}
	o.Network = n.Kind
	o.Content.Path = absPath(o.Content.Path)
	if o.Start != nil {
		if o.Start.Path == "" {
			o.Start = nil // a picture in memory: nothing to record
		} else {
			o.Start = &job.Source{Path: absPath(o.Start.Path)}
		}
	}
	data, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("runner: recording the settings: %w", err)
	}
	return map[string]string{imageio.SettingsKey: string(data), NetworkKey: n.Model, "Software": "Atelier"}, nil
}

func withWeights(styles []job.Style, mix []float64) []job.Style {
	out := make([]job.Style, len(styles))
	copy(out, styles)
	for i := range out {
		if len(mix) == len(out) {
			out[i].Weight = mix[i]
		}
		out[i].Path = absPath(out[i].Path)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func absPath(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// describeStyleError words the style engine's errors for the user.
func describeStyleError(err error, n Network) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, features.ErrMissingWeights):
		return fmt.Errorf("runner: %s lacks the weights this job needs: %w", n.Model, err)
	case errors.Is(err, style.ErrNonFinite):
		return fmt.Errorf("runner: the optimisation diverged (try a smaller style weight or the other optimizer): %w", err)
	}
	return fmt.Errorf("runner: %w", err)
}

// SaveImage writes img (PNG or JPEG by extension) with metadata, for
// results the studio saves later. Without overwrite an existing file is an
// error wrapping imageio.ErrExists.
func SaveImage(path string, img image.Image, meta map[string]string, overwrite bool) error {
	return imageio.Save(path, img, imageio.SaveOptions{Overwrite: overwrite, Metadata: meta})
}
