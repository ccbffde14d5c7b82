package sr

import (
	"math"

	"atelier/engine/tensor"
)

// Tiling. The image is cut along each axis into the fewest spans of at most
// Tile input pixels that overlap by at least Overlap; the spans share one
// length and are spread evenly. A tile is a span of
// rows times a span of columns; the network sees exactly that region, with
// its usual zero padding at the cut edges.
//
// Where two spans overlap by ov output pixels, the outer quarter of the
// overlap on each side gets weight 0 in the tile whose cut edge it touches
// (it only gives the network context, and is where the zero padding at the
// cut disturbs the result most), and the middle half is cross-faded with
// complementary raised-cosine ramps (sin^2 and cos^2), so each output pixel
// is a convex combination of at most two tiles per axis. The weights are
// renormalised per axis to sum to exactly one, and a tile's 2-D weight is
// the product of its row and column weights, so the weights of all tiles
// sum to one everywhere: the tiles are simply added into the result, with
// no weight image.
//
// How much overlap: a "same" convolution's zero padding at a cut edge
// changes the result up to the network's receptive-field radius away (10
// input pixels for slim, 18 for medium, 154 for thick), but the change
// decays fast. Measured on CSet14's baboon, two 64-pixel tiles meeting in
// the middle, largest difference from the untiled result in levels of 255:
//
//	overlap         8      16      24      32
//	slim x2       3.7    0.18   0.008  0.0008
//	medium x4     6.1    0.84   0.09   0.006
//	thick x4        -    0.18   0.011  0.0013
//
// hence the defaults (24, 32, 24), far inside the 2-level tolerance.
//
// Memory: one tile's input, the network's activations for one tile (which
// is what Tile bounds) and the per-axis weights; the result itself is the
// only image-sized buffer.

// span is the input interval [lo, hi) of tiles along one axis.
type span struct{ lo, hi int }

// tileRect is one tile: input columns [x0, x1), rows [y0, y1), and the
// indices of its column and row spans.
type tileRect struct {
	x0, y0, x1, y1 int
	ix, iy         int
}

// tilePlan is the tiling of one image.
type tilePlan struct {
	scale  int
	xs, ys []span
	wx, wy [][]float32 // per span: output-pixel weights
	tiles  []tileRect
}

// newTilePlan tiles a w x h input with tiles of side tile overlapping by
// over, for an upscaling factor scale.
func newTilePlan(w, h, tile, over, scale int) *tilePlan {
	p := &tilePlan{scale: scale, xs: planAxis(w, tile, over), ys: planAxis(h, tile, over)}
	p.wx = axisWindows(p.xs, scale, w*scale)
	p.wy = axisWindows(p.ys, scale, h*scale)
	p.tiles = make([]tileRect, 0, len(p.xs)*len(p.ys))
	for iy, sy := range p.ys {
		for ix, sx := range p.xs {
			p.tiles = append(p.tiles, tileRect{x0: sx.lo, y0: sy.lo, x1: sx.hi, y1: sy.hi, ix: ix, iy: iy})
		}
	}
	return p
}

// planAxis cuts n pixels into the fewest spans of at most tile pixels
// whose neighbours overlap by at least over (one span of n when n <= tile).
// The spans share one length, as short as that allows, and are spread
// evenly from 0 to n, so no work goes into overlaps wider than needed.
func planAxis(n, tile, over int) []span {
	if n <= tile {
		return []span{{0, n}}
	}
	over = min(over, tile-1)
	k := max((n-over+tile-over-1)/(tile-over), 2) // ceil((n-over)/(tile-over))
	l := min((n+(k-1)*over+k-1)/k, tile)          // ceil((n+(k-1)*over)/k)
	out := make([]span, k)
	for i := range k {
		lo := int(math.Round(float64(i) * float64(n-l) / float64(k-1)))
		out[i] = span{lo, lo + l}
	}
	return out
}

// ramp is the weight of an output pixel at distance d (0 at the cut edge)
// into an overlap of ov output pixels: 0 over the outer quarter, a
// raised-cosine rise over the middle half, 1 beyond.
func ramp(d, ov int) float64 {
	g := ov / 4
	r := ov - 2*g
	switch {
	case d < g:
		return 0
	case d < g+r:
		s := math.Sin(math.Pi / 2 * (float64(d-g) + 0.5) / float64(r))
		return s * s
	}
	return 1
}

// axisWindows computes every span's output-pixel weights along one axis of
// n output pixels, normalised to sum to one at each pixel.
func axisWindows(spans []span, scale, n int) [][]float32 {
	total := 0
	for _, s := range spans {
		total += (s.hi - s.lo) * scale
	}
	raw := make([]float64, total) // every span's weights, one after another
	sum := make([]float64, n)
	off := 0
	for i, s := range spans {
		l := (s.hi - s.lo) * scale
		w := raw[off : off+l]
		for d := range l {
			v := 1.0
			if i > 0 {
				if ov := (spans[i-1].hi - s.lo) * scale; ov > 0 {
					v *= ramp(d, ov)
				}
			}
			if i+1 < len(spans) {
				if ov := (s.hi - spans[i+1].lo) * scale; ov > 0 {
					v *= ramp(l-1-d, ov)
				}
			}
			w[d] = v
			sum[s.lo*scale+d] += v
		}
		off += l
	}
	out := make([][]float32, len(spans))
	flat := make([]float32, total)
	off = 0
	for i, s := range spans {
		l := (s.hi - s.lo) * scale
		out[i] = flat[off : off+l : off+l]
		for d, v := range raw[off : off+l] {
			if t := sum[s.lo*scale+d]; t > 0 {
				out[i][d] = float32(v / t)
			}
		}
		off += l
	}
	return out
}

// blend adds k * weight * y (the network's [1,3,th*s,tw*s] output for
// tile t) into out ([1,3,H*s,W*s]).
func (p *tilePlan) blend(out, y *tensor.Tensor, t tileRect, k float32) {
	s := p.scale
	_, _, oh, ow := out.Dims()
	th, tw := (t.y1-t.y0)*s, (t.x1-t.x0)*s
	wx, wy := p.wx[t.ix], p.wy[t.iy]
	X0, Y0 := t.x0*s, t.y0*s
	for c := range 3 {
		for dy := range th {
			wr := wy[dy] * k
			if wr == 0 {
				continue
			}
			src := y.Data[(c*th+dy)*tw : (c*th+dy+1)*tw]
			dst := out.Data[(c*oh+Y0+dy)*ow+X0 : (c*oh+Y0+dy)*ow+X0+tw]
			for dx, v := range src {
				dst[dx] += wr * wx[dx] * v
			}
		}
	}
}
