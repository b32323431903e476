// Command peer runs mqbench's produce workload against NATS JetStream with
// file storage, embedded in this process, and reports through package
// bench/report like mqbench does (the JSON line last with -json). It lives
// in a module of its own so that mqstore's module never requires
// nats-server; `mqbench peer` runs it as a subprocess.
//
//	go run . -size 1024 -n 200000 -producers 1 -window 256 -flush async -json
//
// -flush sync sets JetStream's sync_interval to always (one fsync per
// write); async keeps its default (sync every 2 minutes).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/mqstore/mqstore/bench/report"
)

type config struct {
	size      int
	n         int64
	duration  time.Duration
	producers int
	window    int
	flush     string
	tcp       bool
	dir       string
	json      bool
	quiet     bool
	plot      string
}

func main() {
	var c config
	flag.IntVar(&c.size, "size", 1024, "message body bytes")
	flag.Int64Var(&c.n, "n", 0, "messages to publish (0: run for -duration)")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "run time when -n is 0")
	flag.IntVar(&c.producers, "producers", 1, "publisher goroutines, each with its own connection")
	flag.IntVar(&c.window, "window", 256, "async publishes in flight per publisher (1: synchronous Publish)")
	flag.StringVar(&c.flush, "flush", "async", "async (default sync interval) or sync (sync_interval always)")
	flag.BoolVar(&c.tcp, "tcp", false, "connect over loopback TCP instead of in-process")
	flag.StringVar(&c.dir, "dir", "", "parent of the store directory (default: the temporary directory)")
	flag.BoolVar(&c.json, "json", false, "print the report as JSON on the last line")
	flag.BoolVar(&c.quiet, "quiet", false, "no progress lines")
	flag.StringVar(&c.plot, "plot", "", "write an SVG chart to this file")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	if c.size < 1 || c.producers < 1 || c.window < 1 || (c.n <= 0 && c.duration <= 0) {
		return errors.New("bad flags")
	}
	dir, err := os.MkdirTemp(c.dir, "mqbench-jetstream-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	opts := &server.Options{JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true, Host: "127.0.0.1", Port: -1}
	if !c.tcp {
		opts.DontListen = true
	}
	if c.flush == "sync" {
		opts.SyncAlways = true
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return err
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		return errors.New("nats server not ready")
	}
	connect := func() (*nats.Conn, error) {
		if c.tcp {
			return nats.Connect(ns.ClientURL())
		}
		return nats.Connect("", nats.InProcessServer(ns))
	}
	admin, err := connect()
	if err != nil {
		return err
	}
	defer admin.Close()
	ajs, err := admin.JetStream()
	if err != nil {
		return err
	}
	if _, err := ajs.AddStream(&nats.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"}, Storage: nats.FileStorage}); err != nil {
		return err
	}

	out := os.Stdout
	rec := report.NewRecorder()
	if !c.quiet {
		rec.StartProgress(out, "jetstream", c.size, time.Second)
	} else {
		rec.StartProgress(nil, "jetstream", c.size, time.Second)
	}
	var taken atomic.Int64
	deadline := time.Now().Add(c.duration)
	take := func() bool {
		if c.n > 0 {
			return taken.Add(1) <= c.n
		}
		return time.Now().Before(deadline)
	}
	payload := make([]byte, c.size)
	var acked atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	fail := func(err error) {
		rec.Error()
		firstErr.CompareAndSwap(nil, &err)
	}
	for p := 0; p < c.producers; p++ {
		nc, err := connect()
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := nc.JetStream(nats.PublishAsyncMaxPending(c.window))
		if err != nil {
			return err
		}
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			subject := fmt.Sprintf("bench.%d", p)
			if c.window == 1 {
				for take() {
					t0 := time.Now()
					if _, err := js.Publish(subject, payload); err != nil {
						fail(err)
						continue
					}
					acked.Add(1)
					rec.Record(time.Since(t0), 1, c.size)
				}
				return
			}
			// Futures are collected in order by one goroutine; the channel's
			// capacity is the window.
			type pending struct {
				f  nats.PubAckFuture
				t0 time.Time
			}
			futures := make(chan pending, c.window)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for f := range futures {
					select {
					case <-f.f.Ok():
						acked.Add(1)
						rec.Record(time.Since(f.t0), 1, c.size)
					case err := <-f.f.Err():
						fail(err)
					}
				}
			}()
			for take() {
				t0 := time.Now()
				f, err := js.PublishAsync(subject, payload)
				if err != nil {
					fail(err)
					continue
				}
				futures <- pending{f, t0}
			}
			close(futures)
			<-done
		}(p)
	}
	wg.Wait()
	rep := rec.Finish("produce")
	info, err := ajs.StreamInfo("BENCH", nats.Context(context.Background()))
	if err != nil {
		return err
	}
	rep.Target, rep.Size, rep.Flush = "jetstream", c.size, c.flush
	rep.Producers, rep.Window, rep.Batch, rep.Topics, rep.Queues = c.producers, c.window, 1, 1, 1
	rep.Sent, rep.Stored = acked.Load(), int64(info.State.Msgs)
	rep.WriteText(out)
	if c.plot != "" {
		f, err := os.Create(c.plot)
		if err != nil {
			return err
		}
		rep.WriteSVG(f, fmt.Sprintf("jetstream produce, %d B, flush %s", c.size, c.flush))
		f.Close()
	}
	if c.json {
		rep.WriteJSON(out)
	}
	if e := firstErr.Load(); e != nil {
		return *e
	}
	if rep.Stored != rep.Sent {
		return fmt.Errorf("%d publishes acknowledged but %d messages in the stream", rep.Sent, rep.Stored)
	}
	return nil
}
