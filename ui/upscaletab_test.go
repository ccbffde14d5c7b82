package ui

import (
	"errors"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"atelier/engine/job"
)

// listingEngine is a fake engine that lists upscale methods.
type listingEngine struct {
	*fakeEngine
	methods []job.UpscaleMethod
}

func (e listingEngine) UpscaleMethods() []job.UpscaleMethod { return e.methods }

var testUpscaleMethods = []job.UpscaleMethod{
	{Name: "bicubic", Description: "bicubic", Scales: []job.UpscaleScale{{Factor: 2, Present: true}, {Factor: 4, Present: true}}},
	{Name: "default-x2", Description: "default", Scales: []job.UpscaleScale{{Factor: 2, Model: "upscaler-default-x2", Present: true}}},
	{Name: "esrgan-thick", Description: "thick", Scales: []job.UpscaleScale{
		{Factor: 2, Model: "esrgan-thick-x2", Present: true}, {Factor: 4, Model: "esrgan-thick-x4", Present: true},
		{Factor: 8, Model: "esrgan-thick-x8"}}},
}

// upscaleStudio opens a 40 x 30 picture in a studio driven by a fake
// engine that lists testUpscaleMethods.
func upscaleStudio(t *testing.T) (*studio, *upscaleTab, *fakeEngine, string) {
	t.Helper()
	in := filepath.Join(t.TempDir(), "bridge.png")
	writePNG(t, in, 40, 30)
	s := newTestStudio(t, Options{}, noPick(t))
	e := &fakeEngine{}
	s.engine = listingEngine{e, testUpscaleMethods}
	c, ok := s.upscaleActs.(*upscaleTab)
	if !ok {
		t.Fatalf("the Upscale tab's actions are %T", s.upscaleActs)
	}
	c.run.frameGap = 0
	s.onUI(func() {
		c.refreshMethods()
		s.load(s.lowRes, in)
	})
	s.pending.Wait()
	return s, c, e, in
}

func TestUpscaleOffersValidChoices(t *testing.T) {
	s, c, _, _ := upscaleStudio(t)
	s.onUI(func() {
		if !slices.Equal(c.method.Options, []string{"bicubic", "default-x2", "esrgan-thick"}) {
			t.Errorf("methods %v", c.method.Options)
		}
		c.method.SetSelected("default-x2")
		if !slices.Equal(c.scale.Options, []string{"×2"}) || c.scale.Selected != "×2" {
			t.Errorf("default-x2 offers %v (%q)", c.scale.Options, c.scale.Selected)
		}
		c.method.SetSelected("esrgan-thick")
		if c.scale.Selected != "×2" || len(c.scale.Options) != 3 || c.scale.Options[2] != "×8 (model not downloaded)" {
			t.Errorf("esrgan-thick offers %v (%q)", c.scale.Options, c.scale.Selected)
		}
		c.scale.SetSelected("×8 (model not downloaded)")
		if !strings.Contains(c.about.Text, "atelier models fetch esrgan-thick-x8") || !c.start.Disabled() {
			t.Errorf("a missing model: %q, start disabled %v", c.about.Text, c.start.Disabled())
		}
		c.scale.SetSelected("×4")
		if strings.Contains(c.about.Text, "fetch") || c.start.Disabled() {
			t.Errorf("a present model: %q, start disabled %v", c.about.Text, c.start.Disabled())
		}
	})
	// Without a listing engine only bicubic is offered.
	s.engine = &fakeEngine{}
	s.onUI(func() {
		c.refreshMethods()
		if !slices.Equal(c.method.Options, []string{"bicubic"}) || c.method.Selected != "bicubic" {
			t.Errorf("fallback methods %v (%q)", c.method.Options, c.method.Selected)
		}
	})
}

func TestUpscaleStartSendsRequest(t *testing.T) {
	s, c, e, in := upscaleStudio(t)
	s.onUI(func() {
		c.method.SetSelected("esrgan-thick")
		c.scale.SetSelected("×4")
		test.Tap(c.start)
	})
	req, _ := e.last(t)
	o := req.Upscale
	if req.Kind != job.KindUpscale || o == nil || o.Input.Path != in || o.Method != "esrgan-thick" || o.Factor != 4 {
		t.Fatalf("request %+v / %+v", req, o)
	}
	if err := req.Validate(); err != nil {
		t.Errorf("invalid request: %v", err)
	}
	if !c.start.Disabled() || c.cancel.Disabled() || !c.method.Disabled() || !s.lowRes.open.Disabled() {
		t.Error("while running, Start, the method and Open should be disabled and Cancel enabled")
	}
}

