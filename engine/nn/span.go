package nn

import (
	"runtime"
)

// minSpan is the smallest share of an elementwise pass worth a goroutine
// of its own: below it, handing work over costs more than it saves.
const minSpan = 1 << 15

// spanTask splits [0, n) into one contiguous share per worker.
type spanTask struct {
	n, workers int
	f          func(lo, hi int)
}

func (t *spanTask) runWorker(id int) {
	t.f(t.n*id/t.workers, t.n*(id+1)/t.workers)
}

// spanRunner runs a function over the shares of a range on the process's
// helper goroutines (see parallelRun). A layer keeps one, with its
// functions made once, so that a pass allocates nothing.
type spanRunner struct {
	task spanTask
	wg   parallelDone
}

// run calls f over [0, n) split into up to GOMAXPROCS shares of at least
// grain units (f on the whole range when that makes one share) and
// returns when every share is done.
func (s *spanRunner) run(n, grain int, f func(lo, hi int)) {
	w := min(max(1, runtime.GOMAXPROCS(0)), n/max(grain, 1))
	if w <= 1 {
		f(0, n)
		return
	}
	s.task = spanTask{n: n, workers: w, f: f}
	parallelRun(&s.task, &s.wg, w)
	s.task.f = nil
}
