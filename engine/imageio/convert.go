package imageio

import (
	"fmt"
	"image"
	"image/color"

	"atelier/engine/tensor"
)

// FromImage converts img to a colour tensor [1,3,H,W] and, when img is not
// opaque, an alpha tensor [1,1,H,W] (otherwise alpha is nil). Both hold
// values in 0..255 as float32; colour is not premultiplied (fully
// transparent pixels have colour 0). 16-bit images keep their precision
// (v/257). Common concrete types take fast paths; any other image.Image
// goes through its color model.
func FromImage(img image.Image) (rgb, alpha *tensor.Tensor) {
	return fromImageOriented(img, 1)
}

// fromImageOriented is FromImage with the EXIF orientation o (1..8)
// applied on the way, so an upright copy never has to be made.
//
//	2 mirror left-right   3 rotate 180        4 mirror top-bottom
//	5 transpose           6 rotate 90 CW      7 transverse   8 rotate 90 CCW
func fromImageOriented(img image.Image, o int) (rgb, alpha *tensor.Tensor) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := orientedSize(w, h, o)
	rgb = tensor.New(1, 3, oh, ow)
	if !isOpaque(img) {
		alpha = tensor.New(1, 1, oh, ow)
	}
	plane := w * h
	conv := rowConverter(img)
	if o <= 1 || o > 8 {
		for y := 0; y < h; y++ {
			var a []float32
			if alpha != nil {
				a = alpha.Data[y*w : (y+1)*w]
			}
			conv(y, rgb.Data[y*w:(y+1)*w], rgb.Data[plane+y*w:plane+(y+1)*w], rgb.Data[2*plane+y*w:2*plane+(y+1)*w], a)
		}
		return rgb, alpha
	}
	// Stored pixel (sx, sy) lands at (ox, oy) = (cx + a*sx + b*sy,
	// cy + c*sx + d*sy) of the upright picture.
	var cx, a, bb, cy, c, d int
	switch o {
	case 2:
		cx, a, d = w-1, -1, 1
	case 3:
		cx, a, cy, d = w-1, -1, h-1, -1
	case 4:
		a, cy, d = 1, h-1, -1
	case 5:
		bb, c = 1, 1
	case 6:
		cx, bb, c = h-1, -1, 1
	case 7:
		cx, bb, cy, c = h-1, -1, w-1, -1
	case 8:
		bb, cy, c = 1, w-1, -1
	}
	step := c*ow + a
	r, g, bl := make([]float32, w), make([]float32, w), make([]float32, w)
	var al []float32
	if alpha != nil {
		al = make([]float32, w)
	}
	for sy := 0; sy < h; sy++ {
		conv(sy, r, g, bl, al)
		i := (cy+d*sy)*ow + cx + bb*sy
		for sx := 0; sx < w; sx++ {
			rgb.Data[i], rgb.Data[plane+i], rgb.Data[2*plane+i] = r[sx], g[sx], bl[sx]
			if al != nil {
				alpha.Data[i] = al[sx]
			}
			i += step
		}
	}
	return rgb, alpha
}

