// Package tensor holds dense NCHW float32 tensors and the single matrix
// multiply (sgemm) seam that every numeric layer of Atelier goes through.
//
// By default sgemm calls OpenBLAS through cgo; building with the "purego"
// tag swaps in gonum's pure-Go BLAS so the studio still builds where
// OpenBLAS is missing.
package tensor

import (
	"fmt"
	"math"
)

// Tensor is a dense, row-major float32 array. Four-dimensional tensors use
// the NCHW layout (batch, channels, height, width).
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zero-filled tensor of the given shape.
func New(shape ...int) *Tensor {
	n := Volume(shape)
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// FromData wraps data (not copied) in a tensor of the given shape. It panics
// when the lengths disagree, which is always a programming error.
func FromData(data []float32, shape ...int) *Tensor {
	if Volume(shape) != len(data) {
		panic(fmt.Sprintf("tensor: shape %v needs %d values, got %d", shape, Volume(shape), len(data)))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

// Volume is the number of elements a tensor of the given shape holds.
func Volume(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Len is the number of elements in t.
func (t *Tensor) Len() int { return len(t.Data) }

// Dims returns N, C, H, W of a 4-D tensor.
func (t *Tensor) Dims() (n, c, h, w int) {
	if len(t.Shape) != 4 {
		panic(fmt.Sprintf("tensor: Dims on a %d-D tensor %v", len(t.Shape), t.Shape))
	}
	return t.Shape[0], t.Shape[1], t.Shape[2], t.Shape[3]
}

// SameShape reports whether t and u have identical shapes.
func (t *Tensor) SameShape(u *Tensor) bool { return ShapeEqual(t.Shape, u.Shape) }

// ShapeEqual reports whether two shapes are identical.
func ShapeEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Clone returns a deep copy of t.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Zero sets every element to 0.
func (t *Tensor) Zero() { clear(t.Data) }

// Reshape returns a view of t with a new shape of the same volume.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	return FromData(t.Data, shape...)
}

// Ensure returns buf when it already has the requested shape, or a tensor of
// that shape reusing buf's storage when it is large enough, or a new one.
// Layers use it to keep one output buffer across iterations. The contents
// are not cleared.
func Ensure(buf *Tensor, shape ...int) *Tensor {
	n := Volume(shape)
	if buf != nil {
		if ShapeEqual(buf.Shape, shape) {
			return buf
		}
		if cap(buf.Data) >= n {
			buf.Shape = append(buf.Shape[:0], shape...)
			buf.Data = buf.Data[:n]
			return buf
		}
	}
	return New(shape...)
}

// EnsureZero is Ensure followed by clearing the contents.
func EnsureZero(buf *Tensor, shape ...int) *Tensor {
	t := Ensure(buf, shape...)
	clear(t.Data)
	return t
}

// MaxAbsDiff returns the largest absolute element-wise difference between
// two tensors of the same length.
func MaxAbsDiff(a, b *Tensor) float64 {
	m := 0.0
	for i := range a.Data {
		d := math.Abs(float64(a.Data[i]) - float64(b.Data[i]))
		if d > m || math.IsNaN(d) {
			m = d
		}
	}
	return m
}

// Norm returns the Euclidean norm of t.
func (t *Tensor) Norm() float64 {
	s := 0.0
	for _, v := range t.Data {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// String gives the shape only, so printing large tensors stays cheap.
func (t *Tensor) String() string { return fmt.Sprintf("Tensor%v", t.Shape) }
