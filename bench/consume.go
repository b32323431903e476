package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/bench/report"
	"github.com/mqstore/mqstore/client"
)

// pullBatch is the maxMsgNums of the bench's pulls (the Java push
// consumer's pullBatchSize is 32).
const pullBatch = 32

// target is how many messages the consumers must receive; final once the
// producers are done and the number is known.
type target struct {
	want  atomic.Int64
	final atomic.Bool
	// pulling, when set, is closed once every queue's pull goroutine is about to
	// send its first pull: e2e starts its producers then, so that the consumers'
	// start-up (clients, route lookup, broker connection) is not counted as latency.
	pulling chan struct{}
}

// consumeLoad pulls every queue of the run's topics, one goroutine per queue
// over -consumers client connections, until the target is reached (or, once
// it is final, nothing arrived for idle). Each pull's round trip is recorded
// in rec, or with e2e each message's age since its send.
func consumeLoad(ctx context.Context, cfg *Config, e *env, rec *report.Recorder, tgt *target, e2e bool, idle time.Duration) (int64, error) {
	var cs []*client.PullConsumer
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	group := e.consumerGroup
	for i := 0; i < cfg.Consumers; i++ {
		c, err := client.NewPullConsumer(append([]client.Option{client.WithNameServer(e.nsAddr), client.WithGroup(group),
			client.WithInstanceName(instance("consumer")), client.WithSuspendTimeout(time.Second), client.WithLogger(quiet)},
			clientOptions(cfg)...)...)
		if err != nil {
			return 0, err
		}
		cs = append(cs, c)
	}
	var queues []client.MessageQueue
	for t := 0; t < cfg.Topics; t++ {
		qs, err := cs[0].Queues(ctx, cfg.topicName(t))
		if err != nil {
			return 0, err
		}
		queues = append(queues, qs...)
	}

	pullCtx, stop := context.WithCancel(ctx)
	defer stop()
	var consumed atomic.Int64
	var lastProgress atomic.Int64 // unix ns
	lastProgress.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	var started sync.WaitGroup
	started.Add(len(queues))
	for i, q := range queues {
		wg.Add(1)
		go func(c *client.PullConsumer, q client.MessageQueue) {
			defer wg.Done()
			offset := int64(0)
			lat := make([]time.Duration, 0, pullBatch)
			started.Done()
			for pullCtx.Err() == nil {
				t0 := time.Now()
				res, err := c.Pull(pullCtx, q, offset, pullBatch)
				if err != nil {
					if pullCtx.Err() != nil || errors.Is(err, context.Canceled) {
						return
					}
					rec.Error()
					errOnce.Do(func() { firstErr = err })
					time.Sleep(10 * time.Millisecond)
					continue
				}
				offset = res.NextBeginOffset
				n := len(res.Messages)
				if n == 0 {
					continue
				}
				now := time.Now()
				if slowLog != nil {
					logSlowPull(int(q.QueueID), t0, now, res.Messages)
				}
				if e2e {
					lat = lat[:0]
					for i := range res.Messages {
						lat = append(lat, bodyAge(res.Messages[i].Body, now))
					}
					rec.RecordLatencies(lat)
					rec.Count(n, n*cfg.Size)
				} else {
					rec.Record(now.Sub(t0), n, n*cfg.Size)
				}
				consumed.Add(int64(n))
				lastProgress.Store(now.UnixNano())
			}
		}(cs[i%len(cs)], q)
	}
	started.Wait()
	if tgt.pulling != nil {
		close(tgt.pulling)
	}
	// Supervise: stop at the target, or when it is final and nothing came
	// for idle.
	for {
		time.Sleep(5 * time.Millisecond)
		if ctx.Err() != nil {
			break
		}
		if tgt.final.Load() {
			if consumed.Load() >= tgt.want.Load() {
				break
			}
			if time.Since(time.Unix(0, lastProgress.Load())) > idle {
				break
			}
		}
	}
	stop()
	wg.Wait()
	return consumed.Load(), firstErr
}