// rowConverter returns a function that writes row y (counted from the top
// of img's bounds) of img as straight colour into r, g, b and, when a is
// not nil, alpha into a, all in 0..255. The switch on the concrete type
// happens once, not per pixel.
func rowConverter(img image.Image) func(y int, r, g, bl, a []float32) {
	b := img.Bounds()
	w := b.Dx()
	switch m := img.(type) {
	case *image.Gray:
		return func(y int, r, g, bl, a []float32) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:w]
			for x, v := range src {
				f := float32(v)
				r[x], g[x], bl[x] = f, f, f
			}
			fillOpaque(a)
		}
	case *image.Gray16:
		return func(y int, r, g, bl, a []float32) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:2*w]
			for x := 0; x < w; x++ {
				f := be16(src[2*x:]) / 257
				r[x], g[x], bl[x] = f, f, f
			}
			fillOpaque(a)
		}
	case *image.YCbCr:
		return func(y int, r, g, bl, a []float32) {
			ycbcrRow(m, y, r, g, bl)
			fillOpaque(a)
		}
	case *image.CMYK:
		return func(y int, r, g, bl, a []float32) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
			for x := 0; x < w; x++ {
				s := src[4*x : 4*x+4]
				r[x], g[x], bl[x] = cmykToRGB(s[0], s[1], s[2], s[3])
			}
			fillOpaque(a)
		}
	case *image.RGBA:
		return func(y int, r, g, bl, a []float32) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
			for x := 0; x < w; x++ {
				s := src[4*x : 4*x+4]
				if s[3] == 255 {
					r[x], g[x], bl[x] = float32(s[0]), float32(s[1]), float32(s[2])
				} else {
					r[x], g[x], bl[x], _ = unpremul(float32(s[0]), float32(s[1]), float32(s[2]), float32(s[3]), 255)
				}
				if a != nil {
					a[x] = float32(s[3])
				}
			}
		}
	case *image.NRGBA:
		return func(y int, r, g, bl, a []float32) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
			for x := 0; x < w; x++ {
				s := src[4*x : 4*x+4]
				if s[3] == 0 {
					r[x], g[x], bl[x] = 0, 0, 0 // colour of invisible pixels is 0
				} else {
					r[x], g[x], bl[x] = float32(s[0]), float32(s[1]), float32(s[2])
				}
				if a != nil {
					a[x] = float32(s[3])
				}
			}
		}
	case *image.RGBA64:
		return func(y int, r, g, bl, a []float32) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:8*w]
			for x := 0; x < w; x++ {
				s := src[8*x : 8*x+8]
				ca := be16(s[6:])
				r[x], g[x], bl[x], ca = unpremul(be16(s[0:]), be16(s[2:]), be16(s[4:]), ca, 65535)
				if a != nil {
					a[x] = ca
				}
			}
		}
	case *image.NRGBA64:
		return func(y int, r, g, bl, a []float32) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:8*w]
			for x := 0; x < w; x++ {
				s := src[8*x : 8*x+8]
				ca := be16(s[6:])
				if ca == 0 {
					r[x], g[x], bl[x] = 0, 0, 0
				} else {
					r[x], g[x], bl[x] = be16(s[0:])/257, be16(s[2:])/257, be16(s[4:])/257
				}
				if a != nil {
					a[x] = ca / 257
				}
			}
		}
	case *image.Paletted:
		var lut [256][4]float32 // indices past the palette read as transparent black
		for k, c := range m.Palette {
			if k < len(lut) {
				lut[k] = colorToFloat(c)
			}
		}
		return func(y int, r, g, bl, a []float32) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:w]
			for x, v := range src {
				e := &lut[v]
				r[x], g[x], bl[x] = e[0], e[1], e[2]
				if a != nil {
					a[x] = e[3]
				}
			}
		}
	}
	return func(y int, r, g, bl, a []float32) {
		for x := 0; x < w; x++ {
			e := colorToFloat(img.At(b.Min.X+x, b.Min.Y+y))
			r[x], g[x], bl[x] = e[0], e[1], e[2]
			if a != nil {
				a[x] = e[3]
			}
		}
	}
}

func fillOpaque(a []float32) {
	for i := range a {
		a[i] = 255
	}
}

// toRGBA64 converts img to premultiplied 16-bit RGBA with origin (0, 0),
// through the same row converters as FromImage, so every source type is
// handled at full precision and speed.
func toRGBA64(img image.Image) *image.RGBA64 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	dst := image.NewRGBA64(image.Rect(0, 0, w, h))
	conv := rowConverter(img)
	r, g, bl, a := make([]float32, w), make([]float32, w), make([]float32, w), make([]float32, w)
	for y := 0; y < h; y++ {
		conv(y, r, g, bl, a)
		row := dst.Pix[y*dst.Stride:][:8*w]
		for x := 0; x < w; x++ {
			k := a[x] / 255 * 257
			put16(row[8*x:], r[x]*k)
			put16(row[8*x+2:], g[x]*k)
			put16(row[8*x+4:], bl[x]*k)
			put16(row[8*x+6:], a[x]*257)
		}
	}
	return dst
}

// toGray16 converts a gray image to 16-bit gray with origin (0, 0).
func toGray16(img image.Image) *image.Gray16 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	dst := image.NewGray16(image.Rect(0, 0, w, h))
	conv := rowConverter(img)
	v, g, bl := make([]float32, w), make([]float32, w), make([]float32, w)
	for y := 0; y < h; y++ {
		conv(y, v, g, bl, nil)
		row := dst.Pix[y*dst.Stride:][:2*w]
		for x := 0; x < w; x++ {
			put16(row[2*x:], v[x]*257)
		}
	}
	return dst
}