func TestUpscaleProgressResultAndExport(t *testing.T) {
	s, c, e, _ := upscaleStudio(t)
	s.onUI(func() {
		c.method.SetSelected("bicubic")
		c.scale.SetSelected("×2")
		test.Tap(c.start)
	})
	_, j := e.last(t)
	j.updates <- job.Update{Kind: job.Progress, Stage: "upscaling", Iteration: 3, Total: 12}
	waitFor(t, s, func() bool { return strings.HasPrefix(c.status.Text, "Tile 3 of 12") })
	s.onUI(func() {
		if c.progress.Value != 0.25 {
			t.Errorf("progress %v", c.progress.Value)
		}
	})
	result := image.NewRGBA(image.Rect(0, 0, 80, 60))
	j.finish(s, job.Update{Kind: job.Done, Image: result, Metadata: map[string]string{"k": "v"}})
	if c.view.after != result || c.view.before == nil || c.exportBtn.Disabled() || !strings.Contains(c.status.Text, "80 × 60") {
		t.Fatalf("after Done: view %v/%v, export disabled %v, status %q", c.view.after != nil, c.view.before != nil, c.exportBtn.Disabled(), c.status.Text)
	}
	if c.view.scale != 2 {
		t.Errorf("view scale %v, want 2", c.view.scale)
	}
	path := filepath.Join(t.TempDir(), "big.png")
	var saved string
	s.save = func(p string, img image.Image, meta map[string]string, overwrite bool) error {
		if img != result || meta["k"] != "v" || overwrite {
			t.Errorf("saved %v, %v, overwrite %v", img, meta, overwrite)
		}
		saved = p
		return nil
	}
	s.saveAs = func(_, _, name string) (string, error) {
		if name != "bridge-x2.png" {
			t.Errorf("suggested name %q", name)
		}
		return path, nil
	}
	s.onUI(func() { test.Tap(c.exportBtn) })
	s.pending.Wait()
	if saved != path {
		t.Errorf("saved to %q, want %q", saved, path)
	}
}

func TestUpscaleErrorAndCancel(t *testing.T) {
	s, c, e, _ := upscaleStudio(t)
	s.onUI(func() { test.Tap(c.start) })
	_, j := e.last(t)
	j.finish(s, job.Update{Kind: job.Error, Err: errors.New(`runner: sr: model not present: esrgan-slim needs the model esrgan-slim-x4; get it with "atelier models fetch esrgan-slim-x4"`)})
	if got := overlayText(s.window); !strings.Contains(got, "atelier models fetch esrgan-slim-x4") || strings.Contains(got, "runner:") {
		t.Errorf("dialog %q", got)
	}
	if c.status.Text != "Failed." || c.start.Disabled() {
		t.Errorf("status %q", c.status.Text)
	}

	s2, c2, e2, _ := upscaleStudio(t)
	s2.onUI(func() { test.Tap(c2.start) })
	_, j2 := e2.last(t)
	s2.onUI(func() { test.Tap(c2.cancel) })
	if j2.cancelled != 1 {
		t.Errorf("cancelled %d times", j2.cancelled)
	}
	j2.finish(s2, job.Update{Kind: job.Cancelled})
	if c2.status.Text != "Cancelled" || overlayText(s2.window) != "" || c2.start.Disabled() || !c2.cancel.Disabled() {
		t.Errorf("status %q, overlay %q", c2.status.Text, overlayText(s2.window))
	}
}

