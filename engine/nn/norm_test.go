package nn

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"

	"atelier/engine/tensor"
)

// inormRef is a float64 instance norm; gamma/beta may be nil, C or N*C long.
func inormRef(x *tensor.Tensor, gamma, beta []float32, eps float64) *tensor.Tensor {
	n, c, h, w := x.Dims()
	hw := h * w
	y := tensor.New(n, c, h, w)
	for q := 0; q < n*c; q++ {
		xs := x.Data[q*hw : (q+1)*hw]
		mean, v := 0.0, 0.0
		for _, a := range xs {
			mean += float64(a)
		}
		mean /= float64(hw)
		for _, a := range xs {
			v += (float64(a) - mean) * (float64(a) - mean)
		}
		v /= float64(hw)
		g, b := 1.0, 0.0
		if gamma != nil {
			g = float64(gamma[q%len(gamma)])
		}
		if beta != nil {
			b = float64(beta[q%len(beta)])
		}
		for i, a := range xs {
			y.Data[q*hw+i] = float32(g*(float64(a)-mean)/math.Sqrt(v+eps) + b)
		}
	}
	return y
}

// inormLayer adapts InstanceNorm to the Layer interface with gamma and beta
// as parameters, so checkLayerGrad can check dx, dgamma and dbeta.
type inormLayer struct {
	norm        *InstanceNorm
	gamma, beta *Param // nil: pass nil to Forward
}

func (l *inormLayer) Forward(x *tensor.Tensor) *tensor.Tensor {
	var g, b *tensor.Tensor
	if l.gamma != nil {
		g = l.gamma.Value
	}
	if l.beta != nil {
		b = l.beta.Value
	}
	return l.norm.Forward(x, g, b)
}

func (l *inormLayer) Backward(dy *tensor.Tensor) *tensor.Tensor {
	dx, dg, db := l.norm.Backward(dy)
	for _, pg := range []struct {
		p *Param
		g *tensor.Tensor
	}{{l.gamma, dg}, {l.beta, db}} {
		if pg.p == nil {
			continue
		}
		if !tensor.ShapeEqual(pg.p.Value.Shape, pg.g.Shape) {
			panic("gradient shape differs from the parameter's")
		}
		for i, v := range pg.g.Data {
			pg.p.Grad.Data[i] += v
		}
	}
	return dx
}

func (l *inormLayer) Params() []*Param {
	var ps []*Param
	for _, p := range []*Param{l.gamma, l.beta} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

func TestInstanceNormAgainstGorgoniaGroupNorm(t *testing.T) {
	// Group norm with one channel per group is instance norm.
	const n, c, h, w = 2, 3, 4, 5
	x := randTensor(21, n, c, h, w)
	gamma := randTensor(22, 1, c, 1, 1)
	beta := randTensor(23, 1, c, 1, 1)
	want, r, wantDx, dext := gorgoniaOracle(t, x, func(_ *G.ExprGraph, xn *G.Node, e []*G.Node) (*G.Node, error) {
		return G.GroupNorm(xn, e[0], e[1], c, c, 1e-3)
	}, gamma, beta)
	norm := NewInstanceNorm(1e-3)
	assertClose(t, "y", norm.Forward(x, gamma, beta), want, 1e-5)
	dx, dg, db := norm.Backward(r)
	assertClose(t, "dx", dx, wantDx, 1e-5)
	assertClose(t, "dgamma", dg, dext[0], 1e-5)
	assertClose(t, "dbeta", db, dext[1], 1e-5)
}

func TestInstanceNorm(t *testing.T) {
	for _, tc := range []struct {
		name          string
		n, c, h, w    int
		gShape        []int // nil: no gamma
		bShape        []int // nil: no beta
		eps           float32
		offset, scale float32
	}{
		{"shared", 2, 3, 5, 4, []int{3}, []int{3}, 1e-5, 0, 1},
		{"per-sample", 2, 3, 4, 4, []int{2, 3}, []int{2, 3}, 1e-3, 0, 1},
		{"no-affine", 2, 2, 3, 5, nil, nil, 1e-5, 0, 1},
		{"gamma-only", 1, 4, 4, 3, []int{1, 4}, nil, 1e-3, 0, 1},
		{"beta-only", 2, 2, 4, 3, nil, []int{2}, 1e-3, 0, 1},
		{"large-offset", 1, 2, 6, 6, []int{2}, []int{2}, 1e-5, 200, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := randTensor(31, tc.n, tc.c, tc.h, tc.w)
			for i := range x.Data {
				x.Data[i] = x.Data[i]*tc.scale + tc.offset
			}
			l := &inormLayer{norm: NewInstanceNorm(tc.eps)}
			var g, b []float32
			if tc.gShape != nil {
				l.gamma = NewParam("gamma", randTensor(32, tc.gShape...))
				g = l.gamma.Value.Data
			}
			if tc.bShape != nil {
				l.beta = NewParam("beta", randTensor(33, tc.bShape...))
				b = l.beta.Value.Data
			}
			want := inormRef(x, g, b, float64(tc.eps))
			assertClose(t, "y", l.Forward(x), want, 2e-5)
			if tc.offset == 0 {
				checkLayerGrad(t, l, x, 1e-2)
			}
			_, dg, db := l.norm.Backward(l.Forward(x).Clone())
			wantShape := tc.gShape
			if wantShape == nil {
				wantShape = tc.bShape
			}
			if wantShape == nil {
				wantShape = []int{tc.c}
			}
			if !tensor.ShapeEqual(dg.Shape, wantShape) || !tensor.ShapeEqual(db.Shape, wantShape) {
				t.Fatalf("dgamma %v, dbeta %v, want %v", dg.Shape, db.Shape, wantShape)
			}
		})
	}
}

