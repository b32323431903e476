package chaos

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// Outcome of a send, as the client saw it.
type outcome int

const (
	// pending: no answer yet (the run ended first); treated as indeterminate.
	pending outcome = iota
	// ok: acknowledged with a queue and an offset.
	ok
	// failed: definitively not stored. Only a single attempt (no client retry) answered
	// SERVICE_NOT_AVAILABLE (14) — the broker refused before proposing, or its proposal was
	// superseded — or refused before sending (no route).
	failed
	// indeterminate: a timeout, a broken connection, a retried attempt, any other error: the
	// message may or may not be stored.
	indeterminate
)

func (o outcome) String() string {
	return [...]string{"pending", "ok", "failed", "indeterminate"}[o]
}

// op is one send of a unique body.
type op struct {
	body    string
	kind    string // sync, sync-retry, async, txn
	retries int    // the client's retry budget for this send
	start   time.Time
	end     time.Time
	outcome outcome
	queue   int
	offset  int64
	err     string
}

// history is every operation of a run.
type history struct {
	// mu guards ops and received.
	mu       sync.Mutex
	ops      []*op
	received []receipt // what the push consumer delivered
}

// receipt is one message the push consumer delivered.
type receipt struct {
	queue  int
	offset int64
	body   string
}

func (h *history) add(o *op) {
	h.mu.Lock()
	h.ops = append(h.ops, o)
	h.mu.Unlock()
}

func (h *history) finish(o *op, res *primitive.SendResult, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	o.end = time.Now()
	o.outcome = classify(o.retries, res, err)
	if o.outcome == ok {
		o.queue, o.offset = res.MessageQueue.QueueId, res.QueueOffset
	} else if err != nil {
		o.err = err.Error()
	} else if res != nil {
		o.err = fmt.Sprintf("send status %d", res.Status)
	}
}

// classify maps a send's answer to an outcome (see the outcome constants).
func classify(retries int, res *primitive.SendResult, err error) outcome {
	switch {
	case err == nil && res != nil && res.Status == primitive.SendOK:
		return ok
	case err == nil:
		return indeterminate // FLUSH_*_TIMEOUT, SLAVE_NOT_AVAILABLE: stored, not confirmed
	case retries == 0 && strings.Contains(err.Error(), forwardFailed):
		return indeterminate // the follower sent it to the leader and lost the answer (docs/CHAOS.md, findings)
	case retries == 0 && (strings.HasPrefix(err.Error(), "CODE: 14,") || strings.Contains(err.Error(), "route info not found")):
		return failed
	default:
		return indeterminate
	}
}

// forwardFailed is in the remark of the SYSTEM_ERROR a follower answers when the request it
// forwarded to the leader got no answer (a broken connection, a timeout): the leader may have
// stored it, so the outcome is unknown (docs/CHAOS.md, findings).
const forwardFailed = "lost the leader's answer"

// snapshot copies the history for the checker.
func (h *history) snapshot() ([]op, []receipt) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ops := make([]op, len(h.ops))
	for i, o := range h.ops {
		ops[i] = *o
	}
	return ops, append([]receipt(nil), h.received...)
}

// workload runs the clients until stop: sync producers (one without retries, whose refusals are
// definite, one with the client's retries), an async producer, optionally a transactional
// producer, and a push consumer.
type workload struct {
	ns      string
	h       *history
	budget  int64 // total sends allowed
	sent    atomic.Int64
	txn     bool
	txnNote string // why the transactional producer is off

	stop chan struct{}
	wg   sync.WaitGroup
	push rocketmq.PushConsumer
}

// reopenAfter is how long a producer keeps failing before the workload replaces it with a new
// client instance: rocketmq-client-go learns a new master address only at its 30 s route poll,
// and a fresh instance asks the name server at once (an application's reconnect; the group's
// stable leader address makes it unnecessary).
const reopenAfter = 2 * time.Second

func (w *workload) take() bool {
	select {
	case <-w.stop:
		return false
	default:
	}
	return w.sent.Add(1) <= w.budget
}

func newProducer(ns, group string, retries int) (rocketmq.Producer, error) {
	p, err := rocketmq.NewProducer(producer.WithNameServer([]string{ns}), producer.WithGroupName(group),
		producer.WithInstanceName(instance(group)), producer.WithSendMsgTimeout(3*time.Second), producer.WithRetry(retries))
	if err != nil {
		return nil, err
	}
	return p, p.Start()
}

// syncProducer sends one body at a time.
func (w *workload) syncProducer(kind string, retries int) {
	defer w.wg.Done()
	group := "chaos-" + kind
	p, err := newProducer(w.ns, group, retries)
	if err != nil {
		panic(err)
	}
	var failingSince time.Time
	for i := 0; w.take(); i++ {
		o := &op{body: fmt.Sprintf("%s-%d", kind, i), kind: kind, retries: retries, start: time.Now()}
		w.h.add(o)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(o.body)))
		cancel()
		w.h.finish(o, res, err)
		if err == nil {
			failingSince = time.Time{}
			continue
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
		} else if time.Since(failingSince) > reopenAfter {
			p.Shutdown()
			if p, err = newProducer(w.ns, group, retries); err != nil {
				panic(err)
			}
			failingSince = time.Time{}
		}
		select {
		case <-w.stop:
		case <-time.After(100 * time.Millisecond):
		}
	}
	p.Shutdown()
}

