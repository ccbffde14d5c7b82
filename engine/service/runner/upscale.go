package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sync"

	"atelier/engine/imageio"
	"atelier/engine/job"
	"atelier/engine/model"
	"atelier/engine/service"
	"atelier/engine/sr"
	"atelier/engine/tensor"
)

// Upscale runs upscale jobs with engine/sr: bicubic or an UpscalerJS
// network, tile by tile, each tile reported as a Progress update. It keeps
// the last network it built for the next job. Safe for use by one service.
type Upscale struct {
	// ModelsDir is the models folder; "" means model.CacheDir().
	ModelsDir string

	mu   sync.Mutex
	u    sr.Upscaler // the last upscaler opened
	ukey upscaleKey
}

// upscaleKey says what an opened upscaler was opened for.
type upscaleKey struct {
	method    string
	scale     int
	tile      int
	modelsDir string
}

// modelsDir returns the models folder.
func (u *Upscale) modelsDir() (string, error) {
	if u.ModelsDir != "" {
		return u.ModelsDir, nil
	}
	dir, err := model.CacheDir()
	if err != nil {
		return "", fmt.Errorf("runner: %w", err)
	}
	return dir, nil
}

// UpscaleMethods lists the methods with, for each factor, the model it
// needs and whether that model is downloaded (its model.json is in the
// models folder). It implements service.UpscaleLister.
func (u *Upscale) UpscaleMethods() []job.UpscaleMethod {
	dir, _ := u.modelsDir()
	var out []job.UpscaleMethod
	for _, m := range sr.Methods() {
		jm := job.UpscaleMethod{Name: m.Name, Description: m.Description}
		for _, f := range m.Scales {
			s := job.UpscaleScale{Factor: f, Model: m.Model(f), Present: true}
			if s.Model != "" {
				_, err := os.Stat(filepath.Join(dir, s.Model, "model.json"))
				s.Present = dir != "" && err == nil
			}
			jm.Scales = append(jm.Scales, s)
		}
		out = append(out, jm)
	}
	return out
}

// open returns the upscaler for key, reusing the last one when it matches.
func (u *Upscale) open(key upscaleKey, rep *service.Reporter) (sr.Upscaler, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.u != nil && u.ukey == key {
		return u.u, nil
	}
	if key.method != "bicubic" {
		rep.Stage(fmt.Sprintf("loading %s x%d", key.method, key.scale))
	}
	u.u = nil // let the old network go before building the next
	up, err := sr.Open(key.method, key.scale, sr.Options{ModelsDir: key.modelsDir, Tile: key.tile})
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	u.u, u.ukey = up, key
	return up, nil
}

// Run implements service.Runner for job.KindUpscale. The result keeps the
// input's transparency (upscaled with bicubic) and, for grayscale input,
// stays gray; its metadata holds the options under imageio.SettingsKey.
func (u *Upscale) Run(ctx context.Context, req job.Request, rep *service.Reporter) (service.Result, error) {
	if req.Upscale == nil {
		return service.Result{}, errors.New("runner: the request has no upscale options")
	}
	if err := req.Upscale.Validate(); err != nil {
		return service.Result{}, err
	}
	opts := req.Upscale.WithDefaults()
	m, err := sr.LookupMethod(opts.Method)
	if err != nil {
		return service.Result{}, fmt.Errorf("runner: %w", err)
	}
	if err := m.CheckScale(opts.Factor); err != nil {
		return service.Result{}, fmt.Errorf("runner: %w", err)
	}
	if err := checkOut(req); err != nil {
		return service.Result{}, err
	}
	dir, err := u.modelsDir()
	if err != nil {
		return service.Result{}, err
	}

	rep.Stage("loading the image")
	rgb, alpha, gray, err := loadUpscaleInput(opts.Input, rep)
	if err != nil {
		return service.Result{}, err
	}
	_, _, h, w := rgb.Dims()
	if err := sr.CheckOutputSize(w, h, opts.Factor); err != nil {
		return service.Result{}, fmt.Errorf("runner: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return service.Result{}, err
	}
	up, err := u.open(upscaleKey{method: m.Name, scale: opts.Factor, tile: opts.Tile, modelsDir: dir}, rep)
	if err != nil {
		return service.Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return service.Result{}, err
	}

	rep.Stage("upscaling")
	rep.StartClock(service.Step{})
	outRGB, outAlpha, err := sr.UpscaleImage(ctx, up, rgb, alpha, func(done, total int) {
		rep.Step(service.Step{Stage: "upscaling", Iteration: done, Total: total}, nil)
	})
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return service.Result{}, err
		}
		return service.Result{}, fmt.Errorf("runner: %w", err)
	}
	if gray {
		grayInPlace(outRGB)
	}
	final, err := imageio.ToRGBA(outRGB, outAlpha)
	if err != nil {
		return service.Result{}, fmt.Errorf("runner: %w", err)
	}
	meta, err := upscaleMetadata(opts)
	if err != nil {
		return service.Result{}, err
	}
	out := service.Result{Image: final, Frame: previewRGBA(outRGB, outAlpha, rep.PreviewSide()), Metadata: meta}
	if req.Out != "" {
		rep.Stage("writing " + filepath.Base(req.Out))
		if err := imageio.Save(req.Out, final, imageio.SaveOptions{Overwrite: req.Overwrite, Metadata: meta}); err != nil {
			return service.Result{}, fmt.Errorf("runner: %w", err)
		}
		out.Out = req.Out
	}
	return out, nil
}

// loadUpscaleInput reads the image to enlarge at full size, with its alpha
// (nil when opaque) and whether it is grayscale.
func loadUpscaleInput(src job.Source, rep *service.Reporter) (rgb, alpha *tensor.Tensor, gray bool, err error) {
	if src.Image != nil {
		rgb, alpha = imageio.FromImage(src.Image)
		return rgb, alpha, false, nil
	}
	img, err := imageio.Load(src.Path, imageio.Options{MinSide: -1})
	if err != nil {
		return nil, nil, false, fmt.Errorf("runner: the image to upscale: %w", err)
	}
	for _, n := range img.Notices {
		rep.Notice(n)
	}
	return img.RGB, img.Alpha, img.Gray, nil
}

// grayInPlace sets the three channels of rgb ([1,3,H,W]) to their mean.
func grayInPlace(rgb *tensor.Tensor) {
	_, _, h, w := rgb.Dims()
	n := h * w
	r, g, b := rgb.Data[:n], rgb.Data[n:2*n], rgb.Data[2*n:3*n]
	for i := range n {
		v := (r[i] + g[i] + b[i]) / 3
		r[i], g[i], b[i] = v, v, v
	}
}

// previewRGBA is preview with alpha: the result scaled to side.
func previewRGBA(rgb, alpha *tensor.Tensor, side int) *image.RGBA {
	if alpha == nil {
		return preview(rgb, side)
	}
	_, _, h, w := rgb.Dims()
	if max(w, h) > side {
		var err error
		if rgb, err = imageio.ResizeLong(rgb, side); err != nil {
			return nil
		}
		if alpha, err = imageio.ResizeLong(alpha, side); err != nil {
			return nil
		}
	}
	img, err := imageio.ToRGBA(rgb, alpha)
	if err != nil {
		return nil
	}
	return img
}

// upscaleMetadata records the options that make the result.
func upscaleMetadata(o job.UpscaleOptions) (map[string]string, error) {
	o.Input.Path = absPath(o.Input.Path)
	data, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("runner: recording the settings: %w", err)
	}
	return map[string]string{imageio.SettingsKey: string(data), KindKey: string(job.KindUpscale), "Software": "Atelier"}, nil
}
