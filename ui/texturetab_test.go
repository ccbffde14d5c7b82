package ui

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"atelier/engine/job"
	"atelier/engine/service"
)

// textureStudio opens a sample in a studio driven by a fake engine.
func textureStudio(t *testing.T) (*studio, *textureTab, *fakeEngine, string) {
	t.Helper()
	sample := filepath.Join(t.TempDir(), "bricks.png")
	writePNG(t, sample, 40, 30)
	s := newTestStudio(t, Options{}, noPick(t))
	e := &fakeEngine{}
	s.engine = e
	c, ok := s.textureActs.(*textureTab)
	if !ok {
		t.Fatalf("the Texture tab's actions are %T", s.textureActs)
	}
	c.run.frameGap = 0
	s.onUI(func() { s.load(s.sample, sample) })
	s.pending.Wait()
	if s.sample.path != sample {
		t.Fatalf("the sample did not open: %q", s.sample.path)
	}
	return s, c, e, sample
}

func TestTextureStartSendsRequest(t *testing.T) {
	s, c, e, sample := textureStudio(t)
	s.onUI(func() {
		c.method.SetSelectedIndex(1)
		c.size.SetSelected("512 × 256")
		c.tileable.SetChecked(true)
		c.seed.SetText(" 42 ")
		test.Tap(c.start)
	})
	req, _ := e.last(t)
	o := req.Texture
	if req.Kind != job.KindTexture || o == nil {
		t.Fatalf("request %+v, want a texture job", req)
	}
	if len(o.Examples) != 1 || o.Examples[0].Path != sample || o.Method != job.TexturePatch || o.Width != 512 || o.Height != 256 ||
		!o.Tileable || o.Seed != 42 {
		t.Errorf("options %+v", o)
	}
	if err := req.Validate(); err != nil {
		t.Errorf("the tab built an invalid request: %v", err)
	}
	if !c.start.Disabled() || c.stop.Disabled() || !c.size.Disabled() || !s.sample.open.Disabled() {
		t.Error("while running, Start, the size and Open should be disabled and Stop enabled")
	}
	s.onUI(func() { test.Tap(c.start) })
	if len(e.reqs) != 1 {
		t.Errorf("a second Start while running started %d jobs", len(e.reqs))
	}

	// The defaults: gram, 256 x 256, not tileable, a random seed (0).
	s2, c2, e2, _ := textureStudio(t)
	s2.onUI(func() { test.Tap(c2.start) })
	req, _ = e2.last(t)
	if o := req.Texture; o.Method != job.TextureGram || o.Width != 256 || o.Height != 256 || o.Tileable || o.Seed != 0 {
		t.Errorf("default options %+v", o)
	}
}

func TestTextureStartExplains(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(s *studio, c *textureTab, e *fakeEngine)
		wanted string
	}{
		{"no sample", func(s *studio, c *textureTab, e *fakeEngine) { s.sample.clear() }, "Open a texture sample first"},
		{"bad seed", func(s *studio, c *textureTab, e *fakeEngine) { c.seed.SetText("abc") }, `not "abc"`},
		{"busy", func(s *studio, c *textureTab, e *fakeEngine) { e.err = fmt.Errorf("wrapped: %w", service.ErrBusy) }, "Another job is running"},
		{"engine refuses", func(s *studio, c *textureTab, e *fakeEngine) {
			e.err = errors.New(`job: "x" is not a texture method (gram or patch)`)
		}, `"x" is not a texture method`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, c, e, _ := textureStudio(t)
			s.onUI(func() {
				tc.setup(s, c, e)
				test.Tap(c.start)
			})
			if got := overlayText(s.window); !strings.Contains(got, tc.wanted) {
				t.Errorf("dialog %q, want %q", got, tc.wanted)
			}
			if c.run.running != nil || c.start.Disabled() {
				t.Error("a refused start left the tab running")
			}
		})
	}
}

