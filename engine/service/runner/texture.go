package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"path/filepath"

	"atelier/engine/features"
	"atelier/engine/imageio"
	"atelier/engine/job"
	"atelier/engine/service"
	"atelier/engine/tensor"
	"atelier/engine/texture"
)

// KindKey is the metadata key naming the kind of job that made a texture
// or upscale result ("texture", "upscale"), so a reader knows which
// options the settings JSON holds.
const KindKey = "atelier:kind"

// Texture runs texture jobs with engine/texture: the Gram method on VGG19
// (loaded with average pooling, kept for the next job) or the patch method,
// which needs no network. Safe for use by one service.
type Texture struct {
	// Finder finds VGG19; nil means DefaultFinder.
	Finder *Finder

	nets netCache
}

// find looks for VGG19 (the full model, else the partial one).
func (t *Texture) find() (Network, error) {
	return t.nets.find(&t.Finder, job.NetworkVGG19)
}

// load returns VGG19 with average pooling for n, loading it unless it is
// the one loaded last.
func (t *Texture) load(n Network, rep *service.Reporter) (features.Extractor, error) {
	return t.nets.load(n, rep, func(n Network) (features.Extractor, error) {
		net, err := features.LoadVGG19(n.Dir, features.VGG19Options{AvgPool: true})
		if err != nil {
			return nil, fmt.Errorf("runner: loading %s: %w", n.Model, err)
		}
		return net, nil
	})
}

