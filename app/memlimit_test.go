package app

import (
	"bytes"
	"context"
	"math"
	"os"
	"runtime/debug"
	"testing"
)

// TestSoftMemoryLimit checks that the limit holds until restore, and that
// restore puts the previous one back.
func TestSoftMemoryLimit(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT is set: commands keep it")
	}
	before := debug.SetMemoryLimit(math.MaxInt64)
	defer debug.SetMemoryLimit(before)
	restore := softMemoryLimit(123 << 20)
	if got := debug.SetMemoryLimit(-1); got != 123<<20 {
		t.Errorf("limit %d while set, want %d", got, 123<<20)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("limit %d after restore, want the previous %d", got, int64(math.MaxInt64))
	}
}

// TestStudioSoftMemoryLimit checks that the window runs under the soft
// memory limit and that closing it puts the previous limit back.
func TestStudioSoftMemoryLimit(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT is set: the studio keeps it")
	}
	before := debug.SetMemoryLimit(math.MaxInt64 - 1)
	defer debug.SetMemoryLimit(before)
	var out bytes.Buffer
	f := &fakeStudio{}
	if code := (cli{stdout: &out, stderr: &out, studio: f.run}).run(context.Background(), nil); code != 0 || f.calls != 1 {
		t.Fatalf("exit %d, %d opens: %s", code, f.calls, out.String())
	}
	if f.limit != studioMemoryLimit {
		t.Errorf("limit %d while the window was open, want %d", f.limit, int64(studioMemoryLimit))
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64-1 {
		t.Errorf("limit %d after the window closed, want the previous %d", got, int64(math.MaxInt64-1))
	}
}
