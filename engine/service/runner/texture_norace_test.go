//go:build !race

package runner

// raceEnabled skips the slowest texture test under the race detector.
const raceEnabled = false
