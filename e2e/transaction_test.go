package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/mqstore/mqstore/broker"
)

// Transactions with the real client (rocketmq-client-go's TransactionProducer): half messages,
// END_TRANSACTION after the local transaction and CHECK_TRANSACTION_STATE back to the producer.

// fastTransactions makes the broker check half messages older than 1 s every 200 ms.
func fastTransactions(c *broker.Config) {
	c.TransactionTimeOut = 1000
	c.TransactionCheckInterval = 200
}

// listenerFuncs adapts two functions to primitive.TransactionListener.
type listenerFuncs struct {
	execute func(*primitive.Message) primitive.LocalTransactionState
	check   func(*primitive.MessageExt) primitive.LocalTransactionState
}

func (l listenerFuncs) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	return l.execute(m)
}

func (l listenerFuncs) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	return l.check(m)
}

func newTxProducer(t testing.TB, nsAddr, group string, l primitive.TransactionListener) rocketmq.TransactionProducer {
	t.Helper()
	p, err := rocketmq.NewTransactionProducer(l,
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{nsAddr})),
		producer.WithGroupName(group),
		producer.WithInstanceName(instance("tp")),
		producer.WithRetry(2),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

// producerCount is the number of producer clients the broker knows.
func producerCount(s *server) int64 {
	var n int64
	for _, p := range s.b.MetricsSnapshot().ProducerConnections {
		n += p.Count
	}
	return n
}

// keyIndex returns i of a message key "<prefix>-<i>".
func keyIndex(key string) int {
	i, _ := strconv.Atoi(key[strings.LastIndexByte(key, '-')+1:])
	return i
}

// TestTransactionOutcomes: 300 transactions, a third each COMMIT, ROLLBACK and UNKNOW (then
// checked: even ones committed, odd ones rolled back). The consumer receives exactly the
// committed set, each once; every UNKNOW transaction is checked after transactionTimeOut and
// within transactionTimeOut + transactionCheckInterval; a second producer of the group, which
// sent no message of these, is never asked.
func TestTransactionOutcomes(t *testing.T) {
	t.Parallel()
	s := startServer(t, fastTransactions)
	const n = 300
	topic, group := "TxOutcomes", "tx-outcomes-pg"
	timeout, interval := time.Second, 200*time.Millisecond

	var mu sync.Mutex
	ended := make(map[int]time.Time)          // UNKNOW transactions: when the local transaction returned
	checkDelay := make(map[int]time.Duration) // first check of each, after ended
	var wrongChecks atomic.Int64
	p1 := newTxProducer(t, s.ns.addr, group, listenerFuncs{
		execute: func(m *primitive.Message) primitive.LocalTransactionState {
			i := keyIndex(m.GetKeys())
			switch i % 3 {
			case 0:
				return primitive.CommitMessageState
			case 1:
				return primitive.RollbackMessageState
			}
			mu.Lock()
			ended[i] = time.Now()
			mu.Unlock()
			return primitive.UnkonwnState
		},
		check: func(m *primitive.MessageExt) primitive.LocalTransactionState {
			i := keyIndex(m.GetKeys())
			if i%3 != 2 || m.Topic != topic {
				wrongChecks.Add(1)
				return primitive.UnkonwnState
			}
			mu.Lock()
			if _, ok := checkDelay[i]; !ok {
				checkDelay[i] = time.Since(ended[i])
			}
			mu.Unlock()
			if i%2 == 0 {
				return primitive.CommitMessageState
			}
			return primitive.RollbackMessageState
		},
	})
	var bystanderChecks atomic.Int64
	p2 := newTxProducer(t, s.ns.addr, group, listenerFuncs{
		execute: func(*primitive.Message) primitive.LocalTransactionState { return primitive.CommitMessageState },
		check: func(*primitive.MessageExt) primitive.LocalTransactionState {
			bystanderChecks.Add(1)
			return primitive.UnkonwnState
		},
	})
	// The bystander sends one committed message of another topic, so it heartbeats to the broker.
	if _, err := p2.SendMessageInTransaction(context.Background(), primitive.NewMessage("TxOther", []byte("other"))); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				m := primitive.NewMessage(topic, []byte(fmt.Sprintf("tx-%d", i)))
				m.WithKeys([]string{fmt.Sprintf("tx-%d", i)})
				res, err := p1.SendMessageInTransaction(context.Background(), m)
				if err != nil {
					errs <- fmt.Errorf("%d: %w", i, err)
					continue
				}
				if res.Status != primitive.SendOK {
					errs <- fmt.Errorf("%d: status %v", i, res.Status)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "both producers registered", func() bool { return producerCount(s) >= 2 })
	got := newReceived()
	c := newPushConsumer(t, s.ns.addr, "tx-outcomes-cg", topic, "*", got)
	defer c.Shutdown()

	want := map[string]bool{}
	for i := range n {
		if i%3 == 0 || i%3 == 2 && i%2 == 0 {
			want[fmt.Sprintf("tx-%d", i)] = true
		}
	}
	waitFor(t, 20*time.Second, "every transaction resolved", func() bool { return len(s.b.Store().Transactions().Open()) == 0 })
	waitFor(t, 20*time.Second, "the committed messages", func() bool { return got.unique() == len(want) })
	time.Sleep(300 * time.Millisecond) // nothing more arrives
	got.mu.Lock()
	for body, count := range got.bodies {
		if !want[body] || count != 1 {
			t.Errorf("received %s %d times (committed: %v)", body, count, want[body])
		}
	}
	got.mu.Unlock()

	mu.Lock()
	defer mu.Unlock()
	if len(checkDelay) != n/3 {
		t.Fatalf("%d UNKNOW transactions checked, want %d", len(checkDelay), n/3)
	}
	slack := 300 * time.Millisecond
	if raceEnabled {
		slack = time.Second
	}
	var worst time.Duration
	for i, d := range checkDelay {
		worst = max(worst, d)
		// The broker measures age from the half message's store time, which precedes the end of
		// the local transaction: the check may come a little before timeout after that.
		if d < timeout-100*time.Millisecond || d > timeout+interval+slack {
			t.Errorf("transaction %d checked %v after its local transaction", i, d)
		}
	}
	t.Logf("%d UNKNOW transactions checked, the latest %v after its local transaction", len(checkDelay), worst)
	if n := bystanderChecks.Load(); n != 0 {
		t.Fatalf("the producer that sent nothing was asked %d times", n)
	}
	if n := wrongChecks.Load(); n != 0 {
		t.Fatalf("%d checks of transactions that were not UNKNOW", n)
	}
}

