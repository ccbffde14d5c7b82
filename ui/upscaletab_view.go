package ui

import (
	"image"
	"image/color"
	"math"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/widget"
)

// maxZoom is the largest magnification of zoomCompare: screen pixels per
// result pixel.
const maxZoom = 8.0

// zoomCompare shows an upscaled result beside its input enlarged with
// bicubic interpolation: the input left of a vertical split, the result
// right of it. Dragging moves the split; the zoom runs from the whole
// picture fitted into the view (0) to maxZoom (1), and a tap centres the
// view on the point tapped (and, fitted, zooms to 1:1 there). Its methods
// are for the UI goroutine.
type zoomCompare struct {
	widget.BaseWidget
	raster *canvas.Raster

	before *image.RGBA // the input; nil: none
	after  *image.RGBA // the result; nil: only the input is shown, enlarged
	scale  float64     // result pixels per input pixel
	split  float64     // 0..1 across the result as shown
	zoom   float64     // 0 (fit) .. 1 (maxZoom)
	cx, cy float64     // the view's centre in result pixels

	// OnZoom, when set, runs after a tap changed the zoom.
	OnZoom func(zoom float64)

	// Layers rendered for the current view, reused while only the split
	// moves.
	key         zoomKey
	left, right *image.RGBA
}

// zoomKey identifies the view the cached layers show.
type zoomKey struct {
	w, h          int
	z, ox, oy     float64
	before, after *image.RGBA
	scale         float64
}

func newZoomCompare() *zoomCompare {
	v := &zoomCompare{split: 0.5}
	v.raster = canvas.NewRaster(v.draw)
	v.raster.SetMinSize(fyne.NewSize(320, 240))
	v.ExtendBaseWidget(v)
	return v
}

// CreateRenderer implements fyne.Widget.
func (v *zoomCompare) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(v.raster)
}

// setImages shows before (the input) and after (the result, nil for none
// yet), resetting the view to the centre.
func (v *zoomCompare) setImages(before, after *image.RGBA) {
	v.before, v.after = before, after
	v.scale = 1
	if before != nil && after != nil && before.Rect.Dx() > 0 {
		v.scale = float64(after.Rect.Dx()) / float64(before.Rect.Dx())
	}
	w, h := v.resultSize()
	v.cx, v.cy = w/2, h/2
	v.raster.Refresh()
}

// setSplit moves the split to f (clamped to 0..1).
func (v *zoomCompare) setSplit(f float64) {
	v.split = min(max(f, 0), 1)
	v.raster.Refresh()
}

// setZoom sets the zoom, 0 (fit) .. 1 (maxZoom).
func (v *zoomCompare) setZoom(f float64) {
	v.zoom = min(max(f, 0), 1)
	v.raster.Refresh()
}

// resultSize is the size of the picture shown, in result pixels.
func (v *zoomCompare) resultSize() (float64, float64) {
	switch {
	case v.after != nil:
		return float64(v.after.Rect.Dx()), float64(v.after.Rect.Dy())
	case v.before != nil:
		return float64(v.before.Rect.Dx()), float64(v.before.Rect.Dy())
	}
	return 0, 0
}

// magnification is the screen pixels per result pixel in a w x h view.
func (v *zoomCompare) magnification(w, h int) float64 {
	rw, rh := v.resultSize()
	if rw <= 0 || rh <= 0 {
		return 1
	}
	fit := min(float64(w)/rw, float64(h)/rh)
	if fit >= maxZoom {
		return fit
	}
	return fit * math.Pow(maxZoom/fit, v.zoom)
}

// zoomFor is the zoom (0..1) that shows the result at magnification z in
// a w x h view.
func (v *zoomCompare) zoomFor(z float64, w, h int) float64 {
	rw, rh := v.resultSize()
	if rw <= 0 || rh <= 0 {
		return 0
	}
	fit := min(float64(w)/rw, float64(h)/rh)
	if fit >= maxZoom || z <= fit {
		return 0
	}
	return min(math.Log(z/fit)/math.Log(maxZoom/fit), 1)
}

