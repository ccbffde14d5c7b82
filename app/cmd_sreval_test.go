package app

import (
	"encoding/json"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atelier/engine/model"
	"atelier/engine/sr"
)

// srEvalJSON decodes the JSON line sr-eval ends with.
func srEvalJSON(t *testing.T, stdout string) srEvalReport {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var rep srEvalReport
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	return rep
}

// smallSet writes two synthetic 30 x 26 images into a new folder.
func smallSet(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tiny")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, name := range []string{"a.png", "b.png"} {
		img := image.NewRGBA(image.Rect(0, 0, 30, 26))
		for y := range 26 {
			for x := range 30 {
				v := 128 + 100*math.Sin(float64(x+k)*1.3)*math.Cos(float64(y)*0.9)
				img.Set(x, y, color.RGBA{uint8(v), uint8(255 - v), uint8(x * 8), 255})
			}
		}
		writePNG(t, dir, name, img)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSREvalSmallSet(t *testing.T) {
	set := smallSet(t)
	t.Setenv("ATELIER_MODELS", t.TempDir()) // no models: bicubic only
	code, stdout, stderr := runCLI(t, "sr-eval", "--set", set, "--scale", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "note: esrgan-slim is left out: its model esrgan-slim-x2 is not here") {
		t.Errorf("stderr %q", stderr)
	}
	for _, want := range []string{"a.png", "b.png", "mean", "bicubic"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	rep := srEvalJSON(t, stdout)
	builtin := 0 // the project's own networks need no models folder
	for _, m := range sr.Methods() {
		if m.Builtin() && m.Name != "bicubic" && m.Supports(2) {
			builtin++
		}
	}
	if rep.Set != "tiny" || rep.Scale != 2 || len(rep.Methods) != 1+builtin {
		t.Fatalf("report %+v", rep)
	}
	b := rep.Methods["bicubic"]
	if b.PSNR == nil || *b.PSNR < 20 || *b.PSNR > 60 || b.SSIM <= 0.5 || b.SSIM > 1 {
		t.Errorf("bicubic %+v (psnr %v)", b, *b.PSNR)
	}
}

// TestSREvalReproducesCSet5 measures bicubic x2 on CSet5: MODELS.md's
// independent implementation gives 33.67 dB.
func TestSREvalReproducesCSet5(t *testing.T) {
	shared, err := model.SharedDir()
	if err != nil {
		t.Skip(err)
	}
	set := filepath.Join(shared, "sr", "CSet5")
	if _, err := os.Stat(set); err != nil {
		t.Skip(err)
	}
	methods := "bicubic"
	if cache, err := model.CacheDir(); err == nil && !raceDetector {
		if _, err := os.Stat(filepath.Join(cache, "esrgan-slim-x3", "model.json")); err == nil {
			methods = "esrgan-slim"
		}
	}
	code, stdout, stderr := runCLI(t, "sr-eval", "--set", set, "--scale", "3", "--method", methods)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rep := srEvalJSON(t, stdout)
	want := map[string]float64{"bicubic": 30.40, "esrgan-slim": 30.84} // MODELS.md
	for name, m := range rep.Methods {
		if m.PSNR == nil || math.Abs(*m.PSNR-want[name]) > 0.02 {
			t.Errorf("%s: %v dB, MODELS.md has %.2f", name, m.PSNR, want[name])
		}
	}
	if _, ok := rep.Methods[methods]; !ok || len(rep.Methods) != len(want) && methods != "bicubic" {
		t.Errorf("methods %v", rep.Methods)
	}
}

func TestSREvalUsage(t *testing.T) {
	set := smallSet(t)
	empty := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no set", []string{"sr-eval", "--scale", "2"}, 2, "sr-eval needs --set DIR"},
		{"no scale", []string{"sr-eval", "--set", set}, 2, "sr-eval needs --scale N"},
		{"scale 1", []string{"sr-eval", "--set", set, "--scale", "1"}, 2, "--scale must be between 2 and 16"},
		{"unknown method", []string{"sr-eval", "--set", set, "--scale", "2", "--method", "bicubic,lanczos"}, 2, `there is no method "lanczos"`},
		{"scale the model lacks", []string{"sr-eval", "--set", set, "--scale", "5", "--method", "esrgan-medium"}, 2, "esrgan-medium has no x5 model"},
		{"stray argument", []string{"sr-eval", "--set", set, "--scale", "2", "extra"}, 2, `"extra" is not an option of sr-eval`},
		{"empty folder", []string{"sr-eval", "--set", empty, "--scale", "2", "--method", "bicubic"}, 1, "holds no PNG or JPEG images"},
		{"no folder", []string{"sr-eval", "--set", filepath.Join(empty, "nope"), "--scale", "2", "--method", "bicubic"}, 1, "cannot read the set"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, c.args...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q, want %d and %q", code, stderr, c.code, c.want)
			}
		})
	}
	t.Run("missing model named explicitly", func(t *testing.T) {
		t.Setenv("ATELIER_MODELS", empty)
		code, _, stderr := runCLI(t, "sr-eval", "--set", set, "--scale", "2", "--method", "esrgan-slim")
		if code != 1 || !strings.Contains(stderr, `"atelier models fetch esrgan-slim-x2"`) {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}
