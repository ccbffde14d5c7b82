//go:build race

package train

// raceEnabled skips the slowest training tests under the race detector.
const raceEnabled = true
