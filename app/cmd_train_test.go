package app

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"atelier/engine/sr"
)

func TestTrainUsageErrors(t *testing.T) {
	set := smallSet(t)
	for _, c := range []struct {
		name string
		args []string
		says string
	}{
		{"no network", []string{"train"}, "srcnn or srnet"},
		{"unknown network", []string{"train", "vdsr", "--images", set, "--scale", "2"}, "no network \"vdsr\""},
		{"no images", []string{"train", "srcnn", "--scale", "3"}, "--images"},
		{"no scale", []string{"train", "srcnn", "--images", set}, "--scale"},
		{"bad iters", []string{"train", "srcnn", "--images", set, "--scale", "3", "--iters", "0"}, "positive"},
		{"stray argument", []string{"train", "srcnn", "--images", set, "--scale", "3", "extra"}, "\"extra\""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, c.args...)
			if code != exitUsage || !strings.Contains(stderr, c.says) {
				t.Fatalf("exit %d, stderr %q; want %d mentioning %q", code, stderr, exitUsage, c.says)
			}
		})
	}
	code, _, stderr := runCLI(t, "train", "srnet", "--images", set, "--scale", "3", "--out", filepath.Join(t.TempDir(), "m"))
	if code == 0 || !strings.Contains(stderr, "x2 or x4") {
		t.Errorf("srnet x3: exit %d, %q", code, stderr)
	}
	code, stdout, _ := runCLI(t, "help", "train")
	if code != 0 || !strings.Contains(stdout, "atelier train srcnn") || !strings.Contains(stdout, "-minutes") {
		t.Errorf("help: exit %d, %q", code, stdout)
	}
}

func TestTrainTiny(t *testing.T) {
	set := smallSet(t)
	out := filepath.Join(t.TempDir(), "net")
	code, stdout, stderr := runCLI(t, "train", "srnet", "--images", set, "--eval", set, "--scale", "2",
		"--iters", "4", "--eval-every", "2", "--batch", "2", "--patch", "12", "--feats", "4", "--blocks", "1", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "iter 4/4") || !strings.Contains(stderr, "PSNR") {
		t.Errorf("progress %q", stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var res struct {
		Arch       string  `json:"arch"`
		Iterations int     `json:"iterations"`
		BestPSNR   float64 `json:"best_psnr"`
		Out        string  `json:"out"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	if res.Arch != "srnet" || res.Iterations != 4 || res.BestPSNR == 0 || res.Out != out {
		t.Errorf("result %+v", res)
	}
	if _, err := sr.OpenModelDir(out, 2, sr.Options{}); err != nil {
		t.Errorf("the trained model does not open: %v", err)
	}
}
