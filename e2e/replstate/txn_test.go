package replstate

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/proctest"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/namesrv"
)

// txnListener ends a transaction by its body's prefix: commit-, rollback-, or unknown- (left
// open, and committed when checked). It counts the checks of each body.
type txnListener struct {
	mu     sync.Mutex
	checks map[string]int
}

func (l *txnListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	return stateOf(string(m.Body), false)
}

func (l *txnListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	l.mu.Lock()
	l.checks[string(m.Body)]++
	l.mu.Unlock()
	return stateOf(string(m.Body), true)
}

func (l *txnListener) checked() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for k, v := range l.checks {
		out[k] = v
	}
	return out
}

func stateOf(body string, checked bool) primitive.LocalTransactionState {
	switch {
	case strings.HasPrefix(body, "commit-"):
		return primitive.CommitMessageState
	case strings.HasPrefix(body, "rollback-"):
		return primitive.RollbackMessageState
	case checked:
		return primitive.CommitMessageState
	}
	return primitive.UnkonwnState
}

// readTopic returns how many times each body is stored in topic's queues, read from the
// group's current leader.
func (g *group) readTopic(topic string, queues int32) map[string]int {
	g.t.Helper()
	pc, err := client.NewPullConsumer(client.WithNameServer(g.ns), client.WithGroup("rs-check"),
		client.WithInstanceName(proctest.Instance("check")), client.WithSuspendTimeout(0), client.WithCallTimeout(5*time.Second))
	if err != nil {
		g.t.Fatal(err)
	}
	defer pc.Close()
	pc.Subscribe(topic, "*")
	bodies := map[string]int{}
	for q := range queues {
		mq := client.MessageQueue{Topic: topic, BrokerName: g.name, QueueID: q}
		for offset := int64(0); ; {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := pc.Pull(ctx, mq, offset, 256)
			cancel()
			if err != nil {
				g.t.Fatalf("pull %v at %d: %v", mq, offset, err)
			}
			for _, m := range res.Messages {
				bodies[string(m.Body)]++
			}
			if res.Status != client.PullFound || res.NextBeginOffset <= offset {
				break
			}
			offset = res.NextBeginOffset
		}
	}
	return bodies
}

// TestTransactionsAcrossLeaderKill: the unmodified TransactionProducer commits, rolls back and
// leaves unknown transactions on the leader, which is then SIGKILLed. The new leader rebuilds
// the open transactions from the log and checks back the unknown ones only (timed from their
// store time), which the producer then commits; a repeated commit of a committed transaction on
// the new leader changes nothing. Every committed message is stored exactly once, no rolled
// back one ever.
func TestTransactionsAcrossLeaderKill(t *testing.T) {
	const topic, n = "RSTxn", 8
	// A 4 s transaction timeout: the old leader dies before it checks anything back.
	g := startGroup(t, "rs-t", 24, "-transactionTimeOut", "4000", "-transactionCheckInterval", "300")
	leader := g.waitMaster("")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := g.admin.CreateTopic(ctx, leader, namesrv.TopicConfig{TopicName: topic, ReadQueueNums: 2, WriteQueueNums: 2, Perm: namesrv.PermRW, TopicFilterType: "SINGLE_TAG"}); err != nil {
		t.Fatal(err)
	}
	l := &txnListener{checks: map[string]int{}}
	// The client instance also runs a push consumer: rocketmq-client-go heartbeats followers
	// (brokerId != 0) only for clients with consumers, and a new leader can check back only a
	// producer that heartbeated it or a follower it is connected to (relay_test.go). A
	// producer-only client whose broker was the killed leader reaches the new leader at its
	// first heartbeat after it learned the new route (see docs/OPERATIONS.md).
	inst := proctest.Instance("tp")
	p, err := rocketmq.NewTransactionProducer(l, producer.WithNameServer([]string{g.ns}), producer.WithGroupName("rs-tp"),
		producer.WithInstanceName(inst), producer.WithRetry(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	c, err := rocketmq.NewPushConsumer(consumer.WithNameServer([]string{g.ns}), consumer.WithGroupName("rs-tc"),
		consumer.WithInstance(inst), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(topic, consumer.MessageSelector{}, func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		return consumer.ConsumeSuccess, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil { // heartbeats every replica, with the producer's group
		t.Fatal(err)
	}
	defer c.Shutdown()

	var committed []int64 // half offsets of the committed ones
	for _, kind := range []string{"commit", "rollback", "unknown"} {
		for i := range n {
			res, err := p.SendMessageInTransaction(ctx, primitive.NewMessage(topic, []byte(kind+"-"+strconv.Itoa(i))))
			if err != nil || res.Status != primitive.SendOK {
				t.Fatalf("%s-%d: %v %v", kind, i, res, err)
			}
			if kind == "commit" {
				_, off, err := message.ParseOffsetMsgID(res.OffsetMsgID)
				if err != nil {
					t.Fatal(err)
				}
				committed = append(committed, off)
			}
		}
	}
	// The ends are oneway: wait until the leader applied them (only the unknown ones open).
	waitFor(t, 10*time.Second, "the leader to apply the ends", func() bool {
		_, total, err := g.admin.OpenTransactions(ctx, leader, 0)
		return err == nil && total == n
	})
	if c := l.checked(); len(c) != 0 {
		t.Fatalf("checked before the kill: %v; leader's log:\n%s", c, g.stderr(leader))
	}

	killed := time.Now()
	g.kill(leader)
	next := g.waitMaster(leader)
	t.Logf("SIGKILL of leader %s to new leader %s registered: %v", leader, next, time.Since(killed).Round(time.Millisecond))

	// A repeated commit on the new leader changes nothing.
	res, err := g.admin.CommitTransaction(ctx, next, committed[0])
	if err != nil || res.Changed {
		t.Fatalf("repeated commit on the new leader: %+v %v, want unchanged", res, err)
	}
	// The new leader checks back the unknown ones; the producer commits them.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, total, err := g.admin.OpenTransactions(ctx, next, 0)
		if err == nil && total == 0 && len(l.checked()) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the unknown transactions not resolved by the new leader's check-back: %d open (%v), checks %v; new leader's log:\n%s",
				total, err, l.checked(), g.stderr(next))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("unknown transactions resolved %v after the kill", time.Since(killed).Round(time.Millisecond))
	for body, k := range l.checked() {
		if !strings.HasPrefix(body, "unknown-") {
			t.Errorf("%s was checked back %d times; only the unknown ones are open", body, k)
		}
	}

	waitFor(t, 10*time.Second, "every committed message stored", func() bool { return len(g.readTopic(topic, 2)) == 2*n })
	for body, k := range g.readTopic(topic, 2) {
		switch {
		case strings.HasPrefix(body, "rollback-"):
			t.Errorf("rolled back %s stored %d times", body, k)
		case k != 1:
			t.Errorf("committed %s stored %d times, want once", body, k)
		}
	}
}
