package nn

import (
	"runtime"
	"testing"
)

func TestWorkers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	defer SetWorkers(0)
	for _, tc := range []struct{ limit, want int }{{0, 3}, {2, 2}, {1, 1}, {5, 3}, {-1, 3}} {
		SetWorkers(tc.limit)
		if got := Workers(); got != tc.want {
			t.Errorf("GOMAXPROCS 3, SetWorkers(%d): Workers() = %d, want %d", tc.limit, got, tc.want)
		}
	}
	// The convolutions split their work by Workers(), not GOMAXPROCS.
	SetWorkers(2)
	e := newWinograd(256, 256)
	e.fma, e.amx = false, false
	if p := e.plan(256, 256, 64, 64, 0); p.workers != 2 {
		t.Errorf("a convolution planned for %d workers under SetWorkers(2), want 2", p.workers)
	}
}
