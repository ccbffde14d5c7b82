package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
)

// TestBenchVGGJSON runs the benchmark at 32 px without PyTorch and checks
// the JSON line it ends with.
func TestBenchVGGJSON(t *testing.T) {
	if benchUnderRace {
		t.Skip("preparing the full VGG's weights takes too long under the race detector (engine/bench tests the network there)")
	}
	var out, errb bytes.Buffer
	err := runBench(context.Background(), []string{"vgg", "--size", "32", "--iters", "1", "--warmup", "0", "--torch=false"}, &out, &errb)
	if err != nil {
		t.Fatalf("bench vgg: %v\n%s", err, errb.String())
	}
	line := lastLine(out.String())
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("last line is not JSON: %q: %v", line, err)
	}
	for _, k := range []string{"size", "fwd_s", "fwdbwd_s", "peak_rss_bytes", "torch_fwdbwd_s", "ratio"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, line)
		}
	}
	if m["size"] != 32.0 {
		t.Errorf("size = %v, want 32", m["size"])
	}
	for _, k := range []string{"fwd_s", "fwdbwd_s", "peak_rss_bytes"} {
		if v, ok := m[k].(float64); !ok || !(v > 0) {
			t.Errorf("%s = %v, want a positive number", k, m[k])
		}
	}
	if m["torch_fwdbwd_s"] != nil || m["ratio"] != nil {
		t.Errorf("without PyTorch torch_fwdbwd_s and ratio must be null: %s", line)
	}
	if m["precision"] != "exact" {
		t.Errorf("precision = %v, want exact", m["precision"])
	}
	if !strings.HasPrefix(line, `{"size":32,"fwd_s":`) {
		t.Errorf("the required fields must come first: %s", line)
	}
}

// TestBenchVGGTorch runs the PyTorch half too, where Debian's PyTorch is
// installed (a few seconds, most of it importing torch): the whole command
// at 32 px, which alternates Atelier's passes with PyTorch's, and the
// script's answers to a pass it does not know.
func TestBenchVGGTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("imports PyTorch")
	}
	if benchUnderRace {
		t.Skip("preparing the full VGG's weights takes too long under the race detector")
	}
	if _, err := os.Stat(defaultPython); err != nil {
		t.Skip("no " + defaultPython)
	}
	p, err := startTorchVGG(context.Background(), defaultPython, 32, 0)
	if errors.Is(err, errNoTorch) && strings.Contains(err.Error(), "cannot import torch") {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.run("backward"); err == nil || !strings.Contains(err.Error(), "backward") {
		t.Errorf("an unknown pass gave %v, want an error naming it", err)
	}
	p.close()
	p.close() // a second close does nothing

	var out, errb bytes.Buffer
	err = runBench(context.Background(), []string{"vgg", "--size", "32", "--iters", "2", "--warmup", "1"}, &out, &errb)
	if err != nil {
		t.Fatalf("bench vgg: %v\n%s", err, errb.String())
	}
	var rep benchVGGReport
	if err := json.Unmarshal([]byte(lastLine(out.String())), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Torch == "" || strings.HasPrefix(rep.Torch, "not run") || rep.TorchFwdS == nil || !(*rep.TorchFwdS > 0) ||
		rep.TorchFwdBwdS == nil || !(*rep.TorchFwdBwdS > 0) || rep.Ratio == nil {
		t.Fatalf("implausible PyTorch result: %s\n%s", lastLine(out.String()), errb.String())
	}
	if r := rep.FwdBwdS / *rep.TorchFwdBwdS; math.Abs(r-*rep.Ratio) > 1e-9 {
		t.Errorf("ratio %v, want %v", *rep.Ratio, r)
	}
	// Two timed passes of each kind, each followed by PyTorch's.
	if n := strings.Count(errb.String(), "pytorch fwdbwd"); n != 2 {
		t.Errorf("PyTorch timed %d forward+backward passes, want 2 (one after each of Atelier's):\n%s", n, errb.String())
	}
	if i, j := strings.Index(errb.String(), "atelier fwdbwd"), strings.Index(errb.String(), "pytorch fwdbwd"); i < 0 || j < i {
		t.Errorf("PyTorch's pass must follow Atelier's:\n%s", errb.String())
	}
}

// TestBenchTorchMissing checks that a missing interpreter is reported as
// "no PyTorch", which the command turns into null fields.
func TestBenchTorchMissing(t *testing.T) {
	_, err := startTorchVGG(context.Background(), "/nonexistent/python3", 32, 0)
	if !errors.Is(err, errNoTorch) {
		t.Fatalf("err = %v, want errNoTorch", err)
	}
	if benchUnderRace {
		return
	}
	var out, errb bytes.Buffer
	err = runBench(context.Background(), []string{"vgg", "--size", "32", "--iters", "1", "--warmup", "0", "--python", "/nonexistent/python3"}, &out, &errb)
	if err != nil {
		t.Fatalf("bench vgg: %v", err)
	}
	var rep benchVGGReport
	if err := json.Unmarshal([]byte(lastLine(out.String())), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Ratio != nil || rep.TorchFwdBwdS != nil || !strings.Contains(rep.Torch, "not run") {
		t.Errorf("without an interpreter: %s", lastLine(out.String()))
	}
}

func TestBenchUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "needs a benchmark name"},
		{[]string{"resnet"}, `no benchmark called "resnet"`},
		{[]string{"vgg"}, "needs --size"},
		{[]string{"vgg", "--size", "abc"}, "invalid value"},
		{[]string{"vgg", "--size", "8"}, "between 16 and 16384"},
		{[]string{"vgg", "--size", "32", "--iters", "0"}, "--iters"},
		{[]string{"vgg", "--size", "32", "extra"}, "no arguments"},
		{[]string{"vgg", "--bogus"}, "no option -bogus"},
		{[]string{"vgg", "--size", "32", "--precision", "half"}, "exact or reduced"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			err := runBench(context.Background(), tc.args, &out, &errb)
			if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a usage error containing %q", err, tc.want)
			}
		})
	}
	var out bytes.Buffer
	if err := runBench(context.Background(), []string{"--help"}, &out, &out); err != nil || !strings.Contains(out.String(), "-size") {
		t.Fatalf("--help: %v\n%s", err, out.String())
	}
}