func TestInstanceNormConstantPlane(t *testing.T) {
	x := tensor.New(1, 2, 3, 3)
	for i := range x.Data {
		x.Data[i] = 7
	}
	beta := tensor.FromData([]float32{0.5, -2}, 2)
	norm := NewInstanceNorm(1e-5)
	y := norm.Forward(x, tensor.FromData([]float32{3, 4}, 2), beta)
	for i, v := range y.Data {
		if want := beta.Data[i/9]; v != want {
			t.Fatalf("y[%d] = %v, want the shift %v for a constant plane", i, v, want)
		}
	}
	dx, _, _ := norm.Backward(randTensor(1, 1, 2, 3, 3))
	for i, v := range dx.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("dx[%d] = %v", i, v)
		}
	}
}

func TestInstanceNormBadGammaPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a gamma of the wrong length did not panic")
		}
	}()
	NewInstanceNorm(1e-5).Forward(tensor.New(2, 3, 2, 2), tensor.New(4), nil)
}

func TestAffineInstanceNorm(t *testing.T) {
	l := NewAffineInstanceNorm(3, 1e-3)
	x := randTensor(41, 2, 3, 4, 4)
	y := l.Forward(x)
	assertClose(t, "y at init", y, inormRef(x, nil, nil, 1e-3), 1e-5)
	copy(l.Gamma.Value.Data, []float32{0.5, -1, 2})
	copy(l.Beta.Value.Data, []float32{0.1, 0.2, -0.3})
	checkLayerGrad(t, l, x, 1e-2)

	l.SetWeightGrad(false)
	ZeroGrads(l.Params())
	l.Forward(x)
	l.Backward(randTensor(2, 2, 3, 4, 4))
	if l.Gamma.Grad.Norm() != 0 || l.Beta.Grad.Norm() != 0 {
		t.Fatal("SetWeightGrad(false) still accumulated gamma/beta gradients")
	}
}

func TestInstanceNormDoesNotAllocate(t *testing.T) {
	x := randTensor(2, 2, 8, 16, 16)
	g, b := randTensor(3, 8), randTensor(4, 8)
	norm := NewInstanceNorm(1e-5)
	dy := norm.Forward(x, g, b).Clone()
	allocs := testing.AllocsPerRun(5, func() {
		norm.Forward(x, g, b)
		norm.Backward(dy)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per forward+backward, want 0", allocs)
	}
}

func BenchmarkInstanceNorm(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			x := randTensor(1, 1, sz.c, sz.h, sz.w)
			g, be := randTensor(2, sz.c), randTensor(3, sz.c)
			norm := NewInstanceNorm(1e-5)
			dy := norm.Forward(x, g, be).Clone()
			norm.Backward(dy)
			b.ReportAllocs()
			b.SetBytes(int64(4 * len(x.Data)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				norm.Forward(x, g, be)
				norm.Backward(dy)
			}
		})
	}
}
