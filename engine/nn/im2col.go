package nn

import (
	"fmt"

	"atelier/engine/tensor"
)

// This file holds the machinery shared by the convolution family: the
// per-axis index maps that implement every padding mode, im2col/col2im over
// a band of output positions, and convCore, a grouped 2-D convolution of one
// image computed band by band so that its column buffer stays bounded.

// colBudget bounds the column buffer of one convolution, in float32s
// (4 MiB). A band holds as many output positions (in row-major order, so
// whole rows and partial ones) as fit, and at least one.
const colBudget = 1 << 20

// axisMap resolves one spatial axis of a convolution: for kernel tap k and
// output position o it gives the input index read, or -1 for a zero.
type axisMap struct {
	in, out, stride int
	src             []int32 // src[k*out+o]
	lo, hi          []int   // per tap: outputs [lo, hi) read o*stride+off[k] directly
	off             []int   // per tap: k*dilation - padBefore
}

// build fills the map for an axis of length in, producing out positions
// with kernel size k, the given stride and dilation and padBefore positions
// of padding before the first input, resolved with mode.
func (a *axisMap) build(in, out, k, stride, dil, padBefore int, mode PadMode) {
	a.in, a.out, a.stride = in, out, stride
	a.src = growInt32(a.src, k*out)
	a.lo, a.hi, a.off = growInt(a.lo, k), growInt(a.hi, k), growInt(a.off, k)
	for ki := 0; ki < k; ki++ {
		off := ki*dil - padBefore
		lo, hi := out, 0
		for o := 0; o < out; o++ {
			p := o*stride + off
			s := p
			if p < 0 || p >= in {
				s = padIndex(p, in, mode)
			} else {
				lo = min(lo, o)
				hi = o + 1
			}
			a.src[ki*out+o] = int32(s)
		}
		if lo >= hi {
			lo, hi = 0, 0
		}
		a.lo[ki], a.hi[ki], a.off[ki] = lo, hi, off
	}
}

// padIndex maps a position p outside [0, n) to the input index that padding
// mode reads there, or -1 for zero padding.
func padIndex(p, n int, mode PadMode) int {
	switch mode {
	case PadReflect:
		if n == 1 {
			return 0
		}
		period := 2 * (n - 1)
		p %= period
		if p < 0 {
			p += period
		}
		if p >= n {
			p = period - p
		}
		return p
	case PadCircular:
		p %= n
		if p < 0 {
			p += n
		}
		return p
	default:
		return -1
	}
}

func growInt32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

func growInt(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}

func growFloat32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// convGeom is the geometry of a convolution on one input size.
type convGeom struct {
	h, w, oh, ow   int
	pt, pb, pl, pr int     // resolved padding amounts
	mode           PadMode // PadExplicit (zeros), PadReflect or PadCircular
	ya, xa         axisMap
}

// convAxis returns the output length and the padding before and after for
// one axis of length in, kernel k, stride and dilation (both >= 1).
func convAxis(in, k, stride, dil int, mode PadMode, before, after int) (out, pb, pa int, err error) {
	if in < 1 {
		return 0, 0, 0, fmt.Errorf("%w: empty spatial axis (%d)", ErrShape, in)
	}
	eff := (k-1)*dil + 1
	switch mode {
	case PadSame:
		out = (in + stride - 1) / stride
		total := max((out-1)*stride+eff-in, 0)
		return out, total / 2, total - total/2, nil
	case PadExplicit, PadReflect, PadCircular:
		if before < 0 || after < 0 {
			return 0, 0, 0, fmt.Errorf("%w: negative padding %d, %d", ErrShape, before, after)
		}
		if mode == PadReflect && (before >= in || after >= in) {
			return 0, 0, 0, fmt.Errorf("%w: reflect padding %d, %d needs an axis longer than that, got %d", ErrShape, before, after, in)
		}
		if mode == PadCircular && (before > in || after > in) {
			return 0, 0, 0, fmt.Errorf("%w: circular padding %d, %d exceeds the axis length %d", ErrShape, before, after, in)
		}
		padded := in + before + after
		if padded < eff {
			return 0, 0, 0, fmt.Errorf("%w: padded axis %d is shorter than the dilated kernel %d", ErrShape, padded, eff)
		}
		return (padded-eff)/stride + 1, before, after, nil
	default:
		return 0, 0, 0, fmt.Errorf("%w: unknown padding mode %d", ErrShape, mode)
	}
}

// convCore is a grouped 2-D convolution of single images with a weight of
// shape [cout, cin/groups, kh, kw]. It owns the bounded column buffer and
// the geometry for the last input size it was set up for.
type convCore struct {
	cout, cin, groups, kh, kw int
	stride, dil               int
	opt                       ConvOpts // padding mode and explicit amounts
	g                         convGeom
	ready                     bool
	band                      int // output positions per band
	col                       []float32
}

