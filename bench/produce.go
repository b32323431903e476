package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/bench/report"
	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/remoting"
)

// instanceSeq makes every client of the process a client instance of its
// own (its own connection and client id).
var instanceSeq atomic.Int64

func instance(kind string) string {
	return fmt.Sprintf("mqbench-%s-%d-%d", kind, os.Getpid(), instanceSeq.Add(1))
}

// clientOptions are cfg's settings of every client of a run: the header form of its requests,
// the ACL credentials it signs them with, TLS.
func clientOptions(cfg *Config) []client.Option {
	opts := []client.Option{
		client.WithCredentials(cfg.AccessKey, cfg.SecretKey),
		client.WithTLSEnabled(cfg.TLS),
	}
	if cfg.Header == HeaderJSON {
		opts = append(opts, client.WithJSONHeaders())
	}
	return opts
}

// producersIO sums the IOStats of ps.
func producersIO[P interface{ IOStats() remoting.IOStats }](ps []P) remoting.IOStats {
	var t remoting.IOStats
	for _, p := range ps {
		s := p.IOStats()
		t.Reads += s.Reads
		t.FramesRead += s.FramesRead
		t.Writes += s.Writes
		t.FramesWritten += s.FramesWritten
	}
	return t
}

// serverIO returns the embedded broker's IOStats (zero with -addr).
func (e *env) serverIO() remoting.IOStats {
	if e.broker == nil {
		return remoting.IOStats{}
	}
	return e.broker.IOStats()
}

// serverIOSince is ioSince for the embedded broker; nil with -addr.
func (e *env) serverIOSince(before remoting.IOStats) *report.IO {
	if e.broker == nil {
		return nil
	}
	return ioSince(e.broker.IOStats(), before)
}

// ioSince is the report form of now - before.
func ioSince(now, before remoting.IOStats) *report.IO {
	return &report.IO{Reads: now.Reads - before.Reads, FramesRead: now.FramesRead - before.FramesRead,
		Writes: now.Writes - before.Writes, FramesWritten: now.FramesWritten - before.FramesWritten}
}

// producers are the run's producer clients, one per producer goroutine.
func newProducers(cfg *Config, e *env) ([]*client.Producer, func(), error) {
	var ps []*client.Producer
	closeAll := func() {
		for _, p := range ps {
			p.Close()
		}
	}
	for i := 0; i < cfg.Producers; i++ {
		p, err := client.NewProducer(append([]client.Option{client.WithNameServer(e.nsAddr), client.WithGroup("mqbench_producer"),
			client.WithInstanceName(instance("producer")), client.WithWindow(cfg.Window), client.WithLogger(quiet)},
			clientOptions(cfg)...)...)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		ps = append(ps, p)
	}
	return ps, closeAll, nil
}

