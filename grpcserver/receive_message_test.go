package grpcserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"

	"github.com/mqstore/mqstore/broker"
)

func send(t *testing.T, p rmq.Producer, topic, tag string, bodies ...string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, b := range bodies {
		m := &rmq.Message{Topic: topic, Body: []byte(b)}
		if tag != "" {
			m.SetTag(tag)
		}
		r, err := p.Send(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		ids[r[0].MessageID] = b
	}
	return ids
}

// Batches, TAG filters, redelivery after the invisible time with delivery_attempt + 1, and
// ChangeInvisibleDuration postponing it.
func TestReceiveBatchFilterRedelivery(t *testing.T) {
	e := start(t, nil)
	topic, group := newTopic(t, e), name(t, "group")
	p := newProducer(t, e, topic)
	a := send(t, p, topic, "TagA", "a0", "a1", "a2", "a3", "a4")
	send(t, p, topic, "TagB", "b0", "b1")
	c := newSimpleConsumer(t, e, group, topic, rmq.NewFilterExpression("TagA"), 2*time.Second)

	first := receiveN(t, c, 5, 2*time.Second, 10*time.Second)
	for _, mv := range first {
		if _, ok := a[mv.GetMessageId()]; !ok || *mv.GetTag() != "TagA" {
			t.Fatalf("filter TagA delivered %q (tag %v)", mv.GetBody(), *mv.GetTag())
		}
	}
	// Ack two, postpone one, leave two: those two come back with attempt 2.
	for _, mv := range first[:2] {
		if err := c.Ack(context.Background(), mv); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.ChangeInvisibleDuration(first[2], 30*time.Second); err != nil {
		t.Fatal(err)
	}
	again := receiveN(t, c, 2, 10*time.Second, 15*time.Second)
	want := map[string]bool{first[3].GetMessageId(): true, first[4].GetMessageId(): true}
	for _, mv := range again {
		if !want[mv.GetMessageId()] {
			t.Fatalf("redelivered %s (%q), want one of the two unacked", mv.GetMessageId(), mv.GetBody())
		}
		if mv.GetDeliveryAttempt() != 2 {
			t.Fatalf("delivery attempt %d, want 2", mv.GetDeliveryAttempt())
		}
		if err := c.Ack(context.Background(), mv); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing else is ready (the postponed one is invisible for 30 s).
	if mvs, err := c.Receive(context.Background(), 8, 10*time.Second); err == nil && len(mvs) > 0 {
		t.Fatalf("unexpected delivery of %q", mvs[0].GetBody())
	}
}

// writeGroups writes subscriptionGroup.json before the broker starts.
func writeGroups(t *testing.T, cfg *broker.Config, groups ...broker.GroupConfig) {
	t.Helper()
	table := map[string]broker.GroupConfig{}
	for _, g := range groups {
		table[g.GroupName] = g
	}
	data, err := json.Marshal(map[string]any{"subscriptionGroupTable": table, "dataVersion": map[string]any{"timestamp": 1, "counter": 1}})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cfg.StorePathRootDir, "config")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "subscriptionGroup.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// After the group's max delivery attempts (retryMaxTimes + 1) an unacked message goes to
// %DLQ%<group> and is not delivered again.
func TestDeadLetterAfterMaxAttempts(t *testing.T) {
	group := fmt.Sprintf("dlq_group_%d", time.Now().UnixNano()%1e6)
	e := start(t, func(cfg *broker.Config) {
		writeGroups(t, cfg, broker.GroupConfig{GroupName: group, ConsumeEnable: true, RetryQueueNums: 1, RetryMaxTimes: 1})
	})
	topic := newTopic(t, e)
	p := newProducer(t, e, topic)
	ids := send(t, p, topic, "", "doomed")
	c := newSimpleConsumer(t, e, group, topic, rmq.SUB_ALL, 2*time.Second)
	for attempt := int32(1); attempt <= 2; attempt++ {
		mv := receiveN(t, c, 1, time.Second, 10*time.Second)[0]
		if _, ok := ids[mv.GetMessageId()]; !ok || mv.GetDeliveryAttempt() != attempt {
			t.Fatalf("attempt %d: got %s attempt %d", attempt, mv.GetMessageId(), mv.GetDeliveryAttempt())
		}
	}
	// The third delivery would exceed 2 attempts: the message goes to the DLQ instead.
	deadline := time.Now().Add(10 * time.Second)
	dlq := broker.DLQTopicPrefix + group
	for e.Broker.Store().MaxOffset(dlq, 0) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("message not in the dead-letter queue")
		}
		if mvs, err := c.Receive(context.Background(), 1, time.Second); err == nil && len(mvs) > 0 {
			t.Fatalf("delivered again after max attempts: attempt %d", mvs[0].GetDeliveryAttempt())
		}
	}
	res, err := e.Broker.Store().GetMessages(dlq, 0, 0, 1, 1<<20, nil)
	if err != nil || len(res.Messages) != 1 {
		t.Fatalf("DLQ read: %v", err)
	}
	res.Release()
}
