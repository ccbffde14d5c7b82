//go:build !race

package app

// benchUnderRace reports whether tests run under the race detector.
const benchUnderRace = false