// origin is where the result's top-left corner lies in a w x h view at
// magnification z: centred when it fits, else around (cx, cy) but never
// past its edges.
func (v *zoomCompare) origin(w, h int, z float64) (float64, float64) {
	rw, rh := v.resultSize()
	place := func(view, size, c float64) float64 {
		if size*z <= view {
			return (view - size*z) / 2
		}
		o := view/2 - c*z
		return min(max(o, view-size*z), 0)
	}
	return place(float64(w), rw, v.cx), place(float64(h), rh, v.cy)
}

// pixelScale is physical pixels per Fyne unit.
func (v *zoomCompare) pixelScale() float64 {
	if c := fyne.CurrentApp().Driver().CanvasForObject(v); c != nil {
		return float64(c.Scale())
	}
	return 1
}

// toResult converts a position in the widget to result pixels.
func (v *zoomCompare) toResult(p fyne.Position) (x, y float64, w, h int, z float64) {
	ps := v.pixelScale()
	size := v.Size()
	w, h = int(float64(size.Width)*ps), int(float64(size.Height)*ps)
	z = v.magnification(w, h)
	ox, oy := v.origin(w, h, z)
	return (float64(p.X)*ps - ox) / z, (float64(p.Y)*ps - oy) / z, w, h, z
}

// Tapped implements fyne.Tappable: centre the view on the point; when the
// whole picture is shown, zoom to 1:1 there.
func (v *zoomCompare) Tapped(e *fyne.PointEvent) {
	x, y, w, h, z := v.toResult(e.Position)
	rw, rh := v.resultSize()
	if rw <= 0 {
		return
	}
	v.cx, v.cy = min(max(x, 0), rw), min(max(y, 0), rh)
	if v.zoom == 0 && z < 1 {
		v.zoom = v.zoomFor(1, w, h)
		if v.OnZoom != nil {
			v.OnZoom(v.zoom)
		}
	}
	v.raster.Refresh()
}

// Dragged implements fyne.Draggable: the split follows the pointer.
func (v *zoomCompare) Dragged(e *fyne.DragEvent) {
	x, _, _, _, _ := v.toResult(e.Position)
	rw, _ := v.resultSize()
	if rw > 0 {
		v.setSplit(x / rw)
	}
}

// DragEnd implements fyne.Draggable.
func (v *zoomCompare) DragEnd() {}

// splitColour is the line drawn at the split.
var splitColour = color.RGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}

// draw renders the view at w x h pixels.
func (v *zoomCompare) draw(w, h int) image.Image {
	w, h = max(w, 1), max(h, 1)
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	if v.before == nil && v.after == nil {
		return out
	}
	z := v.magnification(w, h)
	ox, oy := v.origin(w, h, z)
	key := zoomKey{w: w, h: h, z: z, ox: ox, oy: oy, before: v.before, after: v.after, scale: v.scale}
	if key != v.key || v.left == nil {
		v.key = key
		v.left, v.right = nil, nil
		if v.before != nil {
			v.left = renderLayer(v.before, w, h, z*v.scale, ox, oy, true)
		}
		if v.after != nil {
			v.right = renderLayer(v.after, w, h, z, ox, oy, false)
		}
	}
	rw, _ := v.resultSize()
	sx := w // everything from the left layer when there is no result
	if v.right != nil {
		sx = int(math.Round(ox + v.split*rw*z))
		if v.left == nil {
			sx = 0
		}
		sx = min(max(sx, 0), w)
	}
	for y := range h {
		row := out.Pix[y*out.Stride:][:4*w]
		if v.left != nil && sx > 0 {
			copy(row[:4*sx], v.left.Pix[y*v.left.Stride:][:4*sx])
		}
		if v.right != nil && sx < w {
			copy(row[4*sx:], v.right.Pix[y*v.right.Stride+4*sx:][:4*(w-sx)])
		}
	}
	if v.left != nil && v.right != nil && sx > 0 && sx < w {
		top, bottom := max(int(oy), 0), min(int(oy+float64(v.after.Rect.Dy())*z), h)
		for y := top; y < bottom; y++ {
			for x := max(sx-1, 0); x <= min(sx, w-1); x++ {
				out.SetRGBA(x, y, splitColour)
			}
		}
	}
	return out
}

