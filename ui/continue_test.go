package ui

import (
	"errors"
	"image"
	"testing"

	"fyne.io/fyne/v2/test"

	"atelier/engine/job"
)

// sendAndWait hands u to the studio and waits until it is shown.
func sendAndWait(t *testing.T, s *studio, j *fakeJob, u job.Update) {
	t.Helper()
	j.updates <- u
	waitFor(t, s, func() bool { return s.sc.curve.lastIteration() == s.sc.curveBase+u.Iteration })
}

func TestContinueAfterStop(t *testing.T) {
	s, e, _, _ := readyStudio(t)
	if !s.sc.cont.Disabled() {
		t.Fatal("Continue is enabled before any job")
	}
	s.onUI(func() { test.Tap(s.sc.start) })
	_, j := e.last(t)
	if !s.sc.cont.Disabled() {
		t.Error("Continue is enabled while a job runs")
	}
	frame := image.NewRGBA(image.Rect(0, 0, 16, 12))
	sendAndWait(t, s, j, job.Update{Kind: job.Frame, Iteration: 30, Total: 200, Frame: frame,
		Losses: job.Losses{Total: 10, Content: 2, Style: 8}})
	s.onUI(func() { test.Tap(s.sc.stop) })
	j.finish(s, job.Update{Kind: job.Cancelled, Iteration: 31, Total: 200})
	if s.sc.cont.Disabled() {
		t.Fatal("Continue is disabled after a stop with a picture")
	}
	s.onUI(func() { test.Tap(s.sc.cont) })
	req, j2 := e.last(t)
	if len(e.reqs) != 2 || j2 == j {
		t.Fatalf("Continue started %d jobs in all, want 2", len(e.reqs))
	}
	o := req.Stylize
	if o.Start == nil || o.Start.Image != frame {
		t.Fatalf("the continued job starts from %+v, want the last frame", o.Start)
	}
	if o.Scales != 1 {
		t.Errorf("the continued job runs %d scales, want 1 (it is at full size already)", o.Scales)
	}
	if err := req.Validate(); err != nil {
		t.Errorf("the continued request is invalid: %v", err)
	}
	// The loss curve goes on from iteration 30.
	sendAndWait(t, s, j2, job.Update{Kind: job.Progress, Iteration: 5, Total: 200, Losses: job.Losses{Total: 9, Content: 2, Style: 7}})
	if got := s.sc.curve.lastIteration(); got != 35 {
		t.Errorf("the curve's last iteration is %d after 5 more, want 35", got)
	}
	final := image.NewRGBA(image.Rect(0, 0, 64, 48))
	j2.finish(s, job.Update{Kind: job.Done, Iteration: 200, Total: 200, Image: final})
	s.onUI(func() { test.Tap(s.sc.cont) })
	if req, _ := e.last(t); req.Stylize.Start == nil || req.Stylize.Start.Image != final {
		t.Error("after Done, Continue does not start from the full-size result")
	}
	_, j3 := e.last(t)
	j3.finish(s, job.Update{Kind: job.Error, Err: errors.New("boom")})
	if !s.sc.cont.Disabled() {
		t.Error("Continue is enabled after a failed job")
	}
	// A fresh Start does not start from the last picture, and restarts the curve.
	s.onUI(func() { test.Tap(s.sc.start) })
	req, j4 := e.last(t)
	if req.Stylize.Start != nil || s.sc.curve.lastIteration() != 0 {
		t.Errorf("Start continued from %+v with the curve at %d", req.Stylize.Start, s.sc.curve.lastIteration())
	}
	j4.finish(s, job.Update{Kind: job.Cancelled})
	if !s.sc.cont.Disabled() {
		t.Error("Continue is enabled after a job that left no picture")
	}
}
