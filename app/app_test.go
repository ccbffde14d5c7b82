package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"atelier/ui"
)

// fakeStudio records the options the window would have opened with.
type fakeStudio struct {
	calls int
	opts  ui.Options
	err   error
	limit int64 // the Go heap's soft memory limit while the window was open
}

func (f *fakeStudio) run(_ context.Context, o ui.Options) error {
	f.calls++
	f.opts = o
	f.limit = debug.SetMemoryLimit(-1)
	return f.err
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		studioErr  error
		wantCode   int
		wantOpts   *ui.Options // nil: the window must not open
		wantStdout string      // substring
		wantStderr string      // substring; "" means stderr must be empty
	}{
		{name: "no arguments opens the studio", args: nil, wantOpts: &ui.Options{}},
		{name: "window flags are stored", args: []string{"--content", "a.jpg", "--style=b.png", "--autostart"},
			wantOpts: &ui.Options{Content: "a.jpg", Style: "b.png", Autostart: true}},
		{name: "single-dash flags work too", args: []string{"-content", "c.jpg"}, wantOpts: &ui.Options{Content: "c.jpg"}},
		{name: "unknown flag", args: []string{"--bogus"}, wantCode: 2, wantStderr: "atelier: there is no option -bogus.\nRun \"atelier help\""},
		{name: "flag without value", args: []string{"--style"}, wantCode: 2, wantStderr: "option -style needs a value."},
		{name: "stray argument", args: []string{"--content", "a.jpg", "models"}, wantCode: 2, wantStderr: `"models" is not an option`},
		{name: "studio error is one sentence", args: nil, studioErr: ui.ErrNoDisplay, wantCode: 1, wantOpts: &ui.Options{},
			wantStderr: "atelier: ui: no graphical display found (DISPLAY and WAYLAND_DISPLAY are unset).\n"},
		{name: "multi-line error printed on one line", args: nil, studioErr: errors.New("ui: first\nsecond."), wantCode: 1,
			wantOpts: &ui.Options{}, wantStderr: "atelier: ui: first second.\n"},
		{name: "--help", args: []string{"--help"}, wantStdout: "Usage:"},
		{name: "help", args: []string{"help"}, wantStdout: "atelier models"},
		{name: "help for unknown command", args: []string{"help", "paint"}, wantCode: 2, wantStderr: `no command called "paint"`},
		{name: "version", args: []string{"version"}, wantStdout: "atelier " + Version + "\n"},
		{name: "version with arguments", args: []string{"version", "x"}, wantCode: 2, wantStderr: "atelier: version takes no arguments.\nRun \"atelier help version\""},
		{name: "unknown verb", args: []string{"paint"}, wantCode: 2, wantStderr: "atelier: \"paint\" is not a command Atelier knows.\n\nAtelier " + Version},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			f := &fakeStudio{err: tc.studioErr}
			code := cli{stdout: &stdout, stderr: &stderr, studio: f.run}.run(context.Background(), tc.args)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			switch {
			case tc.wantOpts == nil && f.calls != 0:
				t.Errorf("studio opened with %+v", f.opts)
			case tc.wantOpts != nil && (f.calls != 1 || f.opts != *tc.wantOpts):
				t.Errorf("studio opened %d times with %+v, want once with %+v", f.calls, f.opts, *tc.wantOpts)
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tc.wantStdout)
			}
			if tc.wantStderr == "" && stderr.Len() > 0 || !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr = %q, want %q", stderr.String(), tc.wantStderr)
			}
		})
	}
}

func TestFinish(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name       string
		ctx        context.Context
		err        error
		wantCode   int
		wantStderr string
	}{
		{"success", context.Background(), nil, 0, ""},
		{"wrapped usage error", context.Background(), fmt.Errorf("%w: --size wants a number", errUsage), 2,
			"atelier: wrong command line: --size wants a number.\nRun \"atelier help bench\" for the options.\n"},
		{"interrupted", cancelled, fmt.Errorf("bench: %w", context.Canceled), 130, "atelier: interrupted.\n"},
		{"cancelled without a signal is a failure", context.Background(), context.Canceled, 1, "atelier: context canceled.\n"},
		{"failure", context.Background(), errors.New("model: vgg19: checksum mismatch."), 1, "atelier: model: vgg19: checksum mismatch.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := (cli{stderr: &stderr}).finish(tc.ctx, "bench", tc.err); got != tc.wantCode {
				t.Errorf("exit code = %d, want %d", got, tc.wantCode)
			}
			if stderr.String() != tc.wantStderr {
				t.Errorf("stderr = %q, want %q", stderr.String(), tc.wantStderr)
			}
		})
	}
}

// TestVersionMatchesFyneApp keeps FyneApp.toml and Version in step.
func TestVersionMatchesFyneApp(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "FyneApp.toml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*Version\s*=\s*"([^"]+)"`).FindSubmatch(data)
	if m == nil {
		t.Fatal("FyneApp.toml has no Version")
	}
	if string(m[1]) != Version {
		t.Errorf("FyneApp.toml Version = %s, app.Version = %s", m[1], Version)
	}
	if id := regexp.MustCompile(`(?m)^\s*ID\s*=\s*"([^"]+)"`).FindSubmatch(data); id == nil || string(id[1]) != ui.AppID {
		t.Errorf("FyneApp.toml ID = %q, ui.AppID = %s", id, ui.AppID)
	}
}

// repoRoot walks up from the working directory to the directory holding
// go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}
