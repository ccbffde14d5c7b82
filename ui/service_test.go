package ui

import (
	"context"
	"image"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"atelier/engine/job"
	"atelier/engine/service"
)

// TestRealServiceAdapter drives the studio through the real service (with
// a runner that needs no network): frames reach the canvas, steering
// reaches the runner, and Stop ends the job with "Cancelled".
func TestRealServiceAdapter(t *testing.T) {
	steered := make(chan job.Params, 1)
	runner := service.RunnerFunc(func(ctx context.Context, req job.Request, rep *service.Reporter) (service.Result, error) {
		for i := 1; ; i++ {
			if err := ctx.Err(); err != nil {
				return service.Result{}, err
			}
			if p, ok := rep.Steering(); ok {
				select {
				case steered <- p:
				default:
				}
			}
			rep.Step(service.Step{Iteration: i, Total: 1000}, func() *image.RGBA { return image.NewRGBA(image.Rect(0, 0, 8, 8)) })
			time.Sleep(2 * time.Millisecond)
		}
	})
	s, _, _, _ := readyStudio(t)
	s.engine = FromService(service.New(map[job.Kind]service.Runner{job.KindStylize: runner}))
	s.sc.frameGap = 20 * time.Millisecond
	s.onUI(func() { test.Tap(s.sc.start) })
	waitFor(t, s, func() bool { return s.sc.output.Image != nil })
	s.onUI(func() { s.sc.ratio.SetValue(1) })
	select {
	case p := <-steered:
		if p.StyleRatio == nil || *p.StyleRatio != 1000 {
			t.Errorf("runner was steered with %+v, want style ratio 1000", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("steering never reached the runner")
	}
	s.onUI(func() { test.Tap(s.sc.stop) })
	s.pending.Wait()
	if got := s.sc.status.Text; got != "Cancelled" {
		t.Errorf("status %q, want Cancelled", got)
	}
}

// waitFor polls cond on the UI goroutine for up to 5 s.
func waitFor(t *testing.T, s *studio, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ok := false
		s.onUI(func() { ok = cond() })
		if ok {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("condition not met within 5 s")
}