// put16 stores v (0..65535, rounded and clamped) big-endian.
func put16(p []byte, v float32) {
	q := uint16(0)
	switch {
	case v >= 65535:
		q = 65535
	case v > 0:
		q = uint16(v + 0.5)
	}
	p[0], p[1] = uint8(q>>8), uint8(q)
}

// isOpaque reports whether every pixel of img is fully opaque, using the
// image's own Opaque method when it has one (all standard types do).
func isOpaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if _, _, _, a := img.At(x, y).RGBA(); a != 0xffff {
				return false
			}
		}
	}
	return true
}

func be16(b []byte) float32 { return float32(uint16(b[0])<<8 | uint16(b[1])) }

// unpremul turns premultiplied colour c (0..max) with alpha a into straight
// colour and alpha, both scaled to 0..255, clamping colour that a resampling
// filter pushed above its alpha.
func unpremul(r, g, b, a, max float32) (float32, float32, float32, float32) {
	if a <= 0 {
		return 0, 0, 0, 0
	}
	k := 255 / a
	return min(r*k, 255), min(g*k, 255), min(b*k, 255), a * (255 / max)
}

// colorToFloat converts any colour to straight (non-premultiplied) R, G, B,
// A in 0..255, keeping 16-bit precision.
func colorToFloat(c color.Color) [4]float32 {
	switch v := c.(type) {
	case nil:
		return [4]float32{}
	case color.NRGBA: // straight colour: exact, whatever the alpha
		if v.A == 0 {
			return [4]float32{}
		}
		return [4]float32{float32(v.R), float32(v.G), float32(v.B), float32(v.A)}
	case color.NRGBA64:
		if v.A == 0 {
			return [4]float32{}
		}
		return [4]float32{float32(v.R) / 257, float32(v.G) / 257, float32(v.B) / 257, float32(v.A) / 257}
	}
	r, g, b, a := c.RGBA()
	if a == 0xffff {
		return [4]float32{float32(r) / 257, float32(g) / 257, float32(b) / 257, 255}
	}
	cr, cg, cb, ca := unpremul(float32(r), float32(g), float32(b), float32(a), 65535)
	return [4]float32{cr, cg, cb, ca}
}

// cmykToRGB converts one CMYK pixel (0 = no ink, as image.CMYK stores it:
// the JPEG decoder has already undone Adobe's inversion) to RGB in 0..255
// with the same formula as color.CMYKToRGB, without its 8-bit rounding.
func cmykToRGB(c, m, y, k uint8) (float32, float32, float32) {
	w := float32(255-k) / 255
	return float32(255-c) * w, float32(255-m) * w, float32(255-y) * w
}

// ycbcrRow converts row y (from the top of the bounds) of a JPEG's YCbCr
// planes (any chroma subsampling) to RGB with the JFIF equations in float,
// without rounding to 8 bits.
func ycbcrRow(m *image.YCbCr, y int, r, g, b []float32) {
	bd := m.Rect
	w := bd.Dx()
	hdiv, vdiv := 1, 1
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		hdiv = 2
	case image.YCbCrSubsampleRatio420:
		hdiv, vdiv = 2, 2
	case image.YCbCrSubsampleRatio440:
		vdiv = 2
	case image.YCbCrSubsampleRatio411:
		hdiv = 4
	case image.YCbCrSubsampleRatio410:
		hdiv, vdiv = 4, 2
	}
	Y := m.Y[y*m.YStride:][:w]
	crow := ((bd.Min.Y+y)/vdiv - bd.Min.Y/vdiv) * m.CStride
	for x := 0; x < w; x++ {
		ci := crow + (bd.Min.X+x)/hdiv - bd.Min.X/hdiv
		yy := float32(Y[x])
		cb := float32(m.Cb[ci]) - 128
		cr := float32(m.Cr[ci]) - 128
		r[x] = clamp255(yy + 1.402*cr)
		g[x] = clamp255(yy - 0.344136*cb - 0.714136*cr)
		b[x] = clamp255(yy + 1.772*cb)
	}
}

func clamp255(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return v
}

// to8 rounds v to the nearest integer in 0..255 (NaN becomes 0).
func to8(v float32) uint8 {
	if !(v > 0) {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v + 0.5)
}

