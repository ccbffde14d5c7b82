//go:build race

package nn

// raceCheckDivisor shrinks gradMaxChecks under the race detector.
const raceCheckDivisor = 4