// asyncProducer keeps up to 8 sends in flight.
func (w *workload) asyncProducer() {
	defer w.wg.Done()
	const kind, group = "async", "chaos-async"
	p, err := newProducer(w.ns, group, 0)
	if err != nil {
		panic(err)
	}
	slots := make(chan struct{}, 8)
	var inflight sync.WaitGroup
	var failures atomic.Int64
	lastOK := time.Now()
	var lastMu sync.Mutex
	for i := 0; w.take(); i++ {
		slots <- struct{}{}
		o := &op{body: fmt.Sprintf("%s-%d", kind, i), kind: kind, start: time.Now()}
		w.h.add(o)
		inflight.Add(1)
		done := func(_ context.Context, res *primitive.SendResult, err error) {
			w.h.finish(o, res, err)
			if err == nil {
				lastMu.Lock()
				lastOK = time.Now()
				lastMu.Unlock()
			} else {
				failures.Add(1)
			}
			<-slots
			inflight.Done()
		}
		if err := p.SendAsync(context.Background(), done, primitive.NewMessage(topic, []byte(o.body))); err != nil {
			done(nil, nil, err)
		}
		if failures.Swap(0) > 0 {
			lastMu.Lock()
			stale := time.Since(lastOK) > reopenAfter
			lastMu.Unlock()
			if stale {
				inflight.Wait()
				p.Shutdown()
				if p, err = newProducer(w.ns, group, 0); err != nil {
					panic(err)
				}
				lastMu.Lock()
				lastOK = time.Now()
				lastMu.Unlock()
			}
			select {
			case <-w.stop:
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	inflight.Wait()
	p.Shutdown()
}

// txnDecision is the local transaction's final answer for a body, the same at execution and at
// check-back: t-i commits when i%3 == 0, rolls back when i%3 == 1, and for i%3 == 2 answers
// UNKNOW at execution and lets the check-back decide (commit when i is even).
func txnDecision(body string) primitive.LocalTransactionState {
	i, _ := strconv.Atoi(strings.TrimPrefix(body, "txn-"))
	if i%3 == 0 || (i%3 == 2 && i%2 == 0) {
		return primitive.CommitMessageState
	}
	return primitive.RollbackMessageState
}

type txnListener struct{ checks *atomic.Int64 }

func (txnListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	i, _ := strconv.Atoi(strings.TrimPrefix(string(m.Body), "txn-"))
	if i%3 == 2 {
		return primitive.UnkonwnState
	}
	return txnDecision(string(m.Body))
}

func (l txnListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	l.checks.Add(1)
	return txnDecision(string(m.Body))
}

func newTxnProducer(ns string, checks *atomic.Int64) (rocketmq.TransactionProducer, error) {
	p, err := rocketmq.NewTransactionProducer(txnListener{checks}, producer.WithNameServer([]string{ns}),
		producer.WithGroupName("chaos-txn"), producer.WithInstanceName(instance("chaos-txn")),
		producer.WithSendMsgTimeout(3*time.Second), producer.WithRetry(0))
	if err != nil {
		return nil, err
	}
	return p, p.Start()
}

// probeTxn sends one transaction (rolled back) to see whether the group supports them.
func probeTxn(ns string) error {
	var checks atomic.Int64
	p, err := newTxnProducer(ns, &checks)
	if err != nil {
		return err
	}
	defer p.Shutdown()
	var last error
	for range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := p.SendMessageInTransaction(ctx, primitive.NewMessage(topic, []byte("txn-1")))
		cancel()
		if err == nil && res.Status == primitive.SendOK {
			return nil
		}
		last = err
		if err == nil {
			last = fmt.Errorf("half message answered %v", res.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return last
}

// txnProducer runs transactions; the listener (and check-backs) decide by txnDecision. The
// producer stays up after the run so check-backs of open transactions are answered until
// closeTxn.
func (w *workload) txnProducer(checks *atomic.Int64, keep chan<- rocketmq.TransactionProducer) {
	defer w.wg.Done()
	p, err := newTxnProducer(w.ns, checks)
	if err != nil {
		panic(err)
	}
	var failingSince time.Time
	var old []rocketmq.TransactionProducer
	for i := 0; w.take(); i++ {
		o := &op{body: fmt.Sprintf("txn-%d", i), kind: "txn", start: time.Now()}
		w.h.add(o)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := p.SendMessageInTransaction(ctx, primitive.NewMessage(topic, []byte(o.body)))
		cancel()
		var sr *primitive.SendResult
		if res != nil {
			sr = res.SendResult
		}
		w.h.finish(o, sr, err)
		if err == nil && sr != nil && sr.Status == primitive.SendOK {
			failingSince = time.Time{}
			continue
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
		} else if time.Since(failingSince) > reopenAfter {
			old = append(old, p) // still answers check-backs of its half messages
			if p, err = newTxnProducer(w.ns, checks); err != nil {
				panic(err)
			}
			failingSince = time.Time{}
		}
		select {
		case <-w.stop:
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, o := range old {
		o.Shutdown()
	}
	keep <- p
}

// startPush subscribes a push consumer from the first offset; it records every delivery.
func (w *workload) startPush() error {
	c, err := rocketmq.NewPushConsumer(consumer.WithNameServer([]string{w.ns}), consumer.WithGroupName("chaos-push"),
		consumer.WithInstance(instance("chaos-push")), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		return err
	}
	if err := c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		w.h.mu.Lock()
		defer w.h.mu.Unlock()
		for _, m := range msgs {
			w.h.received = append(w.h.received, receipt{queue: m.Queue.QueueId, offset: m.QueueOffset, body: string(m.Body)})
		}
		return consumer.ConsumeSuccess, nil
	}); err != nil {
		return err
	}
	if err := c.Start(); err != nil {
		return errors.Join(err, c.Shutdown())
	}
	w.push = c
	return nil
}
