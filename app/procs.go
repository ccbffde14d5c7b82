package app

import (
	"os"
	"runtime"

	"atelier/engine/nn"
)

// spareProcessor gives the Go scheduler one processor (P) more than the
// engine computes on, unless GOMAXPROCS is set in the environment, and
// returns the function that undoes it. The engine keeps its workers at the
// former count (nn.SetWorkers), so the extra P stays idle, or runs the
// window's goroutines.
//
// Why: the engine's kernels are cgo calls of a millisecond or more, and
// while a goroutine is in one its P counts as in a system call. When every
// P is busy, the runtime's monitor thread takes the P of any call that
// has lasted over 20 microseconds and hands it to another thread, which
// wakes on one of the cores the workers run on, finds nothing to do and
// sleeps again; with an idle P in the process it leaves the calls alone
// (runtime.retake). On the 2-vCPU machine, `bench vgg --size 256
// --torch=false`, six alternating runs: 99.9-108.4 ms with 3 Ps and 2
// workers, against 109.8-121.6 ms with 2 Ps; its monitor thread slept and
// woke 18,064 times in 45 passes with 2 Ps, 8,172 with 3.
func spareProcessor() (restore func()) {
	if os.Getenv("GOMAXPROCS") != "" {
		return func() {}
	}
	n := runtime.GOMAXPROCS(0)
	old := runtime.GOMAXPROCS(n + 1)
	nn.SetWorkers(n)
	return func() {
		nn.SetWorkers(0)
		runtime.GOMAXPROCS(old)
	}
}
