package app

import (
	"bytes"
	"context"
	_ "embed" // the PyTorch reference script
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"atelier/engine/features"
	"atelier/engine/imageio"
	"atelier/engine/model"
	"atelier/engine/nn"
	"atelier/engine/style"
	"atelier/engine/tensor"
)

// benchStyleTorchScript is the PyTorch implementation of the same
// objective and optimiser (see its header).
//
//go:embed bench_style_torch.py
var benchStyleTorchScript string

const benchStyleHelp = `Usage:
  atelier bench style [options]
        Gatys style transfer (one scale, L-BFGS) of tubingen x starry_night
        from the shared reference folder through the partial VGG19 (taps to
        relu3_4), against PyTorch (Debian python3-torch, two threads) with
        the same weights, images, start, objective (content, Gram style and
        total-variation losses, engine/style's normalisation and default
        weights) and torch.optim.LBFGS with the strong-Wolfe line search.
        First both evaluate the loss and gradient at the start image and
        the relative differences are printed. Then:
          1. Atelier runs --iters iterations; its loss is target A;
          2. PyTorch runs at least --iters iterations and on until its
             loss is at most target A; its loss at --iters is target B;
          3. Atelier runs again until its loss is at most target B.
        ratio_a is Atelier's time for --iters iterations over PyTorch's time
        to reach target A, ratio_b Atelier's time to reach target B over
        PyTorch's time for --iters iterations; ratio is the larger. Times
        count from the start of the run (the content features and style
        Gram matrices included), network loading excluded. On a busy
        machine, ratio_eval (the best iteration that took one network
        evaluation, each side) and ratio_a_est and ratio_b_est (evaluations
        needed times that best time) are steadier.
        Then, unless turned off, two runs of "atelier stylize" as child
        processes: first_frame_s, the first preview frame of a --size run,
        and the peak resident memory of a --rss-size run.
        The last line printed is one JSON object: {"size", "ratio",
        "ratio_a", "ratio_b", "first_frame_s", "rss_size",
        "rss_peak_bytes", "rss_history_bytes", "rss_projected_bytes", ...}:
        the memory run is short, so rss_projected_bytes adds the L-BFGS
        history a full-length run would hold on top of its peak.

Options for style:
`

// benchStyleConfig holds the options of `bench style`.
type benchStyleConfig struct {
	size, iters, maxFactor int
	content, style         string
	torch                  bool
	python                 string
	firstFrame             bool
	rssSize, rssIters      int
	exe                    string
}

func benchStyleFlags(c *benchStyleConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("bench style", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&c.size, "size", 512, "longer side of the image in pixels")
	fs.IntVar(&c.iters, "iters", 30, "L-BFGS iterations that set each target loss")
	fs.IntVar(&c.maxFactor, "max-factor", 3, "a run chasing a target stops after this many times --iters")
	fs.StringVar(&c.content, "content", "", "content image (default: tubingen from the shared reference folder)")
	fs.StringVar(&c.style, "style", "", "style image (default: starry_night from the shared reference folder)")
	fs.BoolVar(&c.torch, "torch", true, "also run PyTorch when it can be imported")
	fs.StringVar(&c.python, "python", defaultPython, "Python interpreter for the PyTorch run")
	fs.BoolVar(&c.firstFrame, "first-frame", true, "time the first preview frame of `atelier stylize` at --size")
	fs.IntVar(&c.rssSize, "rss-size", 1024, "measure the peak memory of `atelier stylize` at this size (0: skip)")
	fs.IntVar(&c.rssIters, "rss-iters", 12, "iterations of the memory run")
	fs.StringVar(&c.exe, "atelier", "", "the atelier binary for the stylize runs (default: this one)")
	return fs
}

// runBenchStyle is `atelier bench style`.
func runBenchStyle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg benchStyleConfig
	fs := benchStyleFlags(&cfg)
	if err := fs.Parse(args); err != nil {
		_, err = helpOrUsage(fs, err, benchStyleHelp, stdout)
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("bench style takes no arguments besides its options, got %q", fs.Arg(0))
	}
	return cfg.run(ctx, stdout, stderr)
}

