package nn

import (
	"sync/atomic"
	"testing"
	"time"
)

// countTask counts, per worker id, how often runWorker ran.
type countTask struct {
	runs [4]atomic.Int32
	done parallelDone
}

func (c *countTask) runWorker(id int) { c.runs[id].Add(1) }

// TestParallelRun checks that every share of every call runs exactly once
// and has finished when parallelRun returns: calls back to back (the
// helpers still polling), after pauses longer than parallelSpin (the
// helpers blocked), and from two goroutines at once.
func TestParallelRun(t *testing.T) {
	var tasks [2]countTask
	call := func(c *countTask, want int32) {
		parallelRun(c, &c.done, 4)
		for id := range c.runs {
			if got := c.runs[id].Load(); got != want {
				t.Errorf("worker %d ran %d times after %d calls", id, got, want)
			}
		}
	}
	for i := int32(1); i <= 200; i++ {
		call(&tasks[0], i)
	}
	for i := int32(201); i <= 203; i++ {
		time.Sleep(3 * parallelSpin)
		call(&tasks[0], i)
	}
	doneB := make(chan bool)
	go func() {
		for i := int32(1); i <= 200; i++ {
			call(&tasks[1], i)
		}
		close(doneB)
	}()
	for i := int32(204); i <= 403; i++ {
		call(&tasks[0], i)
	}
	<-doneB
}

// TestParallelRunAllocs checks that handing work over allocates nothing.
func TestParallelRunAllocs(t *testing.T) {
	var c countTask
	parallelRun(&c, &c.done, 3) // start the helpers
	if a := testing.AllocsPerRun(100, func() { parallelRun(&c, &c.done, 3) }); a != 0 {
		t.Errorf("parallelRun allocates %.1f times per call", a)
	}
}
