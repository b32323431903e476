package grpcserver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
)

// A 5.x producer's messages reach a 5.x simple consumer with their id, tag, keys, properties
// and body; the ack takes them out of redelivery.
func TestSendReceiveAck(t *testing.T) {
	e := start(t, nil)
	topic, group := newTopic(t, e), name(t, "group")
	p := newProducer(t, e, topic)
	const n = 10
	ids := map[string]int{}
	for i := 0; i < n; i++ {
		m := &rmq.Message{Topic: topic, Body: []byte(fmt.Sprintf("body-%d", i))}
		m.SetTag("TagA")
		m.SetKeys(fmt.Sprintf("key-%d", i), "k2")
		m.AddProperty("color", "red")
		r, err := p.Send(context.Background(), m)
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		ids[r[0].MessageID] = i
	}
	c := newSimpleConsumer(t, e, group, topic, rmq.SUB_ALL, 3*time.Second)
	got := receiveN(t, c, n, 20*time.Second, 20*time.Second)
	for _, mv := range got {
		i, ok := ids[mv.GetMessageId()]
		if !ok {
			t.Fatalf("unknown message id %q", mv.GetMessageId())
		}
		if string(mv.GetBody()) != fmt.Sprintf("body-%d", i) || *mv.GetTag() != "TagA" || mv.GetProperties()["color"] != "red" {
			t.Fatalf("message %d: body %q tag %v props %v", i, mv.GetBody(), mv.GetTag(), mv.GetProperties())
		}
		if keys := mv.GetKeys(); len(keys) != 2 || keys[0] != fmt.Sprintf("key-%d", i) {
			t.Fatalf("keys %v", keys)
		}
		if mv.GetDeliveryAttempt() != 1 {
			t.Fatalf("delivery attempt %d", mv.GetDeliveryAttempt())
		}
		if err := c.Ack(context.Background(), mv); err != nil {
			t.Fatal(err)
		}
		delete(ids, mv.GetMessageId())
	}
	if len(ids) != 0 {
		t.Fatalf("not received: %v", ids)
	}
}
