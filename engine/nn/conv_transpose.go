package nn

import (
	"fmt"

	"atelier/engine/tensor"
)

// ConvTransposeOpts configures ConvTranspose2D. The zero value is a stride-1
// transposed convolution without padding.
type ConvTransposeOpts struct {
	Stride, Dilation int // 0 means 1; the same on both axes
	// Pad is PadExplicit (PyTorch: the explicit amounts are removed from
	// the full output) or PadSame (Keras/TF Conv2DTranspose "same":
	// out = in*stride).
	Pad                                  PadMode
	PadTop, PadBottom, PadLeft, PadRight int
	// OutPadH and OutPadW add rows at the bottom and columns at the right
	// (PyTorch output_padding, Keras output_padding with "valid"); each must
	// be smaller than the stride or the dilation. PadExplicit only.
	OutPadH, OutPadW int
}

// ConvTranspose2D is the transposed convolution (the gradient of Conv2D
// with respect to its input), with weight [in, out, kh, kw] as in PyTorch
// and bias [out] or nil. For explicit padding the output size is
// (in-1)*stride - padBefore - padAfter + dilation*(k-1) + outPad + 1.
//
// Forward keeps a reference to its input for the weight gradient. Forward
// and Backward panic on shapes that do not fit; OutShape reports them, and a
// bad weight, bias or option, as errors wrapping ErrShape.
type ConvTranspose2D struct {
	weightBias
	opt  ConvTransposeOpts
	core convCore // the convolution whose input gradient this is
	err  error

	x, y, dx *tensor.Tensor
}

// NewConvTranspose2D returns a transposed convolution using weight [in,
// out, kh, kw] (see HWIOToOIHW for the layout conversion of a Keras kernel
// [kh, kw, out, in]: it gives exactly this [in, out, kh, kw] order) and bias
// [out] or nil, used without copying. Weight gradients are on.
func NewConvTranspose2D(weight, bias *tensor.Tensor, opt ConvTransposeOpts) *ConvTranspose2D {
	c := &ConvTranspose2D{weightBias: weightBias{wgrad: true}}
	c.err = c.init(weight, bias, opt)
	return c
}

func (c *ConvTranspose2D) init(weight, bias *tensor.Tensor, opt ConvTransposeOpts) error {
	if weight == nil || len(weight.Shape) != 4 || weight.Len() == 0 || weight.Len() != tensor.Volume(weight.Shape) {
		return fmt.Errorf("nn: conv-transpose2d weight %v: %w: want [in, out, kh, kw]", weight, ErrShape)
	}
	s := weight.Shape
	c.weight = NewParam("weight", weight)
	if bias != nil {
		if bias.Len() != s[1] || bias.Len() != tensor.Volume(bias.Shape) {
			return fmt.Errorf("nn: conv-transpose2d bias %v for %d output channels: %w", bias, s[1], ErrShape)
		}
		c.bias = NewParam("bias", bias)
	}
	co := ConvOpts{Stride: opt.Stride, Dilation: opt.Dilation, Pad: opt.Pad,
		PadTop: opt.PadTop, PadBottom: opt.PadBottom, PadLeft: opt.PadLeft, PadRight: opt.PadRight}
	co, err := co.resolved()
	if err != nil {
		return fmt.Errorf("nn: conv-transpose2d: %w", err)
	}
	if co.Pad != PadExplicit && co.Pad != PadSame {
		return fmt.Errorf("nn: conv-transpose2d: %w: padding mode %v (want explicit or same)", ErrShape, co.Pad)
	}
	if opt.OutPadH < 0 || opt.OutPadW < 0 ||
		opt.OutPadH >= max(co.Stride, co.Dilation) || opt.OutPadW >= max(co.Stride, co.Dilation) {
		return fmt.Errorf("nn: conv-transpose2d: %w: output padding %d,%d must be below the stride or dilation", ErrShape, opt.OutPadH, opt.OutPadW)
	}
	if co.Pad == PadSame && (opt.OutPadH != 0 || opt.OutPadW != 0) {
		return fmt.Errorf("nn: conv-transpose2d: %w: output padding with same padding", ErrShape)
	}
	opt.Stride, opt.Dilation = co.Stride, co.Dilation
	c.opt = opt
	// The underlying convolution maps out channels to in channels.
	c.core = convCore{cout: s[0], cin: s[1], groups: 1, kh: s[2], kw: s[3], stride: co.Stride, dil: co.Dilation, opt: co}
	return nil
}

