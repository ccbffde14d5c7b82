//go:build race

package bench

// raceWidthDiv narrows the test networks under the race detector, which
// slows the weight preparation of the full VGG tenfold.
const raceWidthDiv = 4
