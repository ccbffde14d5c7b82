package app

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atelier/engine/imageio"
	"atelier/engine/job"
)

// stylizeEnv points the model folders at an empty cache and the shared
// reference folder, so that the partial VGG19 is the network found
// whatever this machine has downloaded. It returns the shared folder.
func stylizeEnv(t *testing.T) string {
	t.Helper()
	shared := os.Getenv("ATELIER_SHARED")
	if shared == "" {
		shared = filepath.Join(repoRoot(t), "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(shared, "models", "vgg19-tfjs", "model.json")); err != nil {
		t.Skipf("the shared reference folder has no partial VGG19: %v", err)
	}
	t.Setenv("ATELIER_SHARED", shared)
	t.Setenv("ATELIER_MODELS", t.TempDir())
	return shared
}

// smallInputs returns copies of the shared content and style pictures
// (tubingen, starry_night) scaled to a longer side of 96 px: decoding the
// full-size JPEGs for every run would dominate the time under -race.
func smallInputs(t *testing.T, shared string) (content, style string) {
	t.Helper()
	dir := t.TempDir()
	content, style = filepath.Join(dir, "content.png"), filepath.Join(dir, "style.png")
	for src, dst := range map[string]string{"images/content/tubingen.jpg": content, "images/style/starry_night.jpg": style} {
		img, err := imageio.Load(filepath.Join(shared, src), imageio.Options{MaxSide: 96})
		if err == nil {
			err = imageio.SaveTensor(dst, img.RGB, nil, imageio.SaveOptions{})
		}
		if err != nil {
			t.Fatalf("making a small copy of %s: %v", src, err)
		}
	}
	return content, style
}

// runCLI runs one atelier command line the way Main does.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := cli{stdout: &out, stderr: &errb, studio: (&fakeStudio{}).run}
	code = c.run(context.Background(), args)
	return code, out.String(), errb.String()
}

func tinyArgs(content, style, out string, extra ...string) []string {
	args := []string{"stylize",
		"--content", content,
		"--style", style + ":1",
		"--size", "64", "--iters", "3", "--scales", "1", "--seed", "11",
		"--out", out}
	return append(args, extra...)
}

func lastJSON(t *testing.T, stdout string) stylizeReport {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var rep stylizeReport
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("the last stdout line is not JSON: %v\n%s", err, stdout)
	}
	var raw map[string]any
	json.Unmarshal([]byte(lines[len(lines)-1]), &raw)
	for _, k := range []string{"out", "seconds", "iterations", "content_loss", "style_loss", "peak_rss_bytes", "first_frame_s"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("the JSON line lacks %q: %s", k, lines[len(lines)-1])
		}
	}
	return rep
}

func readSettings(t *testing.T, path string) job.StylizeOptions {
	t.Helper()
	meta, err := imageio.ReadMetadata(path)
	if err != nil {
		t.Fatal(err)
	}
	var o job.StylizeOptions
	if err := json.Unmarshal([]byte(meta[imageio.SettingsKey]), &o); err != nil {
		t.Fatalf("settings in %s: %v", path, err)
	}
	return o
}

// TestStylizeCommand runs the command end to end at 64 px: the image, the
// JSON line, the progress lines, the refusal to overwrite, and a rerun with
// --from (explicit flags winning) that replaces the file with --force.
func TestStylizeCommand(t *testing.T) {
	content, style := smallInputs(t, stylizeEnv(t))
	dir := t.TempDir()
	out := filepath.Join(dir, "out.png")

	code, stdout, stderr := runCLI(t, tinyArgs(content, style, out)...)
	if code != 0 {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	rep := lastJSON(t, stdout)
	if rep.Out != out || rep.Iterations != 3 || rep.Seconds <= 0 || rep.StyleLoss <= 0 || rep.ContentLoss < 0 ||
		rep.FirstFrameS <= 0 || rep.FirstFrameS > rep.Seconds || rep.Network != "vgg19-partial" {
		t.Errorf("JSON line %+v", rep)
	}
	if rep.PeakRSSBytes <= 0 {
		t.Logf("peak RSS not measured here: %d", rep.PeakRSSBytes)
	}
	img, err := imageio.Load(out, imageio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, h, w := img.RGB.Dims(); max(w, h) != 64 {
		t.Errorf("result is %dx%d, want a longer side of 64", w, h)
	}
	if !strings.Contains(stderr, "iteration 1/3") || !strings.Contains(stderr, "iteration 3/3") || strings.Contains(stderr, "\r") {
		t.Errorf("stderr (not a terminal) should hold plain progress lines:\n%s", stderr)
	}
	first := readSettings(t, out)
	if first.Seed != 11 || first.Size != 64 || first.Iterations != 3 || first.Scales != 1 || len(first.Styles) != 1 {
		t.Errorf("recorded settings %+v", first)
	}
	before, _ := os.ReadFile(out)

	t.Run("refuses to overwrite", func(t *testing.T) {
		code, _, stderr := runCLI(t, tinyArgs(content, style, out)...)
		if code != 1 || !strings.Contains(stderr, "already exists") || !strings.Contains(stderr, "--force") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		if after, _ := os.ReadFile(out); !bytes.Equal(after, before) {
			t.Error("the existing file was changed")
		}
	})

	// --from reads the settings of out and then, with --force, replaces
	// it: the explicit flags win over the stored settings.
	t.Run("from and force", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "stylize", "--from", out, "--iters", "2", "--tv-weight", "0", "--out", out, "--force")
		if code != 0 {
			t.Fatalf("exit %d\nstderr: %s", code, stderr)
		}
		if rep := lastJSON(t, stdout); rep.Iterations != 2 || rep.Out != out {
			t.Errorf("JSON line %+v", rep)
		}
		if after, _ := os.ReadFile(out); bytes.Equal(after, before) {
			t.Error("--force did not replace the file")
		}
		got := readSettings(t, out)
		want := first
		want.Iterations, want.TVWeight = 2, -1
		if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
			t.Errorf("--from settings:\n got %s\nwant %s", g, w)
		}
	})
}

