// Command mqbench benchmarks mqstore: in-process (store), over the wire
// against an embedded or running server (produce, consume, txn, e2e), and
// NATS JetStream as a peer (peer), with the machine's ceilings (ceilings).
// The logic is in package bench; "mqbench help" lists the modes and
// "mqbench help MODE" describes one with its flags.
//
//	mqbench produce -size 1024 -n 1000000 -window 256 -flush async -json | jq .
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/mqstore/mqstore/bench"
	"github.com/mqstore/mqstore/internal/buildinfo"
	"github.com/mqstore/mqstore/internal/gctune"
)

func main() {
	gctune.Apply() // the embedded broker runs as mqstore does; the JetStream peer gets the same settings
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the run failed
	exitUsage = 2 // the command line is wrong
)

// run is mqbench with its arguments and output streams; it returns the exit
// code. Help asked for goes to stdout; usage errors go to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		bench.Usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "grpc": // RocketMQ 5 clients over gRPC (grpc.go; its own flags, mqbench grpc -h)
		return runGRPC(args[1:])
	case "-h", "-help", "--help", "help":
		if len(args) == 1 {
			bench.Usage(stdout)
			return exitOK
		}
		if len(args) > 2 {
			fmt.Fprintf(stderr, "mqbench: help takes one mode, got %q\n", args[1:])
			return exitUsage
		}
		if err := bench.ModeUsage(stdout, args[1]); err != nil {
			return usageError(stderr, args[1], err)
		}
		return exitOK
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, buildinfo.String("mqbench"))
		return exitOK
	}
	cfg, err := bench.ParseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		bench.ModeUsage(stdout, args[0])
		return exitOK
	}
	if err != nil {
		return usageError(stderr, args[0], err)
	}
	if _, err := bench.Run(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "mqbench:", err)
		return exitFail
	}
	return exitOK
}

// usageError reports a bad command line: the reason, then the modes (for
// an unknown mode) or where to find the mode's flags.
func usageError(stderr io.Writer, mode string, err error) int {
	msg := err.Error()
	if errors.Is(err, bench.ErrUsage) {
		msg = strings.TrimPrefix(msg, bench.ErrUsage.Error()+": ")
	}
	fmt.Fprintln(stderr, "mqbench:", msg)
	if errors.Is(err, bench.ErrUnknownMode) {
		bench.ModeList(stderr)
		fmt.Fprintln(stderr, `Run "mqbench help" for more.`)
		return exitUsage
	}
	fmt.Fprintf(stderr, "Run \"mqbench help %s\" for its flags.\n", mode)
	return exitUsage
}
