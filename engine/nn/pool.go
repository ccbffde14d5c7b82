package nn

import (
	"fmt"
	"math"

	"atelier/engine/tensor"
)

// poolGeom gives the output size and the padding before the first element
// along one axis of length in. With same (TensorFlow/Keras "same") the output
// is ceil(in/stride) and the total padding max((out-1)*stride+k-in, 0) is
// split with the odd element after, as TensorFlow does; otherwise the
// padding is pad on both sides and the output floor((in+2*pad-k)/stride)+1
// (PyTorch, ceil_mode=false). An input too small for the window gives 0.
func poolGeom(in, k, stride, pad int, same bool) (out, before int) {
	if same {
		out = (in + stride - 1) / stride
		total := max((out-1)*stride+k-in, 0)
		return out, total / 2
	}
	if in+2*pad < k {
		return 0, pad
	}
	return (in+2*pad-k)/stride + 1, pad
}

func checkPoolArgs(name string, k, stride, pad int) {
	if k < 1 || stride < 1 || pad < 0 {
		panic(fmt.Sprintf("nn: %s needs k >= 1, stride >= 1 and pad >= 0, got k=%d stride=%d pad=%d", name, k, stride, pad))
	}
}

// MaxPool2D takes the maximum over k x k windows. Padding counts as -inf,
// so it never wins; a window that lies entirely in the padding (possible
// only with pad >= k) gives 0. Ties go to the first element in row-major
// window order, as in PyTorch, and NaN propagates to the output.
type MaxPool2D struct {
	K, Stride, Pad int
	// Same selects TensorFlow "same" padding (Pad is then ignored).
	Same bool

	y, dx   *tensor.Tensor
	arg     []int32 // per output element: the winning index in its input plane, or -1
	inShape [4]int

	// the planes are split over the cores
	par      spanRunner
	fwd, bwd func(lo, hi int)
	x, dy    *tensor.Tensor // the argument of the pass in progress
}

// NewMaxPool2D returns a max pooling layer with symmetric padding pad.
func NewMaxPool2D(k, stride, pad int) *MaxPool2D {
	checkPoolArgs("NewMaxPool2D", k, stride, pad)
	return &MaxPool2D{K: k, Stride: stride, Pad: pad}
}

// NewMaxPool2DSame returns a max pooling layer with Keras/TensorFlow "same"
// padding: the output is ceil(in/stride) on each axis.
func NewMaxPool2DSame(k, stride int) *MaxPool2D {
	checkPoolArgs("NewMaxPool2DSame", k, stride, 0)
	return &MaxPool2D{K: k, Stride: stride, Same: true}
}

// Forward pools x [N,C,H,W] into [N,C,OH,OW].
func (p *MaxPool2D) Forward(x *tensor.Tensor) *tensor.Tensor {
	n, c, h, w := x.Dims()
	oh, _ := poolGeom(h, p.K, p.Stride, p.Pad, p.Same)
	ow, _ := poolGeom(w, p.K, p.Stride, p.Pad, p.Same)
	p.inShape = [4]int{n, c, h, w}
	p.y = tensor.Ensure(p.y, n, c, oh, ow)
	if cap(p.arg) < len(p.y.Data) {
		p.arg = make([]int32, len(p.y.Data))
	}
	p.arg = p.arg[:len(p.y.Data)]
	if p.fwd == nil {
		p.fwd = func(lo, hi int) { p.forwardPlanes(lo, hi) }
	}
	p.x = x
	p.par.run(n*c, max(minSpan/max(h*w, 1), 1), p.fwd)
	p.x = nil
	return p.y
}

