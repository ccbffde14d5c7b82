package nn

import (
	"math"
	"testing"
)

// TestFirstStepLR checks that an LBFGS whose LR comes from FirstStepLR moves
// the entry with the largest gradient by the asked amount on its first
// step (a linear objective, so the line search accepts the first trial).
func TestFirstStepLR(t *testing.T) {
	slope := []float32{0.5, -2, 0.25, 1}
	f := func(x, grad []float32) float64 {
		s := 0.0
		for i := range x {
			grad[i] = slope[i]
			s += float64(slope[i]) * float64(x[i])
		}
		return s
	}
	x := make([]float32, len(slope))
	o := NewLBFGS(len(x), 5)
	o.NoLineSearch = true
	o.LR = FirstStepLR(slope, 32)
	if _, err := o.Step(x, f); err != nil {
		t.Fatal(err)
	}
	if got := math.Abs(float64(x[1])); math.Abs(got-32) > 1e-3 {
		t.Fatalf("largest-gradient entry moved %v, want 32 (x=%v)", got, x)
	}
	for _, bad := range [][]float32{{0, 0}, {float32(math.Inf(1)), 1}, {float32(math.NaN())}} {
		if lr := FirstStepLR(bad, 32); lr != 1 {
			t.Fatalf("FirstStepLR(%v) = %v, want 1", bad, lr)
		}
	}
}
