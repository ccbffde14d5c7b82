//go:build unix

package app

import (
	"os"
	"runtime"
	"syscall"
)

// childPeakRSS is the peak resident set size in bytes of a finished child
// process, or 0 where the system does not say.
func childPeakRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss) // bytes there
	}
	return int64(ru.Maxrss) * 1024 // KiB on Linux and the BSDs
}