// TestDelayedTransactionRefused: a transactional message with a delay level is refused at the
// half send (RocketMQ loops such messages between the schedule and half topics,
// apache/rocketmq#1540; the Java client strips DELAY from them): SendMessageInTransaction fails,
// the local transaction never runs, nothing stays open and nothing is delivered.
func TestDelayedTransactionRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, fastTransactions)
	var executed atomic.Int64
	p := newTxProducer(t, s.ns.addr, "tx-delay-pg", listenerFuncs{
		execute: func(*primitive.Message) primitive.LocalTransactionState {
			executed.Add(1)
			return primitive.CommitMessageState
		},
		check: func(*primitive.MessageExt) primitive.LocalTransactionState { return primitive.CommitMessageState },
	})
	m := primitive.NewMessage("TxDelayed", []byte("delayed order"))
	m.WithDelayTimeLevel(2)
	_, err := p.SendMessageInTransaction(context.Background(), m)
	if err == nil || !strings.Contains(err.Error(), "cannot be delayed") {
		t.Fatalf("delayed transactional send: %v", err)
	}
	if executed.Load() != 0 {
		t.Fatal("the local transaction ran")
	}
	if n := len(s.b.Store().Transactions().Open()); n != 0 {
		t.Fatalf("%d open transactions", n)
	}
	// Without the delay the same producer works.
	if _, err := p.SendMessageInTransaction(context.Background(), primitive.NewMessage("TxDelayed", []byte("order"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the commit", func() bool {
		s.b.Store().Sync(context.Background())
		var n int64
		for q := range 4 {
			n += s.b.Store().MaxOffset("TxDelayed", int32(q))
		}
		return n == 1 && executed.Load() == 1
	})
}