func TestTextureFramesTiledPreview(t *testing.T) {
	s, c, e, _ := textureStudio(t)
	s.onUI(func() { test.Tap(c.start) })
	_, j := e.last(t)
	frame := image.NewRGBA(image.Rect(0, 0, 8, 6))
	frame.Set(0, 0, color.RGBA{255, 0, 0, 255})
	j.updates <- job.Update{Kind: job.Frame, Stage: "synthesising", Iteration: 5, Total: 20, Frame: frame}
	waitFor(t, s, func() bool { return c.output.Image != nil })
	s.onUI(func() {
		if got := c.output.Image.Bounds(); got.Dx() != 8 || got.Dy() != 6 {
			t.Errorf("untiled preview %v, want 8x6", got)
		}
		if c.progress.Value != 0.25 || !strings.Contains(c.status.Text, "Iteration 5 of 20") {
			t.Errorf("progress %v, status %q", c.progress.Value, c.status.Text)
		}
		c.tileable.SetChecked(true) // disabled while running, but the preview follows the box
	})
	s.onUI(func() {
		img := c.output.Image
		if got := img.Bounds(); got.Dx() != 16 || got.Dy() != 12 {
			t.Fatalf("tiled preview %v, want 16x12", got)
		}
		for _, p := range []image.Point{{0, 0}, {8, 0}, {0, 6}, {8, 6}} {
			if r, _, _, _ := img.At(p.X, p.Y).RGBA(); r>>8 != 255 {
				t.Errorf("tile corner %v is not the frame's red corner", p)
			}
		}
		if r, _, _, _ := img.At(1, 1).RGBA(); r != 0 {
			t.Error("the tiled preview is not a copy of the frame")
		}
	})
	meta := map[string]string{job.MetadataSettingsKey: `{"examples":[{"path":"x.png"}],"seed":1234}`}
	j.finish(s, job.Update{Kind: job.Done, Iteration: 20, Total: 20, Frame: frame, Image: image.NewRGBA(image.Rect(0, 0, 64, 48)), Metadata: meta})
	if !strings.Contains(c.status.Text, "seed 1234") || c.exportBtn.Disabled() || c.start.Disabled() {
		t.Errorf("after Done: status %q, export disabled %v, start disabled %v", c.status.Text, c.exportBtn.Disabled(), c.start.Disabled())
	}
}

func TestTextureErrorShowsDialog(t *testing.T) {
	s, c, e, _ := textureStudio(t)
	s.onUI(func() { test.Tap(c.start) })
	_, j := e.last(t)
	j.finish(s, job.Update{Kind: job.Error, Err: errors.New("runner: no feature network is downloaded: fetch one with `atelier models fetch vgg19-full`")})
	if got := overlayText(s.window); !strings.Contains(got, "No feature network is downloaded") || !strings.Contains(got, "atelier models fetch vgg19-full") {
		t.Errorf("dialog %q", got)
	}
	if c.status.Text != "Failed." || c.start.Disabled() {
		t.Errorf("status %q, start disabled %v", c.status.Text, c.start.Disabled())
	}
}

func TestTextureStopCancels(t *testing.T) {
	s, c, e, _ := textureStudio(t)
	s.onUI(func() { test.Tap(c.start) })
	_, j := e.last(t)
	s.onUI(func() { test.Tap(c.stop) })
	if j.cancelled != 1 || c.status.Text != "Stopping…" {
		t.Errorf("cancelled %d times, status %q", j.cancelled, c.status.Text)
	}
	j.finish(s, job.Update{Kind: job.Cancelled})
	if c.status.Text != "Cancelled" || overlayText(s.window) != "" {
		t.Errorf("status %q, overlay %q; want Cancelled and no dialog", c.status.Text, overlayText(s.window))
	}
	if c.start.Disabled() || !c.stop.Disabled() || c.run.running != nil {
		t.Error("after cancelling, Start should be enabled and Stop disabled")
	}
	// The shortcut action starts and stops too.
	s.onUI(c.startStop)
	_, j2 := e.last(t)
	if j2 == j {
		t.Fatal("startStop did not start a job")
	}
	s.onUI(c.startStop)
	if j2.cancelled != 1 {
		t.Error("startStop did not stop the job")
	}
}

func TestTextureExport(t *testing.T) {
	for _, exists := range []bool{false, true} {
		t.Run(fmt.Sprint("exists=", exists), func(t *testing.T) {
			s, c, e, _ := textureStudio(t)
			path := filepath.Join(t.TempDir(), "out.png")
			if exists {
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
				if name != "bricks-texture.png" {
					t.Errorf("suggested name %q", name)
				}
				return path, nil
			}
			s.onUI(func() { test.Tap(c.start) })
			_, j := e.last(t)
			j.finish(s, job.Update{Kind: job.Done, Image: image.NewRGBA(image.Rect(0, 0, 4, 4)), Metadata: map[string]string{"k": "v"}})
			s.onUI(func() { test.Tap(c.exportBtn) })
			s.pending.Wait()
			if exists {
				if !strings.Contains(overlayText(s.window), `"out.png" already exists`) || len(saved) != 0 {
					t.Fatalf("no confirmation before replacing (saved %v)", saved)
				}
				s.onUI(func() { tapButton(t, s, "Yes") })
				s.pending.Wait()
			}
			if len(saved) != 1 || saved[0] != path || over != exists {
				t.Errorf("saved %v overwrite %v", saved, over)
			}
			if c.status.Text != "Saved "+path {
				t.Errorf("status %q", c.status.Text)
			}
		})
	}
}
