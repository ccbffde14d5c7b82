package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"atelier/engine/features"
	"atelier/engine/imageio"
	"atelier/engine/job"
	"atelier/engine/service/runner"
	"atelier/engine/tensor"
	"atelier/engine/texture"
)

const textureHelp = `Usage:
  atelier texture --sample IMAGE --out OUT.png [options]

Synthesises a texture that looks like more of the sample, at any size:
  --method gram   Gatys et al.'s neural synthesis: noise optimised until its
                  VGG19 feature statistics (Gram matrices) match the
                  sample's. Needs VGG19 (the full model when downloaded,
                  else the partial one of the shared reference folder);
                  minutes at 256 px.
  --method patch  patch-based texture optimisation over a pyramid: the
                  output is made of the sample's own patches. No network;
                  seconds at 512 px.
--tileable makes the result wrap around seamlessly. The sample's pixel scale
is the texture's: scale the sample (--sample-side) to make the pattern
larger or smaller in the result.

Progress goes to stderr; the last line on stdout is one JSON object:
{"out", "seconds", "iterations", "style_loss", "peak_rss_bytes",
"first_frame_s", "method", "seed", "patch_loss", "network"}. style_loss is the
relative Gram-matrix error against the sample (for the patch method measured
on the result when VGG19 is here, else null); seconds and first_frame_s count
from the start of the command; seconds ends when the file is written.

The settings and seed are stored in the output file. An existing output file
is never replaced without --force.

Options:
`

// textureReport is the JSON line `atelier texture` ends with.
type textureReport struct {
	Out          string   `json:"out"`
	Seconds      float64  `json:"seconds"`
	Iterations   int      `json:"iterations"`
	StyleLoss    *float64 `json:"style_loss"`
	PeakRSSBytes int64    `json:"peak_rss_bytes"`
	FirstFrameS  float64  `json:"first_frame_s"`
	Method       string   `json:"method"`
	Seed         int64    `json:"seed"`
	PatchLoss    *float64 `json:"patch_loss,omitempty"`
	Network      string   `json:"network,omitempty"`
}

