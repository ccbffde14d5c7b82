package nn

import (
	"fmt"

	"atelier/engine/tensor"
)

// DepthwiseConv2D convolves every input channel separately (TensorFlow
// DepthwiseConv2dNative semantics): with C input channels and a channel
// multiplier m, the weight is [C*m, 1, kh, kw] and output channel c*m+j is
// input channel c convolved with filter c*m+j. The bias is [C*m] or nil.
// Padding, stride and dilation work as for Conv2D.
//
// Forward and Backward panic on shapes that do not fit; OutShape reports
// them, and a bad weight or bias, as errors wrapping ErrShape.
type DepthwiseConv2D struct {
	weightBias
	core convCore
	err  error

	x, y, dx *tensor.Tensor
}

// NewDepthwiseConv2D returns a depthwise convolution over weight.Shape[0]/m
// channels. The input channel count, and so the multiplier, is fixed by the
// first input: weight [C*m, 1, kh, kw] for C channels (see
// DepthwiseHWCMToOIHW for TF kernels [kh, kw, C, m]). Tensors are used
// without copying; weight gradients are on.
func NewDepthwiseConv2D(weight, bias *tensor.Tensor, opt ConvOpts) *DepthwiseConv2D {
	c := &DepthwiseConv2D{weightBias: weightBias{wgrad: true}}
	c.err = c.init(weight, bias, opt)
	return c
}

func (c *DepthwiseConv2D) init(weight, bias *tensor.Tensor, opt ConvOpts) error {
	if weight == nil || len(weight.Shape) != 4 || weight.Shape[1] != 1 || weight.Len() == 0 || weight.Len() != tensor.Volume(weight.Shape) {
		return fmt.Errorf("nn: depthwise-conv2d weight %v: %w: want [channels*multiplier, 1, kh, kw]", weight, ErrShape)
	}
	s := weight.Shape
	c.weight = NewParam("weight", weight)
	if bias != nil {
		if bias.Len() != s[0] || bias.Len() != tensor.Volume(bias.Shape) {
			return fmt.Errorf("nn: depthwise-conv2d bias %v for %d output channels: %w", bias, s[0], ErrShape)
		}
		c.bias = NewParam("bias", bias)
	}
	o, err := opt.resolved()
	if err != nil {
		return fmt.Errorf("nn: depthwise-conv2d: %w", err)
	}
	// cin and groups are set per input channel count in setChannels.
	c.core = convCore{cout: s[0], kh: s[2], kw: s[3], stride: o.Stride, dil: o.Dilation, opt: o}
	return nil
}

// setChannels configures the grouped core for ch input channels.
func (c *DepthwiseConv2D) setChannels(in []int) error {
	if len(in) != 4 || in[1] < 1 || c.core.cout%in[1] != 0 {
		return fmt.Errorf("nn: depthwise-conv2d input %v: %w: %d output channels are not a multiple of the input channels", in, ErrShape, c.core.cout)
	}
	if c.core.cin != in[1] {
		c.core.cin, c.core.groups, c.core.ready = in[1], in[1], false
	}
	return nil
}

// OutShape returns [N, C*m, OH, OW] for an input [N, C, H, W], or an error
// wrapping ErrShape.
func (c *DepthwiseConv2D) OutShape(in []int) ([]int, error) {
	if c.err != nil {
		return nil, c.err
	}
	if len(in) != 4 || in[1] < 1 || c.core.cout%in[1] != 0 {
		return nil, fmt.Errorf("nn: depthwise-conv2d input %v: %w: %d output channels are not a multiple of the input channels", in, ErrShape, c.core.cout)
	}
	k := c.core
	k.cin, k.groups = in[1], in[1]
	return k.outShape("depthwise-conv2d", in)
}

// Forward convolves each channel of x ([N, C, H, W]) with its filters.
func (c *DepthwiseConv2D) Forward(x *tensor.Tensor) *tensor.Tensor {
	err := c.err
	if err == nil {
		err = c.setChannels(x.Shape)
	}
	c.core.prepare("depthwise-conv2d", err, x)
	g := &c.core.g
	n := x.Shape[0]
	c.x = x
	c.y = tensor.Ensure(c.y, n, c.core.cout, g.oh, g.ow)
	in, out := c.core.cin*g.h*g.w, c.core.cout*g.oh*g.ow
	for i := 0; i < n; i++ {
		y := c.y.Data[i*out : (i+1)*out]
		c.core.forward(c.weight.Value.Data, x.Data[i*in:(i+1)*in], y)
		if c.bias != nil {
			addBias(y, c.bias.Value.Data, g.oh*g.ow)
		}
	}
	return c.y
}

// Backward takes dL/dy for the last Forward, accumulates the weight and bias
// gradients when they are on and returns dL/dx.
func (c *DepthwiseConv2D) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if c.x == nil || !dy.SameShape(c.y) {
		panic(fmt.Sprintf("nn: depthwise-conv2d backward: dy %v does not match the last output %v", dy, c.y))
	}
	x := c.x
	g := &c.core.g
	n := x.Shape[0]
	c.dx = tensor.Ensure(c.dx, x.Shape...)
	in, out := c.core.cin*g.h*g.w, c.core.cout*g.oh*g.ow
	var dw []float32
	if c.wgrad {
		dw = c.weight.Grad.Data
	}
	for i := 0; i < n; i++ {
		c.core.backward(c.weight.Value.Data, x.Data[i*in:(i+1)*in], dy.Data[i*out:(i+1)*out], c.dx.Data[i*in:(i+1)*in], dw)
	}
	if c.wgrad && c.bias != nil {
		sumBias(c.bias.Grad.Data, dy.Data, n, g.oh*g.ow)
	}
	return c.dx
}

// DepthwiseHWCMToOIHW converts a TensorFlow depthwise kernel [kh, kw, C, m]
// to the [C*m, 1, kh, kw] layout of NewDepthwiseConv2D, in a new tensor. It
// returns nil when w is not 4-D.
func DepthwiseHWCMToOIHW(w *tensor.Tensor) *tensor.Tensor {
	if w == nil || len(w.Shape) != 4 || len(w.Data) != tensor.Volume(w.Shape) {
		return nil
	}
	kh, kw, ch, m := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	out := tensor.New(ch*m, 1, kh, kw)
	for y := 0; y < kh; y++ {
		for x := 0; x < kw; x++ {
			for c := 0; c < ch; c++ {
				for j := 0; j < m; j++ {
					out.Data[((c*m+j)*kh+y)*kw+x] = w.Data[((y*kw+x)*ch+c)*m+j]
				}
			}
		}
	}
	return out
}
