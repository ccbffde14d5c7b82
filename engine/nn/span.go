package nn

import (
	"sync/atomic"
)

// minSpan is the smallest share of an elementwise pass worth a goroutine
// of its own: below it, handing work over costs more than it saves.
const minSpan = 1 << 15

// spanTask hands out [0, n) to the workers in pieces of piece units from
// a counter, so that a worker that starts late or runs slower takes fewer
// of them.
type spanTask struct {
	n, piece int
	next     atomic.Int64
	f        func(lo, hi int)
}

func (t *spanTask) runWorker(int) {
	for {
		lo := int(t.next.Add(int64(t.piece))) - t.piece
		if lo >= t.n {
			return
		}
		t.f(lo, min(lo+t.piece, t.n))
	}
}

// spanRunner runs a function over the shares of a range on the process's
// helper goroutines (see parallelRun). A layer keeps one, with its
// functions made once, so that a pass allocates nothing.
type spanRunner struct {
	task spanTask
	wg   parallelDone
}

// run calls f over [0, n), on up to Workers() workers, in pieces of at
// least grain units, about four per worker (f on the whole range when that
// leaves one worker), and returns when every piece is done.
func (s *spanRunner) run(n, grain int, f func(lo, hi int)) {
	w := min(Workers(), n/max(grain, 1))
	if w <= 1 {
		f(0, n)
		return
	}
	s.task.n, s.task.f = n, f
	s.task.piece = max(grain, (n+4*w-1)/(4*w))
	s.task.next.Store(0)
	parallelRun(&s.task, &s.wg, w)
	s.task.f = nil
}
