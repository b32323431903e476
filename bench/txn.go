package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/bench/report"
	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/remoting"
)

// txnListener decides each local transaction by the message's sequence
// number (its arg): the first CommitPct of every hundred commit, the next
// RollbackPct roll back, the rest stay unknown until the check-back, which
// answers CheckAnswer.
type txnListener struct {
	commitPct, rollbackPct int
	checkCommit            bool
	committed, rolledBack  atomic.Int64
	unknown, checked       atomic.Int64
	checkCommitted         atomic.Int64
}

func (l *txnListener) ExecuteLocal(_ *message.Message, _ client.SendResult, arg any) client.TransactionState {
	switch n := arg.(int) % 100; {
	case n < l.commitPct:
		l.committed.Add(1)
		return client.TransactionCommit
	case n < l.commitPct+l.rollbackPct:
		l.rolledBack.Add(1)
		return client.TransactionRollback
	}
	l.unknown.Add(1)
	return client.TransactionUnknown
}

func (l *txnListener) Check(*client.MessageExt) client.TransactionState {
	l.checked.Add(1)
	if l.checkCommit {
		l.checkCommitted.Add(1)
		return client.TransactionCommit
	}
	return client.TransactionRollback
}

// runTxn: transactional producers send half messages, run the local
// transactions and end them; then the topics are consumed and the count
// received must equal the count committed (including unknown transactions
// the check-back committed).
func runTxn(ctx context.Context, cfg *Config, e *env, progress io.Writer) (*report.Report, error) {
	if err := probeEndTransaction(ctx, e); err != nil {
		return nil, err
	}
	l := &txnListener{commitPct: cfg.CommitPct, rollbackPct: cfg.RollbackPct, checkCommit: cfg.CheckAnswer == "commit"}
	var tps []*client.TransactionProducer
	defer func() {
		for _, tp := range tps {
			tp.Close()
		}
	}()
	for i := 0; i < cfg.Producers; i++ {
		tp, err := client.NewTransactionProducer(l, append([]client.Option{client.WithNameServer(e.nsAddr), client.WithGroup("mqbench_txn"),
			client.WithInstanceName(instance("txn")), client.WithWindow(cfg.Window), client.WithLogger(quiet)},
			clientOptions(cfg)...)...)
		if err != nil {
			return nil, err
		}
		tps = append(tps, tp)
	}
	rec := report.NewRecorder()
	rec.StartProgress(progress, ModeTxn, cfg.Size, cfg.Progress)
	b := newBudget(cfg)
	payload := body(cfg.Size)
	var seq atomic.Int64
	var errOnce sync.Once
	var firstErr error
	fail := func(err error) {
		rec.Error()
		errOnce.Do(func() { firstErr = err })
	}
	topics := make([]string, cfg.Topics) // named once, not per send (as produce does)
	for i := range topics {
		topics[i] = cfg.topicName(i)
	}
	io0, sio0 := producersIO(tps), e.serverIO()
	var wg sync.WaitGroup
	for i, tp := range tps {
		wg.Add(1)
		go func(i int, tp *client.TransactionProducer) {
			defer wg.Done()
			var inflight sync.WaitGroup
			defer inflight.Wait()
			for ctx.Err() == nil && b.take(1) == 1 {
				n := int(seq.Add(1) - 1)
				msg := message.New(topics[n%cfg.Topics], payload)
				t0 := time.Now()
				if cfg.Window == 1 {
					if _, err := tp.SendInTransaction(ctx, msg, n); err != nil {
						fail(err)
						continue
					}
					rec.Record(time.Since(t0), 1, cfg.Size)
					continue
				}
				inflight.Add(1)
				err := tp.SendInTransactionAsync(ctx, msg, n, func(_ client.TransactionResult, err error) {
					defer inflight.Done()
					if err != nil {
						fail(err)
						return
					}
					rec.Record(time.Since(t0), 1, cfg.Size)
				})
				if err != nil {
					inflight.Done()
					fail(err)
				}
			}
		}(i, tp)
	}
	wg.Wait()
	rep := rec.Finish(ModeTxn)
	rep.ClientIO, rep.ServerIO = ioSince(producersIO(tps), io0), e.serverIOSince(sio0)
	rep.Sent = rep.Messages
	rep.Committed, rep.RolledBack, rep.Unknown = l.committed.Load(), l.rolledBack.Load(), l.unknown.Load()
	if firstErr != nil {
		return rep, firstErr
	}

	// Consume everything; unknown transactions wait for their check-back.
	want := rep.Committed
	idle := 3 * time.Second
	if rep.Unknown > 0 {
		idle = 15 * time.Second
		if l.checkCommit {
			want += rep.Unknown
		}
	}
	tgt := &target{}
	tgt.want.Store(want)
	tgt.final.Store(true)
	crec := report.NewRecorder()
	consumed, err := consumeLoad(ctx, cfg, e, crec, tgt, false, idle)
	rep.Consumed, rep.Checked = consumed, l.checked.Load()
	rep.Committed += l.checkCommitted.Load()
	if err != nil {
		return rep, err
	}
	if consumed != rep.Committed {
		return rep, fmt.Errorf("bench: %d transactions committed but %d messages consumed", rep.Committed, consumed)
	}
	return rep, nil
}

// ErrNoEndTransaction: the broker answers END_TRANSACTION with
// REQUEST_CODE_NOT_SUPPORTED, so transactions cannot complete.
var ErrNoEndTransaction = errors.New("bench: the broker does not support END_TRANSACTION")

// probeEndTransaction sends END_TRANSACTION without its fields, as a two-way
// request, to every master: a broker that serves the code answers an error
// (or nothing, for an unknown state); one that does not answers
// REQUEST_CODE_NOT_SUPPORTED.
func probeEndTransaction(ctx context.Context, e *env) error {
	brokers, _, err := e.admin.ClusterInfo(ctx)
	if err != nil {
		return err
	}
	rc, err := remoting.NewClient(remoting.Options{Logger: quiet})
	if err != nil {
		return err
	}
	defer rc.Close()
	for _, b := range brokers {
		addr, ok := b.BrokerAddrs[0]
		if !ok {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := rc.Invoke(cctx, addr, remoting.NewRequest(remoting.RequestEndTransaction))
		cancel()
		if err == nil {
			code := resp.ResponseCode()
			resp.Release()
			if code == remoting.ResponseRequestCodeNotSupported {
				return fmt.Errorf("%w (%s)", ErrNoEndTransaction, addr)
			}
		}
	}
	return nil
}
