package ui

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"atelier/engine/job"
	"atelier/engine/service"
)

// fakeEngine records the jobs started; each fakeJob records steering and
// cancellation, and its updates come from the test.
type fakeEngine struct {
	mu   sync.Mutex
	reqs []job.Request
	jobs []*fakeJob
	err  error // returned by Start when set
}

func (e *fakeEngine) Start(_ context.Context, req job.Request) (Job, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return nil, e.err
	}
	j := &fakeJob{updates: make(chan job.Update, 16)}
	e.reqs = append(e.reqs, req)
	e.jobs = append(e.jobs, j)
	return j, nil
}

func (e *fakeEngine) last(t *testing.T) (job.Request, *fakeJob) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.jobs) == 0 {
		t.Fatal("no job started")
	}
	return e.reqs[len(e.reqs)-1], e.jobs[len(e.jobs)-1]
}

type fakeJob struct {
	updates   chan job.Update
	mu        sync.Mutex
	steers    []job.Params
	cancelled int
}

func (j *fakeJob) Updates() <-chan job.Update { return j.updates }
func (j *fakeJob) Steer(p job.Params) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.steers = append(j.steers, p)
}
func (j *fakeJob) Cancel() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.cancelled++
}

// finish sends the final update u, closes the channel as the service
// does, and waits until the studio has shown it.
func (j *fakeJob) finish(s *studio, u job.Update) {
	j.updates <- u
	close(j.updates)
	s.pending.Wait()
}

// The real service satisfies the studio's Engine through FromService.
var _ Job = (*service.Handle)(nil)

// readyStudio opens a content and a style picture in a studio driven by a
// fake engine.
func readyStudio(t *testing.T) (*studio, *fakeEngine, string, string) {
	t.Helper()
	dir := t.TempDir()
	content, style := filepath.Join(dir, "c.png"), filepath.Join(dir, "s.png")
	writePNG(t, content, 40, 30)
	writePNG(t, style, 30, 30)
	s := newTestStudio(t, Options{Content: content, Style: style}, noPick(t))
	e := &fakeEngine{}
	s.engine = e
	s.sc.frameGap = 0
	s.pending.Wait()
	return s, e, content, style
}

func TestStartSendsControlValues(t *testing.T) {
	s, e, content, style := readyStudio(t)
	s.onUI(func() {
		s.sc.size.SetSelected("256")
		s.sc.quality.SetSelectedIndex(0)
		s.sc.network.SetSelected("resnet50")
		s.sc.seed.SetText("42")
		s.sc.colours.SetChecked(true)
		s.sc.ratio.SetValue(0.5) // 10^(−1+2) = 10
		s.sc.styles[0].weight.SetValue(0.6)
		test.Tap(s.sc.start)
	})
	req, _ := e.last(t)
	o := req.Stylize
	if req.Kind != job.KindStylize || o == nil {
		t.Fatalf("request %+v, want a stylize job", req)
	}
	if o.Content.Path != content || len(o.Styles) != 1 || o.Styles[0].Path != style || o.Styles[0].Weight != 0.6 {
		t.Errorf("images %+v / %+v, want %s and %s at 0.6", o.Content, o.Styles, content, style)
	}
	if o.Size != 256 || o.Iterations != 50 || o.Network != job.NetworkResNet50 || o.Seed != 42 || o.Colour != job.ColourLuminance {
		t.Errorf("options %+v, want size 256, 50 iterations, resnet50, seed 42, luminance", o)
	}
	if math.Abs(o.StyleRatio-10) > 1e-9 || o.TVWeight != 0 {
		t.Errorf("ratio %v tv %v, want 10 and the network's default (0)", o.StyleRatio, o.TVWeight)
	}
	if err := req.Validate(); err != nil {
		t.Errorf("the studio built an invalid request: %v", err)
	}
	if !s.sc.start.Disabled() || s.sc.stop.Disabled() || !s.sc.size.Disabled() {
		t.Error("while running, Start and the size should be disabled and Stop enabled")
	}
	s.onUI(func() { test.Tap(s.sc.start) })
	if len(e.reqs) != 1 {
		t.Errorf("a second Start while running started %d jobs", len(e.reqs))
	}
}

