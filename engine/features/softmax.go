package features

import (
	"fmt"
	"math"

	"atelier/engine/tensor"
)

// DefaultSoftmaxTemperature is the temperature of the SWAG transform when
// none is given, chosen by eye on ResNet-50 style transfer (tubingen x
// starry_night, relative losses, style weight 20, default taps): at T=1 a
// handful of the largest activations own the distribution and the image
// hardly changes; T=2 stylises weakly; T=3..5 give strong brushwork with
// the content readable; from T=8 the transform is nearly affine, the
// content loss loses its grip and the buildings dissolve.
const DefaultSoftmaxTemperature = 4

// SoftmaxTransform is the softmax transform of activations from Wang, Li
// and Vasconcelos, "Rethinking and Improving the Robustness of Image Style
// Transfer" (CVPR 2021, SWAG). As in the paper's reference code, one
// softmax with temperature T runs over the whole activation tensor of each
// image, all channels and positions together:
//
//	y[n,i] = K · exp(x[n,i]/T) / Σ_j exp(x[n,j]/T),  K = C·H·W,
//
// where i and j run over the K elements of image n. It raises the entropy
// of the peaky feature maps that residual networks produce, so that
// Gram-matrix style losses on them work about as well as on VGG.
//
// The factor K is ours: the paper's softmax sums to 1, so its values (and
// Gram matrices) shrink with the image's size, which matters when the
// style image and the output differ in size, and at 512 px they sit near
// 1e-7, where float32 gradients underflow. Scaled by K the output averages
// 1 at every size; for images of one size it is the paper's transform
// times a constant, which relative losses (style.NormTarget) cancel. It is
// an nn.Layer.
type SoftmaxTransform struct {
	// T is the temperature; larger values give smoother distributions. It
	// must be positive.
	T float32

	y, dx *tensor.Tensor
}

// NewSoftmaxTransform returns the transform with temperature t (t <= 0
// means DefaultSoftmaxTemperature).
func NewSoftmaxTransform(t float32) *SoftmaxTransform {
	if !(t > 0) {
		t = DefaultSoftmaxTemperature
	}
	return &SoftmaxTransform{T: t}
}

// perImage returns the batch size and the number of elements of one image.
func perImage(shape []int) (n, k int) {
	if len(shape) < 2 {
		panic(fmt.Sprintf("features: SoftmaxTransform needs [N,...], got %v", shape))
	}
	return shape[0], tensor.Volume(shape[1:])
}

// Forward applies the scaled softmax over all of each image's activations.
func (s *SoftmaxTransform) Forward(x *tensor.Tensor) *tensor.Tensor {
	n, k := perImage(x.Shape)
	s.y = tensor.Ensure(s.y, x.Shape...)
	inv := 1 / float64(s.T)
	for b := 0; b < n; b++ {
		src := x.Data[b*k : (b+1)*k]
		dst := s.y.Data[b*k : (b+1)*k]
		m := float32(math.Inf(-1))
		for _, v := range src {
			m = max(m, v)
		}
		sum := 0.0
		for i, v := range src {
			e := math.Exp(float64(v-m) * inv)
			dst[i] = float32(e)
			sum += e
		}
		scale := float64(k) / sum
		for i := range dst {
			dst[i] = float32(float64(dst[i]) * scale)
		}
	}
	return s.y
}

// Backward returns, for every image,
//
//	dx[i] = y[i] · (dy[i] − Σ_j dy[j]·y[j] / K) / T.
func (s *SoftmaxTransform) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if s.y == nil || !tensor.ShapeEqual(dy.Shape, s.y.Shape) {
		panic(fmt.Sprintf("features: SoftmaxTransform backward of %v after a forward to %v", dy.Shape, s.y))
	}
	n, k := perImage(dy.Shape)
	s.dx = tensor.Ensure(s.dx, dy.Shape...)
	inv := 1 / s.T
	for b := 0; b < n; b++ {
		g := dy.Data[b*k : (b+1)*k]
		y := s.y.Data[b*k : (b+1)*k]
		dst := s.dx.Data[b*k : (b+1)*k]
		dot := 0.0
		for i, v := range g {
			dot += float64(v) * float64(y[i])
		}
		d := float32(dot / float64(k))
		for i, v := range g {
			dst[i] = y[i] * (v - d) * inv
		}
	}
	return s.dx
}
