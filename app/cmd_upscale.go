package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"atelier/engine/imageio"
	"atelier/engine/sr"
	"atelier/engine/tensor"
)

const upscaleHelp = `Usage:
  atelier upscale [--method NAME] [--scale N] [--tile N] IN OUT

Enlarges the image IN by a whole factor and writes OUT (.png, .jpg or
.jpeg). Networks run tile by tile, so any image size works; the tiles
overlap and are cross-faded, so no seams show. Transparency is kept
(upscaled with bicubic). Grayscale images stay grayscale; 16-bit images are
read at full precision and written with 8 bits. Results over 100 megapixels
are refused. An existing OUT is never replaced without --force.

Methods (--method):
%s
The network methods need their weights: "atelier models list" shows what is
here, "make models" or "atelier models fetch NAME" gets them.

Options may come before or after IN and OUT:
`

// upscaleFlags holds the command line of `atelier upscale`.
type upscaleFlags struct {
	method        string
	scale         int
	tile, overlap int
	workers       int
	force         bool
	quality       int
}

func newUpscaleFlagSet(f *upscaleFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("upscale", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.method, "method", "esrgan-medium", "the upscaling `NAME` (see the list above)")
	fs.IntVar(&f.scale, "scale", 2, "the enlargement `N`: 2, 3, 4 or 8 for the networks, 1 to 16 for bicubic")
	fs.IntVar(&f.tile, "tile", 0, "tile side in input `PIXELS` (0: as large as about 1 GiB of network memory allows; -1: the whole image at once)")
	fs.IntVar(&f.overlap, "overlap", 0, "input `PIXELS` shared by neighbouring tiles (0: the method's default)")
	fs.IntVar(&f.workers, "workers", 1, "tiles run at once, each on its own copy of the network")
	fs.IntVar(&f.quality, "quality", imageio.DefaultQuality, "JPEG quality, 1-100")
	fs.BoolVar(&f.force, "force", false, "replace OUT when it exists")
	return fs
}

// methodList renders the methods for the help text.
func methodList() string {
	var sb strings.Builder
	for _, m := range sr.Methods() {
		scales := make([]string, len(m.Scales))
		for i, s := range m.Scales {
			scales[i] = fmt.Sprintf("x%d", s)
		}
		fmt.Fprintf(&sb, "  %-14s %s (%s)\n", m.Name, m.Description, strings.Join(scales, " "))
	}
	return sb.String()
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments, which it returns in order. A lone "--" ends
// the options.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// upscaleCmd is `atelier upscale` with its outputs.
type upscaleCmd struct {
	tty    bool
	stdout io.Writer
	stderr io.Writer
}

// upscaleSoftMemory is the soft memory limit `atelier upscale` gives the Go
// runtime unless GOMEMLIMIT sets one. By default the collector lets the
// heap grow to twice what was live at its last run, and an upscale holds
// large buffers (the decoded input, the float32 result, the 8-bit copy
// being encoded) beside the tiles' activations, so the freed ones pile up:
// x2 of a 4096x4096 image with esrgan-medium on the AMD machine peaked at
// 4.80 GiB without the limit and at 3.61 GiB with it, in the same time
// (2.20 GiB once the fused convolutions shared one concatenation buffer).
// It is a target for the collector, not a cap: a larger job still runs,
// with more collections.
const upscaleSoftMemory = 3 << 30

// runUpscale implements `atelier upscale`.
func runUpscale(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &upscaleCmd{tty: isTerminal(stderr), stdout: stdout, stderr: stderr}
	return c.run(ctx, args)
}

func (c *upscaleCmd) run(ctx context.Context, args []string) error {
	var f upscaleFlags
	fs := newUpscaleFlagSet(&f)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		_, err = helpOrUsage(fs, err, fmt.Sprintf(upscaleHelp, methodList()), c.stdout)
		return err
	}
	switch {
	case len(pos) < 2:
		return usageErrorf("upscale needs an input and an output image: atelier upscale IN OUT")
	case len(pos) > 2:
		return usageErrorf("upscale takes one input and one output image, got %d names (%s)", len(pos), strings.Join(pos, ", "))
	}
	in, out := pos[0], pos[1]
	if _, err := imageio.FormatFromPath(out); err != nil {
		return usageErrorf("the output %s must end in .png, .jpg or .jpeg", out)
	}
	if f.quality < 1 || f.quality > 100 {
		return usageErrorf("--quality must be between 1 and 100")
	}
	if f.workers < 1 || f.workers > 16 {
		return usageErrorf("--workers must be between 1 and 16")
	}
	if f.overlap < 0 {
		return usageErrorf("--overlap cannot be negative")
	}
	m, err := sr.LookupMethod(f.method)
	if err != nil {
		return usageErrorf("there is no method %q; the methods are %s", f.method, strings.Join(sr.MethodNames(), ", "))
	}
	if err := m.CheckScale(f.scale); err != nil {
		return usageErrorf("%s", plainSR(err))
	}
	if !f.force {
		if _, err := os.Stat(out); err == nil {
			return fmt.Errorf("%s already exists; give --force to replace it, or choose another output name", out)
		}
	}

	defer softMemoryLimit(upscaleSoftMemory)()
	img, err := imageio.Load(in, imageio.Options{MinSide: -1})
	if err != nil {
		return err
	}
	for _, n := range img.Notices {
		fmt.Fprintf(c.stderr, "note: %s\n", n)
	}
	w, h := img.Size()
	if err := sr.CheckOutputSize(w, h, f.scale); err != nil {
		return plainSR(err)
	}
	u, err := sr.Open(m.Name, f.scale, sr.Options{Tile: f.tile, Overlap: f.overlap, Workers: f.workers})
	if err != nil {
		return plainSR(err)
	}
	tiling := ""
	if n, ok := u.(*sr.Network); ok {
		tile, over := n.Tiling()
		if tile > 0 {
			tiling = fmt.Sprintf(", tiles of %d px overlapping by %d", tile, over)
		} else {
			tiling = ", whole image at once"
		}
	}
	fmt.Fprintf(c.stderr, "Upscaling %s (%d x %d) x%d with %s%s.\n", in, w, h, f.scale, m.Name, tiling)

	bar := &tileBar{w: c.stderr, tty: c.tty, label: m.Name}
	start := time.Now()
	rgb, alpha, err := sr.UpscaleImage(ctx, u, img.RGB, img.Alpha, bar.update)
	bar.finish()
	if err != nil {
		return plainSR(err)
	}
	if img.Gray {
		rgb = toGray(rgb)
	}
	settings, err := json.Marshal(map[string]any{"command": "upscale", "method": m.Name, "scale": f.scale, "input": in})
	if err != nil {
		return err
	}
	opt := imageio.SaveOptions{Quality: f.quality, Overwrite: f.force, Metadata: imageio.Metadata{imageio.SettingsKey: string(settings)}}
	if err := imageio.SaveTensor(out, rgb, alpha, opt); err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "Wrote %s (%d x %d) in %s.\n", out, w*f.scale, h*f.scale, roundDuration(time.Since(start)))
	return err
}

