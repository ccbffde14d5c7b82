//go:build ignore

// icon_gen draws Atelier's application icon, assets/icon.png: a night-blue
// rounded square holding a golden brush-stroke spiral and a few stars (a nod
// to the paintings style transfer is famous for). It is run once by hand,
//
//	go run assets/icon_gen.go
//
// and the PNG is committed; the build never runs it.
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
)

const (
	size = 512 // output side in pixels
	ss   = 4   // supersampling factor per axis
)

func main() {
	big := size * ss
	hi := image.NewNRGBA(image.Rect(0, 0, big, big))
	radius := 0.19 * float64(big) // corner radius of the rounded square
	margin := 0.04 * float64(big)
	for y := 0; y < big; y++ {
		for x := 0; x < big; x++ {
			fx, fy := float64(x)+0.5, float64(y)+0.5
			if !inRoundedSquare(fx, fy, margin, float64(big)-margin, radius) {
				continue
			}
			t := fy / float64(big)
			// Vertical gradient from deep indigo to night blue.
			c := mix(color.NRGBA{34, 40, 110, 255}, color.NRGBA{14, 62, 118, 255}, t)
			hi.SetNRGBA(x, y, c)
		}
	}
	// Golden spiral: an Archimedean spiral drawn as overlapping discs whose
	// radius tapers like a brush stroke.
	cx, cy := 0.52*float64(big), 0.47*float64(big)
	const turns = 2.6
	for i := 0; i <= 4000; i++ {
		s := float64(i) / 4000
		a := s * turns * 2 * math.Pi
		r := (0.03 + 0.31*s) * float64(big)
		px, py := cx+r*math.Cos(a), cy+r*math.Sin(a)
		w := (0.012 + 0.035*math.Sin(math.Pi*s)) * float64(big)
		c := mix(color.NRGBA{255, 226, 120, 255}, color.NRGBA{244, 160, 40, 255}, s)
		disc(hi, px, py, w, c)
	}
	// Stars.
	for _, st := range [][3]float64{{0.22, 0.2, 0.028}, {0.8, 0.18, 0.022}, {0.2, 0.78, 0.02}, {0.82, 0.8, 0.026}} {
		disc(hi, st[0]*float64(big), st[1]*float64(big), st[2]*float64(big), color.NRGBA{250, 246, 220, 255})
	}
	out := downsample(hi)
	f, err := os.Create("assets/icon.png")
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, out); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

func inRoundedSquare(x, y, lo, hi, r float64) bool {
	if x < lo || y < lo || x > hi || y > hi {
		return false
	}
	qx := math.Max(math.Max(lo+r-x, x-(hi-r)), 0)
	qy := math.Max(math.Max(lo+r-y, y-(hi-r)), 0)
	return qx*qx+qy*qy <= r*r
}

// disc paints a filled circle, only inside the already painted square.
func disc(img *image.NRGBA, cx, cy, r float64, c color.NRGBA) {
	b := img.Bounds()
	for y := int(cy - r); y <= int(cy+r); y++ {
		for x := int(cx - r); x <= int(cx+r); x++ {
			if !(image.Point{x, y}).In(b) || img.NRGBAAt(x, y).A == 0 {
				continue
			}
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			if dx*dx+dy*dy <= r*r {
				img.SetNRGBA(x, y, c)
			}
		}
	}
}

func mix(a, b color.NRGBA, t float64) color.NRGBA {
	l := func(p, q uint8) uint8 { return uint8(float64(p)*(1-t) + float64(q)*t + 0.5) }
	return color.NRGBA{l(a.R, b.R), l(a.G, b.G), l(a.B, b.B), l(a.A, b.A)}
}

// downsample box-filters the supersampled image with premultiplied alpha.
func downsample(hi *image.NRGBA) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			var r, g, bl, a float64
			for j := 0; j < ss; j++ {
				for i := 0; i < ss; i++ {
					c := hi.NRGBAAt(x*ss+i, y*ss+j)
					al := float64(c.A) / 255
					r += float64(c.R) * al
					g += float64(c.G) * al
					bl += float64(c.B) * al
					a += al
				}
			}
			if a == 0 {
				continue
			}
			out.SetNRGBA(x, y, color.NRGBA{uint8(r/a + 0.5), uint8(g/a + 0.5), uint8(bl/a + 0.5), uint8(a/(ss*ss)*255 + 0.5)})
		}
	}
	return out
}
