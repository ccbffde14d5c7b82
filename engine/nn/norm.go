package nn

import (
	"fmt"
	"math"

	"atelier/engine/tensor"
)

// InstanceNorm normalises every channel of every image over its H*W
// positions, y = gamma*(x-mean)/sqrt(var+Eps) + beta, with the biased
// variance (divided by H*W), as PyTorch and TensorFlow do. The scale and
// shift are supplied with each call, so a fixed-style network (one gamma and
// beta per layer) and a conditional one (gamma and beta computed per style,
// Magenta) use the same code. It is not a Layer because of the extra
// inputs; AffineInstanceNorm wraps it as one with its own parameters.
type InstanceNorm struct {
	// Eps is added to the variance (PyTorch 1e-5; the Johnson/ml5 and Magenta
	// TF models use 1e-3).
	Eps float32

	xhat, y, dx     *tensor.Tensor
	dgamma, dbeta   *tensor.Tensor
	rstd            []float32 // 1/sqrt(var+eps) per (n, c)
	gamma           []float32 // copy of the last gamma, nil for all ones
	gammaShape      []int     // shape for dgamma and dbeta
	perSample       bool      // gamma/beta hold N*C values rather than C
	n, c, plane     int
	haveGamma, have bool
}

// NewInstanceNorm returns an instance normalisation with the given epsilon.
func NewInstanceNorm(eps float32) *InstanceNorm { return &InstanceNorm{Eps: eps} }

// affineLen reports whether p (gamma or beta) is shared across the batch
// (C values) or per sample (N*C values, [N,C] row-major); when N is 1 the two
// are the same.
func affineLen(name string, p *tensor.Tensor, n, c int) (perSample bool) {
	switch len(p.Data) {
	case c:
		return false
	case n * c:
		return true
	}
	panic(fmt.Sprintf("nn: InstanceNorm %s has shape %v, want %d values (or %d per sample)", name, p.Shape, c, n*c))
}

// Forward normalises x [N,C,H,W]. gamma and beta hold C values (shared by
// the batch) or N*C values ([N,C], one set per image); nil gamma means 1 and
// nil beta means 0. Statistics are accumulated in float64.
func (in *InstanceNorm) Forward(x, gamma, beta *tensor.Tensor) *tensor.Tensor {
	n, c, h, w := x.Dims()
	hw := h * w
	in.n, in.c, in.plane = n, c, hw
	in.perSample = false
	in.gamma = in.gamma[:0]
	in.haveGamma = gamma != nil
	var shape []int
	if gamma != nil {
		in.perSample = affineLen("gamma", gamma, n, c)
		in.gamma = append(in.gamma, gamma.Data...)
		shape = gamma.Shape
	}
	if beta != nil {
		ps := affineLen("beta", beta, n, c)
		if gamma != nil && ps != in.perSample {
			panic(fmt.Sprintf("nn: InstanceNorm gamma %v and beta %v disagree", gamma.Shape, beta.Shape))
		}
		in.perSample = ps
		if shape == nil {
			shape = beta.Shape
		}
	}
	if shape == nil {
		shape = []int{c}
	}
	in.gammaShape = append(in.gammaShape[:0], shape...)

	in.xhat = tensor.Ensure(in.xhat, n, c, h, w)
	in.y = tensor.Ensure(in.y, n, c, h, w)
	if cap(in.rstd) < n*c {
		in.rstd = make([]float32, n*c)
	}
	in.rstd = in.rstd[:n*c]
	for q := 0; q < n*c; q++ {
		xs := x.Data[q*hw : (q+1)*hw]
		xh := in.xhat.Data[q*hw : (q+1)*hw]
		ys := in.y.Data[q*hw : (q+1)*hw]
		mean := sum64(xs) / float64(max(hw, 1))
		m32 := float32(mean)
		ss := sqDev64(xs, m32)
		// Correct for rounding the mean to float32 (exact in float64 terms:
		// sum (x-m)^2 = sum (x-m32)^2 - hw*(m-m32)^2).
		dm := mean - float64(m32)
		variance := ss/float64(max(hw, 1)) - dm*dm
		rstd := float32(1 / math.Sqrt(math.Max(variance, 0)+float64(in.Eps)))
		in.rstd[q] = rstd
		g, b := float32(1), float32(0)
		k := q % c
		if in.perSample {
			k = q
		}
		if gamma != nil {
			g = gamma.Data[k]
		}
		if beta != nil {
			b = beta.Data[k]
		}
		for i, v := range xs {
			t := (v - m32) * rstd
			xh[i] = t
			ys[i] = g*t + b
		}
	}
	in.have = true
	return in.y
}