// TestStylizeItersCountsEveryScale: --iters is the total over the
// coarse-to-fine scales, and the JSON line says how many ran.
func TestStylizeItersCountsEveryScale(t *testing.T) {
	content, style := smallInputs(t, stylizeEnv(t))
	out := filepath.Join(t.TempDir(), "out.png")
	args := tinyArgs(content, style, out, "--scales", "2", "--iters", "4")
	code, stdout, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	if rep := lastJSON(t, stdout); rep.Iterations != 4 {
		t.Errorf("the JSON line says %d iterations, want 4", rep.Iterations)
	}
	if !strings.Contains(stderr, "iteration 4/4") || strings.Contains(stderr, "iteration 5") {
		t.Errorf("progress should end at iteration 4 of 4:\n%s", stderr)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStylizeBadInput: every bad input is one plain sentence on stderr,
// exit 1 (or 2 for a wrong command line), and never a panic.
func TestStylizeBadInput(t *testing.T) {
	content, style := smallInputs(t, stylizeEnv(t))
	dir := t.TempDir()
	tiny := filepath.Join(dir, "tiny.png")
	f, _ := os.Create(tiny)
	png.Encode(f, image.NewRGBA(image.Rect(0, 0, 9, 9)))
	f.Close()
	corrupt := filepath.Join(dir, "corrupt.png")
	os.WriteFile(corrupt, []byte("\x89PNG\r\n\x1a\n truncated"), 0o644)
	plain := filepath.Join(dir, "plain.png")
	f, _ = os.Create(plain)
	png.Encode(f, image.NewRGBA(image.Rect(0, 0, 32, 32)))
	f.Close()
	out := filepath.Join(dir, "out.png")

	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing content", []string{"--content", filepath.Join(dir, "nope.jpg"), "--style", style}, 1, "cannot open nope.jpg: there is no such file"},
		{"corrupt style", []string{"--content", content, "--style", corrupt}, 1, "corrupt.png"},
		{"tiny content", []string{"--content", tiny, "--style", style}, 1, "too small"},
		{"all style weights zero", []string{"--content", content, "--style", style + ":0", "--style", content + ":0"}, 2, "every style weight is zero"},
		{"unknown network", []string{"--content", content, "--style", style, "--network", "alexnet"}, 2, `"alexnet" is not a feature network`},
		{"resnet not downloaded", []string{"--content", content, "--style", style, "--network", "resnet50"}, 1, "atelier models fetch resnet50-imagenet"},
		{"no style", []string{"--content", content}, 2, "at least one --style"},
		{"negative weight", []string{"--content", content, "--style", style + ":-1"}, 2, "zero or more"},
		{"bad optimizer", []string{"--content", content, "--style", style, "--optimizer", "sgd"}, 2, "optimizer"},
		{"from without settings", []string{"--from", plain}, 1, "holds no Atelier settings"},
		{"from missing", []string{"--from", filepath.Join(dir, "gone.png")}, 1, "gone.png"},
		{"stray argument", []string{"--content", content, "--style", style, "extra"}, 2, `"extra" is not an option`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"stylize", "--size", "64", "--iters", "2", "--scales", "1", "--out", out}, c.args...)
			code, stdout, stderr := runCLI(t, args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstderr: %s", code, c.code, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			msg := ""
			for _, l := range lines {
				if strings.HasPrefix(l, "atelier: ") {
					msg = l
				}
			}
			if msg == "" || !strings.Contains(msg, c.want) || strings.Contains(stderr, "goroutine") ||
				strings.Contains(msg, "imageio:") || strings.Contains(msg, "runner:") {
				t.Errorf("want one plain sentence mentioning %q, stderr:\n%s", c.want, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout should be empty on failure: %q", stdout)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a failed run wrote the output")
			}
		})
	}
	t.Run("missing out", func(t *testing.T) {
		code, _, stderr := runCLI(t, "stylize", "--content", content, "--style", style)
		if code != 2 || !strings.Contains(stderr, "--out") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("help", func(t *testing.T) {
		code, stdout, _ := runCLI(t, "help", "stylize")
		if code != 0 || !strings.Contains(stdout, "--from") && !strings.Contains(stdout, "-from") {
			t.Errorf("exit %d, help %q", code, stdout)
		}
	})
}

func TestStyleListFlag(t *testing.T) {
	cases := []struct {
		in     string
		path   string
		weight float64
		bad    bool
	}{
		{"a.png", "a.png", 1, false},
		{"a.png:0.5", "a.png", 0.5, false},
		{`C:\pics\a.png`, `C:\pics\a.png`, 1, false},
		{`C:\pics\a.png:2`, `C:\pics\a.png`, 2, false},
		{"a.png:-1", "", 0, true},
		{"", "", 0, true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			var l styleList
			err := l.Set(c.in)
			if c.bad {
				if err == nil {
					t.Fatalf("Set(%q) accepted", c.in)
				}
				return
			}
			if err != nil || len(l) != 1 || l[0].Path != c.path || l[0].Weight != c.weight {
				t.Fatalf("Set(%q) = %+v, %v", c.in, l, err)
			}
		})
	}
}

