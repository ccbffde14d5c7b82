//go:build !race

package bench

// raceWidthDiv is 1: without the race detector the tests use the full VGG.
const raceWidthDiv = 1
