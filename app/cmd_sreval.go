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
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"atelier/engine/imageio"
	"atelier/engine/model"
	"atelier/engine/sr"
)

const srEvalHelp = `Usage:
  atelier sr-eval --set DIR --scale N [--method a,b,...] [options]

Measures upscaling methods on a folder of high-resolution images (PNG or
JPEG), the way super-resolution papers do: each image is cropped at the
bottom and right to a multiple of N, shrunk by N with the antialiased
bicubic filter (Keys a = -0.5 widened by N, Pillow's geometry; the same
filter the bicubic method enlarges with) and rounded to 8 bits; each method
enlarges that back, the result is rounded to 8 bits, and PSNR and SSIM are
computed on the luma Y (ITU-R BT.601, MATLAB's rgb2ycbcr) with a border of
N pixels left out. SSIM uses an 11x11 Gaussian window, sigma 1.5.

Prints one line per image and method, the mean per method, and ends with
one JSON line: {"set", "scale", "methods": {"bicubic": {"psnr", "ssim",
"seconds"}, ...}}; psnr and ssim are the means over the images, seconds the
total time spent upscaling. bicubic is always measured.

By default every method with a model for N that is present is measured
(default-x2 is left out: it is esrgan-slim x2). esrgan-thick is slow:
minutes per set on two cores.

Options:
`

// srEvalFlags holds the command line of `atelier sr-eval`.
type srEvalFlags struct {
	set     string
	scale   int
	methods string
	tile    int
	workers int
}

func newSREvalFlagSet(f *srEvalFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("sr-eval", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.set, "set", "", "the folder of high-resolution `DIR` images (required)")
	fs.IntVar(&f.scale, "scale", 0, "the factor `N` (required): 2, 3, 4 or 8")
	fs.StringVar(&f.methods, "method", "", "comma-separated method `NAMES` (default: every method present)")
	fs.IntVar(&f.tile, "tile", 0, "tile side in input `PIXELS` for the networks (0: automatic)")
	fs.IntVar(&f.workers, "workers", 1, "tiles run at once")
	return fs
}

// srEvalMethod is one method's mean result in the JSON line.
type srEvalMethod struct {
	PSNR    *float64 `json:"psnr"` // null when infinite (every image identical)
	SSIM    float64  `json:"ssim"`
	Seconds float64  `json:"seconds"`
}

// srEvalReport is the JSON line `atelier sr-eval` ends with.
type srEvalReport struct {
	Set     string                  `json:"set"`
	Scale   int                     `json:"scale"`
	Methods map[string]srEvalMethod `json:"methods"`
}

// srEvalCmd is `atelier sr-eval` with its outputs.
type srEvalCmd struct {
	tty    bool
	stdout io.Writer
	stderr io.Writer
}

// runSREval implements `atelier sr-eval`.
func runSREval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &srEvalCmd{tty: isTerminal(stderr), stdout: stdout, stderr: stderr}
	return c.run(ctx, args)
}

func (c *srEvalCmd) run(ctx context.Context, args []string) error {
	var f srEvalFlags
	fs := newSREvalFlagSet(&f)
	if err := fs.Parse(args); err != nil {
		_, err = helpOrUsage(fs, err, srEvalHelp, c.stdout)
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usageErrorf("%q is not an option of sr-eval", fs.Arg(0))
	case f.set == "":
		return usageErrorf("sr-eval needs --set DIR, a folder of high-resolution images")
	case f.scale == 0:
		return usageErrorf("sr-eval needs --scale N")
	case f.scale < 2 || f.scale > sr.MaxBicubicScale:
		return usageErrorf("--scale must be between 2 and %d", sr.MaxBicubicScale)
	case f.workers < 1 || f.workers > 16:
		return usageErrorf("--workers must be between 1 and 16")
	}
	methods, err := c.chooseMethods(f)
	if err != nil {
		return err
	}
	images, err := listImages(f.set)
	if err != nil {
		return err
	}
	setName := filepath.Base(filepath.Clean(f.set))
	fmt.Fprintf(c.stdout, "Set %s (%d images), x%d: Y-PSNR (dB) and SSIM, BT.601 luma, %d-pixel border shaved.\n", setName, len(images), f.scale, f.scale)

	rep := srEvalReport{Set: setName, Scale: f.scale, Methods: map[string]srEvalMethod{}}
	type row struct {
		name string
		mean srEvalMethod
		psnr float64
	}
	var rows []row
	nameWidth := len("mean")
	for _, p := range images {
		nameWidth = max(nameWidth, len(filepath.Base(p)))
	}
	methodWidth := 0
	for _, m := range methods {
		methodWidth = max(methodWidth, len(m))
	}
	lineFormat := fmt.Sprintf("%%-%ds  %%-%ds  %%6s dB  %%.4f  %%7.2f s\n", nameWidth, methodWidth)
	for _, name := range methods {
		u, err := sr.Open(name, f.scale, sr.Options{Tile: f.tile, Workers: f.workers})
		if err != nil {
			return plainSR(err)
		}
		var sumP, sumS float64
		var spent time.Duration
		for _, path := range images {
			q, d, err := c.evalOne(ctx, u, path, f.scale)
			if err != nil {
				return err
			}
			sumP += q.PSNR
			sumS += q.SSIM
			spent += d
			fmt.Fprintf(c.stdout, lineFormat, filepath.Base(path), name, formatPSNR(q.PSNR), q.SSIM, d.Seconds())
		}
		n := float64(len(images))
		mp := sumP / n
		m := srEvalMethod{SSIM: round4(sumS / n), Seconds: round3(spent.Seconds())}
		if !math.IsInf(mp, 0) && !math.IsNaN(mp) {
			v := math.Round(mp*1000) / 1000
			m.PSNR = &v
		}
		rep.Methods[name] = m
		rows = append(rows, row{name, m, mp})
		fmt.Fprintf(c.stdout, lineFormat, "mean", name, formatPSNR(mp), sumS/n, spent.Seconds())
	}
	fmt.Fprintln(c.stdout)
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "method\tPSNR\tSSIM\tseconds\t\n")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%.4f\t%.2f\t\n", r.name, formatPSNR(r.psnr), r.mean.SSIM, r.mean.Seconds)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	line, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "%s\n", line)
	return err
}

