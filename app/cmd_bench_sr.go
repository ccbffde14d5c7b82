package app

import (
	"context"
	_ "embed" // the PyTorch reference script
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"atelier/engine/model"
	"atelier/engine/nn"
	"atelier/engine/sr"
	"atelier/engine/tensor"
)

// benchSRTorchScript builds and times the UpscalerJS networks in PyTorch
// (see its header).
//
//go:embed bench_sr_torch.py
var benchSRTorchScript string

const benchSRHelp = `Usage:
  atelier bench sr [options]
        time the UpscalerJS networks on one synthetic SIZE x SIZE image
        (x4 by default; a method without that factor runs at its only
        one, default-x2 at x2), as "atelier upscale" runs them (default
        tiles; concatenations, sums and the last upsampling fused into the
        convolutions; on AMX operands split in two bfloat16 parts, about
        1e-4 of the output scale), after warm-up; then, when PyTorch can be imported, the same
        networks built in PyTorch from the same model.json and weights, with
        two threads, on the same input (PyTorch's faster of its default and
        channels-last memory layouts counts), and the largest difference between
        the two results (levels of 255), which shows it is the same network.
        Then the peak resident memory of the real binary upscaling a
        4096 x 4096 image x2 with esrgan-medium (--rss-size 0 skips it).
        The last line printed is one JSON object: {"size", "scale",
        "models": {METHOD: {"scale", "s", "torch_s", "ratio",
        "max_abs_diff", ...}}, "rss": {"method", "scale", "size",
        "peak_rss_bytes", "limit_bytes", "s"}, ...}; ratio is Atelier's time
        over PyTorch's (null without PyTorch), times are the best of the
        iterations.

Options for sr:
`

// benchSRConfig holds the options of `bench sr`.
type benchSRConfig struct {
	methods       string
	size, scale   int
	iters, warmup int
	tile          int
	torch         bool
	python        string
	rssSize       int
	rssMethod     string
	rssScale      int
	exe           string // the binary of the memory run ("": this one)
	keepTemp      bool
	cpuProfile    string
}

// defaultBenchSRMethods are the networks `bench sr` times by default.
const defaultBenchSRMethods = "esrgan-slim,esrgan-medium,esrgan-thick,default-x2"

// benchSRRSSLimit is the peak resident memory the memory run must stay
// under (issue 5: x2 of 4096 x 4096 with esrgan-medium under 4 GiB).
const benchSRRSSLimit = 4 << 30

func benchSRFlags(c *benchSRConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("bench sr", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.methods, "methods", defaultBenchSRMethods, "comma-separated network methods to time")
	fs.IntVar(&c.size, "size", 256, "input side in pixels, 16 to 1024")
	fs.IntVar(&c.scale, "scale", 4, "upscaling factor (a method without it runs at its only factor)")
	fs.IntVar(&c.iters, "iters", 3, "timed runs per method; the best counts")
	fs.IntVar(&c.warmup, "warmup", 1, "untimed runs first")
	fs.IntVar(&c.tile, "tile", 0, "tile side for Atelier's runs (0: the default, as atelier upscale; -1: the whole image at once)")
	fs.BoolVar(&c.torch, "torch", true, "also time PyTorch when it can be imported")
	fs.StringVar(&c.python, "python", defaultPython, "Python interpreter for the PyTorch run")
	fs.IntVar(&c.rssSize, "rss-size", 4096, "side of the image of the memory run (0: skip it)")
	fs.StringVar(&c.rssMethod, "rss-method", "esrgan-medium", "method of the memory run")
	fs.IntVar(&c.rssScale, "rss-scale", 2, "factor of the memory run")
	fs.BoolVar(&c.keepTemp, "keep", false, "keep the temporary folder (inputs and results)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of Atelier's timed runs to `FILE` (go tool pprof)")
	return fs
}