// renderLayer draws img at magnification z (screen pixels per img pixel),
// its top-left corner at (ox, oy), into a new w x h image; transparent
// outside it. Shrunk pictures are box-filtered; enlarged ones are drawn
// with bicubic interpolation when smooth, else as sharp pixel blocks.
func renderLayer(img *image.RGBA, w, h int, z, ox, oy float64, smooth bool) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	iw, ih := img.Rect.Dx(), img.Rect.Dy()
	x0, x1 := max(int(math.Floor(ox)), 0), min(int(math.Ceil(ox+float64(iw)*z)), w)
	y0, y1 := max(int(math.Floor(oy)), 0), min(int(math.Ceil(oy+float64(ih)*z)), h)
	if x0 >= x1 || y0 >= y1 {
		return out
	}
	var sample func(u, v float64, px []uint8)
	switch {
	case z < 1:
		r := 1 / z // image pixels per screen pixel
		sample = func(u, v float64, px []uint8) { boxSample(img, u-r/2, v-r/2, r, px) }
	case smooth:
		sample = func(u, v float64, px []uint8) { bicubicSample(img, u-0.5, v-0.5, px) }
	default:
		sample = func(u, v float64, px []uint8) { nearestSample(img, u, v, px) }
	}
	for y := y0; y < y1; y++ {
		v := (float64(y) + 0.5 - oy) / z
		row := out.Pix[y*out.Stride:]
		for x := x0; x < x1; x++ {
			sample((float64(x)+0.5-ox)/z, v, row[4*x:4*x+4])
		}
	}
	return out
}

func nearestSample(img *image.RGBA, u, v float64, px []uint8) {
	x := min(max(int(u), 0), img.Rect.Dx()-1)
	y := min(max(int(v), 0), img.Rect.Dy()-1)
	copy(px, img.Pix[y*img.Stride+4*x:][:4])
}

// boxSample averages the r x r box at (u, v) (at most 8 x 8 taps).
func boxSample(img *image.RGBA, u, v, r float64, px []uint8) {
	n := min(int(math.Ceil(r)), 8)
	step := r / float64(n)
	var sum [4]int
	iw, ih := img.Rect.Dx(), img.Rect.Dy()
	for j := range n {
		y := min(max(int(v+(float64(j)+0.5)*step), 0), ih-1)
		for i := range n {
			x := min(max(int(u+(float64(i)+0.5)*step), 0), iw-1)
			p := img.Pix[y*img.Stride+4*x:][:4]
			sum[0] += int(p[0])
			sum[1] += int(p[1])
			sum[2] += int(p[2])
			sum[3] += int(p[3])
		}
	}
	for c := range 4 {
		px[c] = uint8(sum[c] / (n * n))
	}
}

// bicubicSample interpolates img at pixel-centre coordinates (u, v) with
// the Keys kernel (a = -0.5), clamping at the edges.
func bicubicSample(img *image.RGBA, u, v float64, px []uint8) {
	fx, fy := math.Floor(u), math.Floor(v)
	var wx, wy [4]float64
	for k := range 4 {
		wx[k] = keys(u - (fx + float64(k-1)))
		wy[k] = keys(v - (fy + float64(k-1)))
	}
	iw, ih := img.Rect.Dx(), img.Rect.Dy()
	var acc [4]float64
	for j := range 4 {
		y := min(max(int(fy)+j-1, 0), ih-1)
		for i := range 4 {
			x := min(max(int(fx)+i-1, 0), iw-1)
			p := img.Pix[y*img.Stride+4*x:][:4]
			k := wx[i] * wy[j]
			acc[0] += k * float64(p[0])
			acc[1] += k * float64(p[1])
			acc[2] += k * float64(p[2])
			acc[3] += k * float64(p[3])
		}
	}
	a := min(max(acc[3], 0), 255)
	for c := range 3 {
		// premultiplied: colour never exceeds alpha
		px[c] = uint8(min(max(acc[c], 0), a) + 0.5)
	}
	px[3] = uint8(a + 0.5)
}

// keys is the bicubic convolution kernel with a = -0.5.
func keys(x float64) float64 {
	x = math.Abs(x)
	switch {
	case x < 1:
		return (1.5*x-2.5)*x*x + 1
	case x < 2:
		return ((-0.5*x+2.5)*x-4)*x + 2
	}
	return 0
}
