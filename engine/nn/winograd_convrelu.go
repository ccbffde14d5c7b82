package nn

import (
	"fmt"

	"atelier/engine/tensor"
)

// Conv2DReLU is a Conv2D followed by a ReLU, as one layer. Where the
// convolution takes the Winograd path the ReLU costs nothing extra: the
// forward pass clamps the output as it writes it, and the backward pass
// masks dy as it reads it, which saves a pass over the activations each
// way. Otherwise it runs the two layers one after the other. The output is
// the ReLU's (VGG's relu1_1, ...); the convolution's output before the ReLU
// is not kept.
type Conv2DReLU struct {
	Conv  *Conv2D
	relu  ReLU
	fused bool // the last Forward took the fused Winograd path
	// amxFused: the last Forward applied the ReLU on the AMX path.
	amxFused bool
	dz       *tensor.Tensor
}

// NewConv2DReLU returns the fused layer around c, which it takes over: c's
// Forward and Backward must not be called directly afterwards.
func NewConv2DReLU(c *Conv2D) *Conv2DReLU { return &Conv2DReLU{Conv: c} }

// Params returns the convolution's weight and bias.
func (l *Conv2DReLU) Params() []*Param { return l.Conv.Params() }

// SetWeightGrad turns the convolution's weight and bias gradients on or off.
func (l *Conv2DReLU) SetWeightGrad(on bool) { l.Conv.SetWeightGrad(on) }

// SetReducedPrecision sets the convolution's precision on AMX (see
// Conv2D.SetReducedPrecision).
func (l *Conv2DReLU) SetReducedPrecision(on bool) { l.Conv.SetReducedPrecision(on) }

// OutShape returns the output shape for an input of shape in, as Conv2D.
func (l *Conv2DReLU) OutShape(in []int) ([]int, error) { return l.Conv.OutShape(in) }

// Forward computes max(conv(x), 0).
func (l *Conv2DReLU) Forward(x *tensor.Tensor) *tensor.Tensor {
	c := l.Conv
	c.core.prepare("conv2d", c.err, x)
	e := c.winogradEngine()
	if e == nil {
		if c.amxEngine() != nil {
			// The ReLU is applied as the output is written; Backward masks
			// dy by the output.
			l.fused, l.amxFused = false, true
			g := &c.core.g
			n := x.Shape[0]
			c.x = x
			c.y = tensor.Ensure(c.y, n, c.core.cout, g.oh, g.ow)
			in, out := c.core.cin*g.h*g.w, c.core.cout*g.oh*g.ow
			for i := 0; i < n; i++ {
				c.forwardAMX(x.Data[i*in:(i+1)*in], c.y.Data[i*out:(i+1)*out], true)
			}
			return c.y
		}
		l.fused, l.amxFused = false, false
		return l.relu.Forward(c.Forward(x))
	}
	l.amxFused = false
	l.fused = true
	g := &c.core.g
	n := x.Shape[0]
	c.x = x
	c.y = tensor.Ensure(c.y, n, c.core.cout, g.oh, g.ow)
	var b []float32
	if c.bias != nil {
		b = c.bias.Value.Data
	}
	in, out := c.core.cin*g.h*g.w, c.core.cout*g.oh*g.ow
	for i := 0; i < n; i++ {
		e.forward(c.weight.Value.Data, b, x.Data[i*in:(i+1)*in], c.y.Data[i*out:(i+1)*out], g.h, g.w, true)
	}
	return c.y
}

// Backward takes dL/dy for the last Forward and returns dL/dx, accumulating
// the convolution's weight gradients when they are on.
func (l *Conv2DReLU) Backward(dy *tensor.Tensor) *tensor.Tensor {
	c := l.Conv
	if !l.fused && !l.amxFused {
		return c.Backward(l.relu.Backward(dy))
	}
	if c.x == nil || !dy.SameShape(c.y) {
		panic(fmt.Sprintf("nn: conv2d+relu backward: dy %v does not match the last output %v", dy, c.y))
	}
	if c.wgrad || l.amxFused {
		// The weight gradient needs the masked gradient itself.
		l.dz = tensor.Ensure(l.dz, dy.Shape...)
		for i, v := range c.y.Data {
			if v > 0 {
				l.dz.Data[i] = dy.Data[i]
			} else {
				l.dz.Data[i] = 0
			}
		}
		return c.Backward(l.dz)
	}
	e := c.winogradEngine()
	g := &c.core.g
	x := c.x
	n := x.Shape[0]
	c.dx = tensor.Ensure(c.dx, x.Shape...)
	in, out := c.core.cin*g.h*g.w, c.core.cout*g.oh*g.ow
	for i := 0; i < n; i++ {
		e.backwardInput(c.weight.Value.Data, dy.Data[i*out:(i+1)*out], c.y.Data[i*out:(i+1)*out],
			c.dx.Data[i*in:(i+1)*in], g.h, g.w)
	}
	return c.dx
}
