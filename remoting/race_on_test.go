//go:build race

package remoting

// raceEnabled: the race detector is on (sync.Pool drops items at random, so allocation counts
// are not checked).
const raceEnabled = true
