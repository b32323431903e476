package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

func sendN(t testing.TB, p interface {
	SendSync(context.Context, ...*primitive.Message) (*primitive.SendResult, error)
}, topic, kind string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := p.SendSync(context.Background(), newMessage(topic, kind, i)); err != nil {
			t.Fatalf("send %s-%d: %v", kind, i, err)
		}
	}
}

// TestTwoPushConsumersSplitAndTakeOver: two consumers of one group split the topic's queues and
// together receive every message; when one shuts down, the other takes over its queues (the
// broker tells it to rebalance at once with NOTIFY_CONSUMER_IDS_CHANGED).
func TestTwoPushConsumersSplitAndTakeOver(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	topic, group := "Split", "split-group"
	p := newProducer(t, s.ns.addr)
	sendN(t, p, topic, "first", 0, 200) // creates the topic (4 queues)

	r1, r2 := newReceived(), newReceived()
	c1 := newPushConsumer(t, s.ns.addr, group, topic, "*", r1)
	defer c1.Shutdown()
	c2 := newPushConsumer(t, s.ns.addr, group, topic, "*", r2)
	both := func() int {
		n := 0
		for i := range 200 {
			if b := fmt.Sprintf("first-%d", i); r1.has(b) || r2.has(b) {
				n++
			}
		}
		return n
	}
	waitFor(t, 20*time.Second, "both consumers together to receive every message", func() bool { return both() == 200 })

	// Both hold queues: new messages reach both.
	sendN(t, p, topic, "second", 0, 200)
	waitFor(t, 20*time.Second, "the second round split over both consumers", func() bool {
		n1, n2 := 0, 0
		for i := range 200 {
			b := fmt.Sprintf("second-%d", i)
			if r1.has(b) {
				n1++
			}
			if r2.has(b) {
				n2++
			}
		}
		return n1 > 0 && n2 > 0 && n1+n2 >= 200
	})

	if err := c2.Shutdown(); err != nil {
		t.Fatal(err)
	}
	sendN(t, p, topic, "third", 0, 200)
	waitFor(t, 20*time.Second, "the remaining consumer to take over every queue", func() bool {
		for i := range 200 {
			if !r1.has(fmt.Sprintf("third-%d", i)) {
				return false
			}
		}
		return true
	})
}

// sendOrdered sends n messages to queue 0 of topic.
func sendOrdered(t *testing.T, nsAddr, topic string, n int) {
	t.Helper()
	p := newProducer(t, nsAddr, producer.WithQueueSelector(producer.NewManualQueueSelector()))
	for i := range n {
		m := newMessage(topic, "ordered", i)
		m.Queue = &primitive.MessageQueue{Topic: topic, BrokerName: "broker-a", QueueId: 0}
		if _, err := p.SendSync(context.Background(), m); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
}

func newPullConsumer(t *testing.T, nsAddr, group, topic string) rocketmq.PullConsumer {
	t.Helper()
	pc, err := rocketmq.NewPullConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{nsAddr})),
		consumer.WithGroupName(group),
		consumer.WithInstance(instance("pull")),
		consumer.WithPullBatchSize(32),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"}); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	return pc
}

// checkOrdered checks that m is the next message of queue 0.
func checkOrdered(t *testing.T, next int, m *primitive.MessageExt) {
	t.Helper()
	if want := fmt.Sprintf("ordered-%d", next); string(m.Body) != want || m.QueueOffset != int64(next) || m.Queue.QueueId != 0 {
		t.Fatalf("message %d: body %q queue %d offset %d", next, m.Body, m.Queue.QueueId, m.QueueOffset)
	}
	if m.GetKeys() != fmt.Sprintf("key-ordered-%d", next) || m.GetTags() != tagOf(next) {
		t.Fatalf("message %d: keys %q tags %q", next, m.GetKeys(), m.GetTags())
	}
}