// runConsume fills the topics (-n messages, or what producers send in
// -duration), then consumes them all; the report covers the consumption.
func runConsume(ctx context.Context, cfg *Config, e *env, progress io.Writer) (*report.Report, error) {
	ps, closeAll, err := newProducers(cfg, e)
	if err != nil {
		return nil, err
	}
	fill := report.NewRecorder()
	fill.StartProgress(progress, "fill", cfg.Size, cfg.Progress)
	fillCfg := *cfg
	if fillCfg.Batch == 1 {
		fillCfg.Batch = 32 // the fill is not measured: fill fast
	}
	sent, err := sendLoad(ctx, &fillCfg, ps, newBudget(cfg), fill, false, 0)
	fill.StopProgress()
	closeAll()
	if err != nil {
		return nil, fmt.Errorf("fill: %w", err)
	}
	if _, err := storedCount(ctx, cfg, e, sent, 10*time.Second); err != nil {
		return nil, err
	}

	rec := report.NewRecorder()
	rec.StartProgress(progress, ModeConsume, cfg.Size, cfg.Progress)
	tgt := &target{}
	tgt.want.Store(sent)
	tgt.final.Store(true)
	consumed, err := consumeLoad(ctx, cfg, e, rec, tgt, false, 5*time.Second)
	rep := rec.Finish(ModeConsume)
	rep.Sent, rep.Stored, rep.Consumed, rep.Consumers = sent, sent, consumed, cfg.Consumers
	if err != nil {
		return rep, err
	}
	if consumed != sent {
		return rep, fmt.Errorf("bench: %d messages sent but %d consumed", sent, consumed)
	}
	return rep, nil
}

// runE2E sends and consumes at once: the latency is each message's age at
// receipt, from the timestamp in its body.
func runE2E(ctx context.Context, cfg *Config, e *env, progress io.Writer) (*report.Report, error) {
	ps, closeAll, err := newProducers(cfg, e)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	rec := report.NewRecorder()
	sendRec := report.NewRecorder()
	rec.StartProgress(progress, ModeE2E, cfg.Size, cfg.Progress)
	tgt := &target{pulling: make(chan struct{})}
	type result struct {
		n   int64
		err error
	}
	consumed := make(chan result, 1)
	go func() {
		n, err := consumeLoad(ctx, cfg, e, rec, tgt, true, 10*time.Second)
		consumed <- result{n, err}
	}()
	select {
	case <-tgt.pulling:
	case got := <-consumed: // the consumers failed to start
		if got.err == nil {
			got.err = errors.New("bench: consumers stopped before pulling")
		}
		return nil, got.err
	}
	// MQBENCH_PRIME=k (issue 19 diagnostics): k messages per queue are sent and
	// received before the measured run, so that a fresh store creates the
	// queues' files (and the clients warm up) outside it.
	var primed int64
	if k, err := strconv.Atoi(os.Getenv("MQBENCH_PRIME")); err == nil && k > 0 {
		pre := &budget{n: int64(k * cfg.Queues * cfg.Topics)}
		n, err := sendLoad(ctx, cfg, ps, pre, report.NewRecorder(), true, 0)
		if err != nil {
			return nil, err
		}
		primed = n
		for rec.Messages() < primed && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
	}
	rec.Restart()
	// MQBENCH_WARMUP=duration (issue 19 diagnostics): the latencies of the first
	// duration of sending are dropped, to see the steady state apart from the
	// start of a fresh store (first segment, first consume queue files).
	if d, err := time.ParseDuration(os.Getenv("MQBENCH_WARMUP")); err == nil && d > 0 {
		t := time.AfterFunc(d, rec.Restart)
		defer t.Stop()
	}
	sent, sendErr := sendLoad(ctx, cfg, ps, newBudget(cfg), sendRec, true, cfg.Rate)
	sent += primed
	tgt.want.Store(sent)
	tgt.final.Store(true)
	got := <-consumed
	rep := rec.Finish(ModeE2E)
	if os.Getenv("MQBENCH_SENDLAT") != "" { // issue 19 diagnostics: send → ack latency of the same run
		sr := sendRec.Finish(ModeE2E)
		fmt.Fprintf(os.Stderr, "send-ack p50 %.0f p90 %.0f p99 %.0f p99.9 %.0f max %.0f us\n", sr.P50us, sr.P90us, sr.P99us, sr.P999us, sr.MaxUs)
	}
	rep.Sent, rep.Consumed, rep.Consumers = sent, got.n, cfg.Consumers
	if sendErr != nil {
		return rep, sendErr
	}
	if got.err != nil {
		return rep, got.err
	}
	if got.n != sent {
		return rep, fmt.Errorf("bench: %d messages sent but %d consumed", sent, got.n)
	}
	return rep, nil
}
