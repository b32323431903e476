package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"

	"github.com/mqstore/mqstore/bench"
)

// runGRPC is `mqbench grpc [flags]`: RocketMQ 5 clients over mqstore's gRPC endpoint (produce,
// then receive+ack), and the remoting produce on the same workload for the ratio.
func runGRPC(args []string) int {
	cfg := bench.DefaultGRPC()
	fs := flag.NewFlagSet("mqbench grpc", flag.ContinueOnError)
	fs.StringVar(&cfg.Addr, "addr", "", "gRPC endpoint of a running mqstore (\"\" = embedded)")
	fs.StringVar(&cfg.Topic, "topic", "", "existing topic to use with -addr (\"\" = a new one on the embedded server)")
	fs.StringVar(&cfg.Dir, "dir", "", "data directory of the embedded server (\"\" = temporary)")
	fs.IntVar(&cfg.Size, "size", cfg.Size, "message body bytes")
	fs.Int64Var(&cfg.Messages, "n", cfg.Messages, "messages")
	fs.IntVar(&cfg.Producers, "producers", cfg.Producers, "producer clients")
	fs.IntVar(&cfg.Window, "window", cfg.Window, "synchronous senders (receivers) per client")
	fs.IntVar(&cfg.Consumers, "consumers", cfg.Consumers, "simple consumer clients")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "receive batch size")
	fs.BoolVar(&cfg.Remoting, "remoting", cfg.Remoting, "also run the remoting produce benchmark")
	fs.BoolVar(&cfg.Client, "client", cfg.Client, "produce with the 5.x Go client")
	fs.BoolVar(&cfg.Receive, "receive", cfg.Receive, "receive and ack what was produced")
	fs.IntVar(&cfg.RawBatch, "rawbatch", cfg.RawBatch, "messages per SendMessage request of the bare-stub producer")
	fs.StringVar(&cfg.Flush, "flush", cfg.Flush, "flush mode of the embedded servers: async or sync")
	fs.IntVar(&cfg.RemotingWindow, "remotingwindow", 0, "sends in flight per remoting producer (0: -window)")
	fs.BoolVar(&cfg.RawReceive, "rawreceive", cfg.RawReceive, "receive and ack with the bare stubs (one ack call per batch) instead of the client")
	fs.BoolVar(&cfg.Raw, "raw", cfg.Raw, "also produce with the bare generated stubs (no client library)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mqbench grpc:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "mqbench grpc:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := bench.RunGRPC(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mqbench grpc:", err)
		return 1
	}
	return 0
}
