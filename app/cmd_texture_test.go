package app

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atelier/engine/imageio"
	"atelier/engine/tensor"
)

// smallSample writes a copy of the shared starry_night scaled to a longer
// side of 96 px and returns its path.
func smallSample(t *testing.T, shared string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sample.png")
	img, err := imageio.Load(filepath.Join(shared, "images/style/starry_night.jpg"), imageio.Options{MaxSide: 96})
	if err == nil {
		err = imageio.SaveTensor(p, img.RGB, nil, imageio.SaveOptions{})
	}
	if err != nil {
		t.Fatalf("making a small sample: %v", err)
	}
	return p
}

// textureJSON parses the JSON line ending stdout and checks its keys.
func textureJSON(t *testing.T, stdout string) textureReport {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	last := lines[len(lines)-1]
	var rep textureReport
	if err := json.Unmarshal([]byte(last), &rep); err != nil {
		t.Fatalf("the last stdout line is not JSON: %v\n%s", err, stdout)
	}
	var raw map[string]any
	json.Unmarshal([]byte(last), &raw)
	for _, k := range []string{"out", "seconds", "iterations", "style_loss", "peak_rss_bytes", "first_frame_s", "seed", "method"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("the JSON line lacks %q: %s", k, last)
		}
	}
	return rep
}

func readTextureSettings(t *testing.T, path string) textureSettings {
	t.Helper()
	meta, err := imageio.ReadMetadata(path)
	if err != nil {
		t.Fatal(err)
	}
	var s textureSettings
	if err := json.Unmarshal([]byte(meta[imageio.SettingsKey]), &s); err != nil {
		t.Fatalf("settings in %s: %v", path, err)
	}
	return s
}

// TestTextureCommandPatch runs the patch method end to end: the image and
// its recorded settings, the JSON line (with the Gram loss measured on the
// result), progress lines, the refusal to overwrite, and identical bytes
// from the same seed with --force.
func TestTextureCommandPatch(t *testing.T) {
	sample := smallSample(t, stylizeEnv(t))
	out := filepath.Join(t.TempDir(), "tex.png")
	args := []string{"texture", "--sample", sample, "--method", "patch", "--size", "40x32", "--tileable", "--seed", "3", "--iters", "2", "--out", out}
	code, stdout, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	rep := textureJSON(t, stdout)
	if rep.Out != out || rep.Method != "patch" || rep.Seed != 3 || rep.Iterations < 2 || rep.Seconds <= 0 ||
		rep.FirstFrameS <= 0 || rep.FirstFrameS > rep.Seconds || rep.PatchLoss == nil || rep.StyleLoss == nil || *rep.StyleLoss <= 0 {
		t.Errorf("JSON line %s", strings.TrimSpace(stdout))
	}
	img, err := imageio.Load(out, imageio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w, h := img.Size(); w != 40 || h != 32 {
		t.Errorf("result is %dx%d, want 40x32", w, h)
	}
	s := readTextureSettings(t, out)
	if s.Kind != "texture" || s.Method != "patch" || s.Seed != 3 || !s.Tileable || s.Width != 40 || s.Height != 32 || s.Iterations != 2 || s.PatchSize != 9 || s.Sample != sample {
		t.Errorf("recorded settings %+v", s)
	}
	if !strings.Contains(stderr, "synthesising") || !strings.Contains(stderr, "iteration 1/") || strings.Contains(stderr, "\r") {
		t.Errorf("stderr (not a terminal) should hold plain progress lines:\n%s", stderr)
	}
	before, _ := os.ReadFile(out)

	code, _, stderr = runCLI(t, args...)
	if code != 1 || !strings.Contains(stderr, "already exists") {
		t.Errorf("second run: exit %d, stderr %q; want 1 and a refusal", code, stderr)
	}
	if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
		t.Error("the refused run changed the file")
	}
	code, _, stderr = runCLI(t, append(args, "--force")...)
	if code != 0 {
		t.Fatalf("--force: exit %d, %s", code, stderr)
	}
	if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
		t.Error("the same seed gave a different file")
	}
}

