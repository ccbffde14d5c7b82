//go:build race

package app

// raceDetector keeps the network runs of the sr-eval test out of race
// builds, which slow them about tenfold.
const raceDetector = true
