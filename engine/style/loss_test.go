package style

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"atelier/engine/tensor"
)

// randTensor fills a tensor of the given shape with values in [lo, hi).
func randTensor(rng *rand.Rand, lo, hi float64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return t
}

func to64(t *tensor.Tensor) []float64 {
	out := make([]float64, len(t.Data))
	for i, v := range t.Data {
		out[i] = float64(v)
	}
	return out
}

// Float64 references, written independently of the float32 code.

func gramRef(f []float64, n, c, m int) []float64 {
	g := make([]float64, n*c*c)
	for b := 0; b < n; b++ {
		for i := 0; i < c; i++ {
			for j := 0; j < c; j++ {
				var s float64
				for p := 0; p < m; p++ {
					s += f[(b*c+i)*m+p] * f[(b*c+j)*m+p]
				}
				g[(b*c+i)*c+j] = s / float64(c*m)
			}
		}
	}
	return g
}

func styleRef(f, a []float64, n, c, m int, w float64) float64 {
	g := gramRef(f, n, c, m)
	var s float64
	for b := 0; b < n; b++ {
		for i := 0; i < c*c; i++ {
			d := g[b*c*c+i] - a[i]
			s += d * d
		}
	}
	return w * s / float64(c*c)
}

func contentRef(f, p []float64, w float64) float64 {
	var s float64
	for i := range f {
		d := f[i] - p[i]
		s += d * d
	}
	return w * s / float64(len(f))
}

func tvRef(x []float64, n, c, h, w int, wt float64) float64 {
	var s float64
	at := func(p, y, i int) float64 { return x[(p*h+y)*w+i] }
	for p := 0; p < n*c; p++ {
		for y := 0; y < h; y++ {
			for i := 0; i < w; i++ {
				if i+1 < w {
					d := at(p, y, i+1) - at(p, y, i)
					s += d * d
				}
				if y+1 < h {
					d := at(p, y+1, i) - at(p, y, i)
					s += d * d
				}
			}
		}
	}
	return wt * s / float64(n*c*h*w)
}

// numGrad is the float64 central-difference gradient of loss at x.
func numGrad(x []float64, loss func([]float64) float64, eps float64) []float64 {
	g := make([]float64, len(x))
	for i := range x {
		v := x[i]
		x[i] = v + eps
		fp := loss(x)
		x[i] = v - eps
		fm := loss(x)
		x[i] = v
		g[i] = (fp - fm) / (2 * eps)
	}
	return g
}

// checkGrad compares an analytic float32 gradient with a numeric one,
// relative to the largest numeric entry.
func checkGrad(t *testing.T, got *tensor.Tensor, want []float64, tol float64) {
	t.Helper()
	var scale, worst float64
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	if scale == 0 {
		t.Fatal("numeric gradient is zero everywhere: the check would be empty")
	}
	for i, v := range want {
		worst = math.Max(worst, math.Abs(float64(got.Data[i])-v))
	}
	if worst > tol*scale {
		t.Fatalf("gradient differs from central differences by %.3g (largest entry %.3g, tolerance %.3g)", worst, scale, tol*scale)
	}
}

// checkLoss compares a float32-path loss with its float64 reference.
func checkLoss(t *testing.T, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-5*math.Abs(want)+1e-12 {
		t.Fatalf("loss %.9g, float64 reference %.9g", got, want)
	}
}

// offset is added to every gradient buffer before a loss runs, to check
// that losses accumulate into it rather than overwrite it.
const offset = 0.25

func withOffset(shape []int) *tensor.Tensor {
	g := tensor.New(shape...)
	for i := range g.Data {
		g.Data[i] = offset
	}
	return g
}

func minusOffset(g *tensor.Tensor) *tensor.Tensor {
	out := g.Clone()
	for i := range out.Data {
		out.Data[i] -= offset
	}
	return out
}

func TestGram(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, sh := range [][4]int{{1, 3, 4, 5}, {2, 7, 3, 3}, {1, 16, 9, 11}} {
		t.Run(fmt.Sprint(sh), func(t *testing.T) {
			f := randTensor(rng, 0, 4, sh[:]...)
			g := Gram(nil, f)
			if want := []int{sh[0], sh[1], sh[1]}; !tensor.ShapeEqual(g.Shape, want) {
				t.Fatalf("shape %v, want %v", g.Shape, want)
			}
			ref := gramRef(to64(f), sh[0], sh[1], sh[2]*sh[3])
			for i, v := range ref {
				if math.Abs(float64(g.Data[i])-v) > 1e-5*math.Abs(v)+1e-6 {
					t.Fatalf("G[%d] = %v, want %v", i, g.Data[i], v)
				}
			}
			// The buffer is reused.
			if g2 := Gram(g, f); &g2.Data[0] != &g.Data[0] {
				t.Fatal("Gram did not reuse its destination")
			}
		})
	}
}

