package ui

import (
	"image"
	"image/color"
	"math"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"atelier/engine/job"
)

// Colours of the loss curve's three lines.
var (
	totalColour   = color.NRGBA{R: 0xe8, G: 0xe8, B: 0xe8, A: 0xff}
	contentColour = color.NRGBA{R: 0x4a, G: 0x9e, B: 0xff, A: 0xff}
	styleColour   = color.NRGBA{R: 0xff, G: 0x8c, B: 0x3a, A: 0xff}
)

const (
	maxCurvePoints = 1024                   // older points are thinned out beyond this
	curveGap       = 250 * time.Millisecond // the curve is redrawn at most this often
)

// lossPoint is one iteration's losses.
type lossPoint struct {
	it                    float64
	total, content, style float64
}

// lossCurve is a small plot of the total, content and style losses over
// the iterations, on a logarithmic scale, drawn as a raster. Its methods
// are for the UI goroutine.
type lossCurve struct {
	widget.BaseWidget
	points []lossPoint
	raster *canvas.Raster
	drawn  time.Time // last redraw, for the throttle
	buf    *image.NRGBA
}

func newLossCurve() *lossCurve {
	c := &lossCurve{}
	c.raster = canvas.NewRaster(c.draw)
	c.ExtendBaseWidget(c)
	return c
}

// CreateRenderer implements fyne.Widget: the plot above a legend.
func (c *lossCurve) CreateRenderer() fyne.WidgetRenderer {
	legend := container.NewHBox(legendItem("total", totalColour), legendItem("content", contentColour), legendItem("style", styleColour))
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	return widget.NewSimpleRenderer(container.NewBorder(nil, legend, nil, nil, container.NewStack(bg, c.raster)))
}

// MinSize keeps the plot small: it sits under the result.
func (c *lossCurve) MinSize() fyne.Size {
	return c.BaseWidget.MinSize().Max(fyne.NewSize(160, 96))
}

func legendItem(name string, col color.Color) fyne.CanvasObject {
	t := canvas.NewText("— "+name, col)
	t.TextSize = theme.CaptionTextSize()
	return t
}

// reset forgets every point.
func (c *lossCurve) reset() {
	c.points = c.points[:0]
	c.raster.Refresh()
}

// add records the losses at iteration it (on the curve's own axis, which
// goes on across Continue) and redraws at most every curveGap.
func (c *lossCurve) add(it int, l job.Losses) {
	if l.Total <= 0 && l.Content <= 0 && l.Style <= 0 {
		return // a setup stage, no losses yet
	}
	if n := len(c.points); n > 0 && c.points[n-1].it >= float64(it) {
		c.points = c.points[:n-1] // the same iteration again: the newer wins
	}
	c.points = append(c.points, lossPoint{it: float64(it), total: l.Total, content: l.Content, style: l.Style})
	if len(c.points) > maxCurvePoints { // keep every other point and both ends
		kept := c.points[:0]
		for i, p := range c.points {
			if i%2 == 0 || i == len(c.points)-1 {
				kept = append(kept, p)
			}
		}
		c.points = kept
	}
	if time.Since(c.drawn) >= curveGap {
		c.flush()
	}
}

// flush redraws now.
func (c *lossCurve) flush() {
	c.drawn = time.Now()
	c.raster.Refresh()
}

// lastIteration is the x of the newest point, 0 when none.
func (c *lossCurve) lastIteration() int {
	if len(c.points) == 0 {
		return 0
	}
	return int(c.points[len(c.points)-1].it)
}

// draw renders the curve at w x h pixels: x is the iteration, y the log of
// the loss, the range fitted to the points.
func (c *lossCurve) draw(w, h int) image.Image {
	if w < 1 || h < 1 {
		w, h = 1, 1
	}
	if c.buf == nil || c.buf.Rect.Dx() != w || c.buf.Rect.Dy() != h {
		c.buf = image.NewNRGBA(image.Rect(0, 0, w, h))
	} else {
		clear(c.buf.Pix)
	}
	img := c.buf
	if len(c.points) == 0 {
		return img
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	xMin, xMax := c.points[0].it, c.points[len(c.points)-1].it
	for _, p := range c.points {
		for _, v := range [...]float64{p.total, p.content, p.style} {
			if v > 0 && !math.IsInf(v, 0) {
				lo, hi = min(lo, math.Log10(v)), max(hi, math.Log10(v))
			}
		}
	}
	if math.IsInf(lo, 0) {
		return img
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-0.5, hi+0.5
	}
	if xMax <= xMin {
		xMax = xMin + 1
	}
	const pad = 3
	px := func(it float64) int { return pad + int(math.Round((it-xMin)/(xMax-xMin)*float64(w-1-2*pad))) }
	py := func(v float64) (int, bool) {
		if !(v > 0) || math.IsInf(v, 0) {
			return 0, false
		}
		f := (math.Log10(v) - lo) / (hi - lo)
		return pad + int(math.Round((1-f)*float64(h-1-2*pad))), true
	}
	for _, series := range []struct {
		col color.NRGBA
		val func(lossPoint) float64
	}{
		{contentColour, func(p lossPoint) float64 { return p.content }},
		{styleColour, func(p lossPoint) float64 { return p.style }},
		{totalColour, func(p lossPoint) float64 { return p.total }}, // on top
	} {
		var x0, y0 int
		have := false
		for _, p := range c.points {
			y, ok := py(series.val(p))
			if !ok {
				have = false
				continue
			}
			x := px(p.it)
			if have {
				line(img, x0, y0, x, y, series.col)
			} else {
				img.SetNRGBA(x, y, series.col)
			}
			x0, y0, have = x, y, true
		}
	}
	return img
}

// line draws a one-pixel line from (x0,y0) to (x1,y1) (Bresenham).
func line(img *image.NRGBA, x0, y0, x1, y1 int, col color.NRGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	e := dx + dy
	for {
		img.SetNRGBA(x0, y0, col)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
