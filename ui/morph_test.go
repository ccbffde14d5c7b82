package ui

import (
	"context"
	"image"
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"atelier/engine/job"
	"atelier/engine/service"
)

// morphStudio is readyStudio with a second style, s2.png, moved to group B.
func morphStudio(t *testing.T) (*studio, *fakeEngine, string, string) {
	t.Helper()
	s, e, _, first := readyStudio(t)
	second := filepath.Join(filepath.Dir(first), "s2.png")
	writePNG(t, second, 20, 20)
	s.onUI(func() { s.load(s.style, second) })
	s.pending.Wait()
	s.onUI(func() { test.Tap(s.sc.styles[1].groupBtn) })
	return s, e, first, second
}

func (j *fakeJob) steered() []job.Params {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]job.Params(nil), j.steers...)
}

func TestMorphGroupsMakeTheRequest(t *testing.T) {
	s, e, first, second := morphStudio(t)
	if got := s.sc.styles[1].groupBtn.Text; got != "B" {
		t.Fatalf("group button says %q after a tap, want B", got)
	}
	s.onUI(func() {
		s.sc.morph.SetValue(0.25)
		s.sc.styles[1].weight.SetValue(0.5)
		test.Tap(s.sc.start)
	})
	req, j := e.last(t)
	o := req.Stylize
	if len(o.Styles) != 1 || o.Styles[0].Path != first || len(o.MorphTo) != 1 || o.MorphTo[0].Path != second ||
		o.MorphTo[0].Weight != 0.5 || o.Morph != 0.25 {
		t.Errorf("styles %+v, morph-to %+v at %v; want %s in A, %s at 0.5 in B, morph 0.25", o.Styles, o.MorphTo, o.Morph, first, second)
	}
	if err := req.Validate(); err != nil {
		t.Errorf("the studio built an invalid request: %v", err)
	}
	if !s.sc.styles[0].groupBtn.Disabled() {
		t.Error("the groups can be changed while the job runs")
	}
	s.onUI(func() { test.Tap(s.sc.styles[0].groupBtn) })
	if s.sc.styles[0].group != groupA {
		t.Error("a style changed group under a running job")
	}
	j.finish(s, job.Update{Kind: job.Cancelled})
}

func TestMorphAloneInB(t *testing.T) {
	s, e, _, first := readyStudio(t)
	s.onUI(func() {
		test.Tap(s.sc.styles[0].groupBtn) // the only style, in B
		s.sc.morph.SetValue(0.6)
	})
	if got := s.sc.morphLabel.Text; got != "A only" {
		t.Errorf("morph label %q with one group, want %q", got, "A only")
	}
	s.onUI(func() { test.Tap(s.sc.start) })
	req, j := e.last(t)
	if o := req.Stylize; len(o.Styles) != 1 || o.Styles[0].Path != first || len(o.MorphTo) != 0 || o.Morph != 0 {
		t.Errorf("a lone B style gave styles %+v, morph-to %+v at %v; want it as the only set, no morph", o.Styles, o.MorphTo, o.Morph)
	}
	s.onUI(func() { s.sc.morph.SetValue(0.9) })
	for _, p := range j.steered() {
		if p.Morph != nil {
			t.Errorf("a job without a B set was steered with morph %v", *p.Morph)
		}
	}
	j.finish(s, job.Update{Kind: job.Cancelled})
}

func TestMorphSliderSteersRunningJob(t *testing.T) {
	s, e, _, _ := morphStudio(t)
	s.onUI(func() { test.Tap(s.sc.start) })
	_, j := e.last(t)
	s.onUI(func() {
		s.sc.morph.SetValue(0.7)
		s.sc.styles[1].weight.SetValue(0.4)
		s.sc.styles[0].weight.SetValue(0) // A unused only at morph 1: not sent
	})
	steers := j.steered()
	if len(steers) != 3 {
		t.Fatalf("%d steerings, want 3: %+v", len(steers), steers)
	}
	if p := steers[0]; p.Morph == nil || *p.Morph != 0.7 {
		t.Errorf("morph steering %+v, want 0.7", p)
	}
	if p := steers[1]; len(p.StyleMix) != 1 || p.StyleMix[0] != 1 || len(p.MorphMix) != 1 || p.MorphMix[0] != 0.4 {
		t.Errorf("mix steering %+v, want A [1] and B [0.4]", p)
	}
	if p := steers[2]; p.StyleMix != nil || len(p.MorphMix) != 1 {
		t.Errorf("steering with A all zero at morph 0.7: %+v, want B's mix alone", p)
	}
	if len(e.reqs) != 1 {
		t.Errorf("moving the morph slider restarted the job (%d starts)", len(e.reqs))
	}
	j.finish(s, job.Update{Kind: job.Cancelled})
}

// TestMorphReachesTheRunner steers through the real service: the morph
// position reaches the runner's steering.
func TestMorphReachesTheRunner(t *testing.T) {
	steered := make(chan job.Params, 16)
	var started job.Request
	runner := service.RunnerFunc(func(ctx context.Context, req job.Request, rep *service.Reporter) (service.Result, error) {
		started = req
		for i := 1; ; i++ {
			if err := ctx.Err(); err != nil {
				return service.Result{}, err
			}
			if p, ok := rep.Steering(); ok {
				steered <- p
			}
			rep.Step(service.Step{Iteration: i, Total: 1000}, func() *image.RGBA { return image.NewRGBA(image.Rect(0, 0, 8, 8)) })
			time.Sleep(2 * time.Millisecond)
		}
	})
	s, _, _, _ := morphStudio(t)
	s.engine = FromService(service.New(map[job.Kind]service.Runner{job.KindStylize: runner}))
	s.sc.frameGap = 20 * time.Millisecond
	s.onUI(func() { test.Tap(s.sc.start) })
	waitFor(t, s, func() bool { return s.sc.output.Image != nil })
	if len(started.Stylize.MorphTo) != 1 {
		t.Fatalf("the runner got %d morph-to styles, want 1", len(started.Stylize.MorphTo))
	}
	s.onUI(func() { s.sc.morph.SetValue(1) })
	deadline := time.After(5 * time.Second)
	for got := false; !got; {
		select {
		case p := <-steered:
			got = p.Morph != nil && *p.Morph == 1
		case <-deadline:
			t.Fatal("the morph position never reached the runner")
		}
	}
	s.onUI(func() { test.Tap(s.sc.stop) })
	s.pending.Wait()
}
