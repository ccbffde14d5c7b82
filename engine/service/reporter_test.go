package service

import (
	"image"
	"testing"
	"time"

	"atelier/engine/job"
)

// fakeClock is a settable time source.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock               { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }
func testHandle() *Handle {
	return &Handle{updates: make(chan job.Update, 1), done: make(chan struct{})}
}
func render(i int) func() *image.RGBA { return func() *image.RGBA { return frameFor(i) } }
func step(i, total int) Step          { return Step{Iteration: i, Total: total} }
func reqWithCadence(every int, d time.Duration) job.Request {
	return job.Request{FrameEvery: every, FrameInterval: d}
}

// TestFrameCadence checks "every few iterations or the interval, whichever
// is later, plus the first frame at once".
func TestFrameCadence(t *testing.T) {
	cases := []struct {
		name      string
		every     int
		interval  time.Duration
		stepTime  time.Duration
		iters     int
		wantIters []int
	}{
		// Slow iterations: the iteration count decides.
		{"slow iterations", 3, 150 * time.Millisecond, time.Second, 10, []int{1, 4, 7, 10}},
		// Fast iterations: the interval decides (150 ms = 8 iterations of 20 ms).
		{"fast iterations", 3, 150 * time.Millisecond, 20 * time.Millisecond, 20, []int{1, 9, 17}},
		// Defaults: 2 iterations and 150 ms.
		{"defaults", 0, 0, 100 * time.Millisecond, 8, []int{1, 3, 5, 7}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newFakeClock()
			r := newReporter(testHandle(), reqWithCadence(c.every, c.interval), clk.now)
			var got []int
			for i := 1; i <= c.iters; i++ {
				clk.advance(c.stepTime)
				if r.Step(step(i, c.iters), render(i)) {
					got = append(got, i)
				}
			}
			if len(got) != len(c.wantIters) {
				t.Fatalf("frames at %v, want %v", got, c.wantIters)
			}
			for i := range got {
				if got[i] != c.wantIters[i] {
					t.Fatalf("frames at %v, want %v", got, c.wantIters)
				}
			}
		})
	}
}

// TestFrameCarriedOver: a progress update replacing an unread frame keeps
// that frame, so the reader never misses the newest picture.
func TestFrameCarriedOver(t *testing.T) {
	clk := newFakeClock()
	h := testHandle()
	r := newReporter(h, reqWithCadence(100, time.Hour), clk.now)
	r.Step(step(1, 10), render(1)) // first frame
	r.Step(step(2, 10), render(2)) // progress only
	r.Step(step(3, 10), nil)
	u := <-h.updates
	if u.Iteration != 3 || u.Kind != job.Frame || u.Frame == nil || frameIter(u.Frame) != 1 {
		t.Fatalf("got %v at iteration %d with frame %v; want the frame of iteration 1 carried into iteration 3", u.Kind, u.Iteration, u.Frame != nil)
	}
	r.Step(step(4, 10), nil)
	if u := <-h.updates; u.Kind != job.Progress || u.Frame != nil {
		t.Errorf("a frame read once came back: %v %v", u.Kind, u.Frame != nil)
	}
}

// TestETA: the estimate extrapolates the work rate since StartClock.
func TestETA(t *testing.T) {
	clk := newFakeClock()
	h := testHandle()
	r := newReporter(h, job.Request{}, clk.now)
	clk.advance(10 * time.Second) // setup: not counted in the rate
	r.StartClock(Step{Total: 100})
	clk.advance(20 * time.Second)
	r.Step(Step{Iteration: 20, Total: 100}, nil)
	u := <-h.updates
	if u.ETA != 80*time.Second {
		t.Errorf("ETA %v, want 80s", u.ETA)
	}
	if u.Elapsed != 30*time.Second {
		t.Errorf("Elapsed %v, want 30s", u.Elapsed)
	}
	clk.advance(10 * time.Second)
	r.Step(Step{Iteration: 21, Total: 100, Work: 0.5}, nil) // Work overrides the count
	if u := <-h.updates; u.ETA != 30*time.Second {
		t.Errorf("ETA from Work %v, want 30s", u.ETA)
	}
	r.Stage("writing the image")
	if u := <-h.updates; u.Stage != "writing the image" || u.Iteration != 21 || u.Kind != job.Progress {
		t.Errorf("Stage update %+v", u)
	}
}

// TestNoticesNeverDropped: notices survive being replaced by later
// progress, in order, and are delivered once.
func TestNoticesNeverDropped(t *testing.T) {
	clk := newFakeClock()
	h := testHandle()
	r := newReporter(h, job.Request{}, clk.now)
	r.Notice("the content image was scaled down")
	r.Step(step(1, 5), nil)
	r.Notice("a steering was refused")
	r.Step(step(2, 5), nil)
	u := <-h.updates
	if len(u.Notices) != 2 || u.Notices[0] != "the content image was scaled down" || u.Notices[1] != "a steering was refused" || u.Iteration != 2 {
		t.Fatalf("got notices %q at iteration %d", u.Notices, u.Iteration)
	}
	r.Step(step(3, 5), nil)
	if u := <-h.updates; len(u.Notices) != 0 {
		t.Errorf("notices delivered twice: %q", u.Notices)
	}
}