func solidRGBA(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

func TestZoomCompareDraws(t *testing.T) {
	red, blue := color.RGBA{200, 0, 0, 255}, color.RGBA{0, 0, 200, 255}
	v := newZoomCompare()
	v.setImages(solidRGBA(10, 10, red), solidRGBA(40, 40, blue))
	img := v.draw(100, 100).(*image.RGBA)
	// Fitted: the 40 px result fills the square view; the split is in the
	// middle.
	if got := img.RGBAAt(20, 50); got != red {
		t.Errorf("left of the split %v, want the input's red", got)
	}
	if got := img.RGBAAt(80, 50); got != blue {
		t.Errorf("right of the split %v, want the result's blue", got)
	}
	v.setSplit(0.1)
	img = v.draw(100, 100).(*image.RGBA)
	if got := img.RGBAAt(20, 50); got != blue {
		t.Errorf("after moving the split left, %v at x=20, want blue", got)
	}
	// A wide view letterboxes the square picture.
	img = v.draw(200, 100).(*image.RGBA)
	if got := img.RGBAAt(10, 50); got.A != 0 {
		t.Errorf("outside the picture %v, want transparent", got)
	}
	// Zoomed all the way: 8 screen pixels per result pixel.
	v.setZoom(1)
	if z := v.magnification(100, 100); math.Abs(z-maxZoom) > 1e-9 {
		t.Errorf("full zoom %v, want %v", z, maxZoom)
	}
}

func TestZoomCompareTapZooms(t *testing.T) {
	v := newZoomCompare()
	w := test.NewTempWindow(t, v)
	w.Resize(fyne.NewSize(120, 120))
	v.Resize(fyne.NewSize(100, 100))
	v.setImages(solidRGBA(100, 100, color.RGBA{0, 0, 0, 255}), solidRGBA(400, 400, color.RGBA{255, 255, 255, 255}))
	var zoomed float64
	v.OnZoom = func(z float64) { zoomed = z }
	v.Tapped(&fyne.PointEvent{Position: fyne.NewPos(25, 25)})
	if zoomed == 0 {
		t.Fatal("a tap on the fitted picture did not zoom")
	}
	size := v.Size()
	ps := v.pixelScale()
	if z := v.magnification(int(float64(size.Width)*ps), int(float64(size.Height)*ps)); math.Abs(z-1) > 1e-6 {
		t.Errorf("after the tap the view shows %v screen pixels per result pixel, want 1", z)
	}
	if math.Abs(v.cx-100) > 2 || math.Abs(v.cy-100) > 2 {
		t.Errorf("centred on (%v, %v), want the tapped point (100, 100) of the result", v.cx, v.cy)
	}
}

// TestUpscaleShowsInputBeforeStart: opening a picture shows it on the
// before side at once; opening another after a result shows the new one
// alone.
func TestUpscaleShowsInputBeforeStart(t *testing.T) {
	s, c, _, _ := upscaleStudio(t)
	var before, after *image.RGBA
	s.onUI(func() { before, after = c.view.before, c.view.after })
	if before == nil || before.Rect.Dx() != 40 || before.Rect.Dy() != 30 || after != nil {
		t.Fatalf("after opening a 40x30 picture the view shows %v / %v, want it alone on the before side", before, after)
	}
	c.run.result = &job.Update{Kind: job.Done, Image: image.NewRGBA(image.Rect(0, 0, 80, 60))}
	other := filepath.Join(t.TempDir(), "other.png")
	writePNG(t, other, 20, 10)
	s.onUI(func() { s.load(s.lowRes, other) })
	s.pending.Wait()
	s.onUI(func() { before, after = c.view.before, c.view.after })
	if before == nil || before.Rect.Dx() != 20 || after != nil {
		t.Errorf("after opening another picture the view shows %v / %v, want the 20x10 picture alone", before, after)
	}
}

// TestUpscaleDefaultMethod: the tab starts on Atelier's own pixel network
// when the engine lists it, else on bicubic.
func TestUpscaleDefaultMethod(t *testing.T) {
	s := newTestStudio(t, Options{}, noPick(t))
	withPixel := append([]job.UpscaleMethod{{Name: "pixel", Description: "own", Scales: []job.UpscaleScale{{Factor: 2, Present: true}, {Factor: 4, Present: true}}}}, testUpscaleMethods...)
	for _, c := range []struct {
		methods []job.UpscaleMethod
		want    string
	}{{testUpscaleMethods, "bicubic"}, {withPixel, "pixel"}} {
		s.engine = listingEngine{&fakeEngine{}, c.methods}
		tab := s.upscaleActs.(*upscaleTab)
		var got string
		s.onUI(func() {
			s.engineChanged() // as RunWith does once the engine is attached
			got = tab.method.Selected
		})
		if got != c.want {
			t.Errorf("default method %q, want %q", got, c.want)
		}
	}
}
