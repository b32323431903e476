// Command mqbench benchmarks mqstore: in-process (store), over the wire
// against an embedded or running server (produce, consume, txn, e2e), and
// NATS JetStream as a peer (peer), with the machine's ceilings (ceilings).
// The logic is in package bench.
//
//	mqbench produce -size 1024 -n 1000000 -window 256 -flush async -json
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/mqstore/mqstore/bench"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "grpc" { // RocketMQ 5 clients over gRPC (grpc.go)
		os.Exit(runGRPC(os.Args[2:]))
	}
	cfg, err := bench.ParseArgs(os.Args[1:], os.Stderr)
	if err != nil {
		if !errors.Is(err, bench.ErrUsage) || len(os.Args) > 1 {
			fmt.Fprintln(os.Stderr, "mqbench:", err)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := bench.Run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mqbench:", err)
		os.Exit(1)
	}
}