// chooseMethods resolves --method: the names given (bicubic added first
// when missing), or every method present for the scale.
func (c *srEvalCmd) chooseMethods(f srEvalFlags) ([]string, error) {
	if f.methods == "" {
		names := []string{"bicubic"}
		for _, m := range sr.Methods() {
			if m.Name == "bicubic" || m.Name == "default-x2" || !m.Supports(f.scale) {
				continue
			}
			if !m.Builtin() && !modelPresent(m.Model(f.scale)) {
				fmt.Fprintf(c.stderr, "note: %s is left out: its model %s is not here (\"atelier models fetch %s\" gets it)\n", m.Name, m.Model(f.scale), m.Model(f.scale))
				continue
			}
			names = append(names, m.Name)
		}
		return names, nil
	}
	names := []string{"bicubic"}
	for _, n := range strings.Split(f.methods, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		m, err := sr.LookupMethod(n)
		if err != nil {
			return nil, usageErrorf("there is no method %q; the methods are %s", n, strings.Join(sr.MethodNames(), ", "))
		}
		if err := m.CheckScale(f.scale); err != nil {
			return nil, usageErrorf("%s", plainSR(err))
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names, nil
}

// modelPresent reports whether the models folder holds name's model.json.
func modelPresent(name string) bool {
	dir, err := model.CacheDir()
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, name, "model.json"))
	return err == nil
}

// listImages returns the PNG and JPEG files of dir, sorted.
func listImages(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read the set %s: %w", dir, errors.Unwrap(err))
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".png", ".jpg", ".jpeg":
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the set %s holds no PNG or JPEG images", dir)
	}
	slices.Sort(out)
	return out, nil
}

// evalOne measures u on one high-resolution image.
func (c *srEvalCmd) evalOne(ctx context.Context, u sr.Upscaler, path string, scale int) (sr.Quality, time.Duration, error) {
	img, err := imageio.Load(path, imageio.Options{MinSide: -1})
	if err != nil {
		return sr.Quality{}, 0, err
	}
	lr, hr, err := sr.Downscale(img.RGB, scale)
	if err != nil {
		return sr.Quality{}, 0, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	bar := &tileBar{w: c.stderr, tty: c.tty, label: u.Name() + " " + filepath.Base(path)}
	var progress sr.Progress
	if c.tty {
		progress = bar.update
	}
	start := time.Now()
	out, err := u.Upscale(ctx, lr, progress)
	d := time.Since(start)
	bar.finish()
	if err != nil {
		return sr.Quality{}, 0, plainSR(err)
	}
	sr.Quantize(out.Data)
	q, err := sr.Compare(hr, out, scale)
	if err != nil {
		return sr.Quality{}, 0, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return q, d, nil
}

func formatPSNR(p float64) string {
	if math.IsInf(p, 1) {
		return "inf"
	}
	return fmt.Sprintf("%.2f", p)
}

func round4(v float64) float64 { return math.Round(v*10000) / 10000 }
