package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/mqstore/mqstore/client"
)

// TestResetOffsetRewindsLivePushConsumer: resetting a group's offsets to a time before its
// messages (INVOKE_BROKER_TO_RESET_OFFSET) makes a live, unmodified rocketmq-client-go push
// consumer receive them again: the broker sends it RESET_CONSUMER_CLIENT_OFFSET, and the client
// drops its queues, waits 10 s (its own pause) and pulls from the new offsets.
func TestResetOffsetRewindsLivePushConsumer(t *testing.T) {
	if testing.Short() {
		t.Skip("the client pauses 10 s before it applies a reset")
	}
	if raceEnabled {
		// rocketmq-client-go races with itself here (ResetOffset's processQueue.clear against
		// pullMessage: consumer/process_queue.go:387, push_consumer.go:871); make test runs this
		// test again without -race (Makefile NORACE_TESTS).
		t.Skip("the unmodified client has a data race in its own reset handling")
	}
	s := startServer(t, nil)
	const topic, group, n = "ResetTopic", "reset-cg", 8
	p := newProducer(t, s.ns.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	before := time.Now().Add(-time.Second)
	for i := range n {
		if _, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(fmt.Sprintf("m-%d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	r := newReceived()
	c := newPushConsumer(t, s.ns.addr, group, topic, "*", r)
	defer c.Shutdown()
	waitFor(t, 20*time.Second, "the first delivery", func() bool { return r.unique() == n })
	admin, err := client.NewAdmin(client.WithNameServer(s.ns.addr), client.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// The consumer's offsets reach the broker (it commits every 5 s).
	waitFor(t, 15*time.Second, "the committed offsets", func() bool {
		progress, err := admin.ConsumeStats(ctx, group, topic)
		if err != nil {
			return false
		}
		var lag int64
		for _, q := range progress {
			lag += q.Lag()
		}
		return len(progress) > 0 && lag == 0
	})
	first := r.count()

	res, err := admin.ResetOffsetByTime(ctx, group, topic, before, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Notified != 1 {
		t.Fatalf("%d consumers notified, want 1", res.Notified)
	}
	for _, q := range res.Offsets {
		if q.Offset != 0 {
			t.Fatalf("queue %v reset to %d, want 0", q.MessageQueue, q.Offset)
		}
	}
	waitFor(t, 30*time.Second, "every message again", func() bool { return r.count() >= first+n })
	for i := range n {
		if got := r.times(fmt.Sprintf("m-%d", i)); got < 2 {
			t.Fatalf("m-%d received %d times after the reset, want 2", i, got)
		}
	}
}

// count is the number of deliveries, repeats included.
func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// times is how often body was delivered.
func (r *received) times(body string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[body]
}
