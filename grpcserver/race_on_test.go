//go:build race

package grpcserver_test

// raceEnabled: the race detector is on. The v5.1.2 Go client races with itself (metric.go:
// defaultClientMeterProvider.Reset, run for every Settings reply, against isEnabled in every
// send/ack hook), so the tests that run it skip under -race; the raw protocol tests still run.
const raceEnabled = true
