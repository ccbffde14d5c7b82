package texture

import (
	"fmt"
	"strconv"
	"strings"

	"atelier/engine/features"
	"atelier/engine/nn"
	"atelier/engine/tensor"
)

// Padded wraps a feature extractor so that every convolution and pooling of
// the wrapped network behaves as if it padded its input circularly
// (nn.PadCircular: the image is seen as a torus, and images optimised
// through it tile seamlessly) or by mirroring (nn.PadReflect). Run uses the
// circular mode for tileable textures; mirroring, tried against the dark
// frames zero padding leaves on Gram textures, traded them for a faint line
// along the borders at 1.6 to 4 times the cost, so Run does not use it.
//
// It does so without touching the network: Extract pads the image (Pad
// pixels on every side, wrapping around or mirroring, as many times as
// needed), runs the network on the padded image and crops each tap back to
// the positions of the original image; Backward embeds the tap gradients
// into the padded maps, runs the network backwards and folds the gradient of
// the padding back onto the pixels it copied. When Pad is at least the
// receptive-field radius of the deepest tap and a multiple of its stride,
// and the image's sides are multiples of that stride, the circular taps are
// exactly those of the network with circular padding (a circular shift of
// the image by a multiple of the stride shifts every tap); for other sides
// the wrap is approximate at the last few positions but still seamless.
//
// The cost is that of the padded image: (H+2·Pad)·(W+2·Pad)/(H·W) times the
// plain network's (1.56 at 256 px with Pad 32). Like the extractors, a
// Padded keeps its buffers between calls and is not safe for concurrent
// use.
type Padded struct {
	// Net is the wrapped extractor.
	Net features.Extractor
	// Pad is the margin in pixels; 0 chooses it from the taps of each
	// Extract (see CircularPad).
	Pad int
	// Mode is nn.PadCircular or nn.PadReflect.
	Mode nn.PadMode

	padded     *tensor.Tensor
	dimg       *tensor.Tensor
	pad        int                       // margin of the last Extract
	h, w       int                       // size of the last Extract's image
	ymap, xmap []int                     // source row and column of each padded one
	outs       map[string]*tensor.Tensor // the taps of the last Extract
	cropped    map[string]*tensor.Tensor // their buffers, kept across calls
	crops      map[string]crop
	embedded   map[string]*tensor.Tensor
	seeds      map[string]*tensor.Tensor
}

var _ features.Extractor = (*Padded)(nil)

// NewCircular wraps net with wrap-around padding (see Padded); pad 0
// chooses the margin from the taps.
func NewCircular(net features.Extractor, pad int) *Padded {
	return &Padded{Net: net, Pad: pad, Mode: nn.PadCircular}
}

// NewMirrored wraps net with mirror padding (see Padded); pad 0 chooses the
// margin from the taps.
func NewMirrored(net features.Extractor, pad int) *Padded {
	return &Padded{Net: net, Pad: pad, Mode: nn.PadReflect}
}

// padIndex returns the input index that padded index i (relative to the
// input's start, so negative before it) copies, for an axis of n values:
// wrapping around, or mirroring without repeating the edge.
func padIndex(mode nn.PadMode, i, n int) int {
	if mode != nn.PadReflect {
		return mod(i, n)
	}
	if n == 1 {
		return 0
	}
	p := 2*n - 2
	j := mod(i, p)
	if j >= n {
		j = p - j
	}
	return j
}

// padMap fills buf (reused) with the source index of each of the n+2·pad
// padded positions.
func padMap(buf []int, mode nn.PadMode, n, pad int) []int {
	buf = buf[:0]
	for i := -pad; i < n+pad; i++ {
		buf = append(buf, padIndex(mode, i, n))
	}
	return buf
}

// crop is where a tap of the original image lies in the tap of the padded
// one.
type crop struct {
	y0, x0, h, w int // offset and size in the padded tap
	ph, pw       int // size of the padded tap
}

// CircularPad returns a wrap-around margin large enough for the taps of a
// VGG network (conv{b}_{i}, relu{b}_{i}, pool{b}): the receptive-field
// radius of the deepest tap rounded up to a multiple of its stride (32 for
// taps up to pool3). Taps it does not know (other networks) get 64, enough
// for moderately deep taps of networks with stride up to 64.
func CircularPad(taps []string) int {
	pad := 1
	for _, t := range taps {
		r, stride, ok := vggReach(t)
		if !ok {
			return 64
		}
		r = (r + stride - 1) / stride * stride
		pad = max(pad, r)
	}
	return pad
}