// benchSRModel is one method's entry in the JSON line.
type benchSRModel struct {
	Scale       int      `json:"scale"`
	S           *float64 `json:"s"`
	TorchS      *float64 `json:"torch_s"`
	Ratio       *float64 `json:"ratio"`
	MaxAbsDiff  *float64 `json:"max_abs_diff"`
	TorchLayout string   `json:"torch_layout,omitempty"` // PyTorch's faster memory layout
	Model       string   `json:"model"`
	Tile        int      `json:"tile"`
	Overlap     int      `json:"overlap"`
	Skipped     string   `json:"skipped,omitempty"` // why it did not run
}

// benchSRRSS is the memory run's entry in the JSON line.
type benchSRRSS struct {
	Method       string  `json:"method"`
	Scale        int     `json:"scale"`
	Size         int     `json:"size"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	LimitBytes   int64   `json:"limit_bytes"`
	S            float64 `json:"s"`
	Error        string  `json:"error,omitempty"`
}

// benchSRReport is the JSON line `atelier bench sr` ends with.
type benchSRReport struct {
	Size   int                      `json:"size"`
	Scale  int                      `json:"scale"`
	Models map[string]*benchSRModel `json:"models"`
	RSS    *benchSRRSS              `json:"rss"`
	Torch  string                   `json:"torch,omitempty"` // PyTorch version, or why it did not run
	Iters  int                      `json:"iters"`
	BLAS   string                   `json:"blas"`
	Procs  int                      `json:"procs"`
	// Precision is Atelier's: "reduced" (convolutions on AMX with two
	// bfloat16 parts, as atelier upscale runs them) or "exact" without AMX.
	Precision string `json:"precision"`
}

// benchSRJob is one network for the PyTorch script.
type benchSRJob struct {
	Name   string  `json:"name"`
	Dir    string  `json:"dir"`
	Unit   float32 `json:"unit"`
	Scale  int     `json:"scale"`
	Height int     `json:"height"`
	Width  int     `json:"width"`
	Input  string  `json:"input"`
	Ours   string  `json:"ours"`
}

// runBenchSR parses and runs `bench sr`.
func runBenchSR(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg benchSRConfig
	fs := benchSRFlags(&cfg)
	if err := fs.Parse(args); err != nil {
		_, err = helpOrUsage(fs, err, benchSRHelp, stdout)
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("bench sr takes no arguments besides its options, got %q", fs.Arg(0))
	}
	return cfg.run(ctx, stdout, stderr)
}

// methodList resolves --methods to methods and their factors.
func (c benchSRConfig) methodList() ([]sr.Method, []int, error) {
	var ms []sr.Method
	var scales []int
	for name := range strings.SplitSeq(c.methods, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		m, err := sr.LookupMethod(name)
		if err != nil {
			return nil, nil, usageErrorf("there is no method %q; the networks are %s", name, strings.Join(networkNames(), ", "))
		}
		if m.Model(c.scale) == "" && len(m.Scales) != 1 {
			if m.Model(m.Scales[0]) == "" {
				return nil, nil, usageErrorf("%s is not a network; the networks are %s", name, strings.Join(networkNames(), ", "))
			}
			return nil, nil, usageErrorf("%s has no x%d model", name, c.scale)
		}
		s := c.scale
		if m.Model(s) == "" {
			s = m.Scales[0]
		}
		if m.Model(s) == "" {
			return nil, nil, usageErrorf("%s is not a network; the networks are %s", name, strings.Join(networkNames(), ", "))
		}
		ms, scales = append(ms, m), append(scales, s)
	}
	if len(ms) == 0 {
		return nil, nil, usageErrorf("--methods names no method")
	}
	return ms, scales, nil
}

// networkNames lists the methods backed by a network.
func networkNames() []string {
	var names []string
	for _, m := range sr.Methods() {
		if len(m.Scales) > 0 && m.Model(m.Scales[0]) != "" {
			names = append(names, m.Name)
		}
	}
	return names
}

func (c benchSRConfig) run(ctx context.Context, stdout, stderr io.Writer) error {
	if c.size < 16 || c.size > 1024 {
		return usageErrorf("--size must be between 16 and 1024 pixels, got %d", c.size)
	}
	if c.iters < 1 || c.warmup < 0 {
		return usageErrorf("--iters must be at least 1 and --warmup at least 0")
	}
	if c.rssSize < 0 || c.rssSize > 8192 {
		return usageErrorf("--rss-size must be between 0 (skip) and 8192, got %d", c.rssSize)
	}
	ms, scales, err := c.methodList()
	if err != nil {
		return err
	}
	if c.rssSize > 0 {
		m, err := sr.LookupMethod(c.rssMethod)
		if err != nil || m.Model(c.rssScale) == "" {
			return usageErrorf("--rss-method and --rss-scale must name a network and one of its factors, got %s x%d", c.rssMethod, c.rssScale)
		}
	}
	modelsDir, err := model.CacheDir()
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	tmp, err := os.MkdirTemp("", "atelier-bench-sr-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if c.keepTemp {
		fmt.Fprintf(stderr, "atelier: keeping %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	rep := benchSRReport{Size: c.size, Scale: c.scale, Models: map[string]*benchSRModel{},
		Iters: c.iters, BLAS: tensor.Backend(), Procs: nn.Workers(), Precision: "exact"}
	if nn.AMX() {
		rep.Precision = "reduced"
	}
	fmt.Fprintf(stderr, "atelier: UpscalerJS networks on %d x %d, %s sgemm, %d procs, %s precision\n", c.size, c.size, tensor.Backend(), rep.Procs, rep.Precision)
	in := synthImage(c.size, c.size)
	inPath := filepath.Join(tmp, "input.f32")
	if err := writeFloats(inPath, in.Data); err != nil {
		return fmt.Errorf("bench: %w", err)
	}

	// Open every network first, so that PyTorch builds the same ones.
	nets := map[string]*sr.Network{}
	var jobs []benchSRJob
	for i, m := range ms {
		e := &benchSRModel{Scale: scales[i], Model: m.Model(scales[i])}
		rep.Models[m.Name] = e
		u, err := sr.Open(m.Name, e.Scale, sr.Options{ModelsDir: modelsDir, Tile: c.tile})
		switch {
		case errors.Is(err, sr.ErrModelMissing):
			e.Skipped = "model not present: " + plainSR(err).Error()
			fmt.Fprintf(stderr, "atelier %-14s skipped: %s\n", m.Name, e.Skipped)
			continue
		case err != nil:
			return fmt.Errorf("bench: %s: %w", m.Name, err)
		}
		n, ok := u.(*sr.Network)
		if !ok {
			return fmt.Errorf("bench: %s is not a network", m.Name)
		}
		nets[m.Name] = n
		e.Tile, e.Overlap = n.Tiling()
		jobs = append(jobs, benchSRJob{Name: m.Name, Dir: filepath.Join(modelsDir, n.Model()), Unit: n.Unit(), Scale: e.Scale,
			Height: c.size, Width: c.size, Input: inPath, Ours: filepath.Join(tmp, m.Name+".f32")})
	}

	var torch *torchSR
	if c.torch && len(jobs) > 0 {
		torch, err = startTorchSR(ctx, c.python, jobs, tmp)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("bench: %w", ctx.Err())
			}
			rep.Torch = "not run: " + err.Error()
			fmt.Fprintf(stderr, "atelier: PyTorch %s\n", rep.Torch)
		} else {
			rep.Torch = torch.version
			defer torch.close()
		}
	}
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	for _, job := range jobs {
		n := nets[job.Name]
		delete(nets, job.Name) // its memory goes once it is timed
		if err := c.timeOne(ctx, rep.Models[job.Name], n, in, job, torch, stderr); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("bench: %w", ctx.Err())
			}
			return fmt.Errorf("bench: %s: %w", job.Name, err)
		}
	}
	pprof.StopCPUProfile() // no-op without --cpuprofile
	if torch != nil {
		torch.close()
	}
	if c.rssSize > 0 {
		rep.RSS = c.memoryRun(ctx, tmp, stderr)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	line, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", line)
	return err
}

// torchLayouts are the memory layouts PyTorch runs each network in; the
// faster counts.
var torchLayouts = []string{"nchw", "channels_last"}

// timeOne times one network, alternating its runs with PyTorch's (when
// torch is not nil) so that both see the same load, and compares the
// results. A failing PyTorch is reported in e and does not stop the bench.
func (c benchSRConfig) timeOne(ctx context.Context, e *benchSRModel, n *sr.Network, in *tensor.Tensor, job benchSRJob, torch *torchSR, stderr io.Writer) error {
	var out *tensor.Tensor
	ours := math.Inf(1)
	theirs := map[string]float64{}
	torchFailed := func(err error) {
		fmt.Fprintf(stderr, "atelier: PyTorch %s: %v\n", job.Name, err)
		e.Skipped = "PyTorch failed: " + err.Error()
		torch = nil
	}
	for i := range c.warmup + c.iters {
		start := time.Now()
		var err error
		out, err = n.Upscale(ctx, in, nil)
		d := time.Since(start).Seconds()
		if err != nil {
			return err
		}
		if i >= c.warmup {
			ours = min(ours, d)
		}
		for _, layout := range torchLayouts {
			if torch == nil {
				break
			}
			t, err := torch.run(job.Name, layout)
			if err != nil {
				torchFailed(err)
				break
			}
			if i >= c.warmup {
				if old, ok := theirs[layout]; !ok || t < old {
					theirs[layout] = t
				}
			}
		}
	}
	e.S = &ours
	fmt.Fprintf(stderr, "atelier %-14s x%d %8.3f s (tiles of %d, overlap %d)\n", job.Name, e.Scale, ours, e.Tile, e.Overlap)
	if torch == nil || len(theirs) == 0 {
		return nil
	}
	if err := writeFloats(job.Ours, out.Data); err != nil {
		return err
	}
	diff, err := torch.diff(job.Name)
	if err != nil {
		torchFailed(err)
		return nil
	}
	best := torchLayouts[0]
	for _, l := range torchLayouts {
		if t, ok := theirs[l]; ok && t < theirs[best] {
			best = l
		}
	}
	ts := theirs[best]
	ratio := ours / ts
	e.TorchS, e.Ratio, e.MaxAbsDiff, e.TorchLayout = &ts, &ratio, &diff, best
	fmt.Fprintf(stderr, "pytorch %-14s x%d %8.3f s (%s; nchw %.3f s)  ours/torch %.2f  max |ours-torch| %.4f of 255\n",
		job.Name, e.Scale, ts, best, theirs["nchw"], ratio, diff)
	return nil
}

// torchSR is a running bench_sr_torch.py, answering one request at a time.
type torchSR struct{ *torchProc }

// startTorchSR starts the embedded script with python on jobs and waits
// until it has built every network.
func startTorchSR(ctx context.Context, python string, jobs []benchSRJob, tmp string) (*torchSR, error) {
	spec, err := json.Marshal(map[string]any{"models": jobs})
	if err != nil {
		return nil, err
	}
	jobPath := filepath.Join(tmp, "job.json")
	if err := os.WriteFile(jobPath, spec, 0o644); err != nil {
		return nil, err
	}
	p, err := startTorchProc(ctx, python, "-c", benchSRTorchScript, jobPath)
	if err != nil {
		return nil, err
	}
	return &torchSR{p}, nil
}

// run times one forward pass of the named network in layout.
func (t *torchSR) run(name, layout string) (float64, error) {
	return t.seconds(map[string]string{"cmd": "run", "name": name, "layout": layout})
}

// diff compares PyTorch's last result for name with Atelier's (written to
// the job's "ours" file).
func (t *torchSR) diff(name string) (float64, error) {
	var r struct {
		D *float64 `json:"max_abs_diff"`
	}
	if err := t.call(map[string]string{"cmd": "diff", "name": name}, &r); err != nil {
		return 0, err
	}
	if r.D == nil {
		return 0, errors.New("PyTorch gave no difference")
	}
	return *r.D, nil
}

// memoryRun upscales a synthetic rssSize-pixel PNG with the real binary
// (`atelier upscale`, default tiles, PNG out) in a child process and
// returns its peak resident memory.
func (c benchSRConfig) memoryRun(ctx context.Context, tmp string, stderr io.Writer) *benchSRRSS {
	r := &benchSRRSS{Method: c.rssMethod, Scale: c.rssScale, Size: c.rssSize, LimitBytes: benchSRRSSLimit}
	fail := func(err error) *benchSRRSS {
		r.Error = err.Error()
		fmt.Fprintf(stderr, "atelier: memory run failed: %v\n", err)
		return r
	}
	exe := c.exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return fail(err)
		}
	}
	in, out := filepath.Join(tmp, "rss-in.png"), filepath.Join(tmp, "rss-out.png")
	if err := writeSynthPNG(in, c.rssSize); err != nil {
		return fail(err)
	}
	fmt.Fprintf(stderr, "atelier: memory run: %s upscale --method %s --scale %d (%d x %d)\n", filepath.Base(exe), c.rssMethod, c.rssScale, c.rssSize, c.rssSize)
	cmd := exec.CommandContext(ctx, exe, "upscale", "--method", c.rssMethod, "--scale", fmt.Sprint(c.rssScale), "--force", in, out)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	start := time.Now()
	err := cmd.Run()
	r.S = time.Since(start).Seconds()
	if cmd.ProcessState != nil {
		r.PeakRSSBytes = childPeakRSS(cmd.ProcessState)
	}
	if err != nil {
		return fail(fmt.Errorf("%s upscale: %w", exe, err))
	}
	verdict := "under"
	if r.PeakRSSBytes >= r.LimitBytes {
		verdict = "OVER"
	}
	fmt.Fprintf(stderr, "%s x%d %dx%d: peak RSS %.2f GiB (%s the %.0f GiB limit), %.1f s\n", c.rssMethod, c.rssScale, c.rssSize, c.rssSize,
		float64(r.PeakRSSBytes)/(1<<30), verdict, float64(r.LimitBytes)/(1<<30), r.S)
	return r
}

// synthValue is the deterministic test picture the benchmark feeds the
// networks, in 0..255: smooth gradients, stripes whose frequency grows
// across the image, and a little hashed noise, so that the networks see
// edges and texture rather than flat colour.
func synthValue(x, y, c, w, h int) float64 {
	fx, fy := float64(x)/float64(w), float64(y)/float64(h)
	v := 96 + 64*fx + 48*fy*float64(c+1)/3
	v += 40 * math.Sin(float64(x)*(0.05+0.4*fy)+float64(c)) * math.Cos(float64(y)*0.07)
	hsh := uint32(x)*73856093 ^ uint32(y)*19349663 ^ uint32(c)*83492791
	hsh ^= hsh >> 13
	hsh *= 0x5bd1e995
	hsh ^= hsh >> 15
	v += float64(hsh%33) - 16
	return math.Min(math.Max(math.Round(v), 0), 255)
}

// synthImage returns the test picture as a [1,3,h,w] tensor in 0..255.
func synthImage(w, h int) *tensor.Tensor {
	t := tensor.New(1, 3, h, w)
	for c := range 3 {
		for y := range h {
			for x := range w {
				t.Data[(c*h+y)*w+x] = float32(synthValue(x, y, c, w, h))
			}
		}
	}
	return t
}

// writeSynthPNG writes the test picture, side x side, as a PNG.
func writeSynthPNG(path string, side int) error {
	img := image.NewNRGBA(image.Rect(0, 0, side, side))
	for y := range side {
		for x := range side {
			img.SetNRGBA(x, y, color.NRGBA{
				R: uint8(synthValue(x, y, 0, side, side)), G: uint8(synthValue(x, y, 1, side, side)),
				B: uint8(synthValue(x, y, 2, side, side)), A: 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeFloats writes d as raw little-endian float32.
func writeFloats(path string, d []float32) error {
	buf := make([]byte, 4*len(d))
	for i, v := range d {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	return os.WriteFile(path, buf, 0o644)
}
