package nn

import (
	"fmt"
	"math"

	"atelier/engine/tensor"
)

// UpsampleMode selects the interpolation of Upsample.
type UpsampleMode int

const (
	// Nearest copies the nearest source pixel.
	Nearest UpsampleMode = iota
	// Bilinear interpolates linearly along both axes.
	Bilinear
)

// Upsample resizes the spatial axes of [N,C,H,W] tensors.
//
// Built with NewUpsample it scales by an integer factor with PyTorch's
// semantics: nearest takes source index dst/factor; bilinear uses
// align_corners=false, src = max((dst+0.5)/factor - 0.5, 0), clamped to the
// last row/column.
//
// Built with NewResize it produces an exact output size with TensorFlow's
// legacy semantics (half_pixel_centers=false, align_corners=false), as the
// ResizeNearestNeighbor and ResizeBilinear ops of TF.js graph models use:
// src = dst*in/out (computed in float32 like TF), nearest takes
// min(floor(src), in-1), bilinear interpolates between floor(src) and the
// next index, clamped.
type Upsample struct {
	// Factor is the integer scale (NewUpsample); 0 for a fixed-size resize.
	Factor int
	// OutH, OutW are the fixed output size (NewResize).
	OutH, OutW int
	// Mode selects nearest or bilinear interpolation.
	Mode UpsampleMode

	y, dx      *tensor.Tensor
	inShape    [4]int
	tabH, tabW [2]int // the sizes the tables were built for: in, out
	rows, cols axisTable
	have       bool
}

// axisTable maps every output index along one axis to two source indices
// and the weight of the second (nearest uses i0 only).
type axisTable struct {
	i0, i1 []int32
	w1     []float32
}

// NewUpsample returns a layer scaling H and W by factor (>= 1).
func NewUpsample(factor int, mode UpsampleMode) *Upsample {
	if factor < 1 {
		panic(fmt.Sprintf("nn: NewUpsample factor %d < 1", factor))
	}
	return &Upsample{Factor: factor, Mode: mode}
}

// NewResize returns a layer resizing H and W to exactly h x w with
// TensorFlow's legacy coordinate mapping (see Upsample).
func NewResize(h, w int, mode UpsampleMode) *Upsample {
	if h < 1 || w < 1 {
		panic(fmt.Sprintf("nn: NewResize to %dx%d", h, w))
	}
	return &Upsample{OutH: h, OutW: w, Mode: mode}
}

// build fills t for an axis of length in resized to out.
func (u *Upsample) build(t *axisTable, in, out int) {
	t.i0 = tableInt32(t.i0, out)
	t.i1 = tableInt32(t.i1, out)
	t.w1 = tableF32(t.w1, out)
	for d := 0; d < out; d++ {
		var src float64
		switch {
		case u.Factor > 0 && u.Mode == Nearest:
			t.i0[d], t.i1[d], t.w1[d] = int32(d/u.Factor), int32(d/u.Factor), 0
			continue
		case u.Factor > 0:
			src = math.Max((float64(d)+0.5)/float64(u.Factor)-0.5, 0)
		default:
			// TF computes the scale and the product in float32.
			scale := float32(in) / float32(out)
			src = float64(float32(d) * scale)
		}
		i0 := min(int(math.Floor(src)), in-1)
		if u.Mode == Nearest {
			t.i0[d], t.i1[d], t.w1[d] = int32(i0), int32(i0), 0
			continue
		}
		i1 := min(i0+1, in-1)
		t.i0[d], t.i1[d], t.w1[d] = int32(i0), int32(i1), float32(src-float64(i0))
	}
}

// outSize gives the output size for an input of h x w.
func (u *Upsample) outSize(h, w int) (int, int) {
	if u.Factor > 0 {
		return h * u.Factor, w * u.Factor
	}
	return u.OutH, u.OutW
}

// Forward resizes x [N,C,H,W].
func (u *Upsample) Forward(x *tensor.Tensor) *tensor.Tensor {
	n, c, h, w := x.Dims()
	oh, ow := u.outSize(h, w)
	u.inShape = [4]int{n, c, h, w}
	if !u.have || u.tabH != [2]int{h, oh} {
		u.build(&u.rows, h, oh)
		u.tabH = [2]int{h, oh}
	}
	if !u.have || u.tabW != [2]int{w, ow} {
		u.build(&u.cols, w, ow)
		u.tabW = [2]int{w, ow}
	}
	u.have = true
	u.y = tensor.Ensure(u.y, n, c, oh, ow)
	r, cl := &u.rows, &u.cols
	for q := 0; q < n*c; q++ {
		in := x.Data[q*h*w : (q+1)*h*w]
		out := u.y.Data[q*oh*ow : (q+1)*oh*ow]
		for i := 0; i < oh; i++ {
			o := out[i*ow : (i+1)*ow]
			r0 := in[int(r.i0[i])*w : int(r.i0[i])*w+w]
			if u.Mode == Nearest {
				for j := range o {
					o[j] = r0[cl.i0[j]]
				}
				continue
			}
			r1 := in[int(r.i1[i])*w : int(r.i1[i])*w+w]
			wy := r.w1[i]
			for j := range o {
				a, b, wx := cl.i0[j], cl.i1[j], cl.w1[j]
				top := r0[a] + wx*(r0[b]-r0[a])
				bot := r1[a] + wx*(r1[b]-r1[a])
				o[j] = top + wy*(bot-top)
			}
		}
	}
	return u.y
}

// Backward scatters dy back onto the source pixels with the forward
// weights (the adjoint of the interpolation).
func (u *Upsample) Backward(dy *tensor.Tensor) *tensor.Tensor {
	checkGradShape("Upsample", u.y, dy)
	n, c, h, w := u.inShape[0], u.inShape[1], u.inShape[2], u.inShape[3]
	_, _, oh, ow := dy.Dims()
	u.dx = tensor.EnsureZero(u.dx, n, c, h, w)
	r, cl := &u.rows, &u.cols
	for q := 0; q < n*c; q++ {
		g := dy.Data[q*oh*ow : (q+1)*oh*ow]
		dx := u.dx.Data[q*h*w : (q+1)*h*w]
		for i := 0; i < oh; i++ {
			gi := g[i*ow : (i+1)*ow]
			d0 := dx[int(r.i0[i])*w : int(r.i0[i])*w+w]
			if u.Mode == Nearest {
				for j, v := range gi {
					d0[cl.i0[j]] += v
				}
				continue
			}
			d1 := dx[int(r.i1[i])*w : int(r.i1[i])*w+w]
			wy := r.w1[i]
			for j, v := range gi {
				a, b, wx := cl.i0[j], cl.i1[j], cl.w1[j]
				top, bot := v*(1-wy), v*wy
				d0[a] += top * (1 - wx)
				d0[b] += top * wx
				d1[a] += bot * (1 - wx)
				d1[b] += bot * wx
			}
		}
	}
	return u.dx
}

func tableInt32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

func tableF32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