// vggConvs is the number of convolutions in each block of VGG19.
var vggConvs = [5]int{2, 2, 4, 4, 4}

// vggReach returns the receptive-field radius (rounded up, counting a 2x2
// pooling as its full stride) and the stride of a VGG19 tap.
func vggReach(tap string) (radius, stride int, ok bool) {
	var block, conv int
	switch {
	case strings.HasPrefix(tap, "pool"):
		b, err := strconv.Atoi(tap[4:])
		if err != nil || b < 1 || b > 5 {
			return 0, 0, false
		}
		block, conv = b, vggConvs[b-1]+1
	case strings.HasPrefix(tap, "conv"), strings.HasPrefix(tap, "relu"):
		bs, is, found := strings.Cut(tap[4:], "_")
		b, err1 := strconv.Atoi(bs)
		i, err2 := strconv.Atoi(is)
		if !found || err1 != nil || err2 != nil || b < 1 || b > 5 || i < 1 || i > vggConvs[b-1] {
			return 0, 0, false
		}
		block, conv = b, i
	default:
		return 0, 0, false
	}
	s := 1
	for b := 1; b < block; b++ {
		radius += (vggConvs[b-1] + 1) * s // its convolutions and its pooling
		s *= 2
	}
	if conv > vggConvs[block-1] { // the block's pooling
		radius += conv * s
		s *= 2
	} else {
		radius += conv * s
	}
	return radius, s, true
}

// Extract implements features.Extractor: the taps of the padded image at
// the original image's positions.
func (c *Padded) Extract(img *tensor.Tensor, taps []string) (map[string]*tensor.Tensor, error) {
	if img == nil || len(img.Shape) != 4 || img.Shape[1] != 3 || len(img.Data) != tensor.Volume(img.Shape) {
		return nil, fmt.Errorf("%w: want RGB [N,3,H,W], got %v", features.ErrInput, img)
	}
	pad := c.Pad
	if pad <= 0 {
		pad = CircularPad(taps)
	}
	_, _, h, w := img.Dims()
	c.ymap = padMap(c.ymap, c.Mode, h, pad)
	c.xmap = padMap(c.xmap, c.Mode, w, pad)
	c.padded = padImage(c.padded, img, c.ymap, c.xmap)
	outs, err := c.Net.Extract(c.padded, taps)
	if err != nil {
		return nil, err
	}
	if c.outs == nil {
		c.outs, c.crops = map[string]*tensor.Tensor{}, map[string]crop{}
		c.embedded, c.seeds = map[string]*tensor.Tensor{}, map[string]*tensor.Tensor{}
		c.cropped = map[string]*tensor.Tensor{}
	}
	clear(c.outs)
	clear(c.crops)
	c.pad, c.h, c.w = pad, h, w
	for _, tap := range taps {
		f := outs[tap]
		cr, err := cropOf(f, h, w, pad)
		if err != nil {
			return nil, fmt.Errorf("texture: tap %s: %w", tap, err)
		}
		c.crops[tap] = cr
		c.cropped[tap] = cropInto(c.cropped[tap], f, cr)
		c.outs[tap] = c.cropped[tap]
	}
	return c.outs, nil
}

// cropOf finds the stride of a tap of the padded image and the window of
// the original image in it.
func cropOf(f *tensor.Tensor, h, w, pad int) (crop, error) {
	if len(f.Shape) != 4 {
		return crop{}, fmt.Errorf("not a [N,C,H,W] map: %v", f.Shape)
	}
	ph, pw := f.Shape[2], f.Shape[3]
	for s := 1; s <= 1024; s *= 2 {
		fits := func(in, out int) bool { return in/s == out || (in+s-1)/s == out }
		if !fits(h+2*pad, ph) || !fits(w+2*pad, pw) {
			continue
		}
		if pad%s != 0 {
			return crop{}, fmt.Errorf("the margin %d is not a multiple of the stride %d", pad, s)
		}
		cr := crop{y0: pad / s, x0: pad / s, h: max(1, (h+s-1)/s), w: max(1, (w+s-1)/s), ph: ph, pw: pw}
		cr.h = min(cr.h, ph-cr.y0)
		cr.w = min(cr.w, pw-cr.x0)
		if cr.h < 1 || cr.w < 1 {
			return crop{}, fmt.Errorf("the map %dx%d is too small", pw, ph)
		}
		return cr, nil
	}
	return crop{}, fmt.Errorf("cannot tell the stride of a %dx%d map of a %dx%d image", pw, ph, w+2*pad, h+2*pad)
}