// checkPair validates the shapes of a colour tensor ([1,3,H,W] or
// [1,1,H,W]) and an optional alpha tensor ([1,1,H,W]) and returns C, H, W.
func checkPair(rgb, alpha *tensor.Tensor) (c, h, w int, err error) {
	if rgb == nil || len(rgb.Shape) != 4 || rgb.Shape[0] != 1 || (rgb.Shape[1] != 3 && rgb.Shape[1] != 1) ||
		len(rgb.Data) != tensor.Volume(rgb.Shape) {
		return 0, 0, 0, fmt.Errorf("imageio: colour tensor must be [1,3,H,W] or [1,1,H,W], got %v", shapeOf(rgb))
	}
	_, c, h, w = rgb.Dims()
	if alpha != nil && (!tensor.ShapeEqual(alpha.Shape, []int{1, 1, h, w}) || len(alpha.Data) != h*w) {
		return 0, 0, 0, fmt.Errorf("imageio: alpha tensor must be [1,1,%d,%d], got %v", h, w, alpha.Shape)
	}
	return c, h, w, nil
}

func shapeOf(t *tensor.Tensor) any {
	if t == nil {
		return "nil"
	}
	return t.Shape
}

// ToNRGBA converts a colour tensor [1,3,H,W] (or gray [1,1,H,W]) in 0..255
// and an optional alpha tensor [1,1,H,W] in 0..255 (nil: opaque) to a
// straight-alpha *image.NRGBA, rounding to nearest and clamping to 0..255.
func ToNRGBA(rgb, alpha *tensor.Tensor) (*image.NRGBA, error) {
	c, h, w, err := checkPair(rgb, alpha)
	if err != nil {
		return nil, err
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	plane := h * w
	r, g, b := rgb.Data[:plane], rgb.Data[:plane], rgb.Data[:plane]
	if c == 3 {
		g, b = rgb.Data[plane:2*plane], rgb.Data[2*plane:]
	}
	for i := 0; i < plane; i++ {
		p := img.Pix[4*i : 4*i+4]
		p[0], p[1], p[2], p[3] = to8(r[i]), to8(g[i]), to8(b[i]), 255
		if alpha != nil {
			p[3] = to8(alpha.Data[i])
		}
	}
	return img, nil
}

// ToRGBA is like ToNRGBA but returns a premultiplied *image.RGBA, the
// layout Fyne's canvas.Image draws fastest.
func ToRGBA(rgb, alpha *tensor.Tensor) (*image.RGBA, error) {
	_, h, w, err := checkPair(rgb, alpha)
	if err != nil {
		return nil, err
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	return img, ToRGBAInto(img, rgb, alpha)
}

// ToRGBAInto writes what ToRGBA returns into dst, which must have the
// tensors' size, so a caller can reuse one image across frames.
func ToRGBAInto(dst *image.RGBA, rgb, alpha *tensor.Tensor) error {
	c, h, w, err := checkPair(rgb, alpha)
	if err != nil {
		return err
	}
	if dst == nil || dst.Rect.Dx() != w || dst.Rect.Dy() != h {
		return fmt.Errorf("imageio: destination image is not %dx%d", w, h)
	}
	plane := h * w
	r, g, b := rgb.Data[:plane], rgb.Data[:plane], rgb.Data[:plane]
	if c == 3 {
		g, b = rgb.Data[plane:2*plane], rgb.Data[2*plane:]
	}
	for y := 0; y < h; y++ {
		row := dst.Pix[dst.PixOffset(dst.Rect.Min.X, dst.Rect.Min.Y+y):][:4*w]
		rr, gg, bb := r[y*w:(y+1)*w], g[y*w:(y+1)*w], b[y*w:(y+1)*w]
		if alpha == nil {
			for x := range rr {
				p := row[4*x : 4*x+4 : 4*x+4]
				p[0], p[1], p[2], p[3] = to8(rr[x]), to8(gg[x]), to8(bb[x]), 255
			}
			continue
		}
		aa := alpha.Data[y*w : (y+1)*w]
		for x := range rr {
			p := row[4*x : 4*x+4 : 4*x+4]
			av := to8(aa[x])
			k := float32(av) / 255
			p[0], p[1], p[2], p[3] = to8(clamp255(rr[x])*k), to8(clamp255(gg[x])*k), to8(clamp255(bb[x])*k), av
		}
	}
	return nil
}
