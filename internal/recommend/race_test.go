//go:build race

package recommend

// raceEnabled is true when the race detector is on: it makes code several
// times slower, so the timing targets are not checked.
const raceEnabled = true
