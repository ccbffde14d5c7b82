package nn

import (
	"fmt"
	"math"

	"atelier/engine/tensor"
)

// ReLU is max(x, 0). Its backward pass reads the sign of its own output, so
// it keeps no reference to the input and costs one pass each way.
type ReLU struct {
	y, dx *tensor.Tensor

	// large tensors are split over the cores
	par      spanRunner
	fwd, bwd func(lo, hi int)
	x, dy    []float32 // the arguments of the pass in progress
}

// NewReLU returns a ReLU layer.
func NewReLU() *ReLU { return &ReLU{} }

// Forward computes max(x, 0) into the layer's output buffer.
func (r *ReLU) Forward(x *tensor.Tensor) *tensor.Tensor {
	r.y = tensor.Ensure(r.y, x.Shape...)
	if r.fwd == nil {
		r.fwd = func(lo, hi int) { reluForward(r.y.Data[lo:hi], r.x[lo:hi]) }
	}
	r.x = x.Data
	r.par.run(len(x.Data), minSpan, r.fwd)
	r.x = nil
	return r.y
}

// reluForward writes max(x, 0) into y.
func reluForward(y, x []float32) {
	y = y[:len(x)]
	// Branch-free: clear every value whose sign bit is set (random signs
	// would make a branch mispredict half the time).
	for i, v := range x {
		u := math.Float32bits(v)
		y[i] = math.Float32frombits(u &^ uint32(int32(u)>>31))
	}
}

// Backward passes dy through where the last output was positive.
func (r *ReLU) Backward(dy *tensor.Tensor) *tensor.Tensor {
	checkGradShape("ReLU", r.y, dy)
	r.dx = tensor.Ensure(r.dx, dy.Shape...)
	if r.bwd == nil {
		r.bwd = func(lo, hi int) { reluBackward(r.dx.Data[lo:hi], r.dy[lo:hi], r.y.Data[lo:hi]) }
	}
	r.dy = dy.Data
	r.par.run(len(dy.Data), minSpan, r.bwd)
	r.dy = nil
	return r.dx
}

// reluBackward writes dy where y > 0, and 0 elsewhere, into dx.
func reluBackward(dx, dy, y []float32) {
	dx, y = dx[:len(dy)], y[:len(dy)]
	// y is +0 or positive, so "y > 0" is "y's bits are non-zero".
	for i, g := range dy {
		u := math.Float32bits(y[i])
		dx[i] = math.Float32frombits(math.Float32bits(g) & uint32(int32(u|-u)>>31))
	}
}

// LeakyReLU is x for x > 0 and Alpha*x otherwise. With Alpha >= 0 the
// backward pass reads the sign of the output; with a negative Alpha it
// needs the input, so the layer then keeps a reference to x, which must stay
// unchanged until Backward.
type LeakyReLU struct {
	// Alpha is the slope for negative inputs (Keras default 0.3, waifu2x 0.1).
	Alpha float32
	in    *tensor.Tensor // the last input, kept only when Alpha < 0
	y, dx *tensor.Tensor
}

// NewLeakyReLU returns a leaky ReLU with the given negative slope.
func NewLeakyReLU(alpha float32) *LeakyReLU { return &LeakyReLU{Alpha: alpha} }

// Forward computes the leaky ReLU of x.
func (l *LeakyReLU) Forward(x *tensor.Tensor) *tensor.Tensor {
	l.y = tensor.Ensure(l.y, x.Shape...)
	y := l.y.Data[:len(x.Data)]
	a := l.Alpha
	for i, v := range x.Data {
		y[i] = max(v, 0) + a*min(v, 0)
	}
	// For Alpha >= 0 the sign of y tells the side of the kink; a negative
	// slope makes both sides positive, so then the input is needed.
	l.in = nil
	if a < 0 {
		l.in = x
	}
	return l.y
}

// Backward multiplies dy by the slope on each side of zero.
func (l *LeakyReLU) Backward(dy *tensor.Tensor) *tensor.Tensor {
	checkGradShape("LeakyReLU", l.y, dy)
	l.dx = tensor.Ensure(l.dx, dy.Shape...)
	dx := l.dx.Data[:len(dy.Data)]
	ref := l.y.Data[:len(dy.Data)]
	if l.in != nil {
		ref = l.in.Data[:len(dy.Data)]
	}
	a := l.Alpha
	for i, g := range dy.Data {
		dx[i] = g * (a + (1-a)*positive(ref[i]))
	}
	return l.dx
}

// positive is 1 for v > 0 and 0 otherwise (NaN counts by its sign bit),
// without a branch.
func positive(v float32) float32 {
	u := math.Float32bits(v)
	m := ^uint32(int32(u)>>31) & uint32(int32(u|-u)>>31)
	return math.Float32frombits(0x3f800000 & m)
}

// Tanh is the hyperbolic tangent; its backward pass uses 1 - y².
type Tanh struct {
	y, dx *tensor.Tensor
}

// NewTanh returns a tanh layer.
func NewTanh() *Tanh { return &Tanh{} }

// Forward computes tanh(x).
func (l *Tanh) Forward(x *tensor.Tensor) *tensor.Tensor {
	l.y = tensor.Ensure(l.y, x.Shape...)
	y := l.y.Data[:len(x.Data)]
	for i, v := range x.Data {
		y[i] = float32(math.Tanh(float64(v)))
	}
	return l.y
}

