package grpcserver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/testserver"
	"github.com/mqstore/mqstore/protocol"
)

// FIFO, for a consumer group marked orderly (consumeMessageOrderly, set with
// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP as mqadmin updateSubGroup -o does): a message group's
// next message is delivered only after the previous one is acked (or dead-lettered); other
// groups are not held up; every message carries its message_group.
func TestFIFO(t *testing.T) {
	e := start(t, nil)
	topic, group := newTopic(t, e), name(t, "group")
	setOrderly(t, e, group)
	p := newProducer(t, e, topic)
	for i := 0; i < 3; i++ {
		for _, g := range []string{"g1", "g2"} {
			m := &rmq.Message{Topic: topic, Body: []byte(fmt.Sprintf("%s-%d", g, i))}
			m.SetMessageGroup(g)
			if _, err := p.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := newSimpleConsumer(t, e, group, topic, rmq.SUB_ALL, 2*time.Second)
	next := map[string]int{"g1": 0, "g2": 0}
	for round := 0; round < 3; round++ {
		// One message per group is visible at a time: a large batch gets exactly one of each.
		got := receiveN(t, c, 2, 10*time.Second, 10*time.Second)
		if mvs, err := c.Receive(context.Background(), 8, 10*time.Second); err == nil && len(mvs) > 0 {
			t.Fatalf("round %d: %q delivered while its group has one in flight", round, mvs[0].GetBody())
		}
		for _, mv := range got {
			g := *mv.GetMessageGroup()
			if want := fmt.Sprintf("%s-%d", g, next[g]); string(mv.GetBody()) != want {
				t.Fatalf("group %s: got %q, want %q", g, mv.GetBody(), want)
			}
			next[g]++
			if err := c.Ack(context.Background(), mv); err != nil {
				t.Fatal(err)
			}
		}
	}
	if next["g1"] != 3 || next["g2"] != 3 {
		t.Fatalf("delivered %v", next)
	}
}

// A consumer group that is not orderly gets the messages of one message group concurrently:
// one receive takes them all, each still carrying its message_group.
func TestFIFOOnlyForOrderlyGroups(t *testing.T) {
	e := start(t, nil)
	topic, group := newTopic(t, e), name(t, "group")
	p := newProducer(t, e, topic)
	for i := 0; i < 4; i++ {
		m := &rmq.Message{Topic: topic, Body: []byte(fmt.Sprintf("g1-%d", i))}
		m.SetMessageGroup("g1")
		if _, err := p.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	c := newSimpleConsumer(t, e, group, topic, rmq.SUB_ALL, 2*time.Second)
	got := receiveN(t, c, 4, time.Minute, 10*time.Second) // none acked: all four in flight at once
	for _, mv := range got {
		if g := mv.GetMessageGroup(); g == nil || *g != "g1" {
			t.Fatalf("message %q without its group", mv.GetBody())
		}
	}
}

// setOrderly marks a consumer group orderly through the remoting admin API.
func setOrderly(t *testing.T, e *env, group string) {
	t.Helper()
	a, err := client.NewAdmin(client.WithNameServer(e.NameServer), client.WithLogger(testserver.Quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cfg := protocol.DefaultSubscriptionGroupConfig(group)
	cfg.ConsumeMessageOrderly = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.UpdateSubscriptionGroup(ctx, e.Broker.Addr(), cfg); err != nil {
		t.Fatal(err)
	}
}