// textureSettings are the settings stored in the output file under
// imageio.SettingsKey.
type textureSettings struct {
	Kind       string `json:"kind"`
	Sample     string `json:"sample"`
	SampleSide int    `json:"sample_side,omitempty"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Method     string `json:"method"`
	Tileable   bool   `json:"tileable"`
	Seed       int64  `json:"seed"`
	Iterations int    `json:"iterations"`
	Scales     int    `json:"scales,omitempty"`
	PatchSize  int    `json:"patch_size,omitempty"`
	Network    string `json:"network,omitempty"`
}

// textureFlags holds the command line.
type textureFlags struct {
	sample     string
	size       string
	method     string
	tileable   bool
	seed       int64
	iters      int
	scales     int
	patch      int
	sampleSide int
	out        string
	force      bool
}

func newTextureFlagSet(f *textureFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("texture", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.sample, "sample", "", "the example texture `IMAGE`")
	fs.StringVar(&f.size, "size", "512x512", "the result's size, `WxH` or one number for a square")
	fs.StringVar(&f.method, "method", "gram", "gram (neural) or patch (no network, fast)")
	fs.BoolVar(&f.tileable, "tileable", false, "make the result wrap around seamlessly")
	fs.Int64Var(&f.seed, "seed", 0, "seed of the random start (default: a random one, printed and stored)")
	fs.IntVar(&f.iters, "iters", 0, fmt.Sprintf("iterations (default: gram %d L-BFGS iterations, patch %d per pyramid level)",
		texture.DefaultGramIterations, texture.DefaultPatchIterations))
	fs.IntVar(&f.scales, "scales", 0, "resolutions, each twice the one before (default: automatic)")
	fs.IntVar(&f.patch, "patch", texture.DefaultPatchSize, "patch side in `PIXELS` for --method patch (odd, 3 to 15)")
	fs.IntVar(&f.sampleSide, "sample-side", 1024, "scale the sample down to this longer side in `PIXELS` first (0: as it is)")
	fs.StringVar(&f.out, "out", "", "the result `FILE` (.png, .jpg or .jpeg)")
	fs.BoolVar(&f.force, "force", false, "replace the output file when it exists")
	return fs
}

// textureCmd is `atelier texture` with its dependencies, so tests can swap
// where the network comes from.
type textureCmd struct {
	// findNetwork returns the VGG19 folder and its model name.
	findNetwork func() (dir, name string, err error)
	tty         bool
	stdout      io.Writer
	stderr      io.Writer
}

// runTexture implements `atelier texture`.
func runTexture(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &textureCmd{findNetwork: findVGG19, tty: isTerminal(stderr), stdout: stdout, stderr: stderr}
	return c.run(ctx, args)
}

// findVGG19 looks for VGG19 (the full model, else the partial one) in the
// model cache and the shared reference folder.
func findVGG19() (string, string, error) {
	f, err := runner.DefaultFinder()
	if err != nil {
		return "", "", err
	}
	n, err := f.Find(job.NetworkVGG19)
	if err != nil {
		return "", "", err
	}
	return n.Dir, n.Model, nil
}

// parseSize reads "WxH" or "N".
func parseSize(s string) (int, int, error) {
	ws, hs, found := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "x")
	if !found {
		hs = ws
	}
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if err1 != nil || err2 != nil || w < 1 || h < 1 || w > texture.MaxSide || h > texture.MaxSide {
		return 0, 0, usageErrorf("--size %q must be WIDTHxHEIGHT or one number, each 1 to %d pixels", s, texture.MaxSide)
	}
	return w, h, nil
}

func (c *textureCmd) run(ctx context.Context, args []string) error {
	start := time.Now()
	var f textureFlags
	fs := newTextureFlagSet(&f)
	if err := fs.Parse(args); err != nil {
		_, err = helpOrUsage(fs, err, textureHelp, c.stdout)
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("%q is not an option of texture", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	req, err := f.request(given)
	if err != nil {
		return err
	}
	if !f.force {
		if _, err := os.Stat(f.out); err == nil {
			return fmt.Errorf("%s already exists; give --force to replace it, or choose another --out", f.out)
		}
	}

	bar := &jobBar{w: c.stderr, tty: c.tty}
	defer bar.finish()
	bar.update(job.Update{Stage: "loading the sample"})
	img, err := imageio.Load(f.sample, imageio.Options{MaxSide: f.sampleSide})
	if err != nil {
		return fmt.Errorf("the sample: %w", job.Plain(err))
	}
	req.Sample = img.RGB
	bar.update(job.Update{Stage: "loading the sample", Notices: img.Notices})
	if sw, sh := img.Size(); sw < texture.MinSampleSide || sh < texture.MinSampleSide {
		return fmt.Errorf("the sample %s is %dx%d pixels; it needs at least %d on each side", f.sample, sw, sh, texture.MinSampleSide)
	}

	var net features.Extractor
	var netName string
	if req.Method == texture.Gram {
		bar.update(job.Update{Stage: "loading the feature network"})
		dir, name, err := c.findNetwork()
		if err != nil {
			return job.Plain(err)
		}
		vgg, err := features.LoadVGG19(dir, features.VGG19Options{AvgPool: true})
		if err != nil {
			return job.Plain(err)
		}
		net, netName = vgg, name
	}

	bar.update(job.Update{Stage: "synthesising"})
	var firstFrame time.Duration
	res, err := texture.Run(ctx, net, req, func(fr texture.Frame) {
		if firstFrame == 0 {
			firstFrame = time.Since(start)
		}
		u := job.Update{Kind: job.Frame, Stage: "synthesising", Iteration: fr.TotalIteration, Total: fr.Total,
			Scale: fr.Scale + 1, Scales: fr.Scales, Losses: job.Losses{Total: fr.Loss}, Elapsed: time.Since(start)}
		if req.Method == texture.Gram {
			u.Losses.Style = fr.Loss
		}
		bar.update(u)
	})
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return ctx.Err()
		}
		return job.Plain(err)
	}
	bar.finish()

	settings := textureSettings{Kind: string(job.KindTexture), Sample: f.sample, SampleSide: f.sampleSide,
		Width: req.Width, Height: req.Height, Method: req.Method.String(), Tileable: req.Tileable, Seed: res.Seed,
		Iterations: req.Iterations, Scales: req.Scales, Network: netName}
	if req.Method == texture.Patch {
		settings.PatchSize = req.PatchSize
	}
	raw, err := json.Marshal(settings)
	if err != nil {
		return err
	}
	meta := imageio.Metadata{imageio.SettingsKey: string(raw), "Software": "Atelier " + Version}
	if err := imageio.SaveTensor(f.out, res.Image, nil, imageio.SaveOptions{Metadata: meta, Overwrite: f.force}); err != nil {
		if errors.Is(err, imageio.ErrExists) {
			return fmt.Errorf("%s appeared while the texture was made; give --force to replace it, or choose another --out", f.out)
		}
		return job.Plain(err)
	}
	seconds := time.Since(start).Seconds()
	fmt.Fprintf(c.stderr, "Wrote %s (%dx%d, seed %d) in %s.\n", f.out, res.Width, res.Height, res.Seed, roundDuration(time.Since(start)))

	rep := textureReport{Out: f.out, Seconds: round3(seconds), Iterations: res.Iterations, PeakRSSBytes: peakRSS(),
		FirstFrameS: round3(firstFrame.Seconds()), Method: req.Method.String(), Seed: res.Seed, Network: netName}
	loss := res.Loss
	if req.Method == texture.Gram {
		rep.StyleLoss = &loss
	} else {
		rep.PatchLoss = &loss
		if sl, ok := c.measureStyle(req.Sample, res.Image, req.Tileable); ok {
			rep.StyleLoss = &sl
		}
	}
	line, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "%s\n", line)
	return err
}

// measureStyle returns the Gram loss of a patch result when VGG19 can be
// found; it is a measurement for the report, so failures only leave it out.
func (c *textureCmd) measureStyle(sample, img *tensor.Tensor, tileable bool) (float64, bool) {
	dir, _, err := c.findNetwork()
	if err != nil {
		return 0, false
	}
	net, err := features.LoadVGG19(dir, features.VGG19Options{AvgPool: true})
	if err != nil {
		return 0, false
	}
	loss, err := texture.StyleLoss(net, sample, img, nil, nil, tileable)
	return loss, err == nil
}

// request builds the synthesis request from the flags (all but the sample
// image, which is loaded later).
func (f *textureFlags) request(given map[string]bool) (texture.Request, error) {
	if f.sample == "" {
		return texture.Request{}, usageErrorf("texture needs --sample IMAGE")
	}
	if f.out == "" {
		return texture.Request{}, usageErrorf("texture needs --out FILE for the result")
	}
	if _, err := imageio.FormatFromPath(f.out); err != nil {
		return texture.Request{}, usageErrorf("the output %s must end in .png, .jpg or .jpeg", f.out)
	}
	w, h, err := parseSize(f.size)
	if err != nil {
		return texture.Request{}, err
	}
	m, err := texture.ParseMethod(f.method)
	if err != nil {
		return texture.Request{}, usageErrorf("--method %q must be gram or patch", f.method)
	}
	if given["iters"] && f.iters < 1 {
		return texture.Request{}, usageErrorf("--iters must be at least 1")
	}
	if f.scales < 0 || f.scales > 8 {
		return texture.Request{}, usageErrorf("--scales must be between 1 and 8")
	}
	if f.patch%2 == 0 || f.patch < 3 || f.patch > 15 {
		return texture.Request{}, usageErrorf("--patch must be odd, 3 to 15 pixels")
	}
	if f.sampleSide < 0 || (f.sampleSide > 0 && f.sampleSide < texture.MinSampleSide) {
		return texture.Request{}, usageErrorf("--sample-side must be 0 or at least %d", texture.MinSampleSide)
	}
	seed := f.seed
	if !given["seed"] {
		seed = rand.Int64N(1 << 31)
	}
	req := texture.Request{Width: w, Height: h, Method: m, Tileable: f.tileable, Seed: seed,
		Iterations: f.iters, Scales: f.scales, PatchSize: f.patch}
	if req.Iterations == 0 {
		req.Iterations = texture.DefaultGramIterations
		if m == texture.Patch {
			req.Iterations = texture.DefaultPatchIterations
		}
	}
	return req, nil
}
