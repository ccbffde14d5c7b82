package features

import (
	"fmt"
	"math"

	"atelier/engine/tensor"
)

// SpatialSoftmax is the softmax transform of activations from Wang, Li and
// Vasconcelos, "Rethinking and Improving the Robustness of Image Style
// Transfer" (CVPR 2021, SWAG): each channel's activations over all spatial
// positions go through a softmax with temperature T,
//
//	y[n,c,p] = exp(x[n,c,p]/T) / sum_q exp(x[n,c,q]/T),
//
// which raises the entropy of the peaky feature maps that residual networks
// produce, so that Gram-matrix style losses on them work about as well as on
// VGG. Each channel of the output sums to 1. It is an nn.Layer.
type SpatialSoftmax struct {
	// T is the temperature; larger values give smoother maps. It must be
	// positive.
	T float32

	y, dx *tensor.Tensor
}

// NewSpatialSoftmax returns the transform with temperature t (t <= 0
// means 1).
func NewSpatialSoftmax(t float32) *SpatialSoftmax {
	if !(t > 0) {
		t = 1
	}
	return &SpatialSoftmax{T: t}
}

// planes returns the number of (n, c) planes and their size.
func planes(shape []int) (count, size int) {
	if len(shape) < 2 {
		panic(fmt.Sprintf("features: SpatialSoftmax needs [N,C,...], got %v", shape))
	}
	return shape[0] * shape[1], tensor.Volume(shape[2:])
}

// Forward applies the softmax over the spatial positions of every channel.
func (s *SpatialSoftmax) Forward(x *tensor.Tensor) *tensor.Tensor {
	np, size := planes(x.Shape)
	s.y = tensor.Ensure(s.y, x.Shape...)
	inv := 1 / float64(s.T)
	for p := 0; p < np; p++ {
		src := x.Data[p*size : (p+1)*size]
		dst := s.y.Data[p*size : (p+1)*size]
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
		k := 1 / sum
		for i := range dst {
			dst[i] = float32(float64(dst[i]) * k)
		}
	}
	return s.y
}

// Backward returns dx = y * (dy - sum_p(dy*y)) / T for every plane.
func (s *SpatialSoftmax) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if s.y == nil || !tensor.ShapeEqual(dy.Shape, s.y.Shape) {
		panic(fmt.Sprintf("features: SpatialSoftmax backward of %v after a forward to %v", dy.Shape, s.y))
	}
	np, size := planes(dy.Shape)
	s.dx = tensor.Ensure(s.dx, dy.Shape...)
	inv := 1 / s.T
	for p := 0; p < np; p++ {
		g := dy.Data[p*size : (p+1)*size]
		y := s.y.Data[p*size : (p+1)*size]
		dst := s.dx.Data[p*size : (p+1)*size]
		dot := 0.0
		for i, v := range g {
			dot += float64(v) * float64(y[i])
		}
		d := float32(dot)
		for i, v := range g {
			dst[i] = y[i] * (v - d) * inv
		}
	}
	return s.dx
}
