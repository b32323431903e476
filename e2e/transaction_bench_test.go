package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/mqstore/mqstore/broker"
)

// BenchmarkTransactionalSend compares, in one run against one in-process broker (ASYNC_FLUSH),
// rocketmq-client-go's SendMessageInTransaction (half message, local transaction that commits,
// oneway END_TRANSACTION: the broker appends the half record, the committed record and a share
// of an op record) with plain SendSync of the same 1 KiB messages, from 1 and 16 goroutines.
// It reports msgs/s and the 99th percentile latency (p99-µs) of the client call.
//
//	go test ./e2e -run '^$' -bench BenchmarkTransactionalSend -benchtime 3000x
func BenchmarkTransactionalSend(b *testing.B) {
	s := startServer(b, func(c *broker.Config) { c.TransactionTimeOut = 60_000 })
	body := make([]byte, 1024)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	plain := newProducer(b, s.ns.addr)
	tx := newTxProducer(b, s.ns.addr, "bench-tx-pg", listenerFuncs{
		execute: func(*primitive.Message) primitive.LocalTransactionState { return primitive.CommitMessageState },
		check:   func(*primitive.MessageExt) primitive.LocalTransactionState { return primitive.CommitMessageState },
	})
	modes := []struct {
		name  string
		topic string
		send  func(topic string) error
	}{
		{"plain", "BenchPlain", func(topic string) error {
			_, err := plain.SendSync(context.Background(), primitive.NewMessage(topic, body))
			return err
		}},
		{"transactional", "BenchTx", func(topic string) error {
			res, err := tx.SendMessageInTransaction(context.Background(), primitive.NewMessage(topic, body))
			if err == nil && res.State != primitive.CommitMessageState {
				err = fmt.Errorf("state %v", res.State)
			}
			return err
		}},
	}
	for _, m := range modes {
		if err := m.send(m.topic); err != nil { // creates the topic and routes
			b.Fatal(err)
		}
	}
	for _, goroutines := range []int{1, 16} {
		for _, m := range modes {
			b.Run(fmt.Sprintf("%s/goroutines=%d", m.name, goroutines), func(b *testing.B) {
				runSends(b, goroutines, len(body), func() error { return m.send(m.topic) })
			})
		}
	}
}

// BenchmarkTransactionCheckBack measures check-back throughput: 10,000 transactions are left
// open (the local transaction answers UNKNOW), then one check round asks the producer about
// all of them (CHECK_TRANSACTION_STATE, oneway) and the producer's CheckLocalTransaction
// commits each (END_TRANSACTION, oneway). The timer covers the round and the answers until no
// transaction is open; checks/s = 10,000 / that time. Setup (the 10,000 half messages) is out
// of the timer.
//
//	go test ./e2e -run '^$' -bench BenchmarkTransactionCheckBack -benchtime 1x
func BenchmarkTransactionCheckBack(b *testing.B) {
	const open = 10000
	s := startServer(b, func(c *broker.Config) {
		c.TransactionTimeOut = 1
		c.TransactionCheckInterval = 3600_000 // rounds only through CheckNow
	})
	var checks atomic.Int64
	tx := newTxProducer(b, s.ns.addr, "bench-check-pg", listenerFuncs{
		execute: func(*primitive.Message) primitive.LocalTransactionState { return primitive.UnkonwnState },
		check: func(*primitive.MessageExt) primitive.LocalTransactionState {
			checks.Add(1)
			return primitive.CommitMessageState
		},
	})
	body := make([]byte, 256)
	txs := s.b.Store().Transactions()
	var total time.Duration
	for range b.N {
		b.StopTimer()
		var wg sync.WaitGroup
		var next atomic.Int64
		var failed atomic.Value
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= open {
					if _, err := tx.SendMessageInTransaction(context.Background(), primitive.NewMessage("BenchCheck", body)); err != nil {
						failed.Store(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if err := failed.Load(); err != nil {
			b.Fatal(err)
		}
		waitFor(b, 10*time.Second, "the open transactions", func() bool { return len(txs.Open()) == open })
		time.Sleep(5 * time.Millisecond) // older than transactionTimeOut
		b.StartTimer()
		start := time.Now()
		stats, err := txs.CheckNow(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if stats.Checked != open {
			b.Fatalf("round %+v", stats)
		}
		for len(txs.Open()) > 0 {
			if time.Since(start) > time.Minute {
				b.Fatalf("%d transactions still open after a minute", len(txs.Open()))
			}
			time.Sleep(2 * time.Millisecond)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(open*b.N)/total.Seconds(), "checks/s")
	b.ReportMetric(float64(checks.Load())/float64(b.N), "answers/op")
}
