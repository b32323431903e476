package grpcserver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/mqstore/mqstore/broker"
	"google.golang.org/protobuf/proto"
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

// A request of several messages under SYNC_FLUSH: every message is stored (one group commit
// covers them) with its own entry and queue offset, in request order, and each is received.
func TestRawSendBatchSyncFlush(t *testing.T) {
	e := start(t, func(c *broker.Config) { c.FlushDiskType = "SYNC_FLUSH" })
	c := rawClient(t, e)
	ctx, cancel := context.WithTimeout(withClientID(context.Background()), 10*time.Second)
	defer cancel()
	topic := newTopic(t, e)
	var msgs []*v2.Message
	for i := 0; i < 5; i++ {
		msgs = append(msgs, &v2.Message{Topic: &v2.Resource{Name: topic}, Body: []byte(fmt.Sprint(i)),
			SystemProperties: &v2.SystemProperties{MessageId: fmt.Sprintf("BATCH%d", i), MessageGroup: proto.String("g")}})
	}
	msgs = append(msgs, &v2.Message{Topic: &v2.Resource{Name: topic}, Body: []byte("no id"), SystemProperties: &v2.SystemProperties{}})
	r, err := c.SendMessage(ctx, &v2.SendMessageRequest{Messages: msgs})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetStatus().GetCode() != v2.Code_BAD_REQUEST || len(r.GetEntries()) != len(msgs) {
		t.Fatalf("status %v, %d entries", r.GetStatus(), len(r.GetEntries()))
	}
	for i, en := range r.GetEntries()[:5] {
		// One message group: one queue, consecutive offsets in request order.
		if en.GetStatus().GetCode() != v2.Code_OK || en.GetMessageId() != fmt.Sprintf("BATCH%d", i) ||
			en.GetOffset() != r.GetEntries()[0].GetOffset()+int64(i) {
			t.Fatalf("entry %d: %v", i, en)
		}
	}
	if got := r.GetEntries()[5].GetStatus().GetCode(); got != v2.Code_BAD_REQUEST {
		t.Fatalf("message without an id: %v", got)
	}
}
