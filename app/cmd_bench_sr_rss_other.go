//go:build !unix

package app

import "os"

// childPeakRSS is 0 where the system does not report a child's peak
// resident memory.
func childPeakRSS(*os.ProcessState) int64 { return 0 }
