package ui

import (
	"image"
	"image/color"
	"testing"

	"atelier/engine/job"
)

// rowsOf returns the rows where col appears in img's column x.
func rowsOf(img *image.NRGBA, x int, col color.NRGBA) []int {
	var rows []int
	for y := 0; y < img.Rect.Dy(); y++ {
		if img.NRGBAAt(x, y) == col {
			rows = append(rows, y)
		}
	}
	return rows
}

// TestLossCurveDraws checks the plot's geometry: larger losses lie higher
// (log scale), a falling loss falls, and setup updates add no points.
func TestLossCurveDraws(t *testing.T) {
	c := newLossCurve()
	c.add(0, job.Losses{}) // a setup stage: no point
	for it := 1; it <= 100; it++ {
		f := 1 / float64(it) // total falls by two decades
		c.add(it, job.Losses{Total: 1000 * f, Content: 1, Style: 10})
	}
	if n := len(c.points); n != 100 {
		t.Fatalf("%d points, want 100", n)
	}
	img := c.draw(200, 80).(*image.NRGBA)
	mid := 100
	total, content, style := rowsOf(img, mid, totalColour), rowsOf(img, mid, contentColour), rowsOf(img, mid, styleColour)
	if len(total) == 0 || len(content) == 0 || len(style) == 0 {
		t.Fatalf("column %d holds total rows %v, content %v, style %v: a line is missing", mid, total, content, style)
	}
	if !(total[0] < style[0] && style[0] < content[0]) {
		t.Errorf("rows total %v, style %v, content %v: want the larger loss higher", total, style, content)
	}
	left, right := rowsOf(img, 3, totalColour), rowsOf(img, 196, totalColour)
	if len(left) == 0 || len(right) == 0 || left[0] >= right[0] {
		t.Errorf("the falling total starts at rows %v and ends at %v: want it to fall", left, right)
	}
	c.reset()
	if got := c.draw(20, 10).(*image.NRGBA); rowsOf(got, 5, totalColour) != nil {
		t.Error("a reset curve still draws")
	}
}

func TestLossCurveThinsOut(t *testing.T) {
	c := newLossCurve()
	for it := 1; it <= 5000; it++ {
		c.add(it, job.Losses{Total: float64(it), Content: 1, Style: 1})
	}
	if n := len(c.points); n > maxCurvePoints || n < maxCurvePoints/2 {
		t.Errorf("%d points kept of 5000, want %d..%d", n, maxCurvePoints/2, maxCurvePoints)
	}
	if c.lastIteration() != 5000 || c.points[0].it > 20 {
		t.Errorf("thinning lost an end: first %v, last %d", c.points[0].it, c.lastIteration())
	}
}
