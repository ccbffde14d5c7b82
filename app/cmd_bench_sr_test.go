package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atelier/engine/model"
)

// needSRModel skips the test when the named model is not in the models
// cache.
func needSRModel(t *testing.T, name string) {
	t.Helper()
	dir, err := model.CacheDir()
	if err != nil {
		t.Skipf("no models folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, name, "model.json")); err != nil {
		t.Skipf("%s is not in %s (\"make models\" gets it)", name, dir)
	}
}

// benchSRLine runs `bench sr` with args and decodes its JSON line.
func benchSRLine(t *testing.T, args ...string) benchSRReport {
	t.Helper()
	var out, errb bytes.Buffer
	if err := runBench(context.Background(), append([]string{"sr"}, args...), &out, &errb); err != nil {
		t.Fatalf("bench sr: %v\n%s", err, errb.String())
	}
	var rep benchSRReport
	line := lastLine(out.String())
	if err := json.Unmarshal([]byte(line), &rep); err != nil {
		t.Fatalf("last line is not JSON: %q: %v", line, err)
	}
	if !strings.HasPrefix(line, `{"size":`) {
		t.Errorf("the JSON line must start with the size: %s", line)
	}
	return rep
}

func TestBenchSRJSON(t *testing.T) {
	needSRModel(t, "esrgan-slim-x4")
	rep := benchSRLine(t, "--methods", "esrgan-slim", "--size", "24", "--iters", "1", "--warmup", "0", "--torch=false", "--rss-size", "0")
	e := rep.Models["esrgan-slim"]
	if rep.Size != 24 || rep.Scale != 4 || e == nil {
		t.Fatalf("report %+v", rep)
	}
	if e.S == nil || !(*e.S > 0) || e.Scale != 4 || e.Model != "esrgan-slim-x4" || e.Tile < 16 {
		t.Errorf("esrgan-slim entry %+v", *e)
	}
	if e.TorchS != nil || e.Ratio != nil || e.MaxAbsDiff != nil || rep.RSS != nil {
		t.Errorf("without PyTorch and the memory run their fields must be null: %+v, rss %v", *e, rep.RSS)
	}
}

// TestBenchSRTorchAgrees runs the PyTorch side on a small input, where
// Debian's PyTorch is installed: the network it builds from model.json
// must give Atelier's result, which shows both time the same network.
func TestBenchSRTorchAgrees(t *testing.T) {
	if testing.Short() {
		t.Skip("imports PyTorch")
	}
	if _, err := os.Stat(defaultPython); err != nil {
		t.Skip("no " + defaultPython)
	}
	needSRModel(t, "esrgan-slim-x4")
	needSRModel(t, "upscaler-default-x2")
	rep := benchSRLine(t, "--methods", "esrgan-slim,default-x2", "--size", "20", "--iters", "1", "--warmup", "0", "--rss-size", "0")
	if strings.HasPrefix(rep.Torch, "not run") && strings.Contains(rep.Torch, "cannot import torch") {
		t.Skip(rep.Torch)
	}
	for name, scale := range map[string]int{"esrgan-slim": 4, "default-x2": 2} {
		e := rep.Models[name]
		if e == nil || e.Scale != scale {
			t.Fatalf("%s: entry %+v, want scale %d", name, e, scale)
		}
		if e.TorchS == nil || e.Ratio == nil || e.MaxAbsDiff == nil {
			t.Fatalf("%s: PyTorch did not run (%s; %s)", name, rep.Torch, e.Skipped)
		}
		if !(*e.TorchS > 0) || *e.MaxAbsDiff > 0.05 {
			t.Errorf("%s: PyTorch %.3g s, max difference %.4g of 255 (want under 0.05)", name, *e.TorchS, *e.MaxAbsDiff)
		}
	}
}

func TestBenchSRTorchMissing(t *testing.T) {
	_, err := startTorchSR(context.Background(), "/nonexistent/python3", nil, t.TempDir())
	if !errors.Is(err, errNoTorch) {
		t.Fatalf("err = %v, want errNoTorch", err)
	}
}

// TestBenchSRMemoryRunFails checks that a memory run that cannot start is
// reported in its JSON entry, not as a crash.
func TestBenchSRMemoryRunFails(t *testing.T) {
	c := benchSRConfig{rssSize: 16, rssMethod: "esrgan-medium", rssScale: 2, exe: "/nonexistent/atelier"}
	r := c.memoryRun(context.Background(), t.TempDir(), new(bytes.Buffer))
	if r.Error == "" || r.PeakRSSBytes != 0 || r.LimitBytes != 4<<30 {
		t.Fatalf("memory run of a missing binary: %+v", *r)
	}
}

func TestBenchSRUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--methods", "esrgan-huge"}, `no method "esrgan-huge"`},
		{[]string{"--methods", "bicubic"}, "not a network"},
		{[]string{"--methods", " , "}, "names no method"},
		{[]string{"--scale", "5"}, "no x5 model"},
		{[]string{"--size", "8"}, "between 16 and 1024"},
		{[]string{"--iters", "0"}, "--iters"},
		{[]string{"--rss-size", "-1"}, "--rss-size"},
		{[]string{"--rss-method", "bicubic"}, "--rss-method"},
		{[]string{"extra"}, "no arguments"},
		{[]string{"--bogus"}, "no option -bogus"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			err := runBench(context.Background(), append([]string{"sr"}, tc.args...), &out, &errb)
			if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a usage error containing %q", err, tc.want)
			}
		})
	}
	var out bytes.Buffer
	if err := runBench(context.Background(), []string{"sr", "--help"}, &out, &out); err != nil || !strings.Contains(out.String(), "-rss-size") {
		t.Fatalf("--help: %v\n%s", err, out.String())
	}
}
