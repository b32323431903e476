package grpcserver_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"

	"github.com/mqstore/mqstore/broker"
)

func fastChecks(cfg *broker.Config) {
	cfg.TransactionTimeOut = 500
	cfg.TransactionCheckInterval = 300
}

// expectOnly receives until the bodies in want arrived (failing on any other) and then checks
// that nothing else comes within quiet.
func expectOnly(t *testing.T, c rmq.SimpleConsumer, want map[string]bool, within, quiet time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for len(want) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not received: %v", want)
		}
		mvs, err := c.Receive(context.Background(), 8, 10*time.Second)
		if err != nil {
			continue
		}
		for _, mv := range mvs {
			if !want[string(mv.GetBody())] {
				t.Fatalf("unexpected %q", mv.GetBody())
			}
			delete(want, string(mv.GetBody()))
			c.Ack(context.Background(), mv)
		}
	}
	end := time.Now().Add(quiet)
	for time.Now().Before(end) {
		if mvs, err := c.Receive(context.Background(), 8, 10*time.Second); err == nil && len(mvs) > 0 {
			t.Fatalf("unexpected %q", mvs[0].GetBody())
		}
	}
}

// Transactional sends: commit delivers, rollback does not; a transaction left open is
// resolved by the check-back (RecoverOrphanedTransactionCommand on the producer's telemetry
// stream), also when the producer that sent it is gone and another producer of the topic
// answers.
func TestTransactions(t *testing.T) {
	e := start(t, fastChecks)
	topic, group := newTopic(t, e), name(t, "group")
	var checks atomic.Int32
	checker := &rmq.TransactionChecker{Check: func(mv *rmq.MessageView) rmq.TransactionResolution {
		checks.Add(1)
		if string(mv.GetBody()) == "orphan-rollback" {
			return rmq.ROLLBACK
		}
		return rmq.COMMIT
	}}
	p := newProducerWith(t, e, rmq.WithTopics(topic), rmq.WithTransactionChecker(checker))
	sendTx := func(p rmq.Producer, body string) rmq.Transaction {
		tx := p.BeginTransaction()
		if _, err := p.SendWithTransaction(context.Background(), &rmq.Message{Topic: topic, Body: []byte(body)}, tx); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	if err := sendTx(p, "committed").Commit(); err != nil {
		t.Fatal(err)
	}
	if err := sendTx(p, "rolled-back").RollBack(); err != nil {
		t.Fatal(err)
	}
	sendTx(p, "checked") // left open: the check-back commits it
	c := newSimpleConsumer(t, e, group, topic, rmq.SUB_ALL, 2*time.Second)
	expectOnly(t, c, map[string]bool{"committed": true, "checked": true}, 20*time.Second, 0)
	if checks.Load() == 0 {
		t.Fatal("no check-back reached the producer")
	}

	// The producer that sent the half message stops before deciding; a new producer of the
	// topic answers the check.
	p2 := newProducerWith(t, e, rmq.WithTopics(topic))
	tx1, tx2 := p2.BeginTransaction(), p2.BeginTransaction()
	for body, tx := range map[string]rmq.Transaction{"orphan-commit": tx1, "orphan-rollback": tx2} {
		if _, err := p2.SendWithTransaction(context.Background(), &rmq.Message{Topic: topic, Body: []byte(body)}, tx); err != nil {
			t.Fatal(err)
		}
	}
	if err := p2.GracefulStop(); err != nil {
		t.Fatal(err)
	}
	newProducerWith(t, e, rmq.WithTopics(topic), rmq.WithTransactionChecker(checker))
	expectOnly(t, c, map[string]bool{"orphan-commit": true}, 20*time.Second, 2*time.Second)
}
