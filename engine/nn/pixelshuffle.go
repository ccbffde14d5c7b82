package nn

import (
	"fmt"

	"atelier/engine/tensor"
)

// PixelShuffle is depth-to-space: [N, C*r*r, H, W] -> [N, C, H*r, W*r].
//
// With PyTorch's order (NewPixelShuffle) output pixel (h*r+i, w*r+j) of
// channel c comes from input channel c*r*r + i*r + j. With TensorFlow's
// depth_to_space order (NewDepthToSpaceTF; TF.js PixelShuffle custom layers,
// whose NHWC channel index is (i*r+j)*C + c) it comes from input channel
// (i*r+j)*C + c. The operation is a permutation, so the backward pass is its
// inverse.
type PixelShuffle struct {
	// R is the upscale factor.
	R int
	// TF selects TensorFlow's channel order.
	TF bool

	y, dx   *tensor.Tensor
	inShape [4]int
}

// NewPixelShuffle returns a depth-to-space layer with PyTorch's channel
// order.
func NewPixelShuffle(r int) *PixelShuffle {
	if r < 1 {
		panic(fmt.Sprintf("nn: NewPixelShuffle factor %d < 1", r))
	}
	return &PixelShuffle{R: r}
}

// NewDepthToSpaceTF returns a depth-to-space layer with TensorFlow's
// depth_to_space channel order.
func NewDepthToSpaceTF(r int) *PixelShuffle {
	if r < 1 {
		panic(fmt.Sprintf("nn: NewDepthToSpaceTF factor %d < 1", r))
	}
	return &PixelShuffle{R: r, TF: true}
}

// srcChannel is the input channel feeding output channel c at sub-pixel
// (i, j), for oc output channels.
func (p *PixelShuffle) srcChannel(c, i, j, oc int) int {
	r := p.R
	if p.TF {
		return (i*r+j)*oc + c
	}
	return c*r*r + i*r + j
}

// Forward rearranges x [N, C*r*r, H, W] into [N, C, H*r, W*r].
func (p *PixelShuffle) Forward(x *tensor.Tensor) *tensor.Tensor {
	n, ic, h, w := x.Dims()
	r := p.R
	if ic%(r*r) != 0 {
		panic(fmt.Sprintf("nn: PixelShuffle(%d) of %d channels", r, ic))
	}
	oc := ic / (r * r)
	p.inShape = [4]int{n, ic, h, w}
	p.y = tensor.Ensure(p.y, n, oc, h*r, w*r)
	p.permute(x.Data, p.y.Data, n, oc, h, w, false)
	return p.y
}

// Backward applies the inverse permutation to dy.
func (p *PixelShuffle) Backward(dy *tensor.Tensor) *tensor.Tensor {
	checkGradShape("PixelShuffle", p.y, dy)
	n, ic, h, w := p.inShape[0], p.inShape[1], p.inShape[2], p.inShape[3]
	p.dx = tensor.Ensure(p.dx, n, ic, h, w)
	p.permute(p.dx.Data, dy.Data, n, ic/(p.R*p.R), h, w, true)
	return p.dx
}

// permute copies between the depth layout (deep) and the space layout
// (wide); inverse copies wide into deep.
func (p *PixelShuffle) permute(deep, wide []float32, n, oc, h, w int, inverse bool) {
	r := p.R
	ic := oc * r * r
	wr := w * r
	for b := 0; b < n; b++ {
		for c := 0; c < oc; c++ {
			out := wide[(b*oc+c)*h*r*wr : (b*oc+c+1)*h*r*wr]
			for i := 0; i < r; i++ {
				for j := 0; j < r; j++ {
					s := p.srcChannel(c, i, j, oc)
					src := deep[(b*ic+s)*h*w : (b*ic+s+1)*h*w]
					for y := 0; y < h; y++ {
						row := out[(y*r+i)*wr+j:]
						in := src[y*w : y*w+w]
						if inverse {
							for x := range in {
								in[x] = row[x*r]
							}
						} else {
							for x, v := range in {
								row[x*r] = v
							}
						}
					}
				}
			}
		}
	}
}
