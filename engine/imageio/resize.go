package imageio

import (
	"fmt"
	"image"
	"math"

	"github.com/nfnt/resize"

	"atelier/engine/tensor"
)

// FitLongSide returns the size of a w x h picture scaled (up or down) so
// that its longer side is side pixels, keeping the aspect ratio; the
// shorter side is rounded to nearest and at least 1.
func FitLongSide(w, h, side int) (int, int) {
	if w <= 0 || h <= 0 || side <= 0 {
		return 0, 0
	}
	short := func(s, l int) int { return max(1, int(math.Round(float64(s)*float64(side)/float64(l)))) }
	if w >= h {
		return side, short(h, w)
	}
	return short(w, h), side
}

// ResizeLong resamples t ([N,C,H,W]) so that its longer side is side
// pixels, keeping the aspect ratio; see Resize.
func ResizeLong(t *tensor.Tensor, side int) (*tensor.Tensor, error) {
	if t == nil || len(t.Shape) != 4 {
		return nil, fmt.Errorf("imageio: ResizeLong needs an [N,C,H,W] tensor, got %v", shapeOf(t))
	}
	_, _, h, w := t.Dims()
	if side <= 0 {
		return nil, fmt.Errorf("imageio: cannot resize to a long side of %d pixels", side)
	}
	nw, nh := FitLongSide(w, h, side)
	return Resize(t, nw, nh)
}

// Resize resamples every channel of t ([N,C,H,W], any value range) to
// w x h with nfnt/resize's Lanczos3 filter (which widens to an
// anti-aliasing filter when shrinking) and returns a new tensor. Each
// channel is mapped onto 16 bits over its own [min, max] range for the
// filter, so the result is exact to (max-min)/65535 and filter ringing is
// clipped to that range: resizing never creates values outside the input's
// per-channel range. A same-size resize returns a copy. Tensors holding NaN
// or Inf are refused.
func Resize(t *tensor.Tensor, w, h int) (*tensor.Tensor, error) {
	if t == nil || len(t.Shape) != 4 || len(t.Data) != tensor.Volume(t.Shape) {
		return nil, fmt.Errorf("imageio: Resize needs an [N,C,H,W] tensor, got %v", shapeOf(t))
	}
	n, c, ih, iw := t.Dims()
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("imageio: cannot resize to %dx%d", w, h)
	}
	if iw <= 0 || ih <= 0 {
		return nil, fmt.Errorf("imageio: cannot resize an empty %v tensor", t.Shape)
	}
	if w == iw && h == ih {
		return t.Clone(), nil
	}
	out := tensor.New(n, c, h, w)
	inPlane, outPlane := ih*iw, h*w
	src := image.NewRGBA64(image.Rect(0, 0, iw, ih))
	// Channels go through the filter four at a time, as the R, G, B and A
	// of an RGBA64 image (nfnt filters those independently, unclamped by
	// alpha).
	for p0 := 0; p0 < n*c; p0 += 4 {
		var lo, scale [4]float64
		var used [4]bool
		for k := 0; k < 4 && p0+k < n*c; k++ {
			plane := t.Data[(p0+k)*inPlane : (p0+k+1)*inPlane]
			mn, mx := math.Inf(1), math.Inf(-1)
			for _, v := range plane {
				f := float64(v)
				if math.IsNaN(f) || math.IsInf(f, 0) {
					return nil, fmt.Errorf("imageio: cannot resize a tensor holding NaN or Inf")
				}
				mn, mx = min(mn, f), max(mx, f)
			}
			lo[k], used[k] = mn, true
			if mx > mn {
				scale[k] = (mx - mn) / 65535
			}
			inv := 0.0
			if scale[k] > 0 {
				inv = 1 / scale[k]
			}
			for y := 0; y < ih; y++ {
				row := src.Pix[y*src.Stride+2*k:]
				for x, v := range plane[y*iw : (y+1)*iw] {
					q := uint16((float64(v)-mn)*inv + 0.5)
					row[8*x], row[8*x+1] = uint8(q>>8), uint8(q)
				}
			}
		}
		dst := resize.Resize(uint(w), uint(h), src, resize.Lanczos3).(*image.RGBA64)
		for k := 0; k < 4; k++ {
			if !used[k] {
				continue
			}
			plane := out.Data[(p0+k)*outPlane : (p0+k+1)*outPlane]
			for y := 0; y < h; y++ {
				row := dst.Pix[y*dst.Stride:]
				for x := 0; x < w; x++ {
					q := float64(uint16(row[8*x+2*k])<<8 | uint16(row[8*x+2*k+1]))
					plane[y*w+x] = float32(lo[k] + q*scale[k])
				}
			}
		}
	}
	return out, nil
}
