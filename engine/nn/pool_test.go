package nn

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	gt "gorgonia.org/tensor"

	"atelier/engine/tensor"
)

// distinctTensor fills a tensor with a random permutation of evenly spaced
// values in [-1, 1], so max pooling has no ties and small perturbations do
// not change any window's winner.
func distinctTensor(seed int64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	n := len(t.Data)
	for i, p := range rand.New(rand.NewSource(seed)).Perm(n) {
		t.Data[i] = float32(-1 + 2*float64(p)/float64(max(n-1, 1)))
	}
	return t
}

// poolRef is a float64 reference pooling with explicit paddings before the
// first row/column; outH/outW come from the test table, not from poolGeom.
func poolRef(x *tensor.Tensor, k, s, top, left, oh, ow int, avg bool) *tensor.Tensor {
	n, c, h, w := x.Dims()
	y := tensor.New(n, c, oh, ow)
	for q := 0; q < n*c; q++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				best, sum, cnt := math.Inf(-1), 0.0, 0
				for a := 0; a < k; a++ {
					for b := 0; b < k; b++ {
						r, cc := i*s-top+a, j*s-left+b
						if r < 0 || r >= h || cc < 0 || cc >= w {
							continue
						}
						v := float64(x.Data[q*h*w+r*w+cc])
						best = math.Max(best, v)
						sum += v
						cnt++
					}
				}
				out := best
				if avg {
					out = sum / float64(cnt)
				}
				y.Data[q*oh*ow+i*ow+j] = float32(out)
			}
		}
	}
	return y
}

func TestMaxPoolAgainstGorgonia(t *testing.T) {
	for _, tc := range []struct {
		name       string
		k, s, p    int
		n, c, h, w int
	}{
		{"2x2s2", 2, 2, 0, 2, 3, 6, 8},
		{"2x2s2odd", 2, 2, 0, 1, 2, 7, 5},
		{"3x3s2p1", 3, 2, 1, 2, 2, 7, 6},
		{"3x3s1p1", 3, 1, 1, 1, 2, 5, 5},
		{"3x3s3", 3, 3, 0, 1, 1, 9, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := distinctTensor(4, tc.n, tc.c, tc.h, tc.w)
			want, r, wantDx, _ := gorgoniaOracle(t, x, func(_ *G.ExprGraph, xn *G.Node, _ []*G.Node) (*G.Node, error) {
				return G.MaxPool2D(xn, gt.Shape{tc.k, tc.k}, []int{tc.p, tc.p}, []int{tc.s, tc.s})
			})
			l := NewMaxPool2D(tc.k, tc.s, tc.p)
			assertClose(t, "y", l.Forward(x), want, 0)
			assertClose(t, "dx", l.Backward(r), wantDx, 1e-6)
			checkLayerGrad(t, l, x, 1e-2)
		})
	}
}

func TestPoolSameAndPadded(t *testing.T) {
	for _, tc := range []struct {
		name             string
		avg, same        bool
		k, s, p          int
		h, w             int
		oh, ow, top, lft int // expected geometry, worked out by hand
	}{
		{"max same k3s2 h5w4", false, true, 3, 2, 0, 5, 4, 3, 2, 1, 0},
		{"max same k2s2 h5w6", false, true, 2, 2, 0, 5, 6, 3, 3, 0, 0},
		{"max same k3s1 h4w4", false, true, 3, 1, 0, 4, 4, 4, 4, 1, 1},
		{"avg k3s2p1 h7w6", true, false, 3, 2, 1, 7, 6, 4, 3, 1, 1},
		{"avg k2s2 h6w7", true, false, 2, 2, 0, 6, 7, 3, 3, 0, 0},
		{"avg same k3s2 h5w4", true, true, 3, 2, 0, 5, 4, 3, 2, 1, 0},
		{"avg same k3s1 h4w5", true, true, 3, 1, 0, 4, 5, 4, 5, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := distinctTensor(9, 2, 2, tc.h, tc.w)
			var l Layer
			switch {
			case tc.avg && tc.same:
				l = NewAvgPool2DSame(tc.k, tc.s)
			case tc.avg:
				l = NewAvgPool2D(tc.k, tc.s, tc.p)
			case tc.same:
				l = NewMaxPool2DSame(tc.k, tc.s)
			default:
				l = NewMaxPool2D(tc.k, tc.s, tc.p)
			}
			want := poolRef(x, tc.k, tc.s, tc.top, tc.lft, tc.oh, tc.ow, tc.avg)
			assertClose(t, "y", l.Forward(x), want, 1e-6)
			checkLayerGrad(t, l, x, 1e-2)
		})
	}
}

