package tensor

import (
	"math/rand"
	"testing"
)

// naive reference: C = alpha*op(A)*op(B) + beta*C in float64.
func refGemm(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float32 {
	out := make([]float32, len(c))
	copy(out, c)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				var av, bv float32
				if ta {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tb {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			out[i*ldc+j] = float32(float64(alpha)*s + float64(beta)*float64(c[i*ldc+j]))
		}
	}
	return out
}

func TestSgemmAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, tc := range []struct {
		ta, tb  bool
		m, n, k int
	}{{false, false, 5, 7, 3}, {true, false, 4, 6, 9}, {false, true, 8, 3, 5}, {true, true, 6, 6, 6}, {false, false, 33, 65, 17}} {
		lda := tc.k
		if tc.ta {
			lda = tc.m
		}
		ldb := tc.n
		if tc.tb {
			ldb = tc.k
		}
		a := randSlice(rng, tc.m*tc.k)
		b := randSlice(rng, tc.k*tc.n)
		c := randSlice(rng, tc.m*tc.n)
		want := refGemm(tc.ta, tc.tb, tc.m, tc.n, tc.k, 0.7, a, lda, b, ldb, 0.3, c, tc.n)
		Sgemm(tc.ta, tc.tb, tc.m, tc.n, tc.k, 0.7, a, lda, b, ldb, 0.3, c, tc.n)
		for i := range c {
			if d := c[i] - want[i]; d > 1e-4 || d < -1e-4 {
				t.Fatalf("%+v: c[%d]=%v want %v (backend %s)", tc, i, c[i], want[i], Backend())
			}
		}
	}
}

func TestSgemmZeroK(t *testing.T) {
	c := []float32{1, 2, 3, 4}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0.5, c, 2)
	if c[3] != 2 {
		t.Fatalf("beta scaling with k=0: got %v", c)
	}
}

func TestEnsureReusesStorage(t *testing.T) {
	a := New(1, 2, 3, 4)
	b := Ensure(a, 1, 2, 3, 4)
	if &a.Data[0] != &b.Data[0] {
		t.Fatal("Ensure with the same shape must reuse the buffer")
	}
	c := Ensure(a, 1, 1, 3, 4)
	if &c.Data[0] != &a.Data[0] || c.Len() != 12 {
		t.Fatal("Ensure with a smaller shape must reuse storage")
	}
	d := Ensure(a, 2, 2, 3, 4)
	if d.Len() != 48 {
		t.Fatal("Ensure with a larger shape must allocate")
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32()*2 - 1
	}
	return s
}
