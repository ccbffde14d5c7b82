package app

import (
	"context"
	_ "embed" // the PyTorch reference script
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"atelier/engine/bench"
	"atelier/engine/nn"
	"atelier/engine/tensor"
)

// benchTorchScript times the same network in PyTorch (see its header).
//
//go:embed bench_torch.py
var benchTorchScript string

// defaultPython is Debian's interpreter, which has python3-torch; a python3
// found first on PATH (pyenv) usually does not.
const defaultPython = "/usr/bin/python3"

const benchHelp = `Usage:
  atelier bench vgg --size N [options]
        time VGG19 conv1_1 .. relu5_1 (random weights) on one N x N image:
        forward, and forward plus backward to the input, after warm-up;
        when PyTorch can be imported, the same network in PyTorch with
        two threads, one of its passes after each of Atelier's, so that
        both see the same load. The last line printed is one JSON object:
        {"size", "fwd_s", "fwdbwd_s", "peak_rss_bytes", "torch_fwdbwd_s",
        "ratio", ...}; ratio is Atelier's forward+backward time over
        PyTorch's (null without PyTorch). Times are the best of the
        iterations. peak_rss_bytes is Atelier's own peak resident memory
        (PyTorch runs in a child process).

Options for vgg:
`

// benchVGGReport is the JSON line `atelier bench vgg` ends with. The first
// six fields are the stable interface; the rest add context.
type benchVGGReport struct {
	Size         int      `json:"size"`
	FwdS         float64  `json:"fwd_s"`
	FwdBwdS      float64  `json:"fwdbwd_s"`
	PeakRSSBytes int64    `json:"peak_rss_bytes"`
	TorchFwdBwdS *float64 `json:"torch_fwdbwd_s"`
	Ratio        *float64 `json:"ratio"`
	TorchFwdS    *float64 `json:"torch_fwd_s"`
	Torch        string   `json:"torch,omitempty"` // PyTorch version, or why it did not run
	Precision    string   `json:"precision"`       // "exact" or "reduced" (nn.SetReducedPrecision)
	Iters        int      `json:"iters"`
	BLAS         string   `json:"blas"`
	Products     string   `json:"products"` // the 3x3 convolutions' product kernels (nn.WinogradProducts)
	Procs        int      `json:"procs"`
}

// runBench is the `bench` command: `atelier bench vgg --size N` or
// `atelier bench sr` (cmd_bench_sr.go).
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErrorf("bench needs a benchmark name: vgg, sr or style")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fs := benchVGGFlags(new(benchVGGConfig))
		fs.SetOutput(stdout)
		fmt.Fprint(stdout, benchHelp)
		fs.PrintDefaults()
		srfs := benchSRFlags(new(benchSRConfig))
		srfs.SetOutput(stdout)
		fmt.Fprint(stdout, "\n"+benchSRHelp)
		srfs.PrintDefaults()
		return nil
	case "sr":
		return runBenchSR(ctx, args[1:], stdout, stderr)
	case "style":
		return runBenchStyle(ctx, args[1:], stdout, stderr)
	case "vgg":
		var cfg benchVGGConfig
		fs := benchVGGFlags(&cfg)
		if err := fs.Parse(args[1:]); err != nil {
			_, err = helpOrUsage(fs, err, benchHelp, stdout)
			return err
		}
		if fs.NArg() > 0 {
			return usageErrorf("bench vgg takes no arguments besides its options, got %q", fs.Arg(0))
		}
		return cfg.run(ctx, stdout, stderr)
	}
	return usageErrorf("there is no benchmark called %q (try vgg, sr or style)", args[0])
}

// benchVGGConfig holds the options of `bench vgg`.
type benchVGGConfig struct {
	size, iters, warmup int
	torch               bool
	python              string
	precision           string
}

func benchVGGFlags(c *benchVGGConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("bench vgg", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&c.size, "size", 0, "image side in pixels, at least 16 (required)")
	fs.IntVar(&c.iters, "iters", 3, "timed iterations of each kind; the best counts")
	fs.IntVar(&c.warmup, "warmup", 1, "untimed forward+backward passes first")
	fs.BoolVar(&c.torch, "torch", true, "also time PyTorch when it can be imported")
	fs.StringVar(&c.python, "python", defaultPython, "Python interpreter for the PyTorch run")
	fs.StringVar(&c.precision, "precision", "exact", "exact (float32 accuracy), or reduced: 3x3 convolutions on AMX with\nabout 1e-4 relative error (nn.SetReducedPrecision)")
	return fs
}

