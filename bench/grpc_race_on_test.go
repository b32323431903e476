//go:build race

package bench

// grpcClientRaces: the v5.1.2 Go client races with itself (its metric.go), so the test that runs
// it skips under -race.
const grpcClientRaces = true
