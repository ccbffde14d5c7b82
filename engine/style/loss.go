package style

import (
	"fmt"

	"atelier/engine/tensor"
)

// Gram writes into dst the normalised Gram matrices of features f
// [N,C,H,W], one [C,C] matrix per image,
//
//	G[c,d] = Σ_p F[c,p]·F[d,p] / (C·H·W),
//
// and returns dst, shaped [N,C,C] (reusing dst's storage when it is large
// enough, see tensor.Ensure). The product goes through tensor.Sgemm.
func Gram(dst, f *tensor.Tensor) *tensor.Tensor {
	if len(f.Shape) != 4 {
		panic(fmt.Sprintf("style: Gram of %v, want [N,C,H,W]", f.Shape))
	}
	n, c, h, w := f.Dims()
	m := h * w
	dst = tensor.Ensure(dst, n, c, c)
	alpha := float32(1 / float64(c*m))
	for b := 0; b < n; b++ {
		fb := f.Data[b*c*m : (b+1)*c*m]
		tensor.Sgemm(false, true, c, c, m, alpha, fb, m, fb, m, 0, dst.Data[b*c*c:(b+1)*c*c], c)
	}
	return dst
}

// ContentLoss returns weight times the mean squared difference between the
// features f and target (same shape),
//
//	L = weight · Σ (F − P)² / K,  K = len(F),
//
// and, when grad (f's shape) is not nil, adds dL/dF = 2·weight·(F − P)/K
// into it.
func ContentLoss(f, target *tensor.Tensor, weight float64, grad *tensor.Tensor) float64 {
	return contentLoss(f, target, weight, grad, false)
}

// contentLoss is ContentLoss; with overwrite it writes the gradient into
// grad instead of adding it (grad's old values are not read).
func contentLoss(f, target *tensor.Tensor, weight float64, grad *tensor.Tensor, overwrite bool) float64 {
	if !f.SameShape(target) || (grad != nil && !f.SameShape(grad)) {
		panic(fmt.Sprintf("style: content loss of %v against %v (gradient %v)", f.Shape, target.Shape, grad))
	}
	if overwrite && grad != nil && weight == 0 {
		clear(grad.Data)
	}
	k := len(f.Data)
	if k == 0 {
		return 0
	}
	p := target.Data[:k]
	var s float64
	if grad == nil || weight == 0 {
		for i, v := range f.Data {
			d := float64(v - p[i])
			s += d * d
		}
		return weight * s / float64(k)
	}
	g := grad.Data[:k]
	scale := float32(2 * weight / float64(k))
	if overwrite {
		for i, v := range f.Data {
			d := v - p[i]
			s += float64(d) * float64(d)
			g[i] = scale * d
		}
		return weight * s / float64(k)
	}
	for i, v := range f.Data {
		d := v - p[i]
		s += float64(d) * float64(d)
		g[i] += scale * d
	}
	return weight * s / float64(k)
}

// StyleLayer evaluates the Gram style loss of one feature tap. It keeps its
// buffers between calls, so repeated evaluations on one size do not
// allocate; it is not safe for concurrent use.
type StyleLayer struct {
	gram, diff *tensor.Tensor
}

// Loss returns weight times the mean squared difference between the Gram
// matrix G of f [N,C,H,W] (see Gram) and the target A [C,C] (or [1,C,C]),
// summed over the images of the batch,
//
//	L = weight · Σ_n Σ_cd (G_n[c,d] − A[c,d])² / C²,
//
// and, when grad (f's shape) is not nil, adds
//
//	dL/dF_n = 4·weight·(G_n − A)·F_n / (C³·H·W)
//
// into it (G and A are symmetric).
func (s *StyleLayer) Loss(f, target *tensor.Tensor, weight float64, grad *tensor.Tensor) float64 {
	return s.loss(f, target, weight, grad, false)
}

// loss is Loss; with overwrite it writes the gradient into grad instead of
// adding it (grad's old values are not read).
func (s *StyleLayer) loss(f, target *tensor.Tensor, weight float64, grad *tensor.Tensor, overwrite bool) float64 {
	if len(f.Shape) != 4 {
		panic(fmt.Sprintf("style: style loss of %v, want [N,C,H,W]", f.Shape))
	}
	n, c, h, w := f.Dims()
	m := h * w
	if len(target.Data) != c*c || (grad != nil && !f.SameShape(grad)) {
		panic(fmt.Sprintf("style: style loss of %v against a target %v (gradient %v)", f.Shape, target.Shape, grad))
	}
	s.gram = Gram(s.gram, f)
	s.diff = tensor.Ensure(s.diff, c, c)
	a := target.Data[:c*c]
	diff := s.diff.Data
	alpha := float32(4 * weight / (float64(c) * float64(c) * float64(c) * float64(m)))
	var total float64
	for b := 0; b < n; b++ {
		g := s.gram.Data[b*c*c : (b+1)*c*c]
		for i, v := range g {
			d := v - a[i]
			diff[i] = d
			total += float64(d) * float64(d)
		}
		switch {
		case grad != nil && weight != 0:
			fb := f.Data[b*c*m : (b+1)*c*m]
			beta := float32(1)
			if overwrite {
				beta = 0
			}
			tensor.Sgemm(false, false, c, m, c, alpha, diff, c, fb, m, beta, grad.Data[b*c*m:(b+1)*c*m], m)
		case grad != nil && overwrite:
			clear(grad.Data[b*c*m : (b+1)*c*m])
		}
	}
	return weight * total / float64(c*c)
}

// TVLoss returns weight times the squared total variation of img
// [N,C,H,W] per value,
//
//	L = weight · Σ ((x[h,w+1] − x[h,w])² + (x[h+1,w] − x[h,w])²) / (N·C·H·W),
//
// which smooths the high-frequency noise that the style loss alone leaves,
// and, when grad (img's shape) is not nil, adds dL/dx into it.
func TVLoss(img *tensor.Tensor, weight float64, grad *tensor.Tensor) float64 {
	if len(img.Shape) != 4 || (grad != nil && !img.SameShape(grad)) {
		panic(fmt.Sprintf("style: total variation of %v (gradient %v)", img.Shape, grad))
	}
	n, c, h, w := img.Dims()
	k := n * c * h * w
	if k == 0 {
		return 0
	}
	scale := float32(2 * weight / float64(k))
	var s float64
	for p := 0; p < n*c; p++ {
		x := img.Data[p*h*w : (p+1)*h*w]
		var g []float32
		if grad != nil && weight != 0 {
			g = grad.Data[p*h*w : (p+1)*h*w]
		}
		for y := 0; y < h; y++ {
			row := x[y*w : (y+1)*w]
			for i := 0; i+1 < w; i++ {
				d := row[i+1] - row[i]
				s += float64(d) * float64(d)
				if g != nil {
					g[y*w+i+1] += scale * d
					g[y*w+i] -= scale * d
				}
			}
			if y+1 < h {
				next := x[(y+1)*w : (y+2)*w]
				for i, v := range row {
					d := next[i] - v
					s += float64(d) * float64(d)
					if g != nil {
						g[(y+1)*w+i] += scale * d
						g[y*w+i] -= scale * d
					}
				}
			}
		}
	}
	return weight * s / float64(k)
}
