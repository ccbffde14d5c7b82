package service

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"atelier/engine/job"
)

// fakeRunner is a tiny Runner for the service's tests: it runs iters
// iterations (0: until cancelled), optionally waiting for a tick before each
// one, reporting every iteration with a fresh 2x2 frame whose first pixel
// encodes the iteration.
type fakeRunner struct {
	iters  int
	tick   chan struct{}    // nil: run freely
	ack    chan struct{}    // with tick: receives a value after each iteration
	pause  time.Duration    // sleep per iteration
	steer  chan steerRecord // receives every steering the runner sees
	fail   error            // returned after the iterations
	panics bool
	ran    atomic.Int32
}

type steerRecord struct {
	iter int
	p    job.Params
}

func (f *fakeRunner) Run(ctx context.Context, req job.Request, rep *Reporter) (Result, error) {
	f.ran.Add(1)
	rep.Stage("warming up")
	for i := 1; f.iters == 0 || i <= f.iters; i++ {
		if f.tick != nil {
			select {
			case <-f.tick:
			case <-ctx.Done():
				return Result{}, fmt.Errorf("fake: stopped before iteration %d: %w", i, ctx.Err())
			}
		}
		if err := ctx.Err(); err != nil {
			return Result{}, fmt.Errorf("fake: %w", err)
		}
		if p, ok := rep.Steering(); ok && f.steer != nil {
			f.steer <- steerRecord{i, p}
		}
		if f.pause > 0 {
			time.Sleep(f.pause)
		}
		rep.Step(Step{Stage: "optimising", Iteration: i, Total: f.iters, Scale: 1, Scales: 1,
			Losses: job.Losses{Total: 1 / float64(i)}}, func() *image.RGBA { return frameFor(i) })
		if f.ack != nil {
			f.ack <- struct{}{}
		}
	}
	if f.panics {
		var m map[string]int
		m["boom"]++ // a programming error in a runner
	}
	if f.fail != nil {
		return Result{}, f.fail
	}
	img := frameFor(f.iters)
	return Result{Image: img, Metadata: map[string]string{"iters": fmt.Sprint(f.iters)}}, nil
}

func frameFor(i int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Pix[0], img.Pix[1] = byte(i), byte(i>>8)
	return img
}

func frameIter(img *image.RGBA) int { return int(img.Pix[0]) | int(img.Pix[1])<<8 }

func stylizeRequest() job.Request {
	return job.Request{Kind: job.KindStylize, FrameEvery: 1, FrameInterval: time.Nanosecond,
		Stylize: &job.StylizeOptions{
			Content: job.Source{Path: "c.png"},
			Styles:  []job.Style{{Source: job.Source{Path: "s.png"}, Weight: 1}},
		}}
}

func start(t *testing.T, r Runner, req job.Request) (*Service, *Handle) {
	t.Helper()
	s := New(map[job.Kind]Runner{job.KindStylize: r})
	h, err := s.Start(context.Background(), req)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		h.Cancel()
		waitFor(t, h)
	})
	return s, h
}

// waitFor waits for the job's end, failing the test after a few seconds.
func waitFor(t *testing.T, h *Handle) job.Update {
	t.Helper()
	select {
	case <-h.Done():
		return h.Wait()
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not finish within 10 s")
		return job.Update{}
	}
}

// drain reads every update until the channel closes.
func drain(t *testing.T, h *Handle, pause time.Duration) []job.Update {
	t.Helper()
	var got []job.Update
	timeout := time.After(10 * time.Second)
	for {
		select {
		case u, ok := <-h.Updates():
			if !ok {
				return got
			}
			got = append(got, u)
			time.Sleep(pause)
		case <-timeout:
			t.Fatalf("the updates channel was not closed within 10 s (%d updates read)", len(got))
		}
	}
}

// TestEngineNeverWaitsForReader runs a whole job while nobody reads: the
// engine must finish anyway, and the reader then finds one update holding
// the final result (with the newest frame), not a backlog.
func TestEngineNeverWaitsForReader(t *testing.T) {
	const iters = 3000
	_, h := start(t, &fakeRunner{iters: iters}, stylizeRequest())
	final := waitFor(t, h)
	got := drain(t, h, 0)
	if len(got) != 1 {
		t.Fatalf("a reader that read nothing during the job found %d updates, want only the final one", len(got))
	}
	u := got[0]
	if u.Kind != job.Done || final.Kind != job.Done {
		t.Fatalf("final update kinds: channel %v, Wait %v; want done", u.Kind, final.Kind)
	}
	if u.Iteration != iters {
		t.Errorf("final update says iteration %d, want %d", u.Iteration, iters)
	}
	if u.Image == nil || frameIter(u.Image) != iters%65536 || u.Metadata["iters"] != fmt.Sprint(iters) {
		t.Errorf("final update lost the result: image %v metadata %v", u.Image != nil, u.Metadata)
	}
	if u.Frame == nil || frameIter(u.Frame) != iters {
		t.Errorf("final update should carry the newest frame (iteration %d)", iters)
	}
}