// cropInto copies the window cr of f into dst (reused) and returns it.
func cropInto(dst, f *tensor.Tensor, cr crop) *tensor.Tensor {
	n, ch := f.Shape[0], f.Shape[1]
	dst = tensor.Ensure(dst, n, ch, cr.h, cr.w)
	for p := 0; p < n*ch; p++ {
		src := f.Data[p*cr.ph*cr.pw:]
		out := dst.Data[p*cr.h*cr.w:]
		for y := 0; y < cr.h; y++ {
			copy(out[y*cr.w:(y+1)*cr.w], src[(y+cr.y0)*cr.pw+cr.x0:])
		}
	}
	return dst
}

// Backward implements features.Extractor: the gradient with respect to the
// original image, the padding's share folded back onto the pixels it
// copied.
func (c *Padded) Backward(grads map[string]*tensor.Tensor) *tensor.Tensor {
	clear(c.seeds)
	for tap, g := range grads {
		if g == nil {
			continue
		}
		cr, ok := c.crops[tap]
		if !ok {
			panic(fmt.Sprintf("texture: Backward for tap %q, which the last Extract did not return", tap))
		}
		n, ch := c.outs[tap].Shape[0], c.outs[tap].Shape[1]
		if !g.SameShape(c.outs[tap]) {
			panic(fmt.Sprintf("texture: gradient %v for tap %q of shape %v", g.Shape, tap, c.outs[tap].Shape))
		}
		e := tensor.EnsureZero(c.embedded[tap], n, ch, cr.ph, cr.pw)
		c.embedded[tap] = e
		for p := 0; p < n*ch; p++ {
			src := g.Data[p*cr.h*cr.w:]
			dst := e.Data[p*cr.ph*cr.pw:]
			for y := 0; y < cr.h; y++ {
				copy(dst[(y+cr.y0)*cr.pw+cr.x0:(y+cr.y0)*cr.pw+cr.x0+cr.w], src[y*cr.w:(y+1)*cr.w])
			}
		}
		c.seeds[tap] = e
	}
	dp := c.Net.Backward(c.seeds)
	c.dimg = foldImage(c.dimg, dp, c.h, c.w, c.ymap, c.xmap)
	return c.dimg
}

// Taps implements features.Extractor.
func (c *Padded) Taps() []string { return c.Net.Taps() }

// DefaultStyleTaps implements features.Extractor.
func (c *Padded) DefaultStyleTaps() []string { return c.Net.DefaultStyleTaps() }

// DefaultContentTap implements features.Extractor.
func (c *Padded) DefaultContentTap() string { return c.Net.DefaultContentTap() }

// padImage writes into dst (reused) img [N,C,H,W] padded to
// [N,C,len(ymap),len(xmap)]: out[y][x] = in[ymap[y]][xmap[x]].
func padImage(dst, img *tensor.Tensor, ymap, xmap []int) *tensor.Tensor {
	n, ch, h, w := img.Dims()
	ph, pw := len(ymap), len(xmap)
	dst = tensor.Ensure(dst, n, ch, ph, pw)
	for p := 0; p < n*ch; p++ {
		src := img.Data[p*h*w : (p+1)*h*w]
		out := dst.Data[p*ph*pw : (p+1)*ph*pw]
		for y, sy := range ymap {
			row := src[sy*w : (sy+1)*w]
			o := out[y*pw : (y+1)*pw]
			for x, sx := range xmap {
				o[x] = row[sx]
			}
		}
	}
	return dst
}

// foldImage is padImage's adjoint: it sums the gradient of the padded image
// dp into the pixels each position copied, into dst (reused) of h x w.
func foldImage(dst, dp *tensor.Tensor, h, w int, ymap, xmap []int) *tensor.Tensor {
	n, ch, ph, pw := dp.Dims()
	dst = tensor.EnsureZero(dst, n, ch, h, w)
	for p := 0; p < n*ch; p++ {
		src := dp.Data[p*ph*pw : (p+1)*ph*pw]
		out := dst.Data[p*h*w : (p+1)*h*w]
		for y, sy := range ymap {
			row := out[sy*w : (sy+1)*w]
			g := src[y*pw : (y+1)*pw]
			for x, sx := range xmap {
				row[sx] += g[x]
			}
		}
	}
	return dst
}

// mod is the non-negative remainder of a by m (m > 0).
func mod(a, m int) int {
	a %= m
	if a < 0 {
		a += m
	}
	return a
}
