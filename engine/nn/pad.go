package nn

import (
	"fmt"

	"atelier/engine/tensor"
)

// Pad2D pads the two spatial axes of NCHW tensors: with zeros (PadExplicit,
// Keras ZeroPadding2D), by reflection without repeating the edge
// (PadReflect, PyTorch ReflectionPad2d as in Johnson's networks) or by
// wrapping around (PadCircular). Forward panics on an input it cannot pad;
// OutShape reports that as an error first.
type Pad2D struct {
	mode                     PadMode
	top, bottom, left, right int
	err                      error

	h, w   int // input size the maps were built for
	ya, xa axisMap
	y, dx  *tensor.Tensor
}

// NewPad2D returns a padding layer. Modes other than PadExplicit,
// PadReflect and PadCircular, and negative amounts, are reported by
// OutShape (ErrShape).
func NewPad2D(mode PadMode, top, bottom, left, right int) *Pad2D {
	p := &Pad2D{mode: mode, top: top, bottom: bottom, left: left, right: right}
	if mode != PadExplicit && mode != PadReflect && mode != PadCircular {
		p.err = fmt.Errorf("nn: pad2d: %w: mode %v is not explicit, reflect or circular", ErrShape, mode)
	} else if top < 0 || bottom < 0 || left < 0 || right < 0 {
		p.err = fmt.Errorf("nn: pad2d: %w: negative padding %d,%d,%d,%d", ErrShape, top, bottom, left, right)
	}
	return p
}

// OutShape returns [N, C, H+top+bottom, W+left+right] for in = [N, C, H, W],
// or an error wrapping ErrShape (reflection needs every amount smaller than
// its axis, wrapping at most the axis length).
func (p *Pad2D) OutShape(in []int) ([]int, error) {
	if p.err != nil {
		return nil, p.err
	}
	if len(in) != 4 || in[0] < 1 || in[1] < 1 {
		return nil, fmt.Errorf("nn: pad2d input %v: %w: want [N, C, H, W]", in, ErrShape)
	}
	oh, _, _, err := convAxis(in[2], 1, 1, 1, p.mode, p.top, p.bottom)
	if err == nil {
		_, _, _, err = convAxis(in[3], 1, 1, 1, p.mode, p.left, p.right)
	}
	if err != nil {
		return nil, fmt.Errorf("nn: pad2d input %v: %w", in, err)
	}
	return []int{in[0], in[1], oh, in[3] + p.left + p.right}, nil
}

// Forward returns the padded x.
func (p *Pad2D) Forward(x *tensor.Tensor) *tensor.Tensor {
	if len(x.Shape) != 4 || x.Shape[2] != p.h || x.Shape[3] != p.w || p.y == nil {
		if _, err := p.OutShape(x.Shape); err != nil {
			panic(err)
		}
		p.h, p.w = x.Shape[2], x.Shape[3]
		p.ya.build(p.h, p.h+p.top+p.bottom, 1, 1, 1, p.top, p.mode)
		p.xa.build(p.w, p.w+p.left+p.right, 1, 1, 1, p.left, p.mode)
	}
	n, c, h, w := x.Dims()
	oh, ow := p.ya.out, p.xa.out
	p.y = tensor.Ensure(p.y, n, c, oh, ow)
	lo, hi, off := p.xa.lo[0], p.xa.hi[0], p.xa.off[0]
	for i := 0; i < n*c; i++ {
		src := x.Data[i*h*w : (i+1)*h*w]
		dst := p.y.Data[i*oh*ow : (i+1)*oh*ow]
		for oy := 0; oy < oh; oy++ {
			d := dst[oy*ow : (oy+1)*ow]
			sy := int(p.ya.src[oy])
			if sy < 0 {
				clear(d)
				continue
			}
			row := src[sy*w : (sy+1)*w]
			for ox := 0; ox < lo; ox++ {
				d[ox] = rowAt(row, p.xa.src[ox])
			}
			copy(d[lo:hi], row[lo+off:hi+off])
			for ox := hi; ox < ow; ox++ {
				d[ox] = rowAt(row, p.xa.src[ox])
			}
		}
	}
	return p.y
}

// Backward folds dL/dy back onto the input: padded positions that copy an
// input value add their gradient to it.
func (p *Pad2D) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if p.y == nil || !dy.SameShape(p.y) {
		panic(fmt.Sprintf("nn: pad2d backward: dy %v does not match the last output %v", dy, p.y))
	}
	n, c, oh, ow := dy.Dims()
	h, w := p.h, p.w
	p.dx = tensor.EnsureZero(p.dx, n, c, h, w)
	lo, hi, off := p.xa.lo[0], p.xa.hi[0], p.xa.off[0]
	for i := 0; i < n*c; i++ {
		dst := p.dx.Data[i*h*w : (i+1)*h*w]
		src := dy.Data[i*oh*ow : (i+1)*oh*ow]
		for oy := 0; oy < oh; oy++ {
			sy := int(p.ya.src[oy])
			if sy < 0 {
				continue
			}
			d := src[oy*ow : (oy+1)*ow]
			row := dst[sy*w : (sy+1)*w]
			for ox := 0; ox < lo; ox++ {
				if sx := p.xa.src[ox]; sx >= 0 {
					row[sx] += d[ox]
				}
			}
			for j, v := range d[lo:hi] {
				row[lo+off+j] += v
			}
			for ox := hi; ox < ow; ox++ {
				if sx := p.xa.src[ox]; sx >= 0 {
					row[sx] += d[ox]
				}
			}
		}
	}
	return p.dx
}
