package app

import (
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
