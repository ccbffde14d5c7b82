package nn

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// parallelTask is work split over several workers; runWorker(id) does the
// share of worker id.
type parallelTask interface {
	runWorker(id int)
}

// parallelDone tracks the helpers' shares of one parallelRun call.
type parallelDone struct {
	wg   sync.WaitGroup
	left atomic.Int32 // shares not finished yet
}

// parallelItem is one share handed to a helper.
type parallelItem struct {
	task parallelTask
	id   int
	done *parallelDone
}

// A process-wide set of helper goroutines, started on first use and grown to
// the largest worker count asked for, runs the shares of every worker but the
// first, which the caller runs itself. Handing work over allocates nothing.
var helpers struct {
	sync.Mutex
	n  int
	ch chan parallelItem
}

// parallelSpin is how long a helper that finished its share, and a caller
// that finished its own, keep polling for the next share or for the
// helpers' end before they block. A network's layers call parallelRun
// back to back, several times per layer; blocking at once put the threads
// to sleep between the calls, and on the 2-vCPU virtual machine a helper
// then started its share 80 microseconds after it was handed over, on
// average (4 ms of a 124 ms VGG pass at 256 px), and the caller waited
// 6.5 ms per pass for the helpers to end. With 200 microseconds of
// polling, `bench vgg --size 256`, ten alternating runs: median 119.8 ms
// against 124.3; with 1 ms it was no better.
const parallelSpin = 200 * time.Microsecond

// parallelRun runs t.runWorker(0..n-1) concurrently and returns when all
// are done. d must be unused by anything else during the call. Tasks must
// not call parallelRun themselves.
func parallelRun(t parallelTask, d *parallelDone, n int) {
	if n <= 1 {
		t.runWorker(0)
		return
	}
	helpers.Lock()
	if helpers.ch == nil {
		helpers.ch = make(chan parallelItem, 64)
	}
	for helpers.n < n-1 {
		helpers.n++
		go helperLoop(helpers.ch)
	}
	ch := helpers.ch
	helpers.Unlock()
	d.wg.Add(n - 1)
	d.left.Store(int32(n - 1))
	for id := 1; id < n; id++ {
		ch <- parallelItem{task: t, id: id, done: d}
	}
	t.runWorker(0)
	for p := (poller{}); d.left.Load() != 0 && p.more(); {
	}
	d.wg.Wait()
}

// poller paces a polling loop: more, called once per round, yields to
// other goroutines every 256 rounds and turns false once parallelSpin has
// passed since the first of those.
type poller struct {
	rounds int
	start  time.Time
}

func (p *poller) more() bool {
	p.rounds++
	if p.rounds&255 != 0 {
		return true
	}
	if p.start.IsZero() {
		p.start = time.Now()
	} else if time.Since(p.start) > parallelSpin {
		return false
	}
	runtime.Gosched()
	return true
}

// helperLoop runs the shares handed to one helper, polling for the next
// for up to parallelSpin before it blocks.
func helperLoop(ch chan parallelItem) {
	for {
		var it parallelItem
		got := false
		for p := (poller{}); !got && p.more(); {
			select {
			case it = <-ch:
				got = true
			default:
			}
		}
		if !got {
			it = <-ch
		}
		it.task.runWorker(it.id)
		it.done.left.Add(-1)
		it.done.wg.Done()
	}
}