// benchStyleReport is the JSON line `atelier bench style` ends with.
type benchStyleReport struct {
	Size   int      `json:"size"`
	Ratio  *float64 `json:"ratio"`
	RatioA *float64 `json:"ratio_a"`
	RatioB *float64 `json:"ratio_b"`
	// FirstFrameS is `atelier stylize`'s first_frame_s at Size.
	FirstFrameS *float64 `json:"first_frame_s"`
	// RSS: `atelier stylize` at RSSSize for RSSIters iterations, its peak
	// and the L-BFGS history it held at the end (the history grows by two
	// image-sized vectors per full-size iteration up to its cap).
	RSSSize         int    `json:"rss_size"`
	RSSPeakBytes    *int64 `json:"rss_peak_bytes"`
	RSSIters        int    `json:"rss_iters"`
	RSSHistoryBytes *int64 `json:"rss_history_bytes"`
	// RSSProjectedBytes is RSSPeakBytes plus the history a run long enough
	// to fill it (style.HistoryFor's pairs) would add.
	RSSProjectedBytes *int64 `json:"rss_projected_bytes"`

	// Load-robust figures: the best time of an iteration that took one
	// network evaluation on each side, their ratio, and ratio_a and
	// ratio_b rebuilt as evaluations needed × that time.
	OursEvalS  *float64 `json:"ours_eval_s"`
	TorchEvalS *float64 `json:"torch_eval_s"`
	RatioEval  *float64 `json:"ratio_eval"`
	RatioAEst  *float64 `json:"ratio_a_est"`
	RatioBEst  *float64 `json:"ratio_b_est"`

	Width        int      `json:"width"`
	Height       int      `json:"height"`
	Iters        int      `json:"iters"`
	OursItersS   float64  `json:"ours_iters_s"`    // Atelier, --iters iterations (best of the two runs)
	TorchTargetS *float64 `json:"torch_target_s"`  // PyTorch to target A
	OursTargetS  *float64 `json:"ours_target_s"`   // Atelier to target B
	TorchItersS  *float64 `json:"torch_iters_s"`   // PyTorch, --iters iterations
	TargetA      float64  `json:"target_a"`        // Atelier's loss after --iters
	TargetB      *float64 `json:"target_b"`        // PyTorch's loss after --iters
	Loss0        float64  `json:"loss0"`           // Atelier's loss at the start
	TorchLoss0   *float64 `json:"torch_loss0"`     // PyTorch's
	Loss0RelDiff *float64 `json:"loss0_rel_diff"`  // |a-b|/|b|
	Grad0RelDiff *float64 `json:"grad0_rel_diff"`  // |ga-gb|₂/|gb|₂
	OursEvals    int      `json:"ours_evals"`      // network evaluations of the first run
	PeakRSSBytes int64    `json:"peak_rss_bytes"`  // this process, before PyTorch
	Torch        string   `json:"torch,omitempty"` // version, or why it did not run
	BLAS         string   `json:"blas"`
	Procs        int      `json:"procs"`
}

// tracePoint is one iteration of a timed run: the time since the start,
// the loss, and the network evaluations so far.
type tracePoint struct {
	s, loss float64
	evals   int
}

// evalTime returns the shortest time of an iteration that took one
// evaluation: the cost of an evaluation plus the optimiser's own work,
// least disturbed by other work on the machine.
func evalTime(trace []tracePoint) (float64, bool) {
	best, ok := math.Inf(1), false
	for i := 1; i < len(trace); i++ {
		if trace[i].evals-trace[i-1].evals == 1 {
			best, ok = min(best, trace[i].s-trace[i-1].s), true
		}
	}
	return best, ok
}

// evalsTo returns the evaluations made until the loss was at most target.
func evalsTo(trace []tracePoint, target float64) (int, bool) {
	for _, p := range trace {
		if p.loss <= target {
			return p.evals, true
		}
	}
	return 0, false
}

// timeTo returns the time of the first point at or below target.
func timeTo(trace []tracePoint, target float64) (float64, bool) {
	for _, p := range trace {
		if p.loss <= target {
			return p.s, true
		}
	}
	return 0, false
}

