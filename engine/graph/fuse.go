package graph

import (
	"errors"
	"fmt"

	"atelier/engine/nn"
	"atelier/engine/tensor"
)

// Scaler is implemented by single-input layers that multiply their input by
// a constant (esrgan-thick's MultiplyBeta); Fuse folds such a layer into
// the convolution before it.
type Scaler interface {
	ConstantScale() float32
}

// PrecisionSetter is implemented by layers whose passes on AMX can trade
// accuracy for speed (nn.Conv2D.SetReducedPrecision).
type PrecisionSetter interface {
	SetReducedPrecision(on bool)
}

// errFused is the cause of the nodes Fuse merges into others.
var errFused = errors.New("graph: merged into another node by Fuse")

// Fuse rewrites the graph for forward-only use, with the same results
// (to float32 rounding):
//   - a Scaler after a convolution that nothing else reads is folded into
//     a copy of the convolution's weights and bias;
//   - a 3x3 "same" convolution after a nearest-neighbour upsampling by s
//     that nothing else reads runs on the small image, with s*s times the
//     output channels, followed by a pixel shuffle (the upsampling never
//     happens, and the work shrinks by s*s);
//   - a convolution of a concatenation reads the concatenated tensors
//     directly (nn.FusedConv2D; nested concatenations are flattened);
//   - the sum of a convolution's output, read by nothing else, and another
//     tensor is computed as the convolution writes its output.
//
// The nodes merged into others become unavailable as taps. A fused graph has
// no backward pass: Backward fails. Fuse reports how many rewrites it made.
func (g *Graph) Fuse() (int, error) {
	done := 0
	for _, pass := range []func() (int, error){g.fuseScales, g.fuseUpsampleConvs, g.fuseConcats, g.fuseResiduals} {
		n, err := pass()
		done += n
		if err != nil {
			return done, err
		}
	}
	if done > 0 {
		g.fused = true
		g.plans, g.last, g.arena = nil, nil, nil
	}
	return done, nil
}

// SetReducedPrecision sets the precision of every layer that has a choice
// (PrecisionSetter): reduced trades float32 accuracy for speed on AMX.
func (g *Graph) SetReducedPrecision(on bool) {
	for _, n := range g.nodes {
		var op any = n.layer
		if n.multi != nil {
			op = n.multi
		}
		if p, ok := op.(PrecisionSetter); ok {
			p.SetReducedPrecision(on)
		}
	}
}

// consumers counts, for every node, the available nodes reading it.
func (g *Graph) consumers() [][]int {
	cs := make([][]int, len(g.nodes))
	for i, n := range g.nodes {
		if n.cause != nil {
			continue
		}
		for _, in := range n.inputs {
			cs[in] = append(cs[in], i)
		}
	}
	return cs
}

// replace gives node i a new operation and inputs.
func (g *Graph) replace(i int, layer nn.Layer, multi Multi, inputs []int) {
	n := g.nodes[i]
	n.layer, n.multi = layer, multi
	n.inputs = append([]int(nil), inputs...)
	n.xs = make([]*tensor.Tensor, len(n.inputs))
	var op any = layer
	if multi != nil {
		op = multi
	}
	n.setter, _ = op.(nn.OutputSetter)
	n.buf, n.ratio, n.out = nil, 0, nil
	if g.inference && n.setter != nil {
		n.setter.SetOutput(nil)
	}
}

// retire makes node i unavailable: it was merged into node into.
func (g *Graph) retire(i, into int) {
	n := g.nodes[i]
	n.cause = fmt.Errorf("%w: %q into %q", errFused, n.name, g.nodes[into].name)
	n.layer, n.multi, n.setter, n.buf, n.out = nil, nil, nil, nil, nil
}

// plainConv returns the node's layer as a convolution without a ReLU.
func plainConv(n *node) *nn.Conv2D {
	c, _ := n.layer.(*nn.Conv2D)
	return c
}

// fuseScales folds Scalers into the convolutions before them.
func (g *Graph) fuseScales() (int, error) {
	cs := g.consumers()
	done := 0
	for i, n := range g.nodes {
		s, ok := n.layer.(Scaler)
		if !ok || n.cause != nil {
			continue
		}
		src := n.inputs[0]
		conv := plainConv(g.nodes[src])
		if conv == nil || len(cs[src]) != 1 {
			continue
		}
		// Scaled copies: the weights may be shared with other graphs.
		k := s.ConstantScale()
		ps := conv.Params()
		scaled := make([]*tensor.Tensor, 2)
		for j, p := range ps {
			scaled[j] = p.Value.Clone()
			for v := range scaled[j].Data {
				scaled[j].Data[v] *= k
			}
		}
		g.replace(i, nn.NewConv2D(scaled[0], scaled[1], conv.Opts()), nil, g.nodes[src].inputs)
		g.retire(src, i)
		done++
	}
	return done, nil
}

