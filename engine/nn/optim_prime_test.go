package nn

import (
	"math"
	"testing"
)

// TestLBFGSPrime checks that a primed Step does not evaluate the starting
// point again and takes the same step as an unprimed one, and that a point
// changed after priming is evaluated afresh.
func TestLBFGSPrime(t *testing.T) {
	const n = 50
	start := make([]float32, n)
	for i := range start {
		start[i] = float32(math.Cos(float64(i)))
	}
	calls := 0
	f := func(x, g []float32) float64 {
		calls++
		s := 0.0
		for i, v := range x {
			h := float32(1 + i%5)
			g[i] = h * (v - 0.5)
			s += float64(h*(v-0.5)*(v-0.5)) / 2
		}
		return s
	}
	for _, tc := range []struct {
		name      string
		prime     bool
		moveAfter bool
		saved     int // evaluations saved against the unprimed step
	}{
		{"unprimed", false, false, 0},
		{"primed", true, false, 1},
		{"moved after priming", true, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := append([]float32(nil), start...)
			ref := append([]float32(nil), start...)
			calls = 0
			NewLBFGS(n, 5).Step(ref, f)
			want := calls

			o := NewLBFGS(n, 5)
			g := make([]float32, n)
			loss := f(x, g)
			if tc.prime {
				o.Prime(x, loss, g)
			}
			if tc.moveAfter {
				x[0] += 1
				ref = nil
			}
			calls = 0
			if _, err := o.Step(x, f); err != nil {
				t.Fatal(err)
			}
			if calls != want-tc.saved {
				t.Errorf("%d evaluations, want %d", calls, want-tc.saved)
			}
			if ref != nil {
				for i := range x {
					if x[i] != ref[i] {
						t.Fatalf("x[%d] = %v after the step, %v unprimed", i, x[i], ref[i])
					}
				}
			}
		})
	}
}
