package nn

import "atelier/engine/tensor"

// OutputSetter is implemented by layers that let the caller choose where
// their output lives, so that an executor planning memory (engine/graph's
// inference mode) can give layers whose outputs are never needed at the
// same time the same storage. After SetOutput(y) the next Forward writes
// into y, reshaped with tensor.Ensure, and returns it; when y's storage is
// too small it writes into a new tensor instead, which then becomes its
// output buffer. SetOutput(nil) makes the layer allocate its own again. The
// caller must not hand a layer the storage of its own input.
type OutputSetter interface {
	SetOutput(y *tensor.Tensor)
}

// SetOutput makes y the convolution's output buffer (OutputSetter).
func (c *Conv2D) SetOutput(y *tensor.Tensor) { c.y = y }

// SetOutput makes y the output buffer (OutputSetter). Where the ReLU cannot
// be fused into the convolution it then runs in place on y.
func (l *Conv2DReLU) SetOutput(y *tensor.Tensor) { l.Conv.y, l.relu.y = y, y }

// SetOutput makes y the output buffer (OutputSetter).
func (r *ReLU) SetOutput(y *tensor.Tensor) { r.y = y }

// SetOutput makes y the output buffer (OutputSetter).
func (l *LeakyReLU) SetOutput(y *tensor.Tensor) { l.y = y }

// SetOutput makes y the output buffer (OutputSetter).
func (a *Add) SetOutput(y *tensor.Tensor) { a.y = y }

// SetOutput makes y the output buffer (OutputSetter).
func (c *Concat) SetOutput(y *tensor.Tensor) { c.y = y }

// SetOutput makes y the output buffer (OutputSetter).
func (u *Upsample) SetOutput(y *tensor.Tensor) { u.y = y }

// SetOutput makes y the output buffer (OutputSetter).
func (p *PixelShuffle) SetOutput(y *tensor.Tensor) { p.y = y }