// Run implements service.Runner for job.KindTexture. Every iteration is
// reported; preview frames follow the service's cadence. The result's
// metadata holds the options with the seed used (a random one when the
// request's is 0) under imageio.SettingsKey, and the network for Gram.
func (t *Texture) Run(ctx context.Context, req job.Request, rep *service.Reporter) (service.Result, error) {
	if req.Texture == nil {
		return service.Result{}, errors.New("runner: the request has no texture options")
	}
	if err := req.Texture.Validate(); err != nil {
		return service.Result{}, err
	}
	opts := req.Texture.WithDefaults()
	if err := checkOut(req); err != nil {
		return service.Result{}, err
	}
	method, err := texture.ParseMethod(opts.Method)
	if err != nil {
		return service.Result{}, fmt.Errorf("runner: %w", err)
	}
	// A missing network is reported before any work.
	var netInfo Network
	if method == texture.Gram {
		if netInfo, err = t.find(); err != nil {
			return service.Result{}, err
		}
	}

	rep.Stage("loading the sample")
	sample, err := loadSample(opts.Examples[0], opts.SampleSide, rep)
	if err != nil {
		return service.Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return service.Result{}, err
	}
	var net features.Extractor
	if method == texture.Gram {
		if net, err = t.load(netInfo, rep); err != nil {
			return service.Result{}, err
		}
		if err := ctx.Err(); err != nil {
			return service.Result{}, err
		}
	}

	if opts.Seed == 0 {
		opts.Seed = 1 + rand.Int64N(1<<31-1)
	}
	treq := texture.Request{
		Sample: sample, Width: opts.Width, Height: opts.Height, Method: method, Tileable: opts.Tileable,
		Seed: opts.Seed, Iterations: opts.Iterations, Scales: opts.Scales, PatchSize: opts.PatchSize,
	}
	rep.Stage("synthesising")
	rep.StartClock(service.Step{})
	res, err := texture.Run(ctx, net, treq, func(fr texture.Frame) {
		step := service.Step{
			Stage:     "synthesising",
			Iteration: fr.TotalIteration,
			Total:     fr.Total,
			Scale:     fr.Scale + 1,
			Scales:    fr.Scales,
			Losses:    textureLosses(method, fr.Loss),
			Work:      textureWork(fr, method, opts.Iterations),
		}
		if fr.Scales > 1 {
			step.Stage = fmt.Sprintf("synthesising at %dx%d", fr.Width, fr.Height)
		}
		img := fr.Image
		rep.Step(step, func() *image.RGBA { return preview(img, rep.PreviewSide()) })
	})
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return service.Result{}, err
		}
		return service.Result{}, describeTextureError(err, netInfo)
	}
	if res.Image == nil {
		return service.Result{}, errors.New("runner: the synthesis produced no image")
	}
	final, err := imageio.ToRGBA(res.Image, nil)
	if err != nil {
		return service.Result{}, fmt.Errorf("runner: %w", err)
	}
	opts.Seed = res.Seed
	meta, err := textureMetadata(opts, netInfo)
	if err != nil {
		return service.Result{}, err
	}
	out := service.Result{
		Image:      final,
		Frame:      preview(res.Image, rep.PreviewSide()),
		Metadata:   meta,
		Iterations: res.Iterations,
		Losses:     textureLosses(method, res.Loss),
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

// loadSample reads the sample as RGB 0..255, scaled down to a longer side
// of maxSide when positive, passing on every notice (scaling the sample
// changes the texture's scale, so the user should know).
func loadSample(src job.Source, maxSide int, rep *service.Reporter) (*tensor.Tensor, error) {
	const what = "texture sample"
	if src.Image != nil {
		b := src.Image.Bounds()
		if err := checkInputSize(b.Dx(), b.Dy(), what); err != nil {
			return nil, err
		}
		rgb, _ := imageio.FromImage(src.Image)
		if maxSide > 0 && max(b.Dx(), b.Dy()) > maxSide {
			r, err := imageio.ResizeLong(rgb, maxSide)
			if err != nil {
				return nil, fmt.Errorf("runner: the %s: %w", what, err)
			}
			rep.Notice(fmt.Sprintf("The sample was scaled down from %dx%d to a longer side of %d pixels.", b.Dx(), b.Dy(), maxSide))
			rgb = r
		}
		return rgb, nil
	}
	img, err := imageio.Load(src.Path, imageio.Options{MaxSide: max(maxSide, 0), MinSide: -1})
	if err != nil {
		return nil, fmt.Errorf("runner: the %s: %w", what, err)
	}
	if err := checkInputSize(img.OriginalWidth, img.OriginalHeight, what+" "+filepath.Base(src.Path)); err != nil {
		return nil, err
	}
	for _, n := range img.Notices {
		rep.Notice(n)
	}
	return img.RGB, nil
}

// textureWork estimates the fraction of a run's work done, for the ETA: an
// iteration costs in proportion to its scale's pixels (four times those of
// the scale before). Gram runs half the iterations at every coarse scale,
// Patch three times as many at the coarsest level (see texture.Request).
// It returns 0 (count iterations instead) when the plan does not add up to
// the frame's total.
func textureWork(fr texture.Frame, m texture.Method, iters int) float64 {
	budget := func(k int) int {
		switch {
		case m == texture.Gram && k < fr.Scales-1:
			return iters / 2
		case m == texture.Patch && k == 0 && fr.Scales > 1:
			return 3 * iters
		}
		return iters
	}
	var total, done float64
	planned := 0
	for k := range fr.Scales {
		b := budget(k)
		planned += b
		cost := math.Pow(4, float64(k-(fr.Scales-1)))
		total += cost * float64(b)
		switch {
		case k < fr.Scale:
			done += cost * float64(b)
		case k == fr.Scale:
			done += cost * float64(min(fr.Iteration, b))
		}
	}
	if planned != fr.Total || total <= 0 {
		return 0
	}
	return min(done/total, 1)
}

func textureLosses(m texture.Method, loss float64) job.Losses {
	if m == texture.Gram {
		return job.Losses{Total: loss, Style: loss}
	}
	return job.Losses{Total: loss}
}

// textureMetadata records the options that make the result (seed
// included) and, for Gram, the network.
func textureMetadata(o job.TextureOptions, n Network) (map[string]string, error) {
	o.Examples = append([]job.Source(nil), o.Examples...)
	for i := range o.Examples {
		o.Examples[i].Path = absPath(o.Examples[i].Path)
	}
	data, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("runner: recording the settings: %w", err)
	}
	meta := map[string]string{imageio.SettingsKey: string(data), KindKey: string(job.KindTexture), "Software": "Atelier"}
	if n.Model != "" {
		meta[NetworkKey] = n.Model
	}
	return meta, nil
}

// describeTextureError words the texture engine's errors for the user.
func describeTextureError(err error, n Network) error {
	switch {
	case errors.Is(err, features.ErrMissingWeights):
		return fmt.Errorf("runner: %s lacks the weights the texture needs: %w", n.Model, err)
	case errors.Is(err, texture.ErrNonFinite):
		return fmt.Errorf("runner: the synthesis diverged (try another seed or the patch method): %w", err)
	}
	return fmt.Errorf("runner: %w", err)
}