// sendLoad drives the producers until the budget is spent: each goroutine
// keeps up to -window sends (or batches) in flight, or sends synchronously
// with -window 1. Acknowledged messages are recorded in rec with the send's
// latency. With stamp, each body carries its send time (e2e); with pace,
// the goroutines together send at most rate messages per second.
func sendLoad(ctx context.Context, cfg *Config, ps []*client.Producer, b *budget, rec *report.Recorder, stamp bool, rate int) (sent int64, firstErr error) {
	var wg sync.WaitGroup
	var acked atomic.Int64
	var errOnce sync.Once
	fail := func(err error) {
		rec.Error()
		errOnce.Do(func() { firstErr = err })
	}
	shared := body(cfg.Size)
	var bodies sync.Pool // stamped bodies, reused after their send completed
	getBody := func() []byte {
		if !stamp {
			return shared
		}
		bp, _ := bodies.Get().(*[]byte)
		if bp == nil {
			nb := body(cfg.Size)
			bp = &nb
		}
		stampBody(*bp)
		return *bp
	}
	putBody := func(bs []byte) {
		if stamp {
			bodies.Put(&bs)
		}
	}
	topics := make([]string, cfg.Topics) // named once, not per send
	for i := range topics {
		topics[i] = cfg.topicName(i)
	}
	start := time.Now()
	for i, p := range ps {
		wg.Add(1)
		go func(i int, p *client.Producer) {
			defer wg.Done()
			var inflight sync.WaitGroup
			defer inflight.Wait()
			// A send's messages, start time and callback live in a sendOp reused once the send
			// completed: mqbench allocates nothing per send of its own (its allocations would
			// count in the CPU per message it reports).
			var ops sync.Pool
			newOp := func() *sendOp {
				op, _ := ops.Get().(*sendOp)
				if op == nil {
					op = &sendOp{}
					op.done = func(_ client.SendResult, err error) {
						if err != nil {
							fail(err)
						} else {
							acked.Add(int64(op.k))
							rec.Record(time.Since(op.t0), op.k, op.k*cfg.Size)
						}
						for _, m := range op.ptrs {
							putBody(m.Body)
						}
					}
					op.asyncDone = func(res client.SendResult, err error) {
						op.done(res, err)
						ops.Put(op)
						inflight.Done()
					}
				}
				return op
			}
			seq := i
			sentHere := 0
			for ctx.Err() == nil {
				if rate > 0 {
					// Pace: this goroutine's share of rate since start.
					due := int(time.Since(start).Seconds() * float64(rate) / float64(len(ps)))
					if sentHere >= due {
						time.Sleep(100 * time.Microsecond)
						continue
					}
				}
				k := b.take(cfg.Batch)
				if k == 0 {
					return
				}
				sentHere += k
				topic := topics[seq%cfg.Topics]
				seq++
				op := newOp()
				op.fill(k, topic, getBody)
				msgs := op.ptrs
				op.t0 = time.Now()
				var err error
				switch {
				case cfg.Window == 1 && k == 1:
					var res client.SendResult
					res, err = p.Send(ctx, msgs[0])
					if err == nil {
						op.done(res, nil)
					}
					ops.Put(op)
				case cfg.Window == 1:
					var res client.SendResult
					res, err = p.SendBatch(ctx, msgs)
					if err == nil {
						op.done(res, nil)
					}
					ops.Put(op)
				case k == 1:
					inflight.Add(1)
					err = p.SendAsync(ctx, msgs[0], op.asyncDone)
					if err != nil {
						inflight.Done()
						ops.Put(op)
					}
				default:
					inflight.Add(1)
					err = p.SendBatchAsync(ctx, msgs, op.asyncDone)
					if err != nil {
						inflight.Done()
						ops.Put(op)
					}
				}
				if err != nil {
					fail(err)
				}
			}
		}(i, p)
	}
	wg.Wait()
	return acked.Load(), firstErr
}

// sendOp is one send of sendLoad: its messages, start time and callbacks (made once per op;
// ops are reused after their send completed).
type sendOp struct {
	msgs      []message.Message
	ptrs      []*message.Message
	k         int
	t0        time.Time
	done      func(client.SendResult, error) // records the result
	asyncDone func(client.SendResult, error) // done, then recycles the op
}

// fill sets the op's k messages to fresh ones of topic with bodies from getBody.
func (op *sendOp) fill(k int, topic string, getBody func() []byte) {
	if cap(op.msgs) < k {
		op.msgs = make([]message.Message, k)
		op.ptrs = make([]*message.Message, k)
	}
	op.msgs, op.ptrs, op.k = op.msgs[:k], op.ptrs[:k], k
	for j := range op.msgs {
		op.msgs[j] = message.Message{Topic: topic, Body: getBody()}
		op.ptrs[j] = &op.msgs[j]
	}
}

// runProduce: producers send; the report counts acknowledged messages, then
// checks the queues hold them all.
func runProduce(ctx context.Context, cfg *Config, e *env, progress io.Writer) (*report.Report, error) {
	ps, closeAll, err := newProducers(cfg, e)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	rec := report.NewRecorder()
	rec.StartProgress(progress, ModeProduce, cfg.Size, cfg.Progress)
	io0, sio0 := producersIO(ps), e.serverIO()
	sent, sendErr := sendLoad(ctx, cfg, ps, newBudget(cfg), rec, false, 0)
	rep := rec.Finish(ModeProduce)
	rep.ClientIO, rep.ServerIO = ioSince(producersIO(ps), io0), e.serverIOSince(sio0)
	rep.Sent = sent
	stored, err := storedCount(ctx, cfg, e, sent, 10*time.Second)
	if err != nil {
		return rep, err
	}
	rep.Stored = stored
	if sendErr != nil {
		return rep, sendErr
	}
	if stored != sent {
		return rep, fmt.Errorf("bench: %d messages acknowledged but %d in the queues", sent, stored)
	}
	return rep, nil
}
