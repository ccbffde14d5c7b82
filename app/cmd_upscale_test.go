package app

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"atelier/engine/imageio"
	"atelier/engine/model"
)

// writePNG encodes img to dir/name and returns the path.
func writePNG(t *testing.T, dir, name string, img image.Image) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCLI is in cmd_stylize_test.go.

func TestUpscaleCommand(t *testing.T) {
	dir := t.TempDir()
	// A colour picture whose left half is transparent, fading in.
	rgba := image.NewNRGBA(image.Rect(0, 0, 20, 16))
	for y := range 16 {
		for x := range 20 {
			rgba.SetNRGBA(x, y, color.NRGBA{uint8(12 * x), uint8(15 * y), 128, uint8(min(255, max(0, (x-8)*40)))})
		}
	}
	in := writePNG(t, dir, "in.png", rgba)
	out := filepath.Join(dir, "out.png")

	code, stdout, stderr := runCLI(t, "upscale", "--method", "bicubic", "--scale", "2", in, out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "Wrote "+out+" (40 x 32)") {
		t.Errorf("stdout %q", stdout)
	}
	got, err := imageio.Load(out, imageio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w, h := got.Size(); w != 40 || h != 32 || got.Alpha == nil {
		t.Fatalf("got %d x %d, alpha %v", w, h, got.Alpha != nil)
	}
	if a := got.Alpha.Data; a[0] != 0 || a[39] != 255 || a[31*40+39] != 255 {
		t.Errorf("alpha at the corners: %g %g %g", a[0], a[39], a[31*40+39])
	}

	t.Run("refuses to overwrite", func(t *testing.T) {
		before, _ := os.ReadFile(out)
		code, _, stderr := runCLI(t, "upscale", "--method", "bicubic", in, out)
		if code != 1 || !strings.Contains(stderr, "already exists; give --force") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
		after, _ := os.ReadFile(out)
		if !bytes.Equal(before, after) {
			t.Error("the existing file was changed")
		}
		if code, _, stderr := runCLI(t, "upscale", "--method", "bicubic", "--scale", "3", "--force", in, out); code != 0 {
			t.Errorf("--force: exit %d, %s", code, stderr)
		}
	})
	t.Run("options after the file names", func(t *testing.T) {
		o := filepath.Join(dir, "after.jpg")
		code, _, stderr := runCLI(t, "upscale", in, o, "--scale", "3", "--method=bicubic")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if img, err := imageio.Load(o, imageio.Options{}); err != nil || img.RGB.Shape[3] != 60 {
			t.Errorf("%v %v", err, img)
		}
	})
	t.Run("gray stays gray, 16-bit is read", func(t *testing.T) {
		g := image.NewGray16(image.Rect(0, 0, 9, 7))
		for i := range 9 * 7 {
			g.SetGray16(i%9, i/9, color.Gray16{Y: uint16(i * 1000)})
		}
		gin := writePNG(t, dir, "gray16.png", g)
		gout := filepath.Join(dir, "gray-out.png")
		if code, _, stderr := runCLI(t, "upscale", "--method", "bicubic", "--scale", "4", gin, gout); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		img, err := imageio.Load(gout, imageio.Options{MinSide: -1})
		if err != nil {
			t.Fatal(err)
		}
		if w, h := img.Size(); !img.Gray || w != 36 || h != 28 {
			t.Errorf("gray %v, %d x %d", img.Gray, w, h)
		}
		// Last row of the input is 54000..62000 (of 65535): bright.
		if v := img.RGB.Data[27*36+35]; v < 200 {
			t.Errorf("bottom-right value %g, want about 241", v)
		}
	})
	t.Run("results over 100 megapixels are refused", func(t *testing.T) {
		big := writePNG(t, dir, "big.png", image.NewGray(image.Rect(0, 0, 1000, 1000)))
		code, _, stderr := runCLI(t, "upscale", "--method", "bicubic", "--scale", "11", big, filepath.Join(dir, "huge.png"))
		if code != 1 || !strings.Contains(stderr, "11000 x 11000 pixels (121.0 megapixels), over the limit of 100 megapixels") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
		if strings.Contains(stderr, "sr:") {
			t.Errorf("engine prefix in %q", stderr)
		}
	})
	t.Run("missing model", func(t *testing.T) {
		t.Setenv("ATELIER_MODELS", t.TempDir())
		code, _, stderr := runCLI(t, "upscale", "--method", "esrgan-thick", "--scale", "4", in, filepath.Join(dir, "t.png"))
		if code != 1 || !strings.Contains(stderr, `"make models" or "atelier models fetch esrgan-thick-x4"`) {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}

// TestUpscaleSoftMemoryLimit checks that upscale puts the memory limit back
// when it ends (it holds softMemoryLimit's limit while it runs).
func TestUpscaleSoftMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(math.MaxInt64 - 1)
	defer debug.SetMemoryLimit(before)
	dir := t.TempDir()
	in := writePNG(t, dir, "in.png", image.NewNRGBA(image.Rect(0, 0, 8, 8)))
	if code, _, stderr := runCLI(t, "upscale", "--method", "bicubic", in, filepath.Join(dir, "out.png")); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64-1 {
		t.Errorf("memory limit %d after upscale, want the previous %d", got, int64(math.MaxInt64-1))
	}
}

func TestUpscaleUsage(t *testing.T) {
	dir := t.TempDir()
	in := writePNG(t, dir, "in.png", image.NewGray(image.Rect(0, 0, 8, 8)))
	out := filepath.Join(dir, "out.png")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no files", []string{"upscale"}, "upscale needs an input and an output image"},
		{"one file", []string{"upscale", in}, "upscale needs an input and an output image"},
		{"three files", []string{"upscale", in, out, "x.png"}, "takes one input and one output image, got 3"},
		{"unknown method", []string{"upscale", "--method", "waifu", in, out},
			`there is no method "waifu"; the methods are bicubic, default-x2, esrgan-slim, esrgan-medium, esrgan-thick`},
		{"scale the model lacks", []string{"upscale", "--method", "esrgan-slim", "--scale", "5", in, out}, "esrgan-slim has no x5 model; it upscales x2, x3, x4 or x8"},
		{"bicubic scale", []string{"upscale", "--method", "bicubic", "--scale", "0", in, out}, "whole factor from 1 to 16, not 0"},
		{"output format", []string{"upscale", in, filepath.Join(dir, "out.tiff")}, "must end in .png, .jpg or .jpeg"},
		{"quality", []string{"upscale", "--quality", "0", in, out}, "--quality must be between 1 and 100"},
		{"unknown option", []string{"upscale", "--colour", "x", in, out}, "there is no option -colour"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, c.args...)
			if code != 2 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, `Run "atelier help upscale"`) {
				t.Errorf("exit %d, stderr %q, want %q", code, stderr, c.want)
			}
		})
	}
	code, stdout, _ := runCLI(t, "help", "upscale")
	if code != 0 || !strings.Contains(stdout, "esrgan-thick") || !strings.Contains(stdout, "-tile") {
		t.Errorf("help: exit %d, %q", code, stdout)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a usage error wrote the output")
	}
}