// geometry computes the output size and padding for an h x w input without
// changing the core.
func (k *convCore) geometry(h, w int) (convGeom, error) {
	var g convGeom
	var err error
	g.h, g.w = h, w
	g.oh, g.pt, g.pb, err = convAxis(h, k.kh, k.stride, k.dil, k.opt.Pad, k.opt.PadTop, k.opt.PadBottom)
	if err != nil {
		return g, err
	}
	g.ow, g.pl, g.pr, err = convAxis(w, k.kw, k.stride, k.dil, k.opt.Pad, k.opt.PadLeft, k.opt.PadRight)
	if err != nil {
		return g, err
	}
	g.mode = k.opt.Pad
	if g.mode == PadSame {
		g.mode = PadExplicit
	}
	return g, nil
}

// setup prepares the index maps and the band size for an h x w input.
func (k *convCore) setup(h, w int) error {
	if k.ready && k.g.h == h && k.g.w == w {
		return nil
	}
	g, err := k.geometry(h, w)
	if err != nil {
		return err
	}
	g.ya, g.xa = k.g.ya, k.g.xa // keep the maps' storage
	g.ya.build(h, g.oh, k.kh, k.stride, k.dil, g.pt, g.mode)
	g.xa.build(w, g.ow, k.kw, k.stride, k.dil, g.pl, g.mode)
	k.g = g
	kk := k.cin / k.groups * k.kh * k.kw
	k.band = max(1, min(g.oh*g.ow, colBudget/max(1, kk)))
	k.ready = true
	return nil
}

// pointwise reports whether the convolution is a plain matrix product
// (1x1 kernel, stride 1, no padding), which needs no column buffer.
func (k *convCore) pointwise() bool {
	g := &k.g
	return k.kh == 1 && k.kw == 1 && k.stride == 1 && g.pt == 0 && g.pb == 0 && g.pl == 0 && g.pr == 0
}

// forward computes y = conv(x) for one image (no bias), overwriting y.
func (k *convCore) forward(wt, x, y []float32) {
	g := &k.g
	cinG, coutG := k.cin/k.groups, k.cout/k.groups
	kk := cinG * k.kh * k.kw
	hw, ohw := g.h*g.w, g.oh*g.ow
	if k.pointwise() {
		for gi := 0; gi < k.groups; gi++ {
			tensor.Sgemm(false, false, coutG, hw, cinG, 1, wt[gi*coutG*kk:], kk,
				x[gi*cinG*hw:], hw, 0, y[gi*coutG*ohw:], ohw)
		}
		return
	}
	for p0 := 0; p0 < ohw; p0 += k.band {
		p1 := min(p0+k.band, ohw)
		m := p1 - p0
		k.col = growFloat32(k.col, kk*m)
		for gi := 0; gi < k.groups; gi++ {
			k.im2col(x, gi*cinG, cinG, p0, p1, k.col)
			tensor.Sgemm(false, false, coutG, m, kk, 1, wt[gi*coutG*kk:], kk,
				k.col, m, 0, y[gi*coutG*ohw+p0:], ohw)
		}
	}
}

// backward takes dy for one image. When dw is not nil it accumulates the
// weight gradient (dw += dy * im2col(x)^T); when dx is not nil it
// overwrites dx with the input gradient (col2im of W^T * dy). One column
// buffer serves both.
func (k *convCore) backward(wt, x, dy, dx, dw []float32) {
	g := &k.g
	cinG, coutG := k.cin/k.groups, k.cout/k.groups
	kk := cinG * k.kh * k.kw
	hw, ohw := g.h*g.w, g.oh*g.ow
	if k.pointwise() {
		for gi := 0; gi < k.groups; gi++ {
			if dw != nil {
				tensor.Sgemm(false, true, coutG, cinG, hw, 1, dy[gi*coutG*ohw:], ohw,
					x[gi*cinG*hw:], hw, 1, dw[gi*coutG*kk:], kk)
			}
			if dx != nil {
				tensor.Sgemm(true, false, cinG, hw, coutG, 1, wt[gi*coutG*kk:], kk,
					dy[gi*coutG*ohw:], ohw, 0, dx[gi*cinG*hw:], hw)
			}
		}
		return
	}
	if dx != nil {
		clear(dx[:k.cin*hw])
	}
	for p0 := 0; p0 < ohw; p0 += k.band {
		p1 := min(p0+k.band, ohw)
		m := p1 - p0
		k.col = growFloat32(k.col, kk*m)
		for gi := 0; gi < k.groups; gi++ {
			dyg := dy[gi*coutG*ohw+p0:]
			if dw != nil {
				k.im2col(x, gi*cinG, cinG, p0, p1, k.col)
				tensor.Sgemm(false, true, coutG, kk, m, 1, dyg, ohw, k.col, m, 1, dw[gi*coutG*kk:], kk)
			}
			if dx != nil {
				tensor.Sgemm(true, false, kk, m, coutG, 1, wt[gi*coutG*kk:], kk, dyg, ohw, 0, k.col, m)
				k.col2im(k.col, gi*cinG, cinG, p0, p1, dx)
			}
		}
	}
}