// forwardPlanes pools planes lo..hi-1 of the input p.x.
func (p *MaxPool2D) forwardPlanes(lo, hi int) {
	x := p.x
	_, _, h, w := x.Dims()
	_, _, oh, ow := p.y.Dims()
	_, pt := poolGeom(h, p.K, p.Stride, p.Pad, p.Same)
	_, pl := poolGeom(w, p.K, p.Stride, p.Pad, p.Same)
	k, s := p.K, p.Stride
	if k == 2 && s == 2 && pt == 0 && pl == 0 && 2*oh <= h && 2*ow <= w {
		maxPool2x2Planes(x.Data[lo*h*w:hi*h*w], p.y.Data[lo*oh*ow:hi*oh*ow], p.arg[lo*oh*ow:hi*oh*ow], hi-lo, h, w, oh, ow)
		return
	}
	for pl0 := lo; pl0 < hi; pl0++ {
		in := x.Data[pl0*h*w : (pl0+1)*h*w]
		out := p.y.Data[pl0*oh*ow : (pl0+1)*oh*ow]
		arg := p.arg[pl0*oh*ow : (pl0+1)*oh*ow]
		maxPoolPlane(in, out, arg, h, w, oh, ow, k, s, pt, pl)
	}
}

// maxPoolPlane is the general case for one input plane (h x w) and its
// output (oh x ow); a separate function keeps the loop variables in
// registers.
func maxPoolPlane(in, out []float32, arg []int32, h, w, oh, ow, k, s, pt, pl int) {
	for i := 0; i < oh; i++ {
		r0 := max(i*s-pt, 0)
		r1 := min(i*s-pt+k, h)
		for j := 0; j < ow; j++ {
			c0 := max(j*s-pl, 0)
			c1 := min(j*s-pl+k, w)
			m := float32(math.Inf(-1))
			best := int32(-1)
			for r := r0; r < r1; r++ {
				base := int32(r*w + c0)
				for q, v := range in[r*w+c0 : r*w+c1] {
					best = sel32(v > m, base+int32(q), best)
					m = max(m, v) // propagates NaN
				}
			}
			if best < 0 {
				m = 0
			}
			out[i*ow+j] = m
			arg[i*ow+j] = best
		}
	}
}

// maxPool2x2 is the unpadded 2x2, stride 2 case (VGG), one input plane.
// It is written without data-dependent branches (max and conditional
// moves), which is several times faster on random data.
func maxPool2x2(in, out []float32, arg []int32, w, oh, ow int) {
	w32 := int32(w)
	for i := 0; i < oh; i++ {
		r0 := in[2*i*w : 2*i*w+2*ow]
		r1 := in[(2*i+1)*w : (2*i+1)*w+2*ow]
		o := out[i*ow : (i+1)*ow]
		a := arg[i*ow : (i+1)*ow]
		base := int32(2 * i * w)
		for j := range o {
			v0, v1, v2, v3 := r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1]
			i01, m01 := sel32(v1 > v0, 1, 0), max(v0, v1)
			i23, m23 := sel32(v3 > v2, w32+1, w32), max(v2, v3)
			o[j] = max(m01, m23)
			a[j] = base + int32(2*j) + sel32(m23 > m01, i23, i01)
		}
	}
}

// maxPool2x2Backward writes the gradient of one input plane (h x w) of the
// unpadded 2x2, stride 2 case from the output gradient g and the winners
// arg (see maxPool2x2): the windows do not overlap, so each input gets its
// window's gradient or 0, written without a clearing pass; the row and
// column no window covers (odd sizes) are cleared.
func maxPool2x2Backward(dx, g []float32, arg []int32, h, w, oh, ow int) {
	for i := 0; i < oh; i++ {
		r0 := dx[2*i*w : 2*i*w+2*ow]
		r1 := dx[(2*i+1)*w : (2*i+1)*w+2*ow]
		gi := g[i*ow : (i+1)*ow]
		a := arg[i*ow : (i+1)*ow]
		base := int32(2 * i * w)
		w32 := int32(w)
		for j, v := range gi {
			k := a[j] - base - int32(2*j) // 0, 1, w or w+1
			r0[2*j] = self32(k == 0, v)
			r0[2*j+1] = self32(k == 1, v)
			r1[2*j] = self32(k == w32, v)
			r1[2*j+1] = self32(k == w32+1, v)
		}
		if 2*ow < w {
			clear(dx[2*i*w+2*ow : (2*i+1)*w])
			clear(dx[(2*i+1)*w+2*ow : (2*i+2)*w])
		}
	}
	clear(dx[2*oh*w : h*w])
}