func (c benchStyleConfig) run(ctx context.Context, stdout, stderr io.Writer) error {
	if c.size < 64 || c.size > 4096 || c.iters < 1 || c.maxFactor < 1 || c.rssSize < 0 || c.rssIters < 1 {
		return usageErrorf("bench style: --size must be 64..4096, --iters, --max-factor and --rss-iters at least 1")
	}
	shared, err := model.SharedDir()
	if err != nil {
		return fmt.Errorf("bench: the partial VGG19 and the pictures come from the shared reference folder: %w", err)
	}
	if c.content == "" {
		c.content = filepath.Join(shared, "images", "content", "tubingen.jpg")
	}
	if c.style == "" {
		c.style = filepath.Join(shared, "images", "style", "starry_night.jpg")
	}
	modelDir := filepath.Join(shared, "models", "vgg19-tfjs")
	net, err := features.LoadVGG19(modelDir, features.VGG19Options{FuseReLU: true}) // as the stylize runner loads it
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	// The images as the stylize runner reads them (scaled down to the
	// output size on loading), and as engine/style sizes them.
	content, err := loadBenchImage(c.content, c.size)
	if err != nil {
		return err
	}
	styleImg, err := loadBenchImage(c.style, c.size)
	if err != nil {
		return err
	}
	if styleImg, err = imageio.ResizeLong(styleImg, c.size); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	_, _, h, w := content.Dims()
	settings := style.DefaultSettings()
	history := style.HistoryFor(3*w*h, 0) // the product's; PyTorch gets the same
	req := style.Request{
		Content: content, Styles: []*tensor.Tensor{styleImg}, Size: c.size, Scales: 1,
		Settings: &settings, History: history, Normalise: style.NormNone,
	}
	rep := benchStyleReport{Size: c.size, Width: w, Height: h, Iters: c.iters, BLAS: tensor.Backend(), Procs: nn.Workers(), RSSSize: c.rssSize}
	fmt.Fprintf(stderr, "atelier: style transfer %dx%d, partial VGG19, %s sgemm, %d procs\n", w, h, rep.BLAS, rep.Procs)

	l0, g0, err := style.Evaluate(ctx, net, req, content)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	rep.Loss0 = l0.Total
	fmt.Fprintf(stderr, "atelier iteration 0: loss %.6g (content %.6g, style %.6g, tv %.6g)\n", l0.Total, l0.Content, l0.Style, l0.TV)

	// 1. Atelier, --iters iterations: target A.
	first, evals, err := runOursTrace(ctx, net, req, c.iters, c.iters, math.Inf(-1), stderr)
	if err != nil {
		return err
	}
	rep.OursEvals = evals
	if len(first) == 0 {
		return errors.New("bench: the optimisation ran no iteration")
	}
	rep.TargetA = first[len(first)-1].loss
	rep.OursItersS = first[len(first)-1].s
	rep.PeakRSSBytes = peakRSS()

	if c.torch {
		tr, err := c.runTorch(ctx, net, req, content, styleImg, g0, rep.TargetA, modelDir, &rep, stderr)
		switch {
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("bench: %w", ctx.Err())
		case err != nil:
			rep.Torch = "not run: " + err.Error()
			fmt.Fprintf(stderr, "atelier: PyTorch %s\n", rep.Torch)
		default:
			// 3. Atelier again, on to target B.
			second, _, err := runOursTrace(ctx, net, req, c.iters, c.iters*c.maxFactor, *rep.TargetB, stderr)
			if err != nil {
				return err
			}
			if len(second) >= c.iters {
				rep.OursItersS = min(rep.OursItersS, second[c.iters-1].s)
			}
			if s, ok := timeTo(second, *rep.TargetB); ok {
				rep.OursTargetS = &s
				r := s / *rep.TorchItersS
				rep.RatioB = &r
			}
			if s, ok := timeTo(tr, rep.TargetA); ok {
				rep.TorchTargetS = &s
				r := rep.OursItersS / s
				rep.RatioA = &r
			}
			if rep.RatioA != nil && rep.RatioB != nil {
				r := max(*rep.RatioA, *rep.RatioB)
				rep.Ratio = &r
			}
			c.estimates(&rep, first, second, tr)
		}
	}
	if c.firstFrame || c.rssSize > 0 {
		if err := c.stylizeRuns(ctx, &rep, stderr); err != nil {
			return err
		}
	}
	line, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", line)
	return err
}

