package nn

import (
	"errors"
	"fmt"

	"atelier/engine/tensor"
)

// ErrShape reports a tensor shape that a layer cannot work with: a weight
// of the wrong rank or size (typically read from a file), or an input that
// does not fit the layer.
var ErrShape = errors.New("nn: incompatible shape")

// PadMode selects how a convolution or Pad2D fills positions outside its
// input.
type PadMode int

const (
	// PadExplicit pads with zeros by PadTop, PadBottom, PadLeft, PadRight.
	PadExplicit PadMode = iota
	// PadSame is TensorFlow "same" zero padding: out = ceil(in/stride),
	// total pad = max((out-1)*stride + (k-1)*dilation + 1 - in, 0), with
	// the odd pixel at the bottom/right.
	PadSame
	// PadReflect mirrors the input without repeating the edge (PyTorch
	// ReflectionPad2d) by the explicit amounts, each smaller than the axis.
	PadReflect
	// PadCircular wraps around (tileable textures) by the explicit amounts,
	// each at most the axis length.
	PadCircular
)

// String names the mode.
func (m PadMode) String() string {
	switch m {
	case PadExplicit:
		return "explicit"
	case PadSame:
		return "same"
	case PadReflect:
		return "reflect"
	case PadCircular:
		return "circular"
	}
	return fmt.Sprintf("PadMode(%d)", int(m))
}

// ConvOpts configures Conv2D and DepthwiseConv2D. The zero value is a
// stride-1, undilated convolution without padding.
type ConvOpts struct {
	Stride, Dilation int // 0 means 1; the same on both axes
	Pad              PadMode
	// Explicit padding amounts, used by PadExplicit, PadReflect and
	// PadCircular and ignored by PadSame.
	PadTop, PadBottom, PadLeft, PadRight int
}

// resolved returns the options with Stride and Dilation defaulted, or an
// error for negative values.
func (o ConvOpts) resolved() (ConvOpts, error) {
	if o.Stride == 0 {
		o.Stride = 1
	}
	if o.Dilation == 0 {
		o.Dilation = 1
	}
	if o.Stride < 0 || o.Dilation < 0 {
		return o, fmt.Errorf("%w: stride %d and dilation %d must be positive", ErrShape, o.Stride, o.Dilation)
	}
	if o.PadTop < 0 || o.PadBottom < 0 || o.PadLeft < 0 || o.PadRight < 0 {
		return o, fmt.Errorf("%w: negative padding %d,%d,%d,%d", ErrShape, o.PadTop, o.PadBottom, o.PadLeft, o.PadRight)
	}
	if o.Pad < PadExplicit || o.Pad > PadCircular {
		return o, fmt.Errorf("%w: unknown padding mode %d", ErrShape, o.Pad)
	}
	return o, nil
}

// Conv2D is a 2-D convolution (cross-correlation, as in PyTorch and
// TensorFlow) of NCHW inputs with a weight of shape [out, in, kh, kw] and an
// optional bias of shape [out].
//
// Forward keeps a reference to its input for the weight gradient, so the
// input must stay unchanged until Backward. Forward and Backward panic on
// shapes that do not fit; graph builders check them first with OutShape,
// which also reports a bad weight or bias given to NewConv2D.
type Conv2D struct {
	weightBias
	core convCore
	err  error     // construction error, reported by OutShape
	wino *winograd // 3x3 stride-1 pad-1 fast path (winograd_conv.go)
	amx  *amxConv  // other stride-1 zero-padded forward passes (conv_amx.go)
	// reduced lets the AMX paths split operands in two bfloat16 parts
	// (SetReducedPrecision).
	reduced bool
	parts   []amxPart

	x, y, dx *tensor.Tensor
}

// NewConv2D returns a convolution using weight [out, in, kh, kw] (PyTorch
// OIHW; see HWIOToOIHW for Keras/TF kernels) and bias [out] or nil. The
// tensors are used, not copied. Weight gradients are on. A weight or bias
// of the wrong shape does not panic: OutShape reports it (ErrShape).
func NewConv2D(weight, bias *tensor.Tensor, opt ConvOpts) *Conv2D {
	c := &Conv2D{weightBias: weightBias{wgrad: true}}
	c.err = c.init(weight, bias, opt)
	return c
}

func (c *Conv2D) init(weight, bias *tensor.Tensor, opt ConvOpts) error {
	if weight == nil || len(weight.Shape) != 4 || weight.Len() == 0 || weight.Len() != tensor.Volume(weight.Shape) {
		return fmt.Errorf("nn: conv2d weight %v: %w: want [out, in, kh, kw]", weight, ErrShape)
	}
	c.weight = NewParam("weight", weight)
	if bias != nil {
		if bias.Len() != weight.Shape[0] || bias.Len() != tensor.Volume(bias.Shape) {
			return fmt.Errorf("nn: conv2d bias %v for %d output channels: %w", bias, weight.Shape[0], ErrShape)
		}
		c.bias = NewParam("bias", bias)
	}
	o, err := opt.resolved()
	if err != nil {
		return fmt.Errorf("nn: conv2d: %w", err)
	}
	s := weight.Shape
	c.core = convCore{cout: s[0], cin: s[1], groups: 1, kh: s[2], kw: s[3], stride: o.Stride, dil: o.Dilation, opt: o}
	return nil
}

// Opts returns the options the layer was built with, Stride and Dilation
// resolved.
func (c *Conv2D) Opts() ConvOpts { return c.core.opt }

