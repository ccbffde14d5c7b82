package app

import (
	"os"
	"runtime/debug"
)

// softMemoryLimit sets the Go heap's soft limit to limit, unless the
// GOMEMLIMIT environment variable chose one, and returns the function that
// puts the previous limit back: commands that hold large buffers defer it,
// so the limit lasts exactly as long as they run.
func softMemoryLimit(limit int64) (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	old := debug.SetMemoryLimit(limit)
	return func() { debug.SetMemoryLimit(old) }
}
