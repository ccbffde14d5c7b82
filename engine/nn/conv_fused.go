package nn

import (
	"fmt"

	"atelier/engine/tensor"
)

// Scratch is storage that several forward-only layers of one graph use in
// turn, one at a time: the FusedConv2D layers of a graph share one for the
// concatenations they build (on the paths other than AMX), so the graph
// holds the largest of them once instead of each layer its own. Layers
// that share a Scratch must never run at the same time.
type Scratch struct {
	t *tensor.Tensor
}

// FusedConv2D is a forward-only convolution whose input may arrive in
// parts (the channels of several tensors one after the other: a
// concatenation that is never built), optionally followed by the sum with
// a residual tensor and by a ReLU, all in one pass over the output where
// the AMX path serves the convolution (conv_amx.go). Elsewhere it runs the
// concatenation, the convolution, the sum and the ReLU one after the other,
// with the same result. It has no backward pass: graphs use it for
// inference only (engine/graph's Fuse).
type FusedConv2D struct {
	Conv     *Conv2D
	Parts    int  // inputs that are the convolution's input, concatenated
	Residual bool // one more input, added to the convolution's output
	ReLU     bool // clamp the result at zero
	// Scratch, when set, holds the concatenation of the parts (nil: the
	// layer keeps its own).
	Scratch *Scratch

	cat   Concat
	add   Add
	relu  ReLU
	y     *tensor.Tensor
	parts []amxPart
}

// NewFusedConv2D returns the fused operation around c, which it takes over:
// c must not be used directly afterwards.
func NewFusedConv2D(c *Conv2D, parts int, residual, relu bool) *FusedConv2D {
	return &FusedConv2D{Conv: c, Parts: parts, Residual: residual, ReLU: relu}
}

// SetOutput makes y the output buffer (OutputSetter).
func (f *FusedConv2D) SetOutput(y *tensor.Tensor) { f.y = y }

// SetReducedPrecision sets the convolution's precision on AMX (see
// Conv2D.SetReducedPrecision).
func (f *FusedConv2D) SetReducedPrecision(on bool) { f.Conv.SetReducedPrecision(on) }

// Forward computes relu(conv(concat(xs[:Parts])) + xs[Parts]), the
// residual and the ReLU only where they are configured.
func (f *FusedConv2D) Forward(xs ...*tensor.Tensor) *tensor.Tensor {
	want := f.Parts
	if f.Residual {
		want++
	}
	if len(xs) != want || f.Parts < 1 {
		panic(fmt.Sprintf("nn: fused convolution of %d parts (residual %v) given %d inputs", f.Parts, f.Residual, len(xs)))
	}
	if y, ok := f.forwardAMX(xs); ok {
		return y
	}
	x := xs[0]
	if f.Parts > 1 {
		if f.Scratch != nil {
			f.cat.y = f.Scratch.t
		}
		x = f.cat.Forward(xs[:f.Parts]...)
		if f.Scratch != nil {
			f.Scratch.t, f.cat.y = x, nil
		}
	}
	c := f.Conv
	c.y = f.y
	y := c.Forward(x)
	c.x = nil // no backward pass: let the input (perhaps the scratch) go
	if f.Residual {
		f.add.y = y // in place: y is this layer's own buffer
		y = f.add.Forward(y, xs[f.Parts])
	}
	if f.ReLU {
		f.relu.y = y
		y = f.relu.Forward(y)
	}
	f.y = y
	return y
}

// forwardAMX runs the whole operation on the AMX path when it serves the
// convolution and the parts split channels in pairs (every part but the
// last has an even channel count).
func (f *FusedConv2D) forwardAMX(xs []*tensor.Tensor) (*tensor.Tensor, bool) {
	c := f.Conv
	first := xs[0].Shape
	if len(first) != 4 {
		return nil, false
	}
	cin := 0
	for i, x := range xs[:f.Parts] {
		s := x.Shape
		if len(s) != 4 || s[0] != first[0] || s[2] != first[2] || s[3] != first[3] || i < f.Parts-1 && s[1]%2 != 0 {
			return nil, false
		}
		cin += s[1]
	}
	shape := []int{first[0], cin, first[2], first[3]}
	if _, err := c.OutShape(shape); err != nil {
		panic(err)
	}
	c.core.prepare("conv2d", c.err, &tensor.Tensor{Shape: shape})
	e := c.amxEngine()
	if e == nil {
		return nil, false
	}
	g := &c.core.g
	n := first[0]
	f.y = tensor.Ensure(f.y, n, c.core.cout, g.oh, g.ow)
	var r *tensor.Tensor
	if f.Residual {
		r = xs[f.Parts]
		if !r.SameShape(f.y) {
			panic(fmt.Sprintf("nn: fused convolution residual %v for output %v", r.Shape, f.y.Shape))
		}
	}
	var b []float32
	if c.bias != nil {
		b = c.bias.Value.Data
	}
	out := c.core.cout * g.oh * g.ow
	geom := amxGeom{h: g.h, w: g.w, oh: g.oh, ow: g.ow, pt: g.pt, pl: g.pl}
	for i := 0; i < n; i++ {
		f.parts = f.parts[:0]
		for _, x := range xs[:f.Parts] {
			m := x.Shape[1] * g.h * g.w
			f.parts = append(f.parts, amxPart{x: x.Data[i*m : (i+1)*m], cin: x.Shape[1]})
		}
		var rd []float32
		if r != nil {
			rd = r.Data[i*out : (i+1)*out]
		}
		e.forward(c.weight.Value.Data, b, f.parts, geom, rd, f.ReLU, f.y.Data[i*out:(i+1)*out])
	}
	clear(f.parts)
	return f.y, true
}
