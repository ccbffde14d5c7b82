//go:build race

package app

// benchUnderRace reports whether tests run under the race detector, which
// makes preparing the full VGG's weights take tens of seconds.
const benchUnderRace = true