// Backward takes dL/dy for the last Forward and returns dL/dx and the
// gradients for gamma and beta, shaped like the gamma and beta given to
// Forward (shape [C] when both were nil). All three are owned by the layer
// and overwritten (not accumulated) by the next call.
func (in *InstanceNorm) Backward(dy *tensor.Tensor) (dx, dgamma, dbeta *tensor.Tensor) {
	if !in.have {
		panic("nn: InstanceNorm.Backward before Forward")
	}
	checkGradShape("InstanceNorm", in.y, dy)
	n, c, hw := in.n, in.c, in.plane
	in.dx = tensor.Ensure(in.dx, dy.Shape...)
	in.dgamma = tensor.EnsureZero(in.dgamma, in.gammaShape...)
	in.dbeta = tensor.EnsureZero(in.dbeta, in.gammaShape...)
	inv := 1 / float64(max(hw, 1))
	for q := 0; q < n*c; q++ {
		g := dy.Data[q*hw : (q+1)*hw]
		xh := in.xhat.Data[q*hw : (q+1)*hw]
		d := in.dx.Data[q*hw : (q+1)*hw]
		sg, sgx := sum64(g), dot64(g, xh)
		k := q % c
		if in.perSample {
			k = q
		}
		in.dbeta.Data[k] += float32(sg)
		in.dgamma.Data[k] += float32(sgx)
		gm := float32(1)
		if in.haveGamma {
			gm = in.gamma[k]
		}
		scale := gm * in.rstd[q]
		mg, mgx := float32(sg*inv), float32(sgx*inv)
		for i, v := range g {
			d[i] = scale * (v - mg - xh[i]*mgx)
		}
	}
	return in.dx, in.dgamma, in.dbeta
}

// AffineInstanceNorm is an instance normalisation Layer with its own
// per-channel scale ("gamma", initially 1) and shift ("beta", initially 0),
// as in Johnson-style feed-forward networks.
type AffineInstanceNorm struct {
	Norm        *InstanceNorm
	Gamma, Beta *Param
	weightGrad  bool
}

// NewAffineInstanceNorm returns an instance norm over c channels with
// trainable gamma and beta.
func NewAffineInstanceNorm(c int, eps float32) *AffineInstanceNorm {
	g := tensor.New(c)
	for i := range g.Data {
		g.Data[i] = 1
	}
	return &AffineInstanceNorm{
		Norm:       NewInstanceNorm(eps),
		Gamma:      NewParam("gamma", g),
		Beta:       NewParam("beta", tensor.New(c)),
		weightGrad: true,
	}
}

// Forward normalises x with the layer's gamma and beta.
func (a *AffineInstanceNorm) Forward(x *tensor.Tensor) *tensor.Tensor {
	return a.Norm.Forward(x, a.Gamma.Value, a.Beta.Value)
}

// Backward returns dL/dx and, when weight gradients are on, adds the
// gradients of gamma and beta to their Grad tensors.
func (a *AffineInstanceNorm) Backward(dy *tensor.Tensor) *tensor.Tensor {
	dx, dg, db := a.Norm.Backward(dy)
	if a.weightGrad {
		for i, v := range dg.Data {
			a.Gamma.Grad.Data[i] += v
		}
		for i, v := range db.Data {
			a.Beta.Grad.Data[i] += v
		}
	}
	return dx
}

// Params returns gamma and beta.
func (a *AffineInstanceNorm) Params() []*Param { return []*Param{a.Gamma, a.Beta} }

// SetWeightGrad turns the accumulation of gamma and beta gradients on or off.
func (a *AffineInstanceNorm) SetWeightGrad(on bool) { a.weightGrad = on }

// sum64 sums xs in float64 with four independent accumulators.
func sum64(xs []float32) float64 {
	var a, b, c, d float64
	i := 0
	for ; i+4 <= len(xs); i += 4 {
		a += float64(xs[i])
		b += float64(xs[i+1])
		c += float64(xs[i+2])
		d += float64(xs[i+3])
	}
	for ; i < len(xs); i++ {
		a += float64(xs[i])
	}
	return (a + b) + (c + d)
}

// sqDev64 is sum((x-m)^2) in float64, differences taken in float32.
func sqDev64(xs []float32, m float32) float64 {
	var a, b, c, d float64
	i := 0
	for ; i+4 <= len(xs); i += 4 {
		e0, e1, e2, e3 := float64(xs[i]-m), float64(xs[i+1]-m), float64(xs[i+2]-m), float64(xs[i+3]-m)
		a += e0 * e0
		b += e1 * e1
		c += e2 * e2
		d += e3 * e3
	}
	for ; i < len(xs); i++ {
		e := float64(xs[i] - m)
		a += e * e
	}
	return (a + b) + (c + d)
}

// dot64 is the dot product of x and y (len(y) >= len(x)) in float64.
func dot64(x, y []float32) float64 {
	y = y[:len(x)]
	var a, b, c, d float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a += float64(x[i]) * float64(y[i])
		b += float64(x[i+1]) * float64(y[i+1])
		c += float64(x[i+2]) * float64(y[i+2])
		d += float64(x[i+3]) * float64(y[i+3])
	}
	for ; i < len(x); i++ {
		a += float64(x[i]) * float64(y[i])
	}
	return (a + b) + (c + d)
}