func TestStartWithoutImagesExplains(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(c, st string) Options
		want string
	}{
		{"no content", func(_, st string) Options { return Options{Style: st} }, "Open a content image first."},
		{"no style", func(c, _ string) Options { return Options{Content: c} }, "Add at least one style image first."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c, st := filepath.Join(dir, "c.png"), filepath.Join(dir, "s.png")
			writePNG(t, c, 20, 20)
			writePNG(t, st, 20, 20)
			s := newTestStudio(t, tc.opts(c, st), noPick(t))
			e := &fakeEngine{}
			s.engine = e
			s.pending.Wait()
			s.onUI(func() { test.Tap(s.sc.start) })
			if got := overlayText(s.window); !strings.Contains(got, tc.want) {
				t.Errorf("dialog %q, want %q", got, tc.want)
			}
			if len(e.reqs) != 0 {
				t.Error("a job started without its images")
			}
		})
	}
}

func TestSlidersSteerRunningJob(t *testing.T) {
	s, e, _, _ := readyStudio(t)
	s.onUI(func() { s.sc.ratio.SetValue(0.25) }) // before the start: no job to steer
	s.onUI(func() { test.Tap(s.sc.start) })
	_, j := e.last(t)
	s.onUI(func() {
		s.sc.ratio.SetValue(0.75)
		s.sc.tv.SetValue(0)
		s.sc.styles[0].weight.SetValue(0.3)
		s.sc.colours.SetChecked(true)
	})
	j.mu.Lock()
	steers := append([]job.Params(nil), j.steers...)
	j.mu.Unlock()
	if len(steers) != 4 {
		t.Fatalf("%d steerings, want 4: %+v", len(steers), steers)
	}
	if p := steers[0]; p.StyleRatio == nil || math.Abs(*p.StyleRatio-100) > 1e-9 {
		t.Errorf("ratio steering %+v, want 100", p)
	}
	if p := steers[1]; p.TVWeight == nil || *p.TVWeight >= 0 {
		t.Errorf("TV steering %+v, want off (negative)", p)
	}
	if p := steers[2]; len(p.StyleMix) != 1 || p.StyleMix[0] != 0.3 {
		t.Errorf("mix steering %+v, want [0.3]", p)
	}
	if p := steers[3]; p.Colour == nil || *p.Colour != job.ColourLuminance {
		t.Errorf("colour steering %+v, want luminance", p)
	}
	if len(e.reqs) != 1 {
		t.Errorf("steering restarted the job (%d starts)", len(e.reqs))
	}
	j.finish(s, job.Update{Kind: job.Cancelled})
}

func TestStopCancels(t *testing.T) {
	s, e, _, _ := readyStudio(t)
	s.onUI(func() { test.Tap(s.sc.start) })
	_, j := e.last(t)
	s.onUI(func() { test.Tap(s.sc.stop) })
	if j.cancelled != 1 {
		t.Fatalf("Cancel called %d times, want 1", j.cancelled)
	}
	frame := image.NewRGBA(image.Rect(0, 0, 8, 6))
	j.finish(s, job.Update{Kind: job.Cancelled, Frame: frame, Iteration: 3, Total: 50})
	if got := s.sc.status.Text; got != "Cancelled" {
		t.Errorf("status %q, want Cancelled", got)
	}
	if s.sc.output.Image != frame {
		t.Error("the last frame of a cancelled run is not shown")
	}
	if s.sc.start.Disabled() || !s.sc.stop.Disabled() || !s.sc.export.Disabled() {
		t.Error("after a cancel: Start should be enabled, Stop and Export disabled")
	}
	if msg := overlayText(s.window); msg != "" {
		t.Errorf("a cancel showed a dialog: %s", msg)
	}
}