// Backward computes dy * (1 - y²).
func (l *Tanh) Backward(dy *tensor.Tensor) *tensor.Tensor {
	checkGradShape("Tanh", l.y, dy)
	l.dx = tensor.Ensure(l.dx, dy.Shape...)
	dx := l.dx.Data[:len(dy.Data)]
	y := l.y.Data[:len(dy.Data)]
	for i, g := range dy.Data {
		dx[i] = g * (1 - y[i]*y[i])
	}
	return l.dx
}

// Sigmoid is 1 / (1 + exp(-x)); its backward pass uses y(1 - y).
type Sigmoid struct {
	y, dx *tensor.Tensor
}

// NewSigmoid returns a logistic sigmoid layer.
func NewSigmoid() *Sigmoid { return &Sigmoid{} }

// Forward computes the sigmoid of x without overflowing for large |x|.
func (l *Sigmoid) Forward(x *tensor.Tensor) *tensor.Tensor {
	l.y = tensor.Ensure(l.y, x.Shape...)
	y := l.y.Data[:len(x.Data)]
	for i, v := range x.Data {
		if v >= 0 {
			y[i] = float32(1 / (1 + math.Exp(-float64(v))))
		} else {
			e := math.Exp(float64(v))
			y[i] = float32(e / (1 + e))
		}
	}
	return l.y
}

// Backward computes dy * y * (1 - y).
func (l *Sigmoid) Backward(dy *tensor.Tensor) *tensor.Tensor {
	checkGradShape("Sigmoid", l.y, dy)
	l.dx = tensor.Ensure(l.dx, dy.Shape...)
	dx := l.dx.Data[:len(dy.Data)]
	y := l.y.Data[:len(dy.Data)]
	for i, g := range dy.Data {
		dx[i] = g * y[i] * (1 - y[i])
	}
	return l.dx
}

// Softmax normalises over the channel axis (axis 1) of an [N,C] or
// [N,C,H,W] tensor, independently at every batch item and position; for
// classifier outputs [N,C,1,1] that is the usual class softmax.
type Softmax struct {
	y, dx *tensor.Tensor
}

// NewSoftmax returns a channel softmax layer.
func NewSoftmax() *Softmax { return &Softmax{} }

// softmaxDims splits a shape into batch, channels and the spatial size.
func softmaxDims(shape []int) (n, c, s int) {
	if len(shape) < 2 {
		panic(fmt.Sprintf("nn: Softmax needs at least 2 dimensions, got %v", shape))
	}
	return shape[0], shape[1], tensor.Volume(shape[2:])
}

// Forward computes exp(x - max) / sum(exp(x - max)) over the channels.
func (l *Softmax) Forward(x *tensor.Tensor) *tensor.Tensor {
	n, c, s := softmaxDims(x.Shape)
	l.y = tensor.Ensure(l.y, x.Shape...)
	for b := 0; b < n; b++ {
		xb := x.Data[b*c*s : (b+1)*c*s]
		yb := l.y.Data[b*c*s : (b+1)*c*s]
		for p := 0; p < s; p++ {
			m := float32(math.Inf(-1))
			for k := 0; k < c; k++ {
				if v := xb[k*s+p]; v > m {
					m = v
				}
			}
			sum := 0.0
			for k := 0; k < c; k++ {
				e := math.Exp(float64(xb[k*s+p] - m))
				yb[k*s+p] = float32(e)
				sum += e
			}
			inv := 1 / sum
			for k := 0; k < c; k++ {
				yb[k*s+p] = float32(float64(yb[k*s+p]) * inv)
			}
		}
	}
	return l.y
}

// Backward computes y * (dy - sum_c(dy * y)).
func (l *Softmax) Backward(dy *tensor.Tensor) *tensor.Tensor {
	checkGradShape("Softmax", l.y, dy)
	n, c, s := softmaxDims(dy.Shape)
	l.dx = tensor.Ensure(l.dx, dy.Shape...)
	for b := 0; b < n; b++ {
		gb := dy.Data[b*c*s : (b+1)*c*s]
		yb := l.y.Data[b*c*s : (b+1)*c*s]
		db := l.dx.Data[b*c*s : (b+1)*c*s]
		for p := 0; p < s; p++ {
			dot := 0.0
			for k := 0; k < c; k++ {
				dot += float64(gb[k*s+p]) * float64(yb[k*s+p])
			}
			d := float32(dot)
			for k := 0; k < c; k++ {
				db[k*s+p] = yb[k*s+p] * (gb[k*s+p] - d)
			}
		}
	}
	return l.dx
}

// checkGradShape panics when dy does not match the output of the last
// Forward (or Forward was never called): a programming error.
func checkGradShape(layer string, y, dy *tensor.Tensor) {
	if y == nil {
		panic(fmt.Sprintf("nn: %s.Backward before Forward", layer))
	}
	if !tensor.ShapeEqual(y.Shape, dy.Shape) {
		panic(fmt.Sprintf("nn: %s.Backward got dy %v, want the output shape %v", layer, dy.Shape, y.Shape))
	}
}