func (c benchVGGConfig) run(ctx context.Context, stdout, stderr io.Writer) error {
	if c.size == 0 {
		return usageErrorf("bench vgg needs --size")
	}
	if c.size < 16 || c.size > 1<<14 {
		return usageErrorf("--size must be between 16 and 16384 pixels, got %d", c.size)
	}
	if c.iters < 1 || c.warmup < 0 {
		return usageErrorf("--iters must be at least 1 and --warmup at least 0")
	}
	switch c.precision {
	case "exact":
	case "reduced":
		nn.SetReducedPrecision(true)
		defer nn.SetReducedPrecision(false)
	default:
		return usageErrorf("--precision must be exact or reduced, got %q", c.precision)
	}
	fmt.Fprintf(stderr, "atelier: VGG19 to relu5_1 at %d px, %s precision, products on %s, %s sgemm, %d procs\n",
		c.size, c.precision, nn.WinogradProducts(), tensor.Backend(), nn.Workers())
	rep := benchVGGReport{Size: c.size, Precision: c.precision, Iters: c.iters, BLAS: tensor.Backend(),
		Products: nn.WinogradProducts(), Procs: nn.Workers()}
	// PyTorch, when it runs, builds and warms up its network first and then
	// times one pass after each of Atelier's, of the same kind.
	var torch *torchVGG
	var torchErr error
	if c.torch {
		torch, torchErr = startTorchVGG(ctx, c.python, c.size, c.warmup)
		if torchErr != nil && ctx.Err() != nil {
			return fmt.Errorf("bench: %w", ctx.Err())
		}
		if torch != nil {
			defer torch.close()
		}
	}
	theirs := map[string]float64{}
	res, err := bench.RunVGG(ctx, bench.VGGOptions{
		Size: c.size, Iters: c.iters, Warmup: max(c.warmup, 0),
		Progress: func(kind string, d time.Duration) {
			fmt.Fprintf(stderr, "atelier %-6s %.3f s\n", kind, d.Seconds())
			if torch == nil || torchErr != nil {
				return
			}
			s, err := torch.run(kind)
			if err != nil {
				torchErr = fmt.Errorf("%w: %v", errNoTorch, err)
				return
			}
			fmt.Fprintf(stderr, "pytorch %-6s %.3f s\n", kind, s)
			if b, ok := theirs[kind]; !ok || s < b {
				theirs[kind] = s
			}
		},
	})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	rep.FwdS, rep.FwdBwdS, rep.PeakRSSBytes = res.Fwd.Seconds(), res.FwdBwd.Seconds(), peakRSS()
	switch {
	case !c.torch:
	case torchErr != nil:
		rep.Torch = "not run: " + torchErr.Error()
		fmt.Fprintf(stderr, "atelier: PyTorch %s\n", rep.Torch)
	default:
		f, fb := theirs["fwd"], theirs["fwdbwd"]
		rep.Torch = torch.version
		rep.TorchFwdS, rep.TorchFwdBwdS = &f, &fb
		fmt.Fprintf(stderr, "best: atelier fwd %.3f s, fwdbwd %.3f s; pytorch fwd %.3f s, fwdbwd %.3f s",
			rep.FwdS, rep.FwdBwdS, f, fb)
		if fb > 0 {
			r := rep.FwdBwdS / fb
			rep.Ratio = &r
			fmt.Fprintf(stderr, "; ratio %.2f", r)
		}
		fmt.Fprintln(stderr)
	}
	line, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", line)
	return err
}

// errNoTorch reports that PyTorch could not be run or imported.
var errNoTorch = errors.New("PyTorch is not available")

// torchVGG is a running bench_torch.py, timing one pass per request.
type torchVGG struct{ *torchProc }

// startTorchVGG starts the embedded script with python for size x size
// images and waits until it has built the network and run warmup passes.
func startTorchVGG(ctx context.Context, python string, size, warmup int) (*torchVGG, error) {
	p, err := startTorchProc(ctx, python, "-c", benchTorchScript, strconv.Itoa(size), strconv.Itoa(warmup))
	if err != nil {
		return nil, err
	}
	return &torchVGG{p}, nil
}

// run times one pass of kind, "fwd" or "fwdbwd".
func (t *torchVGG) run(kind string) (float64, error) {
	return t.seconds(map[string]string{"cmd": "run", "kind": kind})
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