// fuseUpsampleConvs moves 3x3 convolutions before the nearest-neighbour
// upsamplings that feed them.
func (g *Graph) fuseUpsampleConvs() (int, error) {
	cs := g.consumers()
	done := 0
	for i, n := range g.nodes {
		if n.cause != nil || n.layer == nil {
			continue
		}
		conv, relu := plainConv(n), false
		if cr, ok := n.layer.(*nn.Conv2DReLU); ok {
			conv, relu = cr.Conv, true
		}
		if conv == nil {
			continue
		}
		src := n.inputs[0]
		up, ok := g.nodes[src].layer.(*nn.Upsample)
		if !ok || up.Mode != nn.Nearest || up.Factor < 2 || len(cs[src]) != 1 {
			continue
		}
		low, err := lowResConv(conv, up.Factor)
		if err != nil {
			continue // not a 3x3 "same" convolution
		}
		var first nn.Layer = low
		if relu {
			first = nn.NewConv2DReLU(low)
		}
		g.replace(i, &convShuffle{conv: first, shuffle: nn.NewPixelShuffle(up.Factor)}, nil, g.nodes[src].inputs)
		g.retire(src, i)
		done++
	}
	return done, nil
}

// lowResConv returns the convolution that, followed by a pixel shuffle by
// s (PyTorch's channel order), equals c applied after a nearest-neighbour
// upsampling by s. c must be a 3x3, stride-1, undilated convolution with
// one pixel of zero padding on every side.
//
// Output pixel (s*Y+a, s*X+b) of c reads upsampled rows s*Y+a+ky-1, which
// are source rows Y+floor((a+ky-1)/s), an offset in {-1, 0, 1}: each of
// the s*s phases (a, b) is a 3x3 convolution of the small image whose taps
// are sums of c's taps, and zero padding on either side agrees.
func lowResConv(c *nn.Conv2D, s int) (*nn.Conv2D, error) {
	o := c.Opts()
	w := c.Params()[0].Value
	if len(w.Shape) != 4 || w.Shape[2] != 3 || w.Shape[3] != 3 || o.Stride != 1 || o.Dilation != 1 {
		return nil, errors.New("graph: not a 3x3 stride-1 convolution")
	}
	if _, err := c.OutShape([]int{1, w.Shape[1], 7, 9}); err != nil {
		return nil, err
	}
	same := o.Pad == nn.PadSame || o.Pad == nn.PadExplicit && o.PadTop == 1 && o.PadBottom == 1 && o.PadLeft == 1 && o.PadRight == 1
	if !same {
		return nil, errors.New("graph: not padded by one pixel")
	}
	cout, cin := w.Shape[0], w.Shape[1]
	lw := tensor.New(cout*s*s, cin, 3, 3)
	off := func(a, k int) int { // floor((a+k-1)/s) + 1, in 0..2
		d := a + k - 1
		if d < 0 {
			return 0
		}
		return d/s + 1
	}
	for oc := 0; oc < cout; oc++ {
		for a := 0; a < s; a++ {
			for b := 0; b < s; b++ {
				lo := (oc*s+a)*s + b
				for ci := 0; ci < cin; ci++ {
					src := w.Data[(oc*cin+ci)*9 : (oc*cin+ci)*9+9]
					dst := lw.Data[(lo*cin+ci)*9 : (lo*cin+ci)*9+9]
					for ky := 0; ky < 3; ky++ {
						for kx := 0; kx < 3; kx++ {
							dst[off(a, ky)*3+off(b, kx)] += src[ky*3+kx]
						}
					}
				}
			}
		}
	}
	var lb *tensor.Tensor
	if ps := c.Params(); len(ps) > 1 {
		lb = tensor.New(cout * s * s)
		for oc := 0; oc < cout; oc++ {
			for p := 0; p < s*s; p++ {
				lb.Data[oc*s*s+p] = ps[1].Value.Data[oc]
			}
		}
	}
	return nn.NewConv2D(lw, lb, nn.ConvOpts{Pad: nn.PadExplicit, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}), nil
}

// convShuffle is a convolution followed by a pixel shuffle.
type convShuffle struct {
	conv    nn.Layer
	shuffle *nn.PixelShuffle
}

func (c *convShuffle) Forward(x *tensor.Tensor) *tensor.Tensor {
	return c.shuffle.Forward(c.conv.Forward(x))
}

