package grpcserver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
)

// TestDelayMessages: DELAY messages of the 5.x client (delivery_timestamp) are held by the
// store's timing wheel: none is received before its time, each after it, with the delivery
// time kept on the message.
func TestDelayMessages(t *testing.T) {
	e := start(t, nil)
	topic, group := newTopic(t, e), name(t, "group")
	p := newProducer(t, e, topic)
	due := map[string]time.Time{}
	sentAt := time.Now()
	for i, delay := range []time.Duration{2 * time.Second, 3 * time.Second} {
		m := &rmq.Message{Topic: topic, Body: []byte(fmt.Sprintf("later-%d", i))}
		at := sentAt.Add(delay)
		m.SetDelayTimestamp(at)
		if _, err := p.Send(context.Background(), m); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		due[string(m.Body)] = at
	}
	c := newSimpleConsumer(t, e, group, topic, rmq.SUB_ALL, time.Second)
	got := receiveN(t, c, len(due), 20*time.Second, 20*time.Second)
	for _, mv := range got {
		at, ok := due[string(mv.GetBody())]
		if !ok {
			t.Fatalf("unexpected message %q", mv.GetBody())
		}
		// Received at or after the due time (the wheel fires a tick once the clock reached it).
		if now := time.Now(); now.Before(at) {
			t.Fatalf("%q received %v before its delivery time", mv.GetBody(), at.Sub(now))
		}
		if ts := mv.GetDeliveryTimestamp(); ts == nil || ts.UnixMilli() != at.UnixMilli() {
			t.Fatalf("%q: delivery timestamp %v, want %v", mv.GetBody(), ts, at)
		}
		if err := c.Ack(context.Background(), mv); err != nil {
			t.Fatal(err)
		}
	}
}