// plainSR drops the "sr: ..." sentinel prefixes from an engine error, which
// carries its own sentence.
func plainSR(err error) error {
	msg := err.Error()
	for _, s := range []error{sr.ErrModelMissing, sr.ErrTooLarge, sr.ErrScale, sr.ErrUnknownMethod} {
		if errors.Is(err, s) {
			msg = strings.Replace(msg, s.Error()+": ", "", 1)
		}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return errors.New(msg)
}

// toGray averages the channels of rgb ([1,3,H,W]) into [1,1,H,W].
func toGray(rgb *tensor.Tensor) *tensor.Tensor {
	_, _, h, w := rgb.Dims()
	n := h * w
	g := tensor.New(1, 1, h, w)
	for i := range n {
		g.Data[i] = (rgb.Data[i] + rgb.Data[n+i] + rgb.Data[2*n+i]) / 3
	}
	return g
}

// tileBar shows the tiles done. On a terminal it redraws one line at most
// every 100 ms; elsewhere it prints a line every few seconds and at the end.
type tileBar struct {
	w     io.Writer
	tty   bool
	label string
	// now is time.Now outside tests.
	now func() time.Time

	start, last time.Time
	drawn       bool
	width       int
}

func (b *tileBar) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

// update is an sr.Progress.
func (b *tileBar) update(done, total int) {
	now := b.clock()
	if done == 0 || b.start.IsZero() {
		b.start, b.last = now, time.Time{}
		if done == 0 && !b.tty {
			return
		}
	}
	if b.tty {
		if done < total && now.Sub(b.last) < 100*time.Millisecond {
			return
		}
	} else if done < total && now.Sub(b.last) < plainEvery {
		return
	}
	b.last = now
	line := b.describe(done, total, now)
	if !b.tty {
		fmt.Fprintln(b.w, line)
		return
	}
	pad := ""
	if n := b.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(b.w, "\r%s%s", line, pad)
	b.width, b.drawn = len(line), true
}

// describe is "[#####.....] esrgan-medium: tile 3/6, 4.2s, about 4.2s left".
func (b *tileBar) describe(done, total int, now time.Time) string {
	const width = 20
	fill := 0
	if total > 0 {
		fill = min(max(done*width/total, 0), width)
	}
	elapsed := now.Sub(b.start)
	s := fmt.Sprintf("[%s%s] %s: tile %d/%d, %s", strings.Repeat("#", fill), strings.Repeat(".", width-fill), b.label, done, total, roundDuration(elapsed))
	if done > 0 && done < total {
		left := time.Duration(float64(elapsed) / float64(done) * float64(total-done))
		s += fmt.Sprintf(", about %s left", roundDuration(left))
	}
	return s
}

// finish ends the terminal line.
func (b *tileBar) finish() {
	if b.tty && b.drawn {
		fmt.Fprintln(b.w)
		b.drawn, b.width = false, 0
	}
	b.start = time.Time{}
}
