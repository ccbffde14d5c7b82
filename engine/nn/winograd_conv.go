package nn

// Conv2D's use of the Winograd engine (winograd.go): convolutions with a 3x3
// kernel, stride 1, no dilation and one pixel of zero padding on every side
// take it for the forward pass and for the input gradient; the weight
// gradient stays with the im2col core.

// winogradEngine returns the layer's Winograd engine, creating it on first
// use, or nil when the convolution (as prepared for the current input size)
// does not suit one.
func (c *Conv2D) winogradEngine() *winograd {
	if c.wino == wgOff {
		return nil
	}
	k := &c.core
	g := &k.g
	if k.kh != 3 || k.kw != 3 || k.stride != 1 || k.dil != 1 || k.groups != 1 ||
		g.mode != PadExplicit || g.pt != 1 || g.pb != 1 || g.pl != 1 || g.pr != 1 {
		return nil
	}
	if c.wino == nil {
		c.wino = newWinograd(k.cin, k.cout)
		c.wino.reduced = c.reduced
	}
	return c.wino
}

// wgOff marks a Conv2D whose Winograd path was turned off.
var wgOff = &winograd{}

// SetWinograd turns the Winograd fast path for 3x3, stride-1, pad-1
// convolutions on (the default) or off; off, every pass uses the im2col
// core. Results agree to float32 rounding either way; benchmarks and tests
// compare the two.
func (c *Conv2D) SetWinograd(on bool) {
	switch {
	case !on:
		c.wino = wgOff
	case c.wino == wgOff:
		c.wino = nil
	}
}

// forwardWinograd computes forwardImage with the Winograd engine and reports
// whether it could.
func (c *Conv2D) forwardWinograd(x, y []float32) bool {
	e := c.winogradEngine()
	if e == nil {
		return false
	}
	var b []float32
	if c.bias != nil {
		b = c.bias.Value.Data
	}
	e.forward(c.weight.Value.Data, b, x, y, c.core.g.h, c.core.g.w, false)
	return true
}

// backwardWinograd computes backwardImage with the Winograd engine for the
// input gradient and reports whether it could.
func (c *Conv2D) backwardWinograd(x, dy, dx, dw []float32) bool {
	e := c.winogradEngine()
	if e == nil {
		return false
	}
	if dx != nil {
		e.backwardInput(c.weight.Value.Data, dy, nil, dx, c.core.g.h, c.core.g.w)
	}
	if dw != nil {
		c.core.backward(c.weight.Value.Data, x, dy, nil, dw)
	}
	return true
}

// WeightsChanged tells the layer that its weight values were modified in
// place, so transforms cached from them are rebuilt. Replacing most values
// (an optimiser step) is noticed without it; a change to a few values may
// not be.
func (c *Conv2D) WeightsChanged() {
	if c.wino != nil && c.wino != wgOff {
		c.wino.invalidate()
	}
	if c.amx != nil && c.amx != amxOff {
		c.amx.invalidate()
	}
}

// SetReducedPrecision lets this layer's passes on AMX split each operand in
// two bfloat16 parts instead of three, as the process-wide
// nn.SetReducedPrecision does for every layer: about 1e-4 of the output
// scale instead of float32 accuracy, for about half the work. Meant for
// inference whose results end as 8-bit pixels (the upscalers).
func (c *Conv2D) SetReducedPrecision(on bool) {
	c.reduced = on
	if c.wino != nil && c.wino != wgOff {
		c.wino.reduced = on
	}
	if c.amx != nil && c.amx != amxOff {
		c.amx.reduced = on
	}
}
