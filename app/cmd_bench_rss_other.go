//go:build !unix

package app

// peakRSS returns 0: this system's peak resident set size is not read.
func peakRSS() int64 { return 0 }
