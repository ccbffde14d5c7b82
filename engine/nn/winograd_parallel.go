package nn

import "sync"

// parallelTask is work split over several workers; runWorker(id) does the
// share of worker id.
type parallelTask interface {
	runWorker(id int)
}

type parallelItem struct {
	task parallelTask
	id   int
	wg   *sync.WaitGroup
}

// A process-wide set of helper goroutines, started on first use and grown to
// the largest worker count asked for, runs the shares of every worker but the
// first, which the caller runs itself. Handing work over allocates nothing.
var helpers struct {
	sync.Mutex
	n  int
	ch chan parallelItem
}

// parallelRun runs t.runWorker(0..n-1) concurrently and returns when all
// are done. wg must be unused by anything else during the call. Tasks must
// not call parallelRun themselves.
func parallelRun(t parallelTask, wg *sync.WaitGroup, n int) {
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
	wg.Add(n - 1)
	for id := 1; id < n; id++ {
		ch <- parallelItem{task: t, id: id, wg: wg}
	}
	t.runWorker(0)
	wg.Wait()
}

func helperLoop(ch chan parallelItem) {
	for it := range ch {
		it.task.runWorker(it.id)
		it.wg.Done()
	}
}
