package nn

import (
	"fmt"

	"atelier/engine/tensor"
)

// Add is the element-wise sum of two tensors of the same shape (residual
// connections).
type Add struct {
	y, dx, dy2 *tensor.Tensor
}

// NewAdd returns an element-wise addition.
func NewAdd() *Add { return &Add{} }

// Forward returns x + y. The shapes must match.
func (a *Add) Forward(x, y *tensor.Tensor) *tensor.Tensor {
	if !tensor.ShapeEqual(x.Shape, y.Shape) {
		panic(fmt.Sprintf("nn: Add of shapes %v and %v", x.Shape, y.Shape))
	}
	a.y = tensor.Ensure(a.y, x.Shape...)
	out := a.y.Data[:len(x.Data)]
	yd := y.Data[:len(x.Data)]
	for i, v := range x.Data {
		out[i] = v + yd[i]
	}
	return a.y
}

// Backward returns the gradients for both inputs. Both equal dy; they are
// two separate copies owned by the layer, so a caller may accumulate into
// either without touching dy or the other.
func (a *Add) Backward(dy *tensor.Tensor) (dx, dy2 *tensor.Tensor) {
	checkGradShape("Add", a.y, dy)
	a.dx = tensor.Ensure(a.dx, dy.Shape...)
	a.dy2 = tensor.Ensure(a.dy2, dy.Shape...)
	copy(a.dx.Data, dy.Data)
	copy(a.dy2.Data, dy.Data)
	return a.dx, a.dy2
}

// Concat joins tensors along the channel axis (axis 1). The inputs must have
// the same rank (at least 2) and agree on every other axis.
type Concat struct {
	y      *tensor.Tensor
	dxs    []*tensor.Tensor
	shapes [][]int // input shapes of the last Forward
}

// NewConcat returns a channel concatenation.
func NewConcat() *Concat { return &Concat{} }

// Forward concatenates xs along axis 1.
func (c *Concat) Forward(xs ...*tensor.Tensor) *tensor.Tensor {
	if len(xs) == 0 {
		panic("nn: Concat of no tensors")
	}
	first := xs[0].Shape
	if len(first) < 2 {
		panic(fmt.Sprintf("nn: Concat needs at least 2 dimensions, got %v", first))
	}
	inner := tensor.Volume(first[2:])
	chans := 0
	for _, x := range xs {
		s := x.Shape
		if len(s) != len(first) || s[0] != first[0] || !tensor.ShapeEqual(s[2:], first[2:]) {
			panic(fmt.Sprintf("nn: Concat of shapes %v and %v", first, s))
		}
		chans += s[1]
	}
	for len(c.shapes) < len(xs) {
		c.shapes = append(c.shapes, nil)
	}
	c.shapes = c.shapes[:len(xs)]
	for i, x := range xs {
		c.shapes[i] = append(c.shapes[i][:0], x.Shape...)
	}
	var shape [8]int
	out := append(shape[:0], first...)
	out[1] = chans
	c.y = tensor.Ensure(c.y, out...)
	n := first[0]
	for b := 0; b < n; b++ {
		off := b * chans * inner
		for _, x := range xs {
			m := x.Shape[1] * inner
			copy(c.y.Data[off:off+m], x.Data[b*m:(b+1)*m])
			off += m
		}
	}
	return c.y
}

// Backward splits dy into one gradient per input of the last Forward, in
// order. The slice and its tensors are owned by the layer.
func (c *Concat) Backward(dy *tensor.Tensor) []*tensor.Tensor {
	checkGradShape("Concat", c.y, dy)
	for len(c.dxs) < len(c.shapes) {
		c.dxs = append(c.dxs, nil)
	}
	c.dxs = c.dxs[:len(c.shapes)]
	chans := dy.Shape[1]
	inner := tensor.Volume(dy.Shape[2:])
	for i, s := range c.shapes {
		c.dxs[i] = tensor.Ensure(c.dxs[i], s...)
	}
	for b := 0; b < dy.Shape[0]; b++ {
		off := b * chans * inner
		for i, s := range c.shapes {
			m := s[1] * inner
			copy(c.dxs[i].Data[b*m:(b+1)*m], dy.Data[off:off+m])
			off += m
		}
	}
	return c.dxs
}
