package ui

import (
	"image"
	"image/color"
	"image/draw"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"

	"atelier/engine/job"
)

func solid(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{c}, image.Point{}, draw.Src)
	return img
}

// near reports whether a and b differ by at most 8 in each channel.
func near(a color.Color, b color.RGBA) bool {
	r, g, bl, _ := a.RGBA()
	d := func(x uint32, y uint8) bool { v := int(x>>8) - int(y); return v >= -8 && v <= 8 }
	return d(r, b.R) && d(g, b.G) && d(bl, b.B)
}

// TestCompareShowsContentLeftOfSplit renders the compare view in a test
// window: the content left of the split, the result right of it; a drag
// moves the split.
func TestCompareShowsContentLeftOfSplit(t *testing.T) {
	red, blue := color.RGBA{220, 20, 20, 255}, color.RGBA{20, 20, 220, 255}
	result := canvas.NewImageFromImage(solid(80, 40, red))
	result.FillMode = canvas.ImageFillContain
	v := newCompareView(result)
	v.setBefore(solid(40, 20, blue)) // the content preview: another size, the same aspect
	w := test.NewTempWindow(t, v)
	w.SetPadded(false)
	w.Resize(fyne.NewSize(200, 100))

	at := func(img image.Image, fx float64) color.Color {
		b := img.Bounds()
		return img.At(b.Min.X+int(fx*float64(b.Dx())), b.Min.Y+b.Dy()/2)
	}
	shot := w.Canvas().Capture()
	if !near(at(shot, 0.25), red) {
		t.Fatalf("before comparing, the left shows %v, want the result", at(shot, 0.25))
	}
	v.setComparing(true)
	shot = w.Canvas().Capture()
	if got := at(shot, 0.25); !near(got, blue) {
		t.Errorf("left of the split shows %v, want the content %v", got, blue)
	}
	if got := at(shot, 0.75); !near(got, red) {
		t.Errorf("right of the split shows %v, want the result %v", got, red)
	}
	var moved float64
	v.OnSplit = func(f float64) { moved = f }
	// As the desktop driver reports a drag: the pointer's position now, and
	// how far it moved. (test.Drag reports the starting position instead.)
	v.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(160, 50)}, Dragged: fyne.NewDelta(60, 0)})
	v.DragEnd()
	if moved < 0.75 || moved > 0.85 {
		t.Errorf("dragging to 80%% of the width put the split at %v", moved)
	}
	shot = w.Canvas().Capture()
	if got := at(shot, 0.7); !near(got, blue) {
		t.Errorf("after the drag, 70%% across shows %v, want the content", got)
	}
	test.TapAt(v, fyne.NewPos(40, 50))
	if moved < 0.15 || moved > 0.25 {
		t.Errorf("a tap at 20%% of the width put the split at %v", moved)
	}
	v.setComparing(false)
	if got := at(w.Canvas().Capture(), 0.25); !near(got, red) {
		t.Errorf("after comparing, the left shows %v, want the result", got)
	}
}

// TestStudioCompareUsesContent: a started job sets the content picture as
// the compare view's before, and the check turns the split on at half.
func TestStudioCompareUsesContent(t *testing.T) {
	s, e, _, _ := readyStudio(t)
	s.onUI(func() { test.Tap(s.sc.start) })
	_, j := e.last(t)
	if s.sc.compare.before == nil || s.sc.compare.before != s.content.image.Image {
		t.Error("the compare view does not hold the content picture")
	}
	s.onUI(func() {
		s.sc.compare.split = 0.1
		s.sc.compareOn.SetChecked(true)
	})
	if !s.sc.compare.on || s.sc.compare.split != 0.5 {
		t.Errorf("the Before/after check gave on=%v split=%v, want on at 0.5", s.sc.compare.on, s.sc.compare.split)
	}
	j.finish(s, job.Update{Kind: job.Cancelled})
}
