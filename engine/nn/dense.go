package nn

import (
	"fmt"

	"atelier/engine/tensor"
)

// Dense is a fully connected layer y = x*W + b with weight [in, out] (Keras
// layout) and bias [out] or nil. An input [N, ...] is used as N rows of in
// values in its stored (NCHW) order; a Keras Flatten after a convolution
// flattens NHWC, so loaders permute such weights' rows. The output is
// [N, out]; Backward returns dL/dx in the input's shape.
//
// Forward and Backward panic on shapes that do not fit; OutShape reports
// them, and a bad weight or bias, as errors wrapping ErrShape.
type Dense struct {
	weightBias
	err error

	x, y, dx *tensor.Tensor
}

// NewDense returns a fully connected layer using weight [in, out] and bias
// [out] or nil, without copying. Weight gradients are on.
func NewDense(weight, bias *tensor.Tensor) *Dense {
	d := &Dense{weightBias: weightBias{wgrad: true}}
	switch {
	case weight == nil || len(weight.Shape) != 2 || weight.Len() == 0 || weight.Len() != tensor.Volume(weight.Shape):
		d.err = fmt.Errorf("nn: dense weight %v: %w: want [in, out]", weight, ErrShape)
	case bias != nil && (bias.Len() != weight.Shape[1] || bias.Len() != tensor.Volume(bias.Shape)):
		d.err = fmt.Errorf("nn: dense bias %v for %d outputs: %w", bias, weight.Shape[1], ErrShape)
	default:
		d.weight = NewParam("weight", weight)
		if bias != nil {
			d.bias = NewParam("bias", bias)
		}
	}
	return d
}

// OutShape returns [N, out] for an input [N, ...] of N*in values, or an
// error wrapping ErrShape.
func (d *Dense) OutShape(in []int) ([]int, error) {
	if d.err != nil {
		return nil, d.err
	}
	if err := d.check(in); err != nil {
		return nil, err
	}
	return []int{in[0], d.weight.Value.Shape[1]}, nil
}

func (d *Dense) check(in []int) error {
	nin := d.weight.Value.Shape[0]
	if len(in) < 2 || in[0] < 1 || tensor.Volume(in[1:]) != nin {
		return fmt.Errorf("nn: dense input %v: %w: want [N, ...] with %d values per row", in, ErrShape, nin)
	}
	return nil
}

// Forward returns x*W + b for the rows of x.
func (d *Dense) Forward(x *tensor.Tensor) *tensor.Tensor {
	err := d.err
	if err == nil {
		err = d.check(x.Shape)
	}
	if err != nil {
		panic(err)
	}
	nin, nout := d.weight.Value.Shape[0], d.weight.Value.Shape[1]
	n := x.Shape[0]
	d.x = x
	d.y = tensor.Ensure(d.y, n, nout)
	tensor.Sgemm(false, false, n, nout, nin, 1, x.Data, nin, d.weight.Value.Data, nout, 0, d.y.Data, nout)
	if d.bias != nil {
		for i := 0; i < n; i++ {
			row := d.y.Data[i*nout : (i+1)*nout]
			for j, b := range d.bias.Value.Data {
				row[j] += b
			}
		}
	}
	return d.y
}

// Backward takes dL/dy for the last Forward, accumulates the weight and bias
// gradients when they are on and returns dL/dx.
func (d *Dense) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if d.x == nil || !dy.SameShape(d.y) {
		panic(fmt.Sprintf("nn: dense backward: dy %v does not match the last output %v", dy, d.y))
	}
	nin, nout := d.weight.Value.Shape[0], d.weight.Value.Shape[1]
	n := d.x.Shape[0]
	d.dx = tensor.Ensure(d.dx, d.x.Shape...)
	tensor.Sgemm(false, true, n, nin, nout, 1, dy.Data, nout, d.weight.Value.Data, nout, 0, d.dx.Data, nin)
	if d.wgrad {
		tensor.Sgemm(true, false, nin, nout, n, 1, d.x.Data, nin, dy.Data, nout, 1, d.weight.Grad.Data, nout)
		if d.bias != nil {
			for i := 0; i < n; i++ {
				for j, g := range dy.Data[i*nout : (i+1)*nout] {
					d.bias.Grad.Data[j] += g
				}
			}
		}
	}
	return d.dx
}
