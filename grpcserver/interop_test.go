package grpcserver_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	rmq "github.com/apache/rocketmq-clients/golang/v5"
)

func init() { rlog.SetLogLevel("error") }

// A 5.x producer (gRPC) and a 4.x push consumer (remoting) share a topic: the consumer gets
// every message with the id, tag, keys and user properties the 5.x producer set.
func TestInterop5xProducer4xConsumer(t *testing.T) {
	e := start(t, nil)
	topic, group := newTopic(t, e), name(t, "group")
	p := newProducer(t, e, topic)
	const n = 8
	ids := map[string]string{}
	for i := 0; i < n; i++ {
		m := &rmq.Message{Topic: topic, Body: []byte(fmt.Sprintf("v5-%d", i))}
		m.SetTag("TagA")
		m.SetKeys(fmt.Sprintf("k%d", i))
		m.AddProperty("origin", "v5")
		r, err := p.Send(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		ids[string(m.Body)] = r[0].MessageID
	}
	var mu sync.Mutex
	got := map[string]*primitive.MessageExt{}
	c, err := rocketmq.NewPushConsumer(consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{e.NameServer})),
		consumer.WithGroupName(group), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "TagA"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				got[string(m.Body)] = m
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
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		k := len(got)
		mu.Unlock()
		if k == n {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("4.x consumer got %d of %d", len(got), n)
	}
	// The 5.x message id is queryable (QUERY_MESSAGE / mqadmin queryMsgByUniqueKey use the index).
	for _, id := range ids {
		found, err := e.Broker.Store().QueryByKey(topic, id, 4, 0, 0)
		if err != nil || len(found) != 1 || found[0].Message.UniqKey() != id {
			t.Fatalf("query by id %s: %d found, %v", id, len(found), err)
		}
	}
	for body, m := range got {
		if m.MsgId != ids[body] || m.GetTags() != "TagA" || m.GetProperty("origin") != "v5" {
			t.Fatalf("%s: msgId %q (want %q) tags %q origin %q", body, m.MsgId, ids[body], m.GetTags(), m.GetProperty("origin"))
		}
	}
}

// A 4.x producer (remoting; a body over 4 KiB goes zlib-compressed) and a 5.x simple consumer:
// the consumer gets the 4.x message ids and the bodies decompressed.
func TestInterop4xProducer5xConsumer(t *testing.T) {
	e := start(t, nil)
	topic, group := newTopic(t, e), name(t, "group")
	p, err := rocketmq.NewProducer(producer.WithNsResolver(primitive.NewPassthroughResolver([]string{e.NameServer})),
		producer.WithGroupName(name(t, "pg")), producer.WithCompressLevel(5))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	big := bytes.Repeat([]byte("compressible "), 1000) // over the 4 KiB compression threshold
	bodies := map[string][]byte{}
	for i := 0; i < 4; i++ {
		body := []byte(fmt.Sprintf("v4-%d", i))
		if i%2 == 1 {
			body = append(body, big...)
		}
		m := primitive.NewMessage(topic, body)
		m.WithTag("T")
		r, err := p.SendSync(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		bodies[r.MsgID] = body
	}
	c := newSimpleConsumer(t, e, group, topic, rmq.NewFilterExpression("T"), 3*time.Second)
	for _, mv := range receiveN(t, c, len(bodies), 10*time.Second, 20*time.Second) {
		want, ok := bodies[mv.GetMessageId()]
		if !ok {
			t.Fatalf("unknown id %s", mv.GetMessageId())
		}
		if !bytes.Equal(mv.GetBody(), want) {
			t.Fatalf("%s: body of %d bytes, want %d", mv.GetMessageId(), len(mv.GetBody()), len(want))
		}
		if err := c.Ack(context.Background(), mv); err != nil {
			t.Fatal(err)
		}
	}
}
