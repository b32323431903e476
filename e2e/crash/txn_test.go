package crash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/mqstore/mqstore/internal/proctest"
)

// txListener answers the local transaction and the broker's check-back with fixed states.
type txListener struct {
	execute, check primitive.LocalTransactionState
}

func (l txListener) ExecuteLocalTransaction(*primitive.Message) primitive.LocalTransactionState {
	return l.execute
}

func (l txListener) CheckLocalTransaction(*primitive.MessageExt) primitive.LocalTransactionState {
	return l.check
}

func startTxProducer(t *testing.T, n *node, group string, l txListener) rocketmq.TransactionProducer {
	t.Helper()
	p, err := rocketmq.NewTransactionProducer(l,
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{n.namesrvAddr()})),
		producer.WithGroupName(group),
		producer.WithInstanceName(fmt.Sprintf("crash-tx-%d", rand.Int64())),
		producer.WithRetry(0),
		producer.WithSendMsgTimeout(time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKillAfterHalfOnFreshTopic: half messages for a topic created by them are acknowledged,
// the broker is killed before anyone decides, restarted, checks back, a new producer of the
// group commits: every committed message is delivered to a consumer exactly once.
func TestKillAfterHalfOnFreshTopic(t *testing.T) {
	n := newNode(t, "-flushDiskType", "SYNC_FLUSH", "-transactionTimeOut", "1000", "-transactionCheckInterval", "300")
	for cycle := range cycles(3, 30) {
		group := fmt.Sprintf("crash-tx-%d", cycle)
		topic := fmt.Sprintf("crash-tx-%d-%d", cycle, rand.IntN(1e6))
		n.start()
		p := startTxProducer(t, n, group, txListener{execute: primitive.UnkonwnState, check: primitive.UnkonwnState})
		var halves []string
		for i := range 5 {
			body := fmt.Sprintf("%s/%d", topic, i)
			res, err := p.SendMessageInTransaction(context.Background(), primitive.NewMessage(topic, []byte(body)))
			if err != nil || res.Status != primitive.SendOK {
				t.Fatalf("cycle %d: half %d: %v %v", cycle, i, res, err)
			}
			halves = append(halves, body)
		}
		time.Sleep(time.Duration(rand.IntN(200)) * time.Millisecond)
		n.kill()
		p.Shutdown()

		n.start()
		p = startTxProducer(t, n, group, txListener{execute: primitive.CommitMessageState, check: primitive.CommitMessageState})
		// The client heartbeats only to brokers it has routes for: one message of another topic
		// makes the new producer known, so the broker can check back with it.
		if _, err := p.SendMessageInTransaction(context.Background(), primitive.NewMessage("crash-tx-other", []byte("x"))); err != nil {
			t.Fatalf("cycle %d: %v", cycle, err)
		}
		got := consumeAll(t, n, "crash-tx-consumer-"+topic, topic, halves)
		p.Shutdown()
		for _, h := range halves {
			if got[h] != 1 {
				t.Fatalf("cycle %d: %q delivered %d times (want exactly once); all: %v\nbroker log:\n%s",
					cycle, h, got[h], got, proctest.Tail(n.Stderr(), 3000))
			}
		}
		n.kill()
	}
}

// consumeAll runs a push consumer until every wanted body arrived (or 30 s passed), then a
// little longer to catch duplicates, and returns how often each body was delivered.
func consumeAll(t *testing.T, n *node, group, topic string, want []string) map[string]int {
	t.Helper()
	var mu sync.Mutex
	got := make(map[string]int)
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{n.namesrvAddr()})),
		consumer.WithGroupName(group),
		consumer.WithInstance(fmt.Sprintf("crash-c-%d", rand.Int64())),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				got[string(m.Body)]++
			}
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	all := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, w := range want {
			if got[w] == 0 {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(30 * time.Second)
	for !all() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // duplicates would arrive now
	mu.Lock()
	defer mu.Unlock()
	out := make(map[string]int, len(got))
	for k, v := range got {
		out[k] = v
	}
	return out
}