// TestTextureCommandGram runs the Gram method for a few iterations.
func TestTextureCommandGram(t *testing.T) {
	sample := smallSample(t, stylizeEnv(t))
	out := filepath.Join(t.TempDir(), "tex.jpg")
	code, stdout, stderr := runCLI(t, "texture", "--sample", sample, "--size", "48", "--iters", "3", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	rep := textureJSON(t, stdout)
	if rep.Method != "gram" || rep.Iterations != 3 || rep.StyleLoss == nil || *rep.StyleLoss <= 0 || rep.PatchLoss != nil || rep.Network != "vgg19-partial" {
		t.Errorf("JSON line %s", strings.TrimSpace(stdout))
	}
	if !strings.Contains(stderr, "loading the feature network") || !strings.Contains(stderr, "iteration 3/3") {
		t.Errorf("stderr:\n%s", stderr)
	}
	s := readTextureSettings(t, out)
	if s.Method != "gram" || s.Seed != rep.Seed || s.Network != "vgg19-partial" || s.Width != 48 || s.Height != 48 {
		t.Errorf("recorded settings %+v (JSON seed %d)", s, rep.Seed)
	}
}

func TestTextureUsage(t *testing.T) {
	dir := t.TempDir()
	sample := filepath.Join(dir, "s.png")
	if err := imageio.SaveTensor(sample, tensor.New(1, 3, 32, 32), nil, imageio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "o.png")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no sample", []string{"--out", out}, "needs --sample"},
		{"no out", []string{"--sample", sample}, "needs --out"},
		{"bad size", []string{"--sample", sample, "--out", out, "--size", "12y"}, "--size"},
		{"zero size", []string{"--sample", sample, "--out", out, "--size", "0x10"}, "--size"},
		{"bad method", []string{"--sample", sample, "--out", out, "--method", "quilt"}, "gram or patch"},
		{"bad extension", []string{"--sample", sample, "--out", filepath.Join(dir, "o.bmp")}, ".png, .jpg or .jpeg"},
		{"zero iterations", []string{"--sample", sample, "--out", out, "--iters", "0"}, "--iters"},
		{"even patch", []string{"--sample", sample, "--out", out, "--patch", "8"}, "--patch"},
		{"unknown option", []string{"--sample", sample, "--out", out, "--colour", "red"}, "no option"},
		{"stray argument", []string{"--sample", sample, "--out", out, "extra"}, "not an option"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, append([]string{"texture"}, tc.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "atelier help texture") {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, tc.want)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a usage error wrote the output")
	}
}

// TestTextureBadInput checks that unreadable or unusable samples give one
// plain line and exit status 1.
func TestTextureBadInput(t *testing.T) {
	dir := t.TempDir()
	tiny := filepath.Join(dir, "tiny.png")
	if err := imageio.SaveTensor(tiny, tensor.New(1, 3, 8, 40), nil, imageio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.png")
	os.WriteFile(junk, []byte("not an image"), 0o644)
	for _, tc := range []struct {
		name, sample, want string
	}{
		{"missing file", filepath.Join(dir, "nope.png"), "no such file"},
		{"tiny sample", tiny, "8"},
		{"not an image", junk, "junk.png"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name+".png")
			code, _, stderr := runCLI(t, "texture", "--sample", tc.sample, "--method", "patch", "--size", "32", "--out", out)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			last := lines[len(lines)-1]
			if code != exitFailed || !strings.HasPrefix(last, "atelier: ") || !strings.Contains(last, tc.want) ||
				strings.Contains(last, "imageio:") || strings.Contains(last, "texture:") {
				t.Errorf("exit %d, last line %q; want %d and a plain sentence mentioning %q", code, last, exitFailed, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a failed run wrote the output")
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string][2]int{"256": {256, 256}, "320x200": {320, 200}, " 64X48 ": {64, 48}} {
		w, h, err := parseSize(in)
		if err != nil || w != want[0] || h != want[1] {
			t.Errorf("parseSize(%q) = %d, %d, %v", in, w, h, err)
		}
	}
	for _, in := range []string{"", "x", "10x", "-5", "9000", "1.5x2"} {
		if _, _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}
