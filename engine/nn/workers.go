package nn

import (
	"runtime"
	"sync/atomic"
)

// workerLimit is the cap SetWorkers set; 0: none.
var workerLimit atomic.Int32

// SetWorkers caps how many goroutines share the work of one layer call at
// n; 0 (the default) removes the cap, leaving GOMAXPROCS. A program that
// keeps a spare scheduler slot (GOMAXPROCS one above the cores it computes
// on) sets the cap to the cores.
func SetWorkers(n int) { workerLimit.Store(int32(max(n, 0))) }

// Workers returns how many goroutines share the work of one layer call:
// GOMAXPROCS, capped by SetWorkers.
func Workers() int {
	w := max(1, runtime.GOMAXPROCS(0))
	if n := int(workerLimit.Load()); n > 0 {
		w = min(w, n)
	}
	return w
}
