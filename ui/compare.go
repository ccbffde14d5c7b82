package ui

import (
	"image"
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/widget"
)

// compareView shows the result with, when comparing, the content image
// over the part left of a vertical split that the person drags (or taps)
// across: before on the left, after on the right. Its methods are for the
// UI goroutine.
type compareView struct {
	widget.BaseWidget
	result  *canvas.Image  // the result, fitted (contain) into the view
	overlay *canvas.Raster // the content left of the split, transparent right of it
	before  image.Image    // the content image of the result; nil: nothing to compare
	split   float64        // 0..1 across the result's width
	on      bool           // comparing
	buf     *image.NRGBA
	// OnSplit, when set, runs after a drag or tap moved the split.
	OnSplit func(float64)
}

// dividerColour is the line drawn at the split.
var dividerColour = color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xe0}

func newCompareView(result *canvas.Image) *compareView {
	v := &compareView{result: result, split: 0.5}
	v.overlay = canvas.NewRaster(v.draw)
	v.ExtendBaseWidget(v)
	return v
}

// CreateRenderer implements fyne.Widget: the overlay over the result.
func (v *compareView) CreateRenderer() fyne.WidgetRenderer {
	return &compareRenderer{v: v, objects: []fyne.CanvasObject{v.result, v.overlay}}
}

type compareRenderer struct {
	v       *compareView
	objects []fyne.CanvasObject
}

func (r *compareRenderer) Layout(size fyne.Size) {
	for _, o := range r.objects {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}
func (r *compareRenderer) MinSize() fyne.Size           { return r.v.result.MinSize() }
func (r *compareRenderer) Objects() []fyne.CanvasObject { return r.objects }
func (r *compareRenderer) Destroy()                     {}
func (r *compareRenderer) Refresh() {
	r.v.overlay.Refresh()
	r.v.result.Refresh()
}

// setComparing turns the before/after view on or off.
func (v *compareView) setComparing(on bool) {
	v.on = on
	v.overlay.Refresh()
}

// setBefore sets the picture shown left of the split.
func (v *compareView) setBefore(img image.Image) {
	v.before = img
	v.overlay.Refresh()
}

// setSplit moves the split to f (clamped to 0..1).
func (v *compareView) setSplit(f float64) {
	v.split = min(max(f, 0), 1)
	v.overlay.Refresh()
}

// Dragged implements fyne.Draggable: the split follows the pointer.
func (v *compareView) Dragged(e *fyne.DragEvent) { v.moveTo(e.Position) }

// DragEnd implements fyne.Draggable.
func (v *compareView) DragEnd() {}

// Tapped implements fyne.Tappable: the split jumps to the pointer.
func (v *compareView) Tapped(e *fyne.PointEvent) { v.moveTo(e.Position) }

func (v *compareView) moveTo(p fyne.Position) {
	if !v.on {
		return
	}
	size := v.Size()
	r, ok := v.imageRect(int(size.Width), int(size.Height))
	if !ok || r.Dx() == 0 {
		return
	}
	v.setSplit((float64(p.X) - float64(r.Min.X)) / float64(r.Dx()))
	if v.OnSplit != nil {
		v.OnSplit(v.split)
	}
}

// imageRect is where the result lies in a w x h view: fitted inside,
// centred, keeping its aspect (as canvas.ImageFillContain draws it).
func (v *compareView) imageRect(w, h int) (image.Rectangle, bool) {
	if v.result.Image == nil || w <= 0 || h <= 0 {
		return image.Rectangle{}, false
	}
	b := v.result.Image.Bounds()
	iw, ih := b.Dx(), b.Dy()
	if iw <= 0 || ih <= 0 {
		return image.Rectangle{}, false
	}
	fw, fh := w, ih*w/iw
	if fh > h {
		fw, fh = iw*h/ih, h
	}
	x0, y0 := (w-fw)/2, (h-fh)/2
	return image.Rect(x0, y0, x0+fw, y0+fh), true
}

// draw renders the overlay at w x h pixels: the before picture, scaled
// over the result's place, left of the split and a divider line at it;
// transparent elsewhere.
func (v *compareView) draw(w, h int) image.Image {
	if w < 1 || h < 1 {
		w, h = 1, 1
	}
	if v.buf == nil || v.buf.Rect.Dx() != w || v.buf.Rect.Dy() != h {
		v.buf = image.NewNRGBA(image.Rect(0, 0, w, h))
	} else {
		clear(v.buf.Pix)
	}
	img := v.buf
	r, ok := v.imageRect(w, h)
	if !v.on || v.before == nil || !ok || r.Empty() {
		return img
	}
	bb := v.before.Bounds()
	split := r.Min.X + int(v.split*float64(r.Dx())+0.5)
	rgba, fast := v.before.(*image.RGBA)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		sy := bb.Min.Y + (y-r.Min.Y)*bb.Dy()/r.Dy()
		row := img.Pix[img.PixOffset(r.Min.X, y):]
		for x := r.Min.X; x < split; x++ {
			sx := bb.Min.X + (x-r.Min.X)*bb.Dx()/r.Dx()
			o := (x - r.Min.X) * 4
			if fast {
				p := rgba.Pix[rgba.PixOffset(sx, sy):]
				row[o], row[o+1], row[o+2], row[o+3] = p[0], p[1], p[2], 0xff
				continue
			}
			c := color.NRGBAModel.Convert(v.before.At(sx, sy)).(color.NRGBA)
			row[o], row[o+1], row[o+2], row[o+3] = c.R, c.G, c.B, 0xff
		}
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := split - 1; x <= split; x++ {
			if x >= r.Min.X && x < r.Max.X {
				img.SetNRGBA(x, y, dividerColour)
			}
		}
	}
	return img
}