// self32 is c ? v : 0, without a branch.
func self32(c bool, v float32) float32 {
	var m uint32
	if c {
		m = ^uint32(0)
	}
	return math.Float32frombits(math.Float32bits(v) & m)
}

// sel32 is c ? a : b; the compiler turns it into a conditional move.
func sel32(c bool, a, b int32) int32 {
	if c {
		return a
	}
	return b
}

// Backward routes each output gradient to the input element that won.
func (p *MaxPool2D) Backward(dy *tensor.Tensor) *tensor.Tensor {
	checkGradShape("MaxPool2D", p.y, dy)
	n, c, h, w := p.inShape[0], p.inShape[1], p.inShape[2], p.inShape[3]
	p.dx = tensor.Ensure(p.dx, n, c, h, w)
	if p.bwd == nil {
		p.bwd = func(lo, hi int) { p.backwardPlanes(lo, hi) }
	}
	p.dy = dy
	p.par.run(n*c, max(minSpan/max(h*w, 1), 1), p.bwd)
	p.dy = nil
	return p.dx
}

// backwardPlanes routes the gradient p.dy of planes lo..hi-1 to the
// winning inputs.
func (p *MaxPool2D) backwardPlanes(lo, hi int) {
	n, c, h, w := p.inShape[0], p.inShape[1], p.inShape[2], p.inShape[3]
	plane := len(p.dy.Data) / max(n*c, 1)
	_, _, oh, ow := p.y.Dims()
	_, pt := poolGeom(h, p.K, p.Stride, p.Pad, p.Same)
	_, pleft := poolGeom(w, p.K, p.Stride, p.Pad, p.Same)
	if p.K == 2 && p.Stride == 2 && pt == 0 && pleft == 0 && 2*oh <= h && 2*ow <= w {
		maxPool2x2BackwardPlanes(p.dx.Data[lo*h*w:hi*h*w], p.dy.Data[lo*plane:hi*plane], p.arg[lo*plane:hi*plane], hi-lo, h, w, oh, ow)
		return
	}
	for pl := lo; pl < hi; pl++ {
		dx := p.dx.Data[pl*h*w : (pl+1)*h*w]
		g := p.dy.Data[pl*plane : (pl+1)*plane]
		clear(dx)
		for i, a := range p.arg[pl*plane : (pl+1)*plane] {
			if a >= 0 {
				dx[a] += g[i]
			}
		}
	}
}

// AvgPool2D averages over k x k windows. Padded positions are excluded from
// both the sum and the count (PyTorch count_include_pad=false, which is also
// what TensorFlow "same" average pooling does); a window entirely in the
// padding gives 0.
type AvgPool2D struct {
	K, Stride, Pad int
	// Same selects TensorFlow "same" padding (Pad is then ignored).
	Same bool

	y, dx   *tensor.Tensor
	inShape [4]int
	pt, pl  int
}

// NewAvgPool2D returns an average pooling layer with symmetric padding pad.
func NewAvgPool2D(k, stride, pad int) *AvgPool2D {
	checkPoolArgs("NewAvgPool2D", k, stride, pad)
	return &AvgPool2D{K: k, Stride: stride, Pad: pad}
}

// NewAvgPool2DSame returns an average pooling layer with TensorFlow "same"
// padding.
func NewAvgPool2DSame(k, stride int) *AvgPool2D {
	checkPoolArgs("NewAvgPool2DSame", k, stride, 0)
	return &AvgPool2D{K: k, Stride: stride, Same: true}
}