// OutShape returns the output shape for an input of shape in ([N, C, H, W]),
// or an error wrapping ErrShape for a bad weight or bias, a channel count
// that does not match the weight, or a spatial size the kernel and padding
// cannot handle.
func (c *Conv2D) OutShape(in []int) ([]int, error) {
	if c.err != nil {
		return nil, c.err
	}
	return c.core.outShape("conv2d", in)
}

func (k *convCore) outShape(name string, in []int) ([]int, error) {
	g, err := k.check(name, in)
	if err != nil {
		return nil, err
	}
	return []int{in[0], k.cout, g.oh, g.ow}, nil
}

// check validates an input shape and returns the geometry for it.
func (k *convCore) check(name string, in []int) (convGeom, error) {
	if len(in) != 4 || in[0] < 1 {
		return convGeom{}, fmt.Errorf("nn: %s input %v: %w: want [N, C, H, W]", name, in, ErrShape)
	}
	if in[1] != k.cin {
		return convGeom{}, fmt.Errorf("nn: %s input %v: %w: weight wants %d channels", name, in, ErrShape, k.cin)
	}
	g, err := k.geometry(in[2], in[3])
	if err != nil {
		return g, fmt.Errorf("nn: %s input %v: %w", name, in, err)
	}
	return g, nil
}

// prepare validates x and sets the core up for its size; mismatches are
// programming errors (OutShape reports them to graph builders).
func (k *convCore) prepare(name string, err error, x *tensor.Tensor) {
	if err == nil && !(k.ready && len(x.Shape) == 4 && x.Shape[1] == k.cin && x.Shape[2] == k.g.h && x.Shape[3] == k.g.w && x.Shape[0] >= 1) {
		if _, err = k.check(name, x.Shape); err == nil {
			err = k.setup(x.Shape[2], x.Shape[3])
		}
	}
	if err != nil {
		panic(err)
	}
}

// Forward convolves x ([N, in, H, W]) and returns [N, out, OH, OW].
func (c *Conv2D) Forward(x *tensor.Tensor) *tensor.Tensor {
	c.core.prepare("conv2d", c.err, x)
	g := &c.core.g
	n := x.Shape[0]
	c.x = x
	c.y = tensor.Ensure(c.y, n, c.core.cout, g.oh, g.ow)
	in, out := c.core.cin*g.h*g.w, c.core.cout*g.oh*g.ow
	for i := 0; i < n; i++ {
		c.forwardImage(x.Data[i*in:(i+1)*in], c.y.Data[i*out:(i+1)*out])
	}
	return c.y
}

// forwardImage computes y = conv(x) + bias for one image. It is the single
// dispatch point for specialised kernels (the im2col core already takes a
// shortcut for 1x1 stride-1 convolutions).
func (c *Conv2D) forwardImage(x, y []float32) {
	if c.forwardWinograd(x, y) || c.forwardAMX(x, y, false) {
		return
	}
	c.core.forward(c.weight.Value.Data, x, y)
	if c.bias != nil {
		addBias(y, c.bias.Value.Data, c.core.g.oh*c.core.g.ow)
	}
}

// Backward takes dL/dy for the last Forward, accumulates the weight and bias
// gradients when they are on and returns dL/dx.
func (c *Conv2D) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if c.x == nil || !dy.SameShape(c.y) {
		panic(fmt.Sprintf("nn: conv2d backward: dy %v does not match the last output %v", dy, c.y))
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
		c.backwardImage(x.Data[i*in:(i+1)*in], dy.Data[i*out:(i+1)*out], c.dx.Data[i*in:(i+1)*in], dw)
	}
	if c.wgrad && c.bias != nil {
		sumBias(c.bias.Grad.Data, dy.Data, n, g.oh*g.ow)
	}
	return c.dx
}

// backwardImage overwrites dx with the input gradient of one image and, when
// dw is not nil, accumulates the weight gradient into it. Like forwardImage
// it is the dispatch point for specialised kernels.
func (c *Conv2D) backwardImage(x, dy, dx, dw []float32) {
	if c.backwardWinograd(x, dy, dx, dw) {
		return
	}
	c.core.backward(c.weight.Value.Data, x, dy, dx, dw)
}

// addBias adds b[ch] to every one of the hw values of channel ch in y.
func addBias(y, b []float32, hw int) {
	for ch, v := range b {
		if v == 0 {
			continue
		}
		row := y[ch*hw : (ch+1)*hw]
		for i := range row {
			row[i] += v
		}
	}
}

// sumBias accumulates into db the sum of dy over the batch and the hw
// positions of each channel.
func sumBias(db, dy []float32, n, hw int) {
	ch := len(db)
	for i := 0; i < n; i++ {
		for c := 0; c < ch; c++ {
			s := 0.0
			for _, v := range dy[(i*ch+c)*hw : (i*ch+c+1)*hw] {
				s += float64(v)
			}
			db[c] += float32(s)
		}
	}
}

// HWIOToOIHW converts a Keras/TensorFlow convolution kernel [kh, kw, in,
// out] to the [out, in, kh, kw] layout of NewConv2D, in a new tensor. It
// returns nil when w is not 4-D (NewConv2D then reports ErrShape).
func HWIOToOIHW(w *tensor.Tensor) *tensor.Tensor {
	if w == nil || len(w.Shape) != 4 || len(w.Data) != tensor.Volume(w.Shape) {
		return nil
	}
	kh, kw, ci, co := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	out := tensor.New(co, ci, kh, kw)
	for y := 0; y < kh; y++ {
		for x := 0; x < kw; x++ {
			for i := 0; i < ci; i++ {
				src := w.Data[((y*kw+x)*ci+i)*co:]
				for o := 0; o < co; o++ {
					out.Data[((o*ci+i)*kh+y)*kw+x] = src[o]
				}
			}
		}
	}
	return out
}