// TestUpscaleNetwork runs the smallest network end to end.
func TestUpscaleNetwork(t *testing.T) {
	cache, err := model.CacheDir()
	if err != nil {
		t.Skip(err)
	}
	if _, err := os.Stat(filepath.Join(cache, "esrgan-slim-x2", "model.json")); err != nil {
		t.Skip("esrgan-slim-x2 is not in the models folder")
	}
	dir := t.TempDir()
	src := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 7)
		if i%4 == 3 {
			src.Pix[i] = 255 // opaque
		}
	}
	in := writePNG(t, dir, "in.png", src)
	out := filepath.Join(dir, "out.png")
	code, _, stderr := runCLI(t, "upscale", "--method", "esrgan-slim", "--tile", "24", in, out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "with esrgan-slim, tiles of 24 px overlapping by 12") || !strings.Contains(stderr, "tile 6/6") {
		t.Errorf("stderr %q", stderr)
	}
	img, err := imageio.Load(out, imageio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w, h := img.Size(); w != 80 || h != 60 || img.Alpha != nil {
		t.Errorf("%d x %d, alpha %v", w, h, img.Alpha != nil)
	}
}

func TestTileBar(t *testing.T) {
	clock := time.Unix(0, 0)
	now := func() time.Time { return clock }
	var plain bytes.Buffer
	b := &tileBar{w: &plain, label: "esrgan-slim", now: now}
	b.update(0, 4)
	for i := 1; i <= 4; i++ {
		clock = clock.Add(2 * time.Second)
		b.update(i, 4)
	}
	b.finish()
	// Off a terminal: the first tile, then a line every 5 s at most,
	// and the last one.
	want := "[#####...............] esrgan-slim: tile 1/4, 2s, about 6s left\n[####################] esrgan-slim: tile 4/4, 8s\n"
	if plain.String() != want {
		t.Errorf("plain output %q, want %q", plain.String(), want)
	}
	var tty bytes.Buffer
	b = &tileBar{w: &tty, tty: true, label: "x", now: now}
	b.update(0, 2)
	clock = clock.Add(time.Second)
	b.update(1, 2)
	clock = clock.Add(time.Second)
	b.update(2, 2)
	b.finish()
	if s := tty.String(); strings.Count(s, "\r") != 3 || !strings.Contains(s, "\r[##########..........] x: tile 1/2, 1s, about 1s left\r") ||
		!strings.HasSuffix(s, "tile 2/2, 2s"+strings.Repeat(" ", 15)+"\n") {
		t.Errorf("terminal output %q", s)
	}
}
