package app

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"atelier/assets"
	"atelier/ui"
)

func TestStudioFlags(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		wantOpts   *ui.Options // nil: the window must not open
		wantStderr string      // substring when the window does not open
	}{
		{"texture tab with a sample", []string{"--tab", "texture", "--sample", "s.png"},
			&ui.Options{Tab: "texture", Sample: "s.png"}, ""},
		{"upscale tab with an image", []string{"--tab=upscale", "--image", "i.jpg"},
			&ui.Options{Tab: "upscale", Image: "i.jpg"}, ""},
		{"latency probe", []string{"--content", "c.jpg", "--style", "s.jpg", "--autostart", "--probe-latency", "p.json", "--probe-for", "20s"},
			&ui.Options{Content: "c.jpg", Style: "s.jpg", Autostart: true, LatencyProbe: "p.json", ProbeFor: 20 * time.Second}, ""},
		{"unknown tab", []string{"--tab", "paint"}, nil, `--tab must be one of style, texture, upscale, not "paint"`},
		{"probe-for without a file", []string{"--probe-for", "5s"}, nil, "--probe-for needs --probe-latency FILE"},
		{"negative probe-for", []string{"--probe-latency", "p.json", "--probe-for", "-5s"}, nil, "--probe-for needs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			f := &fakeStudio{}
			code := cli{stdout: &stdout, stderr: &stderr, studio: f.run}.run(context.Background(), tc.args)
			if tc.wantOpts != nil {
				if code != 0 || f.calls != 1 || f.opts != *tc.wantOpts {
					t.Errorf("exit %d, studio opened %d times with %+v, want once with %+v (stderr %q)", code, f.calls, f.opts, *tc.wantOpts, stderr.String())
				}
				return
			}
			if code != exitUsage || f.calls != 0 || !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("exit %d, %d opens, stderr %q; want a usage error saying %q", code, f.calls, stderr.String(), tc.wantStderr)
			}
		})
	}
}

func TestUsageListsStudioFlags(t *testing.T) {
	var stdout bytes.Buffer
	cli{stdout: &stdout, stderr: &stdout}.usage(&stdout)
	for _, flag := range []string{"--sample IMAGE", "--image IMAGE", "--tab style|texture|upscale", "--probe-latency FILE"} {
		if !strings.Contains(stdout.String(), flag) {
			t.Errorf("help lacks %q:\n%s", flag, stdout.String())
		}
	}
}

// TestFyneAppComplete checks FyneApp.toml names the app and points at the
// icon the binary embeds, a square PNG large enough for desktop launchers.
func TestFyneAppComplete(t *testing.T) {
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "FyneApp.toml"))
	if err != nil {
		t.Fatal(err)
	}
	field := func(name string) string {
		m := regexp.MustCompile(`(?m)^\s*` + name + `\s*=\s*"?([^"\n]+)"?\s*$`).FindSubmatch(data)
		if m == nil {
			t.Errorf("FyneApp.toml has no %s", name)
			return ""
		}
		return string(m[1])
	}
	if got := field("Name"); got != "Atelier" {
		t.Errorf("Name = %q, want Atelier", got)
	}
	if got := field("Build"); got == "" || strings.Trim(got, "0123456789") != "" {
		t.Errorf("Build = %q, want a number", got)
	}
	icon := field("Icon")
	if icon == "" {
		return
	}
	pngData, err := os.ReadFile(filepath.Join(root, icon))
	if err != nil {
		t.Fatalf("the icon FyneApp.toml names: %v", err)
	}
	if !bytes.Equal(pngData, assets.IconPNG) {
		t.Errorf("%s differs from the icon the binary embeds (assets.IconPNG)", icon)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(pngData))
	if err != nil {
		t.Fatalf("%s: %v", icon, err)
	}
	if cfg.Width != cfg.Height || cfg.Width < 256 {
		t.Errorf("icon is %d x %d, want square and at least 256 px", cfg.Width, cfg.Height)
	}
}
