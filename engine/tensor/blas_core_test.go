package tensor

import (
	"math"
	"math/rand"
	"testing"
)

// TestSgemmManyShapes checks the kernels OpenBLAS was told to use on shapes
// like the ones the layers produce: tiny, tall, wide, odd and large-k.
func TestSgemmManyShapes(t *testing.T) {
	t.Logf("BLAS backend %s, core %s", Backend(), CoreName())
	rng := rand.New(rand.NewSource(7))
	shapes := [][3]int{{1, 1, 1}, {2, 3, 4}, {16, 16, 16}, {17, 31, 13}, {64, 576, 9}, {3, 1000, 27},
		{128, 36, 64}, {256, 257, 129}, {7, 4096, 3}, {300, 2, 500}}
	for _, s := range shapes {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				m, n, k := s[0], s[1], s[2]
				lda, ldb := k, n
				if ta {
					lda = m
				}
				if tb {
					ldb = k
				}
				a, b, c := randSlice(rng, m*k), randSlice(rng, k*n), randSlice(rng, m*n)
				want := refGemm(ta, tb, m, n, k, 1.5, a, lda, b, ldb, -0.5, c, n)
				Sgemm(ta, tb, m, n, k, 1.5, a, lda, b, ldb, -0.5, c, n)
				tol := 1e-5 * math.Sqrt(float64(k)) * 4
				for i := range c {
					if d := math.Abs(float64(c[i] - want[i])); d > tol {
						t.Fatalf("m=%d n=%d k=%d ta=%v tb=%v: c[%d]=%v want %v (core %s)", m, n, k, ta, tb, i, c[i], want[i], CoreName())
					}
				}
			}
		}
	}
}
