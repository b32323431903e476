//go:build !race

package grpcserver_test

const raceEnabled = false