// estimates fills the load-robust figures: the best one-evaluation
// iteration of each side, and the ratios rebuilt from them and the
// evaluations each side needed.
func (c benchStyleConfig) estimates(rep *benchStyleReport, first, second, torch []tracePoint) {
	o1, ok1 := evalTime(first)
	o2, ok2 := evalTime(second)
	te, ok3 := evalTime(torch)
	if !(ok1 || ok2) || !ok3 {
		return
	}
	oe := min(o1, o2) // +Inf where a run had no such iteration
	rep.OursEvalS, rep.TorchEvalS = &oe, &te
	r := oe / te
	rep.RatioEval = &r
	if tn, ok := evalsTo(torch, rep.TargetA); ok {
		ra := float64(first[c.iters-1].evals) * oe / (float64(tn) * te)
		rep.RatioAEst = &ra
	}
	if on, ok := evalsTo(second, *rep.TargetB); ok {
		rb := float64(on) * oe / (float64(torch[c.iters-1].evals) * te)
		rep.RatioBEst = &rb
	}
}

// loadBenchImage reads a picture scaled down to a longer side of at most
// side pixels.
func loadBenchImage(path string, side int) (*tensor.Tensor, error) {
	img, err := imageio.Load(path, imageio.Options{MaxSide: side})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return img.RGB, nil
}

// runOursTrace runs engine/style on req for at least minIters and at most
// maxIters iterations, stopping once the loss is at most target, and
// returns the elapsed time and loss of every iteration (time counted from
// the call) and the network evaluations.
func runOursTrace(ctx context.Context, net features.Extractor, req style.Request, minIters, maxIters int, target float64, stderr io.Writer) ([]tracePoint, int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req.Iterations = maxIters
	var trace []tracePoint
	evals := 0
	t0 := time.Now()
	_, err := style.Run(ctx, net, req, func(f style.Frame) {
		p := tracePoint{s: time.Since(t0).Seconds(), loss: f.Losses.Total, evals: f.Evals}
		trace = append(trace, p)
		evals = f.Evals
		if f.TotalIteration%10 == 0 {
			fmt.Fprintf(stderr, "atelier iteration %d: loss %.6g at %.2f s\n", f.TotalIteration, p.loss, p.s)
		}
		if f.TotalIteration >= minIters && p.loss <= target {
			cancel()
		}
	})
	if err != nil && !(errors.Is(err, context.Canceled) && ctx.Err() != nil && len(trace) >= minIters) {
		return nil, 0, fmt.Errorf("bench: %w", err)
	}
	if n := len(trace); n > 0 {
		fmt.Fprintf(stderr, "atelier: %d iterations, %d evaluations, loss %.6g at %.2f s\n", n, evals, trace[n-1].loss, trace[n-1].s)
	}
	return trace, evals, nil
}

// torchSpec is what bench_style_torch.py reads.
type torchSpec struct {
	ModelDir        string    `json:"model_dir"`
	Content         string    `json:"content"`
	Style           string    `json:"style"`
	Start           string    `json:"start"`
	Grad0Out        string    `json:"grad0_out"`
	Width           int       `json:"width"`
	Height          int       `json:"height"`
	StyleWidth      int       `json:"style_width"`
	StyleHeight     int       `json:"style_height"`
	StyleTaps       []string  `json:"style_taps"`
	StyleTapWeights []float64 `json:"style_tap_weights"`
	ContentTap      string    `json:"content_tap"`
	ContentWeight   float64   `json:"content_weight"`
	StyleWeight     float64   `json:"style_weight"`
	TVWeight        float64   `json:"tv_weight"`
	History         int       `json:"history"`
	FirstStepPixels float64   `json:"first_step_pixels"`
	Threads         int       `json:"threads"`
	Runs            []struct {
		MinIters int      `json:"min_iters"`
		MaxIters int      `json:"max_iters"`
		Target   *float64 `json:"target"`
	} `json:"runs"`
}

