package app

import (
	"os"
	"runtime"
	"testing"

	"atelier/engine/nn"
)

// TestSpareProcessor checks that the engine keeps its worker count while
// the scheduler gets one P more, and that restore undoes both.
func TestSpareProcessor(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS is set: the command keeps it")
	}
	procs := runtime.GOMAXPROCS(0)
	workers := nn.Workers()
	restore := spareProcessor()
	gotProcs, gotWorkers := runtime.GOMAXPROCS(0), nn.Workers()
	restore()
	if gotProcs != procs+1 || gotWorkers != workers {
		t.Errorf("while set: GOMAXPROCS %d, workers %d; want %d and %d", gotProcs, gotWorkers, procs+1, workers)
	}
	if p, w := runtime.GOMAXPROCS(0), nn.Workers(); p != procs || w != workers {
		t.Errorf("after restore: GOMAXPROCS %d, workers %d; want %d and %d", p, w, procs, workers)
	}
}
