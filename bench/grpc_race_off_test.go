//go:build !race

package bench

const grpcClientRaces = false
