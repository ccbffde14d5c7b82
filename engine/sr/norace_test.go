//go:build !race

package sr

// raceEnabled skips the slowest network tests under the race detector.
const raceEnabled = false