// TestLitePullConsumerReadsQueueInOrder: a lite pull consumer (Poll/ACK) of a new group reads
// queue 0 from offset 0, in the order the messages were sent, with consecutive queue offsets.
func TestLitePullConsumerReadsQueueInOrder(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	topic := "OrderedPoll"
	const n = 300
	sendOrdered(t, s.ns.addr, topic, n)
	pc := newPullConsumer(t, s.ns.addr, "poll-group", topic)
	defer pc.Shutdown()
	next := 0
	deadline := time.Now().Add(20 * time.Second)
	for next < n {
		if time.Now().After(deadline) {
			t.Fatalf("polled %d of %d messages", next, n)
		}
		cr, err := pc.Poll(context.Background(), time.Second)
		if err != nil {
			continue // ErrNoNewMsg
		}
		for _, m := range cr.GetMsgList() {
			checkOrdered(t, next, m)
			next++
		}
		pc.ACK(context.Background(), cr, consumer.ConsumeSuccess)
	}
}

// TestPullConsumerPullFrom: PullFrom reads queue 0 from offset 0 in order and reports the
// queue's min and max offsets.
func TestPullConsumerPullFrom(t *testing.T) {
	if raceEnabled {
		t.Skip("rocketmq-client-go's PullFrom races with its own background pull loop (consumer/pull_consumer.go:521 writes pc.consumerGroup)")
	}
	t.Parallel()
	s := startServer(t, nil)
	topic := "Ordered"
	const n = 300
	sendOrdered(t, s.ns.addr, topic, n)
	// A stored message is readable (and counted in the max offset) once dispatched.
	if err := s.b.Store().Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	pc := newPullConsumer(t, s.ns.addr, "pull-group", topic)
	defer pc.Shutdown()
	mq := &primitive.MessageQueue{Topic: topic, BrokerName: "broker-a", QueueId: 0}
	var offset int64
	next := 0
	for next < n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := pc.PullFrom(ctx, mq, offset, 32)
		cancel()
		if err != nil {
			t.Fatalf("PullFrom(%d): %v", offset, err)
		}
		if res.Status != primitive.PullFound {
			t.Fatalf("PullFrom(%d): status %v", offset, res.Status)
		}
		if res.MinOffset != 0 || res.MaxOffset != n {
			t.Fatalf("PullFrom(%d): min %d max %d", offset, res.MinOffset, res.MaxOffset)
		}
		for _, m := range res.GetMessageExts() {
			checkOrdered(t, next, m)
			next++
		}
		offset = res.NextBeginOffset
	}
}

// TestConsumerOffsetsSurviveRestart: a group consumes, shuts down (committing its offsets), the
// broker restarts on the same data directory, and the group continues where it committed.
func TestConsumerOffsetsSurviveRestart(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	topic, group := "Restart", "restart-group"
	p := newProducer(t, s.ns.addr)
	sendN(t, p, topic, "before", 0, 100)

	r := newReceived()
	c := newPushConsumer(t, s.ns.addr, group, topic, "*", r)
	waitFor(t, 20*time.Second, "the first 100 messages", func() bool { return r.unique() == 100 })
	time.Sleep(300 * time.Millisecond) // let the last callbacks return and offsets advance
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	p.Shutdown()
	// Shutdown writes its offset commits (oneway) and returns: wait until the broker has them.
	rc := rawClient(t)
	waitFor(t, 10*time.Second, "the committed offsets", func() bool {
		var sum int64
		for q := range 4 {
			sum += max(committedOffset(t, rc, s.b.Addr(), group, topic, q), 0)
		}
		return sum == 100
	})

	s.restart()
	data, err := os.ReadFile(filepath.Join(s.dir, "config", "consumerOffset.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), topic+"@"+group) {
		t.Fatalf("consumerOffset.json lacks %s@%s: %s", topic, group, data)
	}

	p2 := newProducer(t, s.ns.addr)
	sendN(t, p2, topic, "after", 0, 50)
	r2 := newReceived()
	c2 := newPushConsumer(t, s.ns.addr, group, topic, "*", r2)
	defer c2.Shutdown()
	waitFor(t, 20*time.Second, "the 50 new messages", func() bool { return r2.unique() >= 50 })
	time.Sleep(300 * time.Millisecond)
	r2.mu.Lock()
	defer r2.mu.Unlock()
	for b := range r2.bodies {
		if strings.HasPrefix(b, "before-") {
			t.Fatalf("after the restart the group received %s again (%d messages in all)", b, len(r2.bodies))
		}
	}
}