// torchStyleResult is the JSON line of bench_style_torch.py.
type torchStyleResult struct {
	Version string    `json:"torch"`
	Threads int       `json:"threads"`
	Loss0   float64   `json:"loss0"`
	Parts0  []float64 `json:"parts0"`
	Runs    []struct {
		Iters [][3]float64 `json:"iters"`
	} `json:"runs"`
	Error string `json:"error"`
}

// runTorch runs PyTorch on the same problem: the iteration-0 check, then
// --iters iterations and on to targetA. It fills the torch fields of rep
// and returns PyTorch's trace.
func (c benchStyleConfig) runTorch(ctx context.Context, net features.Extractor, req style.Request, content, styleImg, g0 *tensor.Tensor, targetA float64, modelDir string, rep *benchStyleReport, stderr io.Writer) ([]tracePoint, error) {
	if _, err := os.Stat(c.python); err != nil {
		return nil, fmt.Errorf("%w: %s not found", errNoTorch, c.python)
	}
	dir, err := os.MkdirTemp("", "atelier-bench-style-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	spec := torchSpec{
		ModelDir: modelDir, Content: filepath.Join(dir, "content.f32"), Style: filepath.Join(dir, "style.f32"),
		Start: filepath.Join(dir, "content.f32"), Grad0Out: filepath.Join(dir, "grad0.f32"),
		Width: content.Shape[3], Height: content.Shape[2], StyleWidth: styleImg.Shape[3], StyleHeight: styleImg.Shape[2],
		StyleTaps: net.DefaultStyleTaps(), ContentTap: net.DefaultContentTap(),
		ContentWeight: req.Settings.ContentWeight, StyleWeight: req.Settings.EffectiveStyleWeight(), TVWeight: req.Settings.TVWeight,
		History: req.History, FirstStepPixels: style.FirstStepPixels, Threads: nn.Workers(),
	}
	for range spec.StyleTaps {
		spec.StyleTapWeights = append(spec.StyleTapWeights, 1)
	}
	spec.Runs = make([]struct {
		MinIters int      `json:"min_iters"`
		MaxIters int      `json:"max_iters"`
		Target   *float64 `json:"target"`
	}, 1)
	spec.Runs[0].MinIters, spec.Runs[0].MaxIters, spec.Runs[0].Target = c.iters, c.iters*c.maxFactor, &targetA
	if err := writeF32(spec.Content, content.Data); err != nil {
		return nil, err
	}
	if err := writeF32(spec.Style, styleImg.Data); err != nil {
		return nil, err
	}
	specPath := filepath.Join(dir, "spec.json")
	b, _ := json.Marshal(spec)
	if err := os.WriteFile(specPath, b, 0o644); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	cmd := exec.CommandContext(ctx, c.python, "-", specPath)
	cmd.Stdin = strings.NewReader(benchStyleTorchScript)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errNoTorch, c.python, err)
	}
	var res torchStyleResult
	if err := json.Unmarshal([]byte(lastLine(out.String())), &res); err != nil {
		return nil, fmt.Errorf("%w: unreadable output from %s: %q", errNoTorch, c.python, lastLine(out.String()))
	}
	if res.Error != "" {
		return nil, fmt.Errorf("%w: %s", errNoTorch, res.Error)
	}
	if len(res.Runs) != 1 || len(res.Runs[0].Iters) < c.iters {
		return nil, fmt.Errorf("%w: PyTorch stopped before %d iterations", errNoTorch, c.iters)
	}
	rep.Torch = res.Version
	rep.TorchLoss0 = &res.Loss0
	d := math.Abs(rep.Loss0-res.Loss0) / math.Abs(res.Loss0)
	rep.Loss0RelDiff = &d
	if gt, err := readF32(spec.Grad0Out, len(g0.Data)); err == nil {
		var num, den float64
		for i, v := range gt {
			e := float64(g0.Data[i]) - float64(v)
			num += e * e
			den += float64(v) * float64(v)
		}
		gd := math.Sqrt(num / den)
		rep.Grad0RelDiff = &gd
	}
	fmt.Fprintf(stderr, "iteration 0: loss relative difference %.3g, gradient %.3g\n", d, ptrOr(rep.Grad0RelDiff, math.NaN()))
	trace := make([]tracePoint, len(res.Runs[0].Iters))
	for i, p := range res.Runs[0].Iters {
		trace[i] = tracePoint{s: p[0], loss: p[1], evals: int(p[2])}
	}
	tb := trace[c.iters-1].loss
	ts := trace[c.iters-1].s
	rep.TargetB, rep.TorchItersS = &tb, &ts
	return trace, nil
}