// TestJobBar checks the two displays: in place on a terminal, plain lines
// elsewhere, throttled.
func TestJobBar(t *testing.T) {
	clock := time.Unix(0, 0)
	now := func() time.Time { return clock }
	ups := []job.Update{
		{Stage: "loading the images"},
		{Stage: "optimising"},
	}
	for i := 1; i <= 100; i++ {
		ups = append(ups, job.Update{Stage: "optimising", Iteration: i, Total: 100, Scale: 1 + (i-1)/50, Scales: 2,
			Losses: job.Losses{Total: 3, Content: 1, Style: 2}, Elapsed: time.Duration(i) * time.Second, ETA: time.Duration(100-i) * time.Second})
	}
	ups[40].Notices = []string{"a change of settings was refused"}

	var plain bytes.Buffer
	b := &jobBar{w: &plain, now: now}
	for _, u := range ups {
		clock = clock.Add(time.Second)
		b.update(u)
	}
	b.finish()
	lines := strings.Split(strings.TrimSpace(plain.String()), "\n")
	// 2 stages, iteration 1, one line per 5 s, the scale change, the last
	// iteration, the notice.
	if len(lines) < 20 || len(lines) > 30 {
		t.Errorf("plain output has %d lines:\n%s", len(lines), plain.String())
	}
	for _, want := range []string{"loading the images\n", "iteration 1/100 (scale 1/2)", "iteration 51/100 (scale 2/2)", "iteration 100/100",
		"note: a change of settings was refused\n", "about 1m39s left"} {
		if !strings.Contains(plain.String(), want) {
			t.Errorf("plain output lacks %q:\n%s", want, plain.String())
		}
	}

	var tty bytes.Buffer
	b = &jobBar{w: &tty, tty: true, now: now}
	for _, u := range ups {
		clock = clock.Add(10 * time.Millisecond) // faster than the redraw limit
		b.update(u)
	}
	b.finish()
	s := tty.String()
	if strings.Count(s, "\r") > 40 || !strings.Contains(s, "[####################] iteration 100/100") || !strings.HasSuffix(s, "\n") {
		t.Errorf("terminal output wrong (%d redraws):\n%q", strings.Count(s, "\r"), s)
	}
	if !strings.Contains(s, "note: a change of settings was refused\n") {
		t.Errorf("terminal output lost the notice: %q", s)
	}
}

func TestRoundDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		850 * time.Millisecond:      "850ms",
		12340 * time.Millisecond:    "12.3s",
		245 * time.Second:           "4m05s",
		3*time.Hour + 5*time.Minute: "3h05m",
		59*time.Minute + 59500*1e6:  "1h00m",
		90*time.Second + 400*1e6:    "1m30s",
		time.Duration(0):            "0s",
		1500 * time.Microsecond:     "2ms",
		59*time.Second + 990*1e6:    "1m00s",
	} {
		if got := roundDuration(d); got != want {
			t.Errorf("roundDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
