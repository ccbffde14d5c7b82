// Package nn holds Atelier's differentiable layers: forward passes, backward
// passes that give gradients for the input and for the weights, buffer reuse
// so iterating a network does not allocate, and the optimisers (Adam, L-BFGS).
//
// Conventions: tensors are NCHW float32 (engine/tensor). A layer owns the
// tensors it returns and overwrites them on its next call, so callers copy
// what they must keep. Backward must follow the Forward whose activations it
// differentiates; parameter gradients are accumulated (+=) into Param.Grad so
// several backward passes can be summed, and are cleared with ZeroGrads.
package nn

import "atelier/engine/tensor"

// Layer is a single-input, single-output differentiable operation.
type Layer interface {
	// Forward computes the output for x. The result is owned by the layer.
	Forward(x *tensor.Tensor) *tensor.Tensor
	// Backward takes dL/dy for the last Forward, accumulates weight
	// gradients (when enabled) and returns dL/dx, owned by the layer.
	Backward(dy *tensor.Tensor) *tensor.Tensor
}

// Param is one trainable tensor and its accumulated gradient.
type Param struct {
	Name  string
	Value *tensor.Tensor
	Grad  *tensor.Tensor // same shape as Value; nil until gradients are enabled
}

// Parametrised is implemented by layers that hold trainable parameters.
type Parametrised interface {
	Params() []*Param
}

// WeightGradSetter is implemented by layers that can skip computing weight
// gradients; style transfer only needs the gradient for the input.
type WeightGradSetter interface {
	SetWeightGrad(on bool)
}

// NewParam returns a parameter wrapping value, with a zeroed gradient.
func NewParam(name string, value *tensor.Tensor) *Param {
	return &Param{Name: name, Value: value, Grad: tensor.New(value.Shape...)}
}

// ZeroGrads clears the gradients of every parameter.
func ZeroGrads(ps []*Param) {
	for _, p := range ps {
		if p.Grad != nil {
			p.Grad.Zero()
		}
	}
}

// Sequential runs layers one after another.
type Sequential struct {
	Layers []Layer
}

// Forward runs every layer in order.
func (s *Sequential) Forward(x *tensor.Tensor) *tensor.Tensor {
	for _, l := range s.Layers {
		x = l.Forward(x)
	}
	return x
}

// Backward runs every layer's backward pass in reverse order.
func (s *Sequential) Backward(dy *tensor.Tensor) *tensor.Tensor {
	for i := len(s.Layers) - 1; i >= 0; i-- {
		dy = s.Layers[i].Backward(dy)
	}
	return dy
}

// Params gathers the parameters of every parametrised layer.
func (s *Sequential) Params() []*Param {
	var ps []*Param
	for _, l := range s.Layers {
		if p, ok := l.(Parametrised); ok {
			ps = append(ps, p.Params()...)
		}
	}
	return ps
}

// SetWeightGrad turns weight gradients on or off for every layer that
// supports it.
func (s *Sequential) SetWeightGrad(on bool) {
	for _, l := range s.Layers {
		if w, ok := l.(WeightGradSetter); ok {
			w.SetWeightGrad(on)
		}
	}
}
