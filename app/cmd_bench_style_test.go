package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// benchStyleJSON runs `bench style` with args and returns its JSON line.
func benchStyleJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	stylizeEnv(t)
	var out, errb bytes.Buffer
	if err := runBench(context.Background(), append([]string{"style"}, args...), &out, &errb); err != nil {
		t.Fatalf("bench style: %v\n%s", err, errb.String())
	}
	line := lastLine(out.String())
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("last line is not JSON: %q: %v", line, err)
	}
	if !strings.HasPrefix(line, `{"size":`) {
		t.Errorf("size must come first: %s", line)
	}
	return m
}

// TestBenchStyleJSON runs Atelier's half at 64 px without PyTorch or the
// stylize child runs.
func TestBenchStyleJSON(t *testing.T) {
	m := benchStyleJSON(t, "--size", "64", "--iters", "2", "--torch=false", "--first-frame=false", "--rss-size", "0")
	for _, k := range []string{"ratio", "ratio_a", "ratio_b", "first_frame_s", "rss_peak_bytes", "torch_loss0"} {
		if v, ok := m[k]; !ok || v != nil {
			t.Errorf("%s = %v, want null when not measured", k, v)
		}
	}
	for _, k := range []string{"ours_iters_s", "target_a", "loss0", "peak_rss_bytes"} {
		if v, ok := m[k].(float64); !ok || !(v > 0) {
			t.Errorf("%s = %v, want a positive number", k, m[k])
		}
	}
	if m["target_a"].(float64) >= m["loss0"].(float64) {
		t.Errorf("two iterations did not lower the loss: %v -> %v", m["loss0"], m["target_a"])
	}
	if m["width"] != 64.0 || m["height"] != 48.0 || m["iters"] != 2.0 {
		t.Errorf("size %vx%v, %v iterations; want 64x48, 2", m["width"], m["height"], m["iters"])
	}
}

// TestBenchStyleTorch runs both halves at 64 px where Debian's PyTorch is
// installed: the two must agree on the loss and gradient at the start, and
// both ratios come out.
func TestBenchStyleTorch(t *testing.T) {
	if testing.Short() || benchUnderRace {
		t.Skip("imports PyTorch")
	}
	if _, err := os.Stat(defaultPython); err != nil {
		t.Skip("no " + defaultPython)
	}
	stylizeEnv(t)
	var out, errb bytes.Buffer
	err := runBench(context.Background(), []string{"style", "--size", "64", "--iters", "3", "--first-frame=false", "--rss-size", "0"}, &out, &errb)
	if err != nil {
		t.Fatalf("bench style: %v\n%s", err, errb.String())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lastLine(out.String())), &m); err != nil {
		t.Fatal(err)
	}
	if s, _ := m["torch"].(string); strings.Contains(s, "cannot import torch") {
		t.Skip(s)
	}
	if d, ok := m["loss0_rel_diff"].(float64); !ok || d > 1e-5 {
		t.Errorf("the two losses at the start differ by %v (relative)\n%s", m["loss0_rel_diff"], errb.String())
	}
	if d, ok := m["grad0_rel_diff"].(float64); !ok || d > 1e-3 {
		t.Errorf("the two gradients at the start differ by %v (relative L2)", m["grad0_rel_diff"])
	}
	for _, k := range []string{"ratio_a", "ratio_b", "ratio", "torch_iters_s", "target_b", "ratio_eval"} {
		if v, ok := m[k].(float64); !ok || !(v > 0) {
			t.Errorf("%s = %v, want a positive number\n%s", k, m[k], errb.String())
		}
	}
}

func TestBenchStyleUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"style", "--size", "8"}, "--size"},
		{[]string{"style", "--iters", "0"}, "--iters"},
		{[]string{"style", "extra"}, "no arguments"},
		{[]string{"style", "--bogus"}, "no option -bogus"},
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
	if err := runBench(context.Background(), []string{"style", "--help"}, &out, &out); err != nil || !strings.Contains(out.String(), "-rss-size") {
		t.Fatalf("--help: %v\n%s", err, out.String())
	}
}

func TestBenchStyleTraceFigures(t *testing.T) {
	trace := []tracePoint{{1.0, 90, 3}, {1.5, 80, 4}, {2.4, 70, 6}, {2.8, 60, 7}, {3.5, 50, 8}}
	if s, ok := evalTime(trace); !ok || s < 0.39 || s > 0.41 {
		t.Errorf("evalTime = %v, %v; want 0.4 (iteration 4, one evaluation)", s, ok)
	}
	if _, ok := evalTime(trace[1:3]); ok {
		t.Error("evalTime found a one-evaluation iteration in a trace without one")
	}
	for _, tc := range []struct {
		target float64
		evals  int
		s      float64
		ok     bool
	}{{85, 4, 1.5, true}, {70, 6, 2.4, true}, {50, 8, 3.5, true}, {49, 0, 0, false}} {
		n, ok1 := evalsTo(trace, tc.target)
		s, ok2 := timeTo(trace, tc.target)
		if n != tc.evals || s != tc.s || ok1 != tc.ok || ok2 != tc.ok {
			t.Errorf("target %v: %d evaluations at %v s (%v %v), want %d at %v (%v)", tc.target, n, s, ok1, ok2, tc.evals, tc.s, tc.ok)
		}
	}
}