func TestContentLossGradient(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, tc := range []struct {
		shape []int
		w     float64
	}{{[]int{1, 3, 4, 5}, 1}, {[]int{2, 5, 3, 2}, 5}, {[]int{1, 8, 6, 6}, 0.3}} {
		t.Run(fmt.Sprint(tc.shape, tc.w), func(t *testing.T) {
			f := randTensor(rng, -2, 2, tc.shape...)
			p := randTensor(rng, -2, 2, tc.shape...)
			g := withOffset(tc.shape)
			got := ContentLoss(f, p, tc.w, g)
			pv := to64(p)
			loss := func(x []float64) float64 { return contentRef(x, pv, tc.w) }
			checkLoss(t, got, loss(to64(f)))
			checkLoss(t, ContentLoss(f, p, tc.w, nil), got)
			checkGrad(t, minusOffset(g), numGrad(to64(f), loss, 1e-4), 1e-4)
		})
	}
}

func TestStyleLossGradient(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, tc := range []struct {
		shape []int
		w     float64
	}{{[]int{1, 3, 4, 5}, 1}, {[]int{2, 4, 3, 3}, 100}, {[]int{1, 6, 5, 7}, 0.01}} {
		t.Run(fmt.Sprint(tc.shape, tc.w), func(t *testing.T) {
			n, c, h, w := tc.shape[0], tc.shape[1], tc.shape[2], tc.shape[3]
			f := randTensor(rng, 0, 3, tc.shape...)
			// A target from another image, so the loss is far from 0.
			a := Gram(nil, randTensor(rng, 0, 1.5, 1, c, h+1, w)).Reshape(c, c)
			av := to64(a)
			g := withOffset(tc.shape)
			var sl StyleLayer
			got := sl.Loss(f, a, tc.w, g)
			loss := func(x []float64) float64 { return styleRef(x, av, n, c, h*w, tc.w) }
			checkLoss(t, got, loss(to64(f)))
			// 5e-3 of the largest entry: the float32 Gram difference G-A cancels,
			// and its rounding depends on the BLAS's summation order (the
			// pure-Go gonum build lands near 3e-3). A wrong factor is far larger.
			checkGrad(t, minusOffset(g), numGrad(to64(f), loss, 1e-4), 5e-3)
			// Without a gradient the loss is the same.
			checkLoss(t, sl.Loss(f, a, tc.w, nil), got)
		})
	}
}

func TestTVLossGradient(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for _, tc := range []struct {
		shape []int
		w     float64
	}{{[]int{1, 3, 4, 5}, 1}, {[]int{2, 3, 1, 6}, 0.5}, {[]int{1, 3, 7, 1}, 2}, {[]int{1, 3, 6, 6}, 0.1}} {
		t.Run(fmt.Sprint(tc.shape, tc.w), func(t *testing.T) {
			x := randTensor(rng, 0, 255, tc.shape...)
			g := withOffset(tc.shape)
			got := TVLoss(x, tc.w, g)
			n, c, h, w := tc.shape[0], tc.shape[1], tc.shape[2], tc.shape[3]
			loss := func(v []float64) float64 { return tvRef(v, n, c, h, w, tc.w) }
			checkLoss(t, got, loss(to64(x)))
			checkLoss(t, TVLoss(x, tc.w, nil), got)
			checkGrad(t, minusOffset(g), numGrad(to64(x), loss, 1e-2), 1e-4)
		})
	}
}

// TestStyleLossZeroAtTarget checks that the loss vanishes, with its
// gradient, when the features produce the target Gram matrix.
func TestStyleLossZeroAtTarget(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	f := randTensor(rng, 0, 1, 1, 4, 5, 5)
	a := Gram(nil, f).Clone().Reshape(4, 4)
	g := tensor.New(f.Shape...)
	var sl StyleLayer
	if l := sl.Loss(f, a, 10, g); l != 0 {
		t.Fatalf("loss at the target = %v", l)
	}
	if g.Norm() != 0 {
		t.Fatalf("gradient at the target has norm %v", g.Norm())
	}
}

func BenchmarkStyleLayer(b *testing.B) {
	rng := rand.New(rand.NewSource(6))
	for _, sh := range [][4]int{{1, 64, 128, 128}, {1, 256, 32, 32}} {
		b.Run(fmt.Sprintf("%dx%dx%d", sh[1], sh[2], sh[3]), func(b *testing.B) {
			f := randTensor(rng, 0, 1, sh[:]...)
			a := Gram(nil, randTensor(rng, 0, 1, sh[:]...)).Reshape(sh[1], sh[1])
			g := tensor.New(sh[:]...)
			var sl StyleLayer
			sl.Loss(f, a, 1, g)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				sl.Loss(f, a, 1, g)
			}
		})
	}
}