func TestErrorUpdateShowsDialog(t *testing.T) {
	s, e, _, _ := readyStudio(t)
	s.onUI(func() { test.Tap(s.sc.start) })
	_, j := e.last(t)
	j.finish(s, job.Update{Kind: job.Error, Err: errors.New("runner: style: the style image is too small.")})
	got := overlayText(s.window)
	if !strings.Contains(got, "The style image is too small.") || strings.Contains(got, "runner:") {
		t.Errorf("dialog %q, want the plain sentence without package prefixes", got)
	}
	if s.sc.start.Disabled() {
		t.Error("Start left disabled after an error")
	}
}

func TestStartRefusedShowsDialog(t *testing.T) {
	s, e, _, _ := readyStudio(t)
	e.err = service.ErrBusy
	s.onUI(func() { test.Tap(s.sc.start) })
	if got := overlayText(s.window); !strings.Contains(got, "A job is already running.") {
		t.Errorf("dialog %q, want the busy sentence", got)
	}
	if s.sc.start.Disabled() {
		t.Error("a refused start left Start disabled")
	}
}

func TestProgressAndFrames(t *testing.T) {
	s, e, _, _ := readyStudio(t)
	s.onUI(func() { test.Tap(s.sc.start) })
	_, j := e.last(t)
	frame := image.NewRGBA(image.Rect(0, 0, 16, 12))
	j.updates <- job.Update{Kind: job.Frame, Iteration: 50, Total: 200, Scale: 1, Scales: 2, ETA: 90 * time.Second, Frame: frame}
	deadline := time.Now().Add(5 * time.Second)
	var status string
	for time.Now().Before(deadline) {
		s.onUI(func() { status = s.sc.status.Text })
		if strings.HasPrefix(status, "Iteration") {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if want := "Iteration 50 of 200 (scale 1 of 2) — about 1m30s left"; status != want {
		t.Errorf("status %q, want %q", status, want)
	}
	s.onUI(func() {
		if s.sc.progress.Value != 0.25 || s.sc.output.Image != frame {
			t.Errorf("progress %v, image %p; want 0.25 and the frame", s.sc.progress.Value, s.sc.output.Image)
		}
	})
	final := image.NewRGBA(image.Rect(0, 0, 32, 24))
	j.finish(s, job.Update{Kind: job.Done, Iteration: 200, Total: 200, Image: final, Metadata: map[string]string{"k": "v"}})
	if s.sc.export.Disabled() || s.sc.output.Image != final {
		t.Error("a finished job should show its image and enable Export")
	}
}

// TestWatchThrottles checks that a fast engine reaches the UI at about 15
// updates a second, the newest one winning.
func TestWatchThrottles(t *testing.T) {
	s, e, _, _ := readyStudio(t)
	s.sc.frameGap = 50 * time.Millisecond
	var mu sync.Mutex
	shown := 0
	inner := s.onUI
	s.onUI = func(f func()) { mu.Lock(); shown++; mu.Unlock(); inner(f) }
	s.onUI(func() { test.Tap(s.sc.start) })
	_, j := e.last(t)
	mu.Lock()
	shown = 0
	mu.Unlock()
	start := time.Now()
	go func() {
		for i := 1; i <= 200; i++ {
			u := job.Update{Kind: job.Progress, Iteration: i, Total: 200}
			select { // latest wins, as the service's one-slot channel
			case j.updates <- u:
			default:
				select {
				case <-j.updates:
				default:
				}
				j.updates <- u
			}
			time.Sleep(time.Millisecond)
		}
		j.finish(s, job.Update{Kind: job.Done, Iteration: 200, Total: 200})
	}()
	time.Sleep(20 * time.Millisecond)
	s.pending.Wait()
	elapsed := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	if max := int(elapsed/s.sc.frameGap) + 2; shown > max || shown < 2 {
		t.Errorf("the UI was updated %d times in %v, want 2..%d at one per %v", shown, elapsed, max, s.sc.frameGap)
	}
}

func TestExport(t *testing.T) {
	for _, tc := range []struct {
		name      string
		exists    bool
		confirm   bool
		wantSaved bool
		wantOver  bool
	}{
		{"new file", false, false, true, false},
		{"existing, replaced", true, true, true, true},
		{"existing, kept", true, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, e, _, _ := readyStudio(t)
			dir := t.TempDir()
			path := filepath.Join(dir, "out.png")
			if tc.exists {
				if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var saved []string
			var over bool
			s.save = func(p string, img image.Image, meta map[string]string, overwrite bool) error {
				if img == nil || meta["k"] != "v" {
					t.Errorf("saved image %v with metadata %v", img, meta)
				}
				saved, over = append(saved, p), overwrite
				return nil
			}
			s.saveAs = func(_, _, name string) (string, error) {
				if name != "c-stylized.png" {
					t.Errorf("suggested name %q", name)
				}
				return strings.TrimSuffix(path, ".png"), nil // no extension: .png is added
			}
			s.onUI(func() { test.Tap(s.sc.start) })
			_, j := e.last(t)
			img := image.NewRGBA(image.Rect(0, 0, 4, 4))
			img.Set(1, 1, color.White)
			j.finish(s, job.Update{Kind: job.Done, Image: img, Metadata: map[string]string{"k": "v"}})
			s.onUI(func() { test.Tap(s.sc.export) })
			s.pending.Wait()
			if tc.exists {
				msg := overlayText(s.window)
				if !strings.Contains(msg, `"out.png" already exists`) {
					t.Fatalf("no confirmation before replacing; overlay %q", msg)
				}
				if len(saved) != 0 {
					t.Fatal("saved before the confirmation")
				}
				label := "No"
				if tc.confirm {
					label = "Yes"
				}
				s.onUI(func() { tapButton(t, s, label) })
				s.pending.Wait()
			}
			if got := len(saved) == 1 && saved[0] == path; got != tc.wantSaved {
				t.Errorf("saved %v, want saved=%v at %s", saved, tc.wantSaved, path)
			}
			if over != tc.wantOver {
				t.Errorf("overwrite = %v, want %v", over, tc.wantOver)
			}
		})
	}
}

func TestAutostart(t *testing.T) {
	dir := t.TempDir()
	content, style := filepath.Join(dir, "c.png"), filepath.Join(dir, "s.png")
	writePNG(t, content, 40, 30)
	writePNG(t, style, 30, 30)
	for _, auto := range []bool{false, true} {
		s := newStudio(test.NewTempApp(t), Options{Content: content, Style: style, Autostart: auto}, noPick(t))
		var mu sync.Mutex
		s.onUI = func(f func()) { mu.Lock(); defer mu.Unlock(); f() }
		e := &fakeEngine{}
		s.engine = e
		s.onUI(s.preload)
		deadline := time.Now().Add(5 * time.Second)
		for auto && time.Now().Before(deadline) {
			e.mu.Lock()
			n := len(e.reqs)
			e.mu.Unlock()
			if n > 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if !auto {
			s.pending.Wait()
		}
		if got := len(e.reqs); got != b2i(auto) {
			t.Errorf("autostart=%v: %d jobs started", auto, got)
		}
		if auto {
			_, j := e.last(t)
			j.finish(s, job.Update{Kind: job.Cancelled})
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// tapButton taps the button labelled label in the top overlay.
func tapButton(t *testing.T, s *studio, label string) {
	t.Helper()
	var find func(o fyne.CanvasObject) *widget.Button
	find = func(o fyne.CanvasObject) *widget.Button {
		if b, ok := o.(*widget.Button); ok && b.Text == label {
			return b
		}
		var kids []fyne.CanvasObject
		switch w := o.(type) {
		case *fyne.Container:
			kids = w.Objects
		case fyne.Widget:
			kids = test.WidgetRenderer(w).Objects()
		}
		for _, k := range kids {
			if b := find(k); b != nil {
				return b
			}
		}
		return nil
	}
	top := s.window.Canvas().Overlays().Top()
	if top == nil {
		t.Fatalf("no dialog to tap %q in", label)
	}
	b := find(top)
	if b == nil {
		t.Fatalf("no %q button in the dialog", label)
	}
	test.Tap(b)
}

func TestExportProblems(t *testing.T) {
	for _, tc := range []struct {
		name    string
		askErr  error
		saveErr error
		want    string
	}{
		{"save fails", nil, errors.New("imageio: the disk is full."), `Could not save "out.png": the disk is full.`},
		{"native dialog broken", errors.New("no GTK"), nil, "Save File"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, e, _, _ := readyStudio(t)
			path := filepath.Join(t.TempDir(), "out.png")
			saves := 0
			s.save = func(string, image.Image, map[string]string, bool) error { saves++; return tc.saveErr }
			s.saveAs = func(_, _, _ string) (string, error) { return path, tc.askErr }
			s.onUI(func() { test.Tap(s.sc.start) })
			_, j := e.last(t)
			j.finish(s, job.Update{Kind: job.Done, Image: image.NewRGBA(image.Rect(0, 0, 2, 2))})
			s.onUI(func() { test.Tap(s.sc.export) })
			s.pending.Wait()
			if got := overlayText(s.window); !strings.Contains(got, tc.want) {
				t.Errorf("overlay %q, want %q", got, tc.want)
			}
			if tc.askErr != nil && (saves != 0 || s.saveAs != nil) {
				t.Errorf("after a broken native dialog: %d saves, native dialog kept = %v", saves, s.saveAs != nil)
			}
		})
	}
}

func TestAddAndRemoveStyles(t *testing.T) {
	s, e, _, first := readyStudio(t)
	second := filepath.Join(filepath.Dir(first), "s2.png")
	writePNG(t, second, 20, 20)
	s.onUI(func() { s.load(s.style, second) })
	s.pending.Wait()
	if n := len(s.sc.styles); n != 2 || s.sc.styles[1].path != second {
		t.Fatalf("%d styles, want 2 with %s last", n, second)
	}
	s.onUI(func() { test.Tap(s.sc.start) })
	req, j := e.last(t)
	if len(req.Stylize.Styles) != 2 {
		t.Errorf("job has %d styles, want 2", len(req.Stylize.Styles))
	}
	s.onUI(func() { test.Tap(s.sc.styles[0].remove) })
	if len(s.sc.styles) != 2 {
		t.Error("a style was removed while its job runs")
	}
	j.finish(s, job.Update{Kind: job.Cancelled})
	s.onUI(func() { test.Tap(s.sc.styles[1].remove) })
	if s.style.path != first {
		t.Errorf("after removing the style shown, the pane shows %q, want the one left, %q", s.style.path, first)
	}
	s.onUI(func() { test.Tap(s.sc.styles[0].remove) })
	if len(s.sc.styles) != 0 || len(s.sc.styleList.Objects) != 0 {
		t.Errorf("%d styles and %d rows left, want none", len(s.sc.styles), len(s.sc.styleList.Objects))
	}
	if s.style.path != "" || !s.style.empty.Visible() {
		t.Error("the style pane still shows a removed style")
	}
}

func TestBadSeedExplains(t *testing.T) {
	s, e, _, _ := readyStudio(t)
	s.onUI(func() {
		s.sc.seed.SetText("twelve")
		test.Tap(s.sc.start)
	})
	if got := overlayText(s.window); !strings.Contains(got, `The seed must be a whole number, not "twelve".`) {
		t.Errorf("dialog %q, want the seed explained", got)
	}
	if len(e.reqs) != 0 {
		t.Error("a job started with a bad seed")
	}
}