// TestLatestWinsSlowReader reads slowly while the job runs: the reader sees
// a few updates in increasing order, frames are never lost in favour of a
// frameless update, and the final one arrives last.
func TestLatestWinsSlowReader(t *testing.T) {
	const iters = 200
	_, h := start(t, &fakeRunner{iters: iters, pause: time.Millisecond}, stylizeRequest())
	got := drain(t, h, 10*time.Millisecond)
	if len(got) < 2 {
		t.Fatalf("read %d updates, want some progress and the final one", len(got))
	}
	if len(got) > iters/2 {
		t.Errorf("a slow reader got %d updates for %d iterations: they piled up", len(got), iters)
	}
	last := got[len(got)-1]
	if last.Kind != job.Done {
		t.Fatalf("last update is %v, want done", last.Kind)
	}
	prev := -1
	for i, u := range got[:len(got)-1] {
		if u.Kind.Final() {
			t.Fatalf("update %d of %d is final (%v)", i, len(got), u.Kind)
		}
		if u.Iteration < prev {
			t.Errorf("update %d went back from iteration %d to %d", i, prev, u.Iteration)
		}
		prev = u.Iteration
		if u.Iteration > 0 && u.Frame == nil {
			t.Errorf("update %d (iteration %d) has no frame although every iteration sent one", i, u.Iteration)
		}
		if u.Frame != nil && frameIter(u.Frame) != u.Iteration {
			t.Errorf("update %d at iteration %d carries the frame of iteration %d", i, u.Iteration, frameIter(u.Frame))
		}
	}
}

// TestFinalAlwaysArrives ends jobs every way there is and reads only
// after they finished.
func TestFinalAlwaysArrives(t *testing.T) {
	boom := errors.New("fake: the style image is a photograph of a cat")
	cases := []struct {
		name   string
		runner *fakeRunner
		cancel bool
		want   job.UpdateKind
		errHas string
	}{
		{"done", &fakeRunner{iters: 50}, false, job.Done, ""},
		{"error", &fakeRunner{iters: 50, fail: boom}, false, job.Error, "photograph of a cat"},
		{"panic", &fakeRunner{iters: 5, panics: true}, false, job.Error, "internal error"},
		{"cancelled", &fakeRunner{iters: 0}, true, job.Cancelled, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, h := start(t, c.runner, stylizeRequest())
			if c.cancel {
				time.Sleep(5 * time.Millisecond)
				h.Cancel()
			}
			waitFor(t, h)
			got := drain(t, h, 0)
			if len(got) != 1 {
				t.Fatalf("got %d updates after the end, want 1", len(got))
			}
			u := got[0]
			if u.Kind != c.want {
				t.Fatalf("final kind %v (err %v), want %v", u.Kind, u.Err, c.want)
			}
			if c.errHas == "" && u.Err != nil {
				t.Errorf("unexpected error %v", u.Err)
			}
			if c.errHas != "" && (u.Err == nil || !strings.Contains(u.Err.Error(), c.errHas)) {
				t.Errorf("error %v, want one mentioning %q", u.Err, c.errHas)
			}
			if h.Wait().Kind != c.want {
				t.Errorf("Wait returned %v, the channel %v", h.Wait().Kind, c.want)
			}
		})
	}
}

// TestCancelMidRunIsCancelled cancels a running job (by Cancel and by the
// parent context): the end is "cancelled", never "error", even though the
// runner wraps ctx.Err() in its own message.
func TestCancelMidRunIsCancelled(t *testing.T) {
	for _, how := range []string{"Cancel", "parent context", "Stop"} {
		t.Run(how, func(t *testing.T) {
			r := &fakeRunner{iters: 0, pause: 100 * time.Microsecond}
			s := New(map[job.Kind]Runner{job.KindStylize: r})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			h, err := s.Start(ctx, stylizeRequest())
			if err != nil {
				t.Fatal(err)
			}
			for u := range h.Updates() {
				if u.Iteration >= 3 {
					break
				}
			}
			switch how {
			case "Cancel":
				h.Cancel()
			case "parent context":
				cancel()
			case "Stop":
				s.Stop()
				if s.Running() != nil {
					t.Error("Stop returned while the job was still running")
				}
			}
			final := waitFor(t, h)
			if final.Kind != job.Cancelled || final.Err != nil {
				t.Fatalf("after %s: final %v (err %v), want cancelled", how, final.Kind, final.Err)
			}
			if final.Iteration < 3 || final.Frame == nil {
				t.Errorf("the cancelled update should keep the progress reached: iteration %d, frame %v", final.Iteration, final.Frame != nil)
			}
			var last job.Update
			for u := range h.Updates() {
				last = u
			}
			if last.Kind != job.Cancelled {
				t.Errorf("the channel's last update is %v, want cancelled", last.Kind)
			}
		})
	}
}