// im2col writes the columns of channels [c0, c0+cn) for the output positions
// [p0, p1) into col, a (cn*kh*kw) x (p1-p0) row-major matrix.
func (k *convCore) im2col(x []float32, c0, cn, p0, p1 int, col []float32) {
	g := &k.g
	m := p1 - p0
	s := k.stride
	oy0, oy1 := p0/g.ow, (p1-1)/g.ow+1
	r := 0
	for c := c0; c < c0+cn; c++ {
		xc := x[c*g.h*g.w : (c+1)*g.h*g.w]
		for ky := 0; ky < k.kh; ky++ {
			ysrc := g.ya.src[ky*g.oh : (ky+1)*g.oh]
			for kx := 0; kx < k.kw; kx++ {
				dst := col[r*m : (r+1)*m]
				r++
				xsrc := g.xa.src[kx*g.ow : (kx+1)*g.ow]
				lo, hi, off := g.xa.lo[kx], g.xa.hi[kx], g.xa.off[kx]
				for oy := oy0; oy < oy1; oy++ {
					// The band's row piece: whole rows except possibly the
					// first and the last.
					ox0, ox1 := 0, g.ow
					if oy == oy0 {
						ox0 = p0 - oy*g.ow
					}
					if oy == oy1-1 {
						ox1 = p1 - oy*g.ow
					}
					// d[i] holds output column ox0+i of row oy.
					d := dst[oy*g.ow+ox0-p0 : oy*g.ow+ox1-p0]
					sy := int(ysrc[oy])
					if sy < 0 {
						clear(d)
						continue
					}
					row := xc[sy*g.w : (sy+1)*g.w]
					a, b := max(ox0, lo), min(ox1, hi)
					for ox := ox0; ox < min(ox1, lo); ox++ {
						d[ox-ox0] = rowAt(row, xsrc[ox])
					}
					if a < b {
						if s == 1 {
							copy(d[a-ox0:b-ox0], row[a+off:b+off])
						} else {
							for ox := a; ox < b; ox++ {
								d[ox-ox0] = row[ox*s+off]
							}
						}
					}
					for ox := max(ox0, hi); ox < ox1; ox++ {
						d[ox-ox0] = rowAt(row, xsrc[ox])
					}
				}
			}
		}
	}
}

// col2im is the adjoint of im2col: it adds the columns in col back into the
// channels [c0, c0+cn) of dx.
func (k *convCore) col2im(col []float32, c0, cn, p0, p1 int, dx []float32) {
	g := &k.g
	m := p1 - p0
	s := k.stride
	oy0, oy1 := p0/g.ow, (p1-1)/g.ow+1
	r := 0
	for c := c0; c < c0+cn; c++ {
		xc := dx[c*g.h*g.w : (c+1)*g.h*g.w]
		for ky := 0; ky < k.kh; ky++ {
			ysrc := g.ya.src[ky*g.oh : (ky+1)*g.oh]
			for kx := 0; kx < k.kw; kx++ {
				src := col[r*m : (r+1)*m]
				r++
				xsrc := g.xa.src[kx*g.ow : (kx+1)*g.ow]
				lo, hi, off := g.xa.lo[kx], g.xa.hi[kx], g.xa.off[kx]
				for oy := oy0; oy < oy1; oy++ {
					sy := int(ysrc[oy])
					if sy < 0 {
						continue
					}
					ox0, ox1 := 0, g.ow
					if oy == oy0 {
						ox0 = p0 - oy*g.ow
					}
					if oy == oy1-1 {
						ox1 = p1 - oy*g.ow
					}
					d := src[oy*g.ow+ox0-p0 : oy*g.ow+ox1-p0]
					row := xc[sy*g.w : (sy+1)*g.w]
					a, b := max(ox0, lo), min(ox1, hi)
					for ox := ox0; ox < min(ox1, lo); ox++ {
						if sx := xsrc[ox]; sx >= 0 {
							row[sx] += d[ox-ox0]
						}
					}
					if a < b {
						if s == 1 {
							dr := row[a+off : b+off]
							for i, v := range d[a-ox0 : b-ox0] {
								dr[i] += v
							}
						} else {
							for ox := a; ox < b; ox++ {
								row[ox*s+off] += d[ox-ox0]
							}
						}
					}
					for ox := max(ox0, hi); ox < ox1; ox++ {
						if sx := xsrc[ox]; sx >= 0 {
							row[sx] += d[ox-ox0]
						}
					}
				}
			}
		}
	}
}

func rowAt(row []float32, i int32) float32 {
	if i < 0 {
		return 0
	}
	return row[i]
}