// Forward pools x [N,C,H,W] into [N,C,OH,OW].
func (p *AvgPool2D) Forward(x *tensor.Tensor) *tensor.Tensor {
	n, c, h, w := x.Dims()
	oh, pt := poolGeom(h, p.K, p.Stride, p.Pad, p.Same)
	ow, pl := poolGeom(w, p.K, p.Stride, p.Pad, p.Same)
	p.inShape, p.pt, p.pl = [4]int{n, c, h, w}, pt, pl
	p.y = tensor.Ensure(p.y, n, c, oh, ow)
	k, s := p.K, p.Stride
	for q := 0; q < n*c; q++ {
		in := x.Data[q*h*w : (q+1)*h*w]
		out := p.y.Data[q*oh*ow : (q+1)*oh*ow]
		for i := 0; i < oh; i++ {
			r0, r1 := max(i*s-pt, 0), min(i*s-pt+k, h)
			for j := 0; j < ow; j++ {
				c0, c1 := max(j*s-pl, 0), min(j*s-pl+k, w)
				var sum float32
				for r := r0; r < r1; r++ {
					for _, v := range in[r*w+c0 : r*w+c1] {
						sum += v
					}
				}
				if cnt := (r1 - r0) * (c1 - c0); cnt > 0 {
					out[i*ow+j] = sum / float32(cnt)
				} else {
					out[i*ow+j] = 0
				}
			}
		}
	}
	return p.y
}

// Backward spreads each output gradient evenly over its window.
func (p *AvgPool2D) Backward(dy *tensor.Tensor) *tensor.Tensor {
	checkGradShape("AvgPool2D", p.y, dy)
	n, c, h, w := p.inShape[0], p.inShape[1], p.inShape[2], p.inShape[3]
	_, _, oh, ow := dy.Dims()
	p.dx = tensor.EnsureZero(p.dx, n, c, h, w)
	k, s, pt, pl := p.K, p.Stride, p.pt, p.pl
	for q := 0; q < n*c; q++ {
		dx := p.dx.Data[q*h*w : (q+1)*h*w]
		g := dy.Data[q*oh*ow : (q+1)*oh*ow]
		for i := 0; i < oh; i++ {
			r0, r1 := max(i*s-pt, 0), min(i*s-pt+k, h)
			for j := 0; j < ow; j++ {
				c0, c1 := max(j*s-pl, 0), min(j*s-pl+k, w)
				cnt := (r1 - r0) * (c1 - c0)
				if cnt <= 0 {
					continue
				}
				v := g[i*ow+j] / float32(cnt)
				for r := r0; r < r1; r++ {
					row := dx[r*w+c0 : r*w+c1]
					for t := range row {
						row[t] += v
					}
				}
			}
		}
	}
	return p.dx
}

// GlobalAvgPool averages each channel over all positions:
// [N,C,H,W] -> [N,C,1,1].
type GlobalAvgPool struct {
	y, dx   *tensor.Tensor
	inShape [4]int
}

// NewGlobalAvgPool returns a global average pooling layer.
func NewGlobalAvgPool() *GlobalAvgPool { return &GlobalAvgPool{} }

// Forward computes the per-channel means (summed in float64).
func (p *GlobalAvgPool) Forward(x *tensor.Tensor) *tensor.Tensor {
	n, c, h, w := x.Dims()
	p.inShape = [4]int{n, c, h, w}
	p.y = tensor.Ensure(p.y, n, c, 1, 1)
	hw := h * w
	for q := 0; q < n*c; q++ {
		s := 0.0
		for _, v := range x.Data[q*hw : (q+1)*hw] {
			s += float64(v)
		}
		if hw > 0 {
			s /= float64(hw)
		}
		p.y.Data[q] = float32(s)
	}
	return p.y
}

// Backward spreads dy[n,c]/(H*W) over every position of the channel.
func (p *GlobalAvgPool) Backward(dy *tensor.Tensor) *tensor.Tensor {
	checkGradShape("GlobalAvgPool", p.y, dy)
	n, c, h, w := p.inShape[0], p.inShape[1], p.inShape[2], p.inShape[3]
	p.dx = tensor.Ensure(p.dx, n, c, h, w)
	hw := h * w
	for q := 0; q < n*c; q++ {
		v := dy.Data[q] / float32(max(hw, 1))
		row := p.dx.Data[q*hw : (q+1)*hw]
		for i := range row {
			row[i] = v
		}
	}
	return p.dx
}
