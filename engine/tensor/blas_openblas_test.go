//go:build !purego

package tensor

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestOpenBLASCoreChosen checks that a CPU with AVX2 or AVX-512 does not run
// OpenBLAS's SSE3 fallback kernels, and that the choice is not leaked to
// child processes.
func TestOpenBLASCoreChosen(t *testing.T) {
	core := CoreName()
	t.Logf("OpenBLAS core %q (chosen by Atelier: %q)", core, coreChosen)
	if coreChosen != "" && !strings.EqualFold(core, coreChosen) {
		t.Fatalf("asked OpenBLAS for %s kernels, it runs %s", coreChosen, core)
	}
	if os.Getenv("OPENBLAS_CORETYPE") == "" && coreChosen != "" {
		out, err := exec.Command("sh", "-c", "echo ${OPENBLAS_CORETYPE:-unset}").Output()
		if err != nil {
			t.Skip("no sh:", err)
		}
		if got := strings.TrimSpace(string(out)); got != "unset" {
			t.Fatalf("child process inherited OPENBLAS_CORETYPE=%s", got)
		}
	}
}
