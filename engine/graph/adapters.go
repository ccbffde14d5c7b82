package graph

import (
	"fmt"
	"math"

	"atelier/engine/nn"
	"atelier/engine/tensor"
)

// Small layers and adapters that Keras graphs need around the nn layers.

// addN sums two or more inputs with a chain of nn.Add.
type addN struct {
	adds []*nn.Add
	dxs  []*tensor.Tensor
}

func newAddN(n int) *addN {
	a := &addN{adds: make([]*nn.Add, n-1), dxs: make([]*tensor.Tensor, n)}
	for i := range a.adds {
		a.adds[i] = nn.NewAdd()
	}
	return a
}

// ForwardMulti returns ((x0 + x1) + x2) + ...
func (a *addN) ForwardMulti(xs []*tensor.Tensor) *tensor.Tensor {
	if len(xs) != len(a.adds)+1 {
		panic(fmt.Sprintf("graph: sum of %d inputs given %d", len(a.adds)+1, len(xs)))
	}
	y := xs[0]
	for i, add := range a.adds {
		y = add.Forward(y, xs[i+1])
	}
	return y
}

// SetOutput makes y the sum's output buffer (nn.OutputSetter); the partial
// sums of three or more inputs keep their own.
func (a *addN) SetOutput(y *tensor.Tensor) { a.adds[len(a.adds)-1].SetOutput(y) }

// BackwardMulti hands dy to every input through the chain.
func (a *addN) BackwardMulti(dy *tensor.Tensor) []*tensor.Tensor {
	for i := len(a.adds) - 1; i >= 0; i-- {
		var d *tensor.Tensor
		d, a.dxs[i+1] = a.adds[i].Backward(dy)
		dy = d
	}
	a.dxs[0] = dy
	return a.dxs
}

// concat joins its inputs along the channel axis with nn.Concat.
type concat struct{ c *nn.Concat }

func newConcat() *concat { return &concat{c: nn.NewConcat()} }

func (c *concat) ForwardMulti(xs []*tensor.Tensor) *tensor.Tensor { return c.c.Forward(xs...) }

func (c *concat) BackwardMulti(dy *tensor.Tensor) []*tensor.Tensor { return c.c.Backward(dy) }

// SetOutput makes y the output buffer (nn.OutputSetter).
func (c *concat) SetOutput(y *tensor.Tensor) { c.c.SetOutput(y) }

// flatten turns [N, C, H, W] into [N, F] with the element order Keras
// (channels last) uses: F = H*W*C, index (h*W + w)*C + c, so the kernels of
// a following Dense apply unchanged. With inner set, the layer first runs
// inner (global average pooling, [N,C,1,1]) and flattens its output.
type flatten struct {
	inner        nn.Layer
	channelsLast bool // reorder to H, W, C (Keras Flatten); false: plain reshape

	y, dx   *tensor.Tensor
	inShape []int
}

func (f *flatten) Forward(x *tensor.Tensor) *tensor.Tensor {
	if f.inner != nil {
		x = f.inner.Forward(x)
	}
	f.inShape = append(f.inShape[:0], x.Shape...)
	n := x.Shape[0]
	feat := tensor.Volume(x.Shape[1:])
	f.y = tensor.Ensure(f.y, n, feat)
	if !f.channelsLast || len(x.Shape) != 4 {
		copy(f.y.Data, x.Data)
		return f.y
	}
	_, c, h, w := x.Dims()
	hw := h * w
	for b := 0; b < n; b++ {
		src := x.Data[b*feat : (b+1)*feat]
		dst := f.y.Data[b*feat : (b+1)*feat]
		for ch := 0; ch < c; ch++ {
			plane := src[ch*hw : (ch+1)*hw]
			for p, v := range plane {
				dst[p*c+ch] = v
			}
		}
	}
	return f.y
}

func (f *flatten) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if f.inShape == nil || !tensor.ShapeEqual(dy.Shape, f.y.Shape) {
		panic(fmt.Sprintf("graph: flatten backward of %v after a forward to %v", dy.Shape, f.y))
	}
	f.dx = tensor.Ensure(f.dx, f.inShape...)
	if !f.channelsLast || len(f.inShape) != 4 {
		copy(f.dx.Data, dy.Data)
	} else {
		n, c, hw := f.inShape[0], f.inShape[1], f.inShape[2]*f.inShape[3]
		feat := c * hw
		for b := 0; b < n; b++ {
			src := dy.Data[b*feat : (b+1)*feat]
			dst := f.dx.Data[b*feat : (b+1)*feat]
			for ch := 0; ch < c; ch++ {
				plane := dst[ch*hw : (ch+1)*hw]
				for p := range plane {
					plane[p] = src[p*c+ch]
				}
			}
		}
	}
	if f.inner != nil {
		return f.inner.Backward(f.dx)
	}
	return f.dx
}

// Params exposes the inner layer's parameters.
func (f *flatten) Params() []*nn.Param {
	if p, ok := f.inner.(nn.Parametrised); ok {
		return p.Params()
	}
	return nil
}

// channelAffine is a BatchNormalization at inference time that could not be
// folded into a convolution: y = x*scale[c] + shift[c] with
// scale = gamma/sqrt(var+eps) and shift = beta - mean*scale.
type channelAffine struct {
	scale, shift []float32
	y, dx        *tensor.Tensor
}

func newChannelAffine(gamma, beta, mean, variance []float32, eps float32) *channelAffine {
	a := &channelAffine{scale: make([]float32, len(mean)), shift: make([]float32, len(mean))}
	for i := range mean {
		s := gamma[i] / sqrt32(variance[i]+eps)
		a.scale[i] = s
		a.shift[i] = beta[i] - mean[i]*s
	}
	return a
}

func (a *channelAffine) dims(shape []int) (n, c, inner int) {
	if len(shape) < 2 || shape[1] != len(a.scale) {
		panic(fmt.Sprintf("graph: batch normalization of %d channels given %v", len(a.scale), shape))
	}
	return shape[0], shape[1], tensor.Volume(shape[2:])
}

func (a *channelAffine) Forward(x *tensor.Tensor) *tensor.Tensor {
	n, c, inner := a.dims(x.Shape)
	a.y = tensor.Ensure(a.y, x.Shape...)
	for b := 0; b < n; b++ {
		for ch := 0; ch < c; ch++ {
			off := (b*c + ch) * inner
			s, t := a.scale[ch], a.shift[ch]
			dst := a.y.Data[off : off+inner]
			for i, v := range x.Data[off : off+inner] {
				dst[i] = v*s + t
			}
		}
	}
	return a.y
}

func (a *channelAffine) Backward(dy *tensor.Tensor) *tensor.Tensor {
	n, c, inner := a.dims(dy.Shape)
	a.dx = tensor.Ensure(a.dx, dy.Shape...)
	for b := 0; b < n; b++ {
		for ch := 0; ch < c; ch++ {
			off := (b*c + ch) * inner
			s := a.scale[ch]
			dst := a.dx.Data[off : off+inner]
			for i, g := range dy.Data[off : off+inner] {
				dst[i] = g * s
			}
		}
	}
	return a.dx
}

func sqrt32(v float32) float32 { return float32(math.Sqrt(float64(v))) }

// newDense builds a fully connected layer from a Keras kernel [in, out].
func newDense(kernel, bias *tensor.Tensor) (nn.Layer, error) {
	d := nn.NewDense(kernel, bias)
	if _, err := d.OutShape([]int{1, kernel.Shape[0]}); err != nil {
		return nil, err
	}
	return d, nil
}
