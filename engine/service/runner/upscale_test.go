package runner

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atelier/engine/imageio"
	"atelier/engine/job"
	"atelier/engine/model"
	"atelier/engine/service"
	"atelier/engine/sr"
)

func upscaleService(dir string) *service.Service {
	return service.New(map[job.Kind]service.Runner{job.KindUpscale: &Upscale{ModelsDir: dir}})
}

// testPicture is a w x h gradient; with alpha its left half is
// transparent.
func testPicture(w, h int, alpha bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			a := uint8(255)
			if alpha && x < w/2 {
				a = 0
			}
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x * y) % 256), a})
		}
	}
	return img
}

func savePicture(t *testing.T, img image.Image) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.png")
	if err := imageio.Save(path, img, imageio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return path
}

// cacheModel returns the models folder when it holds the named model, and
// skips the test otherwise.
func cacheModel(t *testing.T, name string) string {
	t.Helper()
	dir, err := model.CacheDir()
	if err != nil {
		t.Skip(err)
	}
	if _, err := os.Stat(filepath.Join(dir, name, "model.json")); err != nil {
		t.Skipf("%s is not downloaded (make models)", name)
	}
	return dir
}

// TestUpscaleBicubicAlpha: bicubic x3 keeps the transparent half
// transparent and the opaque half opaque, and records its settings.
func TestUpscaleBicubicAlpha(t *testing.T) {
	in := savePicture(t, testPicture(20, 16, true))
	out := filepath.Join(t.TempDir(), "out.png")
	h, err := upscaleService(t.TempDir()).Start(context.Background(), job.Request{Kind: job.KindUpscale, Out: out,
		Upscale: &job.UpscaleOptions{Input: job.Source{Path: in}, Factor: 3, Method: "bicubic"}})
	if err != nil {
		t.Fatal(err)
	}
	u := finish(t, h)
	if u.Kind != job.Done {
		t.Fatalf("ended %v: %v", u.Kind, u.Err)
	}
	if u.Image.Rect.Dx() != 60 || u.Image.Rect.Dy() != 48 {
		t.Fatalf("result %v, want 60x48", u.Image.Rect)
	}
	if a := u.Image.RGBAAt(5, 20).A; a != 0 {
		t.Errorf("alpha in the transparent half %d, want 0", a)
	}
	if a := u.Image.RGBAAt(55, 20).A; a != 255 {
		t.Errorf("alpha in the opaque half %d, want 255", a)
	}
	if u.Frame == nil || u.Iteration != u.Total || u.Total < 1 {
		t.Errorf("frame %v, progress %d/%d", u.Frame != nil, u.Iteration, u.Total)
	}
	meta, err := imageio.ReadMetadata(out)
	if err != nil {
		t.Fatal(err)
	}
	var got job.UpscaleOptions
	if err := json.Unmarshal([]byte(meta[imageio.SettingsKey]), &got); err != nil {
		t.Fatal(err)
	}
	if got.Method != "bicubic" || got.Factor != 3 || !filepath.IsAbs(got.Input.Path) || meta[KindKey] != "upscale" {
		t.Errorf("recorded %+v, kind %q", got, meta[KindKey])
	}
	back, err := imageio.Load(out, imageio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if back.Alpha == nil {
		t.Error("the written file lost its alpha channel")
	}
}

// TestUpscaleGray: a grayscale input stays gray whatever the method.
func TestUpscaleGray(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range g.Pix {
		g.Pix[i] = uint8(i * 7)
	}
	h, err := upscaleService(t.TempDir()).Start(context.Background(), job.Request{Kind: job.KindUpscale,
		Upscale: &job.UpscaleOptions{Input: job.Source{Path: savePicture(t, g)}}})
	if err != nil {
		t.Fatal(err)
	}
	u := finish(t, h)
	if u.Kind != job.Done || u.Image.Rect.Dx() != 32 {
		t.Fatalf("ended %v (%v), image %v", u.Kind, u.Err, u.Image)
	}
	for i := 0; i < len(u.Image.Pix); i += 4 {
		if p := u.Image.Pix[i : i+3]; p[0] != p[1] || p[1] != p[2] {
			t.Fatalf("pixel %d is coloured: %v", i/4, p)
		}
	}
}

// TestUpscaleNetworkTiles runs esrgan-slim x2 in 16 px tiles and checks
// that the progress counts tiles.
func TestUpscaleNetworkTiles(t *testing.T) {
	dir := cacheModel(t, "esrgan-slim-x2")
	h, err := upscaleService(dir).Start(context.Background(), job.Request{Kind: job.KindUpscale,
		Upscale: &job.UpscaleOptions{Input: job.Source{Image: testPicture(40, 24, false)}, Factor: 2, Method: "esrgan-slim", Tile: 16}})
	if err != nil {
		t.Fatal(err)
	}
	var totals []int
	var last job.Update
	for u := range h.Updates() {
		if u.Kind == job.Progress && u.Total > 0 {
			totals = append(totals, u.Total)
		}
		last = u
	}
	if last.Kind != job.Done {
		t.Fatalf("ended %v: %v", last.Kind, last.Err)
	}
	if last.Image.Rect.Dx() != 80 || last.Image.Rect.Dy() != 48 {
		t.Errorf("result %v, want 80x48", last.Image.Rect)
	}
	if last.Total < 4 || last.Iteration != last.Total {
		t.Errorf("final progress %d/%d, want all of several tiles", last.Iteration, last.Total)
	}
	if len(totals) == 0 {
		t.Error("no tile progress reached the reader")
	}
}

// TestUpscaleCancel: a cancelled network run ends Cancelled promptly.
func TestUpscaleCancel(t *testing.T) {
	dir := cacheModel(t, "esrgan-slim-x2")
	h, err := upscaleService(dir).Start(context.Background(), job.Request{Kind: job.KindUpscale,
		Upscale: &job.UpscaleOptions{Input: job.Source{Image: testPicture(256, 256, false)}, Method: "esrgan-slim", Tile: 16}})
	if err != nil {
		t.Fatal(err)
	}
	for u := range h.Updates() {
		if u.Kind.Final() {
			t.Fatalf("ended %v before it was cancelled", u.Kind)
		}
		if u.Iteration > 0 {
			break
		}
	}
	at := time.Now()
	h.Cancel()
	if u := h.Wait(); u.Kind != job.Cancelled {
		t.Fatalf("ended %v (%v), want cancelled", u.Kind, u.Err)
	}
	if d := time.Since(at); d > 5*time.Second {
		t.Errorf("cancelling took %v", d)
	}
}

// TestUpscaleErrors: unknown methods, unsupported factors and missing
// models end the job with a sentence saying what to do.
func TestUpscaleErrors(t *testing.T) {
	in := savePicture(t, testPicture(16, 16, false))
	cases := []struct {
		name    string
		o       job.UpscaleOptions
		want    error
		mention []string
	}{
		{"unknown method", job.UpscaleOptions{Method: "magic"}, sr.ErrUnknownMethod, []string{`"magic"`, "bicubic", "esrgan-thick"}},
		{"unsupported factor", job.UpscaleOptions{Method: "esrgan-slim", Factor: 5}, sr.ErrScale, []string{"x2, x3, x4 or x8"}},
		{"missing model", job.UpscaleOptions{Method: "esrgan-slim", Factor: 4}, sr.ErrModelMissing, []string{"atelier models fetch esrgan-slim-x4"}},
	}
	svc := upscaleService(t.TempDir()) // an empty models folder
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.o.Input = job.Source{Path: in}
			h, err := svc.Start(context.Background(), job.Request{Kind: job.KindUpscale, Upscale: &c.o})
			if err != nil {
				t.Fatal(err)
			}
			u := h.Wait()
			if u.Kind != job.Error || !errors.Is(u.Err, c.want) {
				t.Fatalf("ended %v (%v), want an error wrapping %v", u.Kind, u.Err, c.want)
			}
			for _, m := range c.mention {
				if !strings.Contains(u.Err.Error(), m) {
					t.Errorf("%q does not mention %q", u.Err, m)
				}
			}
			if strings.HasPrefix(u.Err.Error(), "runner:") {
				t.Errorf("%q keeps the package prefix", u.Err)
			}
		})
	}
}

// TestUpscaleMethods: the listing says which factors' models are here.
func TestUpscaleMethods(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "esrgan-slim-x2"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "esrgan-slim-x2", "model.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	methods := upscaleService(dir).UpscaleMethods()
	byName := map[string]job.UpscaleMethod{}
	for _, m := range methods {
		byName[m.Name] = m
	}
	if len(methods) != len(sr.MethodNames()) {
		t.Errorf("%d methods listed, sr has %d", len(methods), len(sr.MethodNames()))
	}
	bic, ok := byName["bicubic"].Scale(4)
	if !ok || !bic.Present || bic.Model != "" {
		t.Errorf("bicubic x4: %+v, %v", bic, ok)
	}
	slim := byName["esrgan-slim"]
	if s, _ := slim.Scale(2); !s.Present || s.Model != "esrgan-slim-x2" {
		t.Errorf("slim x2: %+v", s)
	}
	if s, _ := slim.Scale(4); s.Present || s.FetchCommand() != "atelier models fetch esrgan-slim-x4" {
		t.Errorf("slim x4: %+v", s)
	}
	if service.New(nil).UpscaleMethods() != nil {
		t.Error("a service without an upscaler lists methods")
	}
}
