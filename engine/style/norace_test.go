//go:build !race

package style

// raceEnabled skips the slowest tests under the race detector, which slows
// the pure-Go parts (decoding, resizing, loading 100 MB of weights) about
// tenfold.
const raceEnabled = false