// TestSteeringReachesJob steers between two iterations: the runner sees
// the merged Params at the very next iteration, once.
func TestSteeringReachesJob(t *testing.T) {
	r := &fakeRunner{iters: 10, tick: make(chan struct{}), ack: make(chan struct{}), steer: make(chan steerRecord, 10)}
	_, h := start(t, r, stylizeRequest())
	for range 5 {
		r.tick <- struct{}{}
		<-r.ack
	}
	// Iteration 5 is over and the runner waits for tick 6; steering sent
	// now must be seen at iteration 6.
	h.Steer(job.Params{Morph: job.Float(0.25), TVWeight: job.Float(1)})
	mix := []float64{2, 0}
	h.Steer(job.Params{Morph: job.Float(0.75), StyleMix: mix})
	mix[0] = 99 // the caller's slice is not shared with the job
	h.Steer(job.Params{})
	for range 5 {
		r.tick <- struct{}{}
		<-r.ack
	}
	final := waitFor(t, h)
	if final.Kind != job.Done {
		t.Fatalf("final %v (%v)", final.Kind, final.Err)
	}
	close(r.steer)
	var seen []steerRecord
	for s := range r.steer {
		seen = append(seen, s)
	}
	if len(seen) != 1 {
		t.Fatalf("the runner saw steering %d times, want once (merged)", len(seen))
	}
	s := seen[0]
	if s.iter != 6 {
		t.Errorf("steering reached iteration %d, want 6 (the next one)", s.iter)
	}
	if s.p.Morph == nil || *s.p.Morph != 0.75 || s.p.TVWeight == nil || *s.p.TVWeight != 1 ||
		len(s.p.StyleMix) != 2 || s.p.StyleMix[0] != 2 || s.p.ContentWeight != nil {
		t.Errorf("merged steering wrong: %+v", s.p)
	}
	h.Steer(job.Params{Morph: job.Float(1)}) // after the end: ignored, no panic
}

// TestStartRefusesWhileBusy: one job at a time; Stop then Start works.
func TestStartRefusesWhileBusy(t *testing.T) {
	r := &fakeRunner{iters: 0, pause: 100 * time.Microsecond}
	s, h := start(t, r, stylizeRequest())
	if _, err := s.Start(context.Background(), stylizeRequest()); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Start: %v, want ErrBusy", err)
	}
	if s.Running() != h {
		t.Error("Running does not return the running job")
	}
	s.Stop()
	if got := h.Wait().Kind; got != job.Cancelled {
		t.Errorf("stopped job ended %v", got)
	}
	h2, err := s.Start(context.Background(), stylizeRequest())
	if err != nil {
		t.Fatalf("Start after Stop: %v", err)
	}
	h2.Cancel()
	waitFor(t, h2)
	if n := r.ran.Load(); n != 2 {
		t.Errorf("runner ran %d times, want 2", n)
	}
	if s.Running() != nil {
		t.Error("Running returns a finished job")
	}
}

func TestStartRefusals(t *testing.T) {
	s := New(map[job.Kind]Runner{job.KindStylize: &fakeRunner{iters: 1}})
	cases := []struct {
		name string
		req  job.Request
		want error
	}{
		{"no runner", job.Request{Kind: job.KindUpscale, Upscale: &job.UpscaleOptions{Input: job.Source{Path: "x.png"}}}, ErrNoRunner},
		{"no kind", job.Request{}, job.ErrInvalid},
		{"no options", job.Request{Kind: job.KindStylize}, job.ErrInvalid},
		{"zero style weights", job.Request{Kind: job.KindStylize, Stylize: &job.StylizeOptions{
			Content: job.Source{Path: "c.png"}, Styles: []job.Style{{Source: job.Source{Path: "s.png"}}}}}, job.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := s.Start(context.Background(), c.req)
			if !errors.Is(err, c.want) || h != nil {
				t.Fatalf("Start: %v, want %v", err, c.want)
			}
		})
	}
	if !s.Available(job.KindStylize) || s.Available(job.KindTexture) {
		t.Error("Available disagrees with the registered runners")
	}
}

// TestStartRightAfterFinal: a reader that has received the final update
// can start the next job at once (the UI's Stop then Start).
func TestStartRightAfterFinal(t *testing.T) {
	s := New(map[job.Kind]Runner{job.KindStylize: &fakeRunner{iters: 3}})
	for i := range 50 {
		h, err := s.Start(context.Background(), stylizeRequest())
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		for u := range h.Updates() {
			if u.Kind.Final() {
				break
			}
		}
	}
}