func ptrOr(p *float64, v float64) float64 {
	if p == nil {
		return v
	}
	return *p
}

// writeF32 writes v as raw little-endian float32 values.
func writeF32(path string, v []float32) error {
	buf := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(x))
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// readF32 reads n raw little-endian float32 values.
func readF32(path string, n int) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if len(b) != 4*n {
		return nil, fmt.Errorf("bench: %s holds %d bytes, want %d", path, len(b), 4*n)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// stylizeRuns runs `atelier stylize` as child processes for the first
// frame and the peak memory.
func (c benchStyleConfig) stylizeRuns(ctx context.Context, rep *benchStyleReport, stderr io.Writer) error {
	exe := c.exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "atelier-bench-stylize-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	stylize := func(size, iters int) (stylizeReport, error) {
		args := []string{"stylize", "--content", c.content, "--style", c.style, "--size", strconv.Itoa(size),
			"--iters", strconv.Itoa(iters), "--network", "vgg19", "--out", filepath.Join(dir, fmt.Sprintf("out%d.png", size)), "--force"}
		cmd := exec.CommandContext(ctx, exe, args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		// The partial VGG19 of the shared folder, whatever the cache holds.
		cmd.Env = append(os.Environ(), "ATELIER_MODELS="+filepath.Join(dir, "no-models"))
		var r stylizeReport
		if err := cmd.Run(); err != nil {
			return r, fmt.Errorf("bench: %s %s: %v: %s", exe, strings.Join(args, " "), err, lastLine(errb.String()))
		}
		if err := json.Unmarshal([]byte(lastLine(out.String())), &r); err != nil {
			return r, fmt.Errorf("bench: unreadable output of atelier stylize: %q", lastLine(out.String()))
		}
		return r, nil
	}
	if c.firstFrame {
		// Three scales at 512 px: 6 iterations give 2, 1 and 3.
		r, err := stylize(c.size, 6)
		if err != nil {
			return err
		}
		rep.FirstFrameS = &r.FirstFrameS
		fmt.Fprintf(stderr, "atelier stylize at %d px: first frame after %.3f s\n", c.size, r.FirstFrameS)
	}
	if c.rssSize > 0 {
		r, err := stylize(c.rssSize, c.rssIters)
		if err != nil {
			return err
		}
		rep.RSSPeakBytes, rep.RSSIters = &r.PeakRSSBytes, c.rssIters
		held, full := historyBytes(rep.Width, rep.Height, c.rssSize, c.rssIters)
		proj := r.PeakRSSBytes + full - held
		rep.RSSHistoryBytes, rep.RSSProjectedBytes = &held, &proj
		fmt.Fprintf(stderr, "atelier stylize at %d px, %d iterations: peak RSS %.2f GiB with %.2f GiB of L-BFGS history; %.2f GiB with the history full\n",
			c.rssSize, c.rssIters, gib(r.PeakRSSBytes), gib(held), gib(proj))
	}
	return nil
}

func gib(b int64) float64 { return float64(b) / (1 << 30) }

// historyBytes returns the bytes of L-BFGS history (two image-sized float32
// vectors per pair) that a stylize run of iters iterations at size holds at
// its end, and those of a full history (style.HistoryFor's pairs), for a
// content of aspect w:h.
func historyBytes(w, h, size, iters int) (held, full int64) {
	sides, err := style.Sides(size, 0)
	if err != nil {
		return 0, 0
	}
	budgets := style.SplitIterations(iters, len(sides))
	fw, fh := imageio.FitLongSide(w, h, size)
	vec := int64(3*fw*fh) * 4 * 2
	pairs := style.HistoryFor(3*fw*fh, 0)
	return int64(min(budgets[len(budgets)-1], pairs)) * vec, int64(pairs) * vec
}
