//go:build race

package features

// raceEnabled shortens the slow float64 reference checks under the race
// detector, which slows their loops down about tenfold.
const raceEnabled = true