func (c *convShuffle) Backward(dy *tensor.Tensor) *tensor.Tensor {
	return c.conv.Backward(c.shuffle.Backward(dy))
}

// SetOutput makes y the output buffer (nn.OutputSetter).
func (c *convShuffle) SetOutput(y *tensor.Tensor) { c.shuffle.SetOutput(y) }

// SetReducedPrecision sets the convolution's precision (PrecisionSetter).
func (c *convShuffle) SetReducedPrecision(on bool) {
	if p, ok := c.conv.(PrecisionSetter); ok {
		p.SetReducedPrecision(on)
	}
}

// OutShape returns the output shape for an input of shape in.
func (c *convShuffle) OutShape(in []int) ([]int, error) {
	sh, ok := c.conv.(interface{ OutShape([]int) ([]int, error) })
	if !ok {
		return nil, errors.New("graph: convolution without OutShape")
	}
	out, err := sh.OutShape(in)
	if err != nil {
		return nil, err
	}
	r := c.shuffle.R
	return []int{out[0], out[1] / (r * r), out[2] * r, out[3] * r}, nil
}

// concatLeaves returns the inputs of the concatenation node i, with nested
// concatenations replaced by their own inputs.
func (g *Graph) concatLeaves(i int, dst []int) []int {
	for _, in := range g.nodes[i].inputs {
		if _, ok := g.nodes[in].multi.(*concat); ok && g.nodes[in].cause == nil {
			dst = g.concatLeaves(in, dst)
			continue
		}
		dst = append(dst, in)
	}
	return dst
}

// fuseConcats lets convolutions read concatenated tensors directly. Where
// the concatenation must still be built (paths other than AMX), the fused
// convolutions build it in one buffer that they share, since a graph runs
// its layers one at a time.
func (g *Graph) fuseConcats() (int, error) {
	done := 0
	shared := &nn.Scratch{}
	for i, n := range g.nodes {
		if n.cause != nil || n.layer == nil {
			continue
		}
		conv, relu := plainConv(n), false
		if cr, ok := n.layer.(*nn.Conv2DReLU); ok {
			conv, relu = cr.Conv, true
		}
		if conv == nil {
			continue
		}
		src := n.inputs[0]
		if _, ok := g.nodes[src].multi.(*concat); !ok || g.nodes[src].cause != nil {
			continue
		}
		leaves := g.concatLeaves(src, nil)
		f := nn.NewFusedConv2D(conv, len(leaves), false, relu)
		f.Scratch = shared
		g.replace(i, nil, &fusedConv{f}, leaves)
		done++
	}
	return done, nil
}

// fuseResiduals computes sums of a convolution's output and another tensor
// as the convolution writes its output.
func (g *Graph) fuseResiduals() (int, error) {
	cs := g.consumers()
	done := 0
	for i, n := range g.nodes {
		a, ok := n.multi.(*addN)
		if !ok || n.cause != nil || len(a.adds) != 1 {
			continue
		}
		for side := 0; side < 2; side++ {
			src, other := n.inputs[side], n.inputs[1-side]
			if src == other || len(cs[src]) != 1 {
				continue
			}
			s := g.nodes[src]
			var f *nn.FusedConv2D
			var ins []int
			switch {
			case plainConv(s) != nil:
				f = nn.NewFusedConv2D(plainConv(s), 1, true, false)
				ins = append([]int{s.inputs[0]}, other)
			case s.multi != nil:
				fc, ok := s.multi.(*fusedConv)
				if !ok || fc.f.Residual || fc.f.ReLU {
					continue
				}
				f = fc.f
				f.Residual = true
				ins = append(append([]int(nil), s.inputs...), other)
			default:
				continue
			}
			g.replace(i, nil, &fusedConv{f}, ins)
			g.retire(src, i)
			done++
			cs = g.consumers()
			break
		}
	}
	return done, nil
}

// fusedConv adapts nn.FusedConv2D to Multi; it runs forward only (a fused
// graph refuses Backward).
type fusedConv struct{ f *nn.FusedConv2D }

func (c *fusedConv) ForwardMulti(xs []*tensor.Tensor) *tensor.Tensor { return c.f.Forward(xs...) }

func (c *fusedConv) BackwardMulti(*tensor.Tensor) []*tensor.Tensor {
	panic("graph: a fused convolution has no backward pass (Graph.Fuse)")
}

// SetOutput makes y the output buffer (nn.OutputSetter).
func (c *fusedConv) SetOutput(y *tensor.Tensor) { c.f.SetOutput(y) }

// SetReducedPrecision sets the convolution's precision (PrecisionSetter).
func (c *fusedConv) SetReducedPrecision(on bool) { c.f.SetReducedPrecision(on) }