// outSize is the output length of one axis.
func (c *ConvTranspose2D) outSize(in, k, before, after, outPad int) int {
	if c.opt.Pad == PadSame {
		return in * c.opt.Stride
	}
	return (in-1)*c.opt.Stride - before - after + c.opt.Dilation*(k-1) + outPad + 1
}

// OutShape returns the output shape for an input [N, in, H, W], or an error
// wrapping ErrShape.
func (c *ConvTranspose2D) OutShape(in []int) ([]int, error) {
	if c.err != nil {
		return nil, c.err
	}
	if len(in) != 4 || in[0] < 1 || in[1] != c.core.cout || in[2] < 1 || in[3] < 1 {
		return nil, fmt.Errorf("nn: conv-transpose2d input %v: %w: want [N, %d, H, W]", in, ErrShape, c.core.cout)
	}
	o := c.opt
	oh := c.outSize(in[2], c.core.kh, o.PadTop, o.PadBottom, o.OutPadH)
	ow := c.outSize(in[3], c.core.kw, o.PadLeft, o.PadRight, o.OutPadW)
	if oh < 1 || ow < 1 {
		return nil, fmt.Errorf("nn: conv-transpose2d input %v: %w: padding leaves an empty output", in, ErrShape)
	}
	// The output is the input of the underlying convolution, which must map
	// it back to the input size.
	g, err := c.core.geometry(oh, ow)
	if err != nil {
		return nil, fmt.Errorf("nn: conv-transpose2d input %v: %w", in, err)
	}
	if g.oh != in[2] || g.ow != in[3] {
		return nil, fmt.Errorf("nn: conv-transpose2d input %v: %w: output %dx%d does not convolve back to %dx%d", in, ErrShape, oh, ow, in[2], in[3])
	}
	return []int{in[0], c.core.cin, oh, ow}, nil
}

// Forward returns the transposed convolution of x ([N, in, H, W]).
func (c *ConvTranspose2D) Forward(x *tensor.Tensor) *tensor.Tensor {
	k := &c.core
	if c.err != nil {
		panic(c.err)
	}
	if !(k.ready && c.x != nil && tensor.ShapeEqual(x.Shape, c.x.Shape)) {
		shape, err := c.OutShape(x.Shape)
		if err != nil {
			panic(err)
		}
		if err := k.setup(shape[2], shape[3]); err != nil {
			panic(err)
		}
	}
	n := x.Shape[0]
	c.x = x
	g := &k.g
	c.y = tensor.Ensure(c.y, n, k.cin, g.h, g.w)
	in, out := k.cout*g.oh*g.ow, k.cin*g.h*g.w
	for i := 0; i < n; i++ {
		y := c.y.Data[i*out : (i+1)*out]
		k.backward(c.weight.Value.Data, nil, x.Data[i*in:(i+1)*in], y, nil)
		if c.bias != nil {
			addBias(y, c.bias.Value.Data, g.h*g.w)
		}
	}
	return c.y
}

// Backward takes dL/dy for the last Forward, accumulates the weight and bias
// gradients when they are on and returns dL/dx (a plain convolution of dy).
func (c *ConvTranspose2D) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if c.x == nil || !dy.SameShape(c.y) {
		panic(fmt.Sprintf("nn: conv-transpose2d backward: dy %v does not match the last output %v", dy, c.y))
	}
	k := &c.core
	g := &k.g
	x := c.x
	n := x.Shape[0]
	c.dx = tensor.Ensure(c.dx, x.Shape...)
	in, out := k.cout*g.oh*g.ow, k.cin*g.h*g.w
	for i := 0; i < n; i++ {
		dyi := dy.Data[i*out : (i+1)*out]
		xi := x.Data[i*in : (i+1)*in]
		k.forward(c.weight.Value.Data, dyi, c.dx.Data[i*in:(i+1)*in])
		if c.wgrad {
			k.backward(c.weight.Value.Data, dyi, xi, nil, c.weight.Grad.Data)
		}
	}
	if c.wgrad && c.bias != nil {
		sumBias(c.bias.Grad.Data, dy.Data, n, g.h*g.w)
	}
	return c.dx
}