func TestMaxPoolTiesAndNaN(t *testing.T) {
	x := tensor.FromData([]float32{
		1, 1, 2, float32(math.NaN()),
		0, 1, 2, 5,
	}, 1, 1, 2, 4)
	l := NewMaxPool2D(2, 2, 0)
	y := l.Forward(x)
	if y.Data[0] != 1 || !math.IsNaN(float64(y.Data[1])) {
		t.Fatalf("y = %v, want [1 NaN]", y.Data)
	}
	dx := l.Backward(tensor.FromData([]float32{1, 1}, 1, 1, 1, 2))
	// The tie in the first window goes to its first element; the NaN
	// window's gradient must land on exactly one of its own elements.
	if dx.Data[0] != 1 || dx.Data[1] != 0 || dx.Data[4] != 0 || dx.Data[5] != 0 {
		t.Fatalf("dx = %v, want the tie routed to element 0 only", dx.Data)
	}
	if s := dx.Data[2] + dx.Data[3] + dx.Data[6] + dx.Data[7]; s != 1 {
		t.Fatalf("dx = %v, want the second window's gradient routed once", dx.Data)
	}
}

func TestPoolTooSmallInput(t *testing.T) {
	y := NewMaxPool2D(3, 2, 0).Forward(tensor.New(1, 2, 2, 2))
	if y.Len() != 0 {
		t.Fatalf("3x3 pool of a 2x2 input gave %v, want an empty output", y.Shape)
	}
}

func TestGlobalAvgPoolAgainstGorgonia(t *testing.T) {
	x := randTensor(12, 2, 3, 5, 4)
	want, r, wantDx, _ := gorgoniaOracle(t, x, func(_ *G.ExprGraph, xn *G.Node, _ []*G.Node) (*G.Node, error) {
		// GlobalAveragePool2D has no symbolic gradient in gorgonia (and
		// chained Means divide wrongly there): sum twice and scale.
		m, err := G.Sum(xn, 3)
		if err != nil {
			return nil, err
		}
		if m, err = G.Sum(m, 2); err != nil {
			return nil, err
		}
		if m, err = G.Mul(m, G.NewConstant(1.0/20)); err != nil {
			return nil, err
		}
		return G.Reshape(m, gt.Shape{2, 3, 1, 1})
	})
	l := NewGlobalAvgPool()
	y := l.Forward(x)
	assertClose(t, "y", y, want, 1e-6)
	assertClose(t, "dx", l.Backward(r), wantDx, 1e-6)
	checkLayerGrad(t, l, x, 1e-2)
}

func TestPoolsDoNotAllocate(t *testing.T) {
	x := randTensor(2, 1, 8, 17, 16)
	for _, l := range []Layer{NewMaxPool2D(2, 2, 0), NewMaxPool2D(3, 2, 1), NewMaxPool2DSame(3, 2), NewAvgPool2D(3, 1, 1), NewGlobalAvgPool()} {
		dy := l.Forward(x).Clone()
		allocs := testing.AllocsPerRun(5, func() {
			l.Forward(x)
			l.Backward(dy)
		})
		if allocs != 0 {
			t.Errorf("%T: %v allocations per forward+backward, want 0", l, allocs)
		}
	}
}

func BenchmarkMaxPool(b *testing.B) {
	for _, sz := range benchSizes {
		for _, cfg := range []struct {
			name    string
			k, s, p int
		}{{"2x2s2", 2, 2, 0}, {"3x3s2p1", 3, 2, 1}} {
			b.Run(sz.name+"/"+cfg.name, func(b *testing.B) {
				x := randTensor(1, 1, sz.c, sz.h, sz.w)
				l := NewMaxPool2D(cfg.k, cfg.s, cfg.p)
				dy := l.Forward(x).Clone()
				l.Backward(dy)
				b.ReportAllocs()
				b.SetBytes(int64(4 * len(x.Data)))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					l.Forward(x)
					l.Backward(dy)
				}
			})
		}
	}
}
