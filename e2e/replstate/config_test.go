package replstate

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/proctest"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// queryOffset asks one replica for a group's committed offset of a queue (-1: none).
func (g *group) queryOffset(addr, grp, topic string, queueID int) int64 {
	g.t.Helper()
	req := remoting.NewRequest(remoting.RequestQueryConsumerOffset)
	req.SetExt(protocol.FieldConsumerGroup, grp)
	req.SetExt(protocol.FieldTopic, topic)
	req.SetExt(protocol.FieldQueueID, strconv.Itoa(queueID))
	resp, err := g.call(addr, req)
	if err != nil {
		return -2
	}
	defer resp.Release()
	if resp.ResponseCode() != remoting.ResponseSuccess {
		return -1
	}
	off, err := resp.GetInt64(protocol.FieldOffset)
	if err != nil {
		return -1
	}
	return off
}

// groupConfig asks one replica for a subscription group's config.
func (g *group) groupConfig(addr, grp string) (protocol.SubscriptionGroupConfig, bool) {
	g.t.Helper()
	resp, err := g.call(addr, remoting.NewRequest(remoting.RequestGetAllSubscriptionGroupConfig))
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Release()
	var body struct {
		SubscriptionGroupTable map[string]protocol.SubscriptionGroupConfig `json:"subscriptionGroupTable"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		g.t.Fatalf("GET_ALL_SUBSCRIPTIONGROUP_CONFIG body: %v", err)
	}
	gc, ok := body.SubscriptionGroupTable[grp]
	return gc, ok
}

// TestConfigAcrossLeaderKill: a topic and a subscription group created on the leader only, and
// the offsets the unmodified push consumer commits there, are on every replica; after the
// leader is SIGKILLed the new leader publishes the topic's route, serves the group's config and
// the committed offsets, and a new push consumer of the group resumes after them: it receives
// only the message sent after the kill.
func TestConfigAcrossLeaderKill(t *testing.T) {
	const topic, grp, sent = "RSTopic", "rs-c", 40
	g := startGroup(t, "rs-a", 21)
	leader := g.waitMaster("")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := g.admin.CreateTopic(ctx, leader, namesrv.TopicConfig{TopicName: topic, ReadQueueNums: 4, WriteQueueNums: 4, Perm: namesrv.PermRW, TopicFilterType: "SINGLE_TAG"}); err != nil {
		t.Fatal(err)
	}
	gc := protocol.DefaultSubscriptionGroupConfig(grp)
	gc.RetryMaxTimes = 7
	if err := g.admin.UpdateSubscriptionGroup(ctx, leader, gc); err != nil {
		t.Fatal(err)
	}

	p := g.producer(t, "rs-p", "p")
	for i := range sent {
		res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte("before-"+strconv.Itoa(i))))
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("send %d: %v %v", i, res, err)
		}
	}

	var mu sync.Mutex
	received := map[string]int{}
	consume := func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			received[string(m.Body)]++
		}
		return consumer.ConsumeSuccess, nil
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(received) }
	c, err := rocketmq.NewPushConsumer(consumer.WithNameServer([]string{g.ns}), consumer.WithGroupName(grp),
		consumer.WithInstance(proctest.Instance("c")), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(topic, consumer.MessageSelector{}, consume); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the push consumer to receive every message", func() bool { return count() == sent })

	// The consumer records a batch's offset after its callback returns and commits what it
	// recorded every 5 s: wait until the leader holds all of them before shutting it down (a
	// Shutdown right after the last callback may commit the offsets of the batch before it).
	var committed [4]int64
	leaderSum := func() int64 {
		var sum int64
		for q := range 4 {
			committed[q] = g.queryOffset(leader, grp, topic, q)
			sum += committed[q]
		}
		return sum
	}
	waitFor(t, 30*time.Second, "the leader to hold the consumer's committed offsets", func() bool { return leaderSum() == sent })
	c.Shutdown()

	// Every replica has the leader's committed offsets (the batch reaches the log in 200 ms).
	var seen map[string][4]int64
	if _, ok := waitUntil(10*time.Second, func() bool {
		if leaderSum() != sent {
			return false
		}
		seen = map[string][4]int64{}
		same := true
		for _, addr := range g.alive() {
			var got [4]int64
			for q := range 4 {
				got[q] = g.queryOffset(addr, grp, topic, q)
			}
			seen[addr] = got
			same = same && got == committed
		}
		return same
	}); !ok {
		t.Fatalf("the replicas do not hold the leader's committed offsets %v after 10s: %v", committed, seen)
	}
	t.Logf("committed offsets %v on every replica", committed)

	killed := time.Now()
	g.kill(leader)
	next := g.waitMaster(leader)
	t.Logf("SIGKILL of leader %s to new leader %s registered: %v", leader, next, time.Since(killed).Round(time.Millisecond))

	route, err := g.admin.TopicRoute(ctx, topic)
	if err != nil {
		t.Fatalf("route of %s after the kill: %v", topic, err)
	}
	queues := 0
	for _, qd := range route.QueueDatas {
		if qd.BrokerName == g.name {
			queues = qd.WriteQueueNums
		}
	}
	if queues != 4 {
		t.Fatalf("route after the kill: %+v, want 4 queues of %s", route, g.name)
	}
	if got, ok := g.groupConfig(next, grp); !ok || got.RetryMaxTimes != 7 {
		t.Fatalf("group on the new leader: %+v (found %v), want retryMaxTimes 7", got, ok)
	}
	stats, err := g.admin.ConsumeStats(ctx, grp, topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stats {
		if s.ConsumerOffset != committed[s.QueueID] {
			t.Fatalf("new leader answers offset %d for queue %d, committed %d", s.ConsumerOffset, s.QueueID, committed[s.QueueID])
		}
	}

	// A producer that learns the route now reaches the new leader; a new consumer of the group
	// resumes from the committed offsets: it receives that message only.
	fresh, err := client.NewProducer(client.WithNameServer(g.ns), client.WithGroup("rs-p2"), client.WithInstanceName(proctest.Instance("p2")))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if _, err := fresh.Send(ctx, &message.Message{Topic: topic, Body: []byte("after")}); err != nil {
		t.Fatalf("send to the new leader: %v", err)
	}
	mu.Lock()
	clear(received)
	mu.Unlock()
	c2, err := rocketmq.NewPushConsumer(consumer.WithNameServer([]string{g.ns}), consumer.WithGroupName(grp),
		consumer.WithInstance(proctest.Instance("c2")), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Subscribe(topic, consumer.MessageSelector{}, consume); err != nil {
		t.Fatal(err)
	}
	if err := c2.Start(); err != nil {
		t.Fatal(err)
	}
	defer c2.Shutdown()
	waitFor(t, 30*time.Second, "the new consumer to receive the message sent after the kill", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return received["after"] > 0
	})
	time.Sleep(500 * time.Millisecond) // anything redelivered would be pulled with it
	mu.Lock()
	defer mu.Unlock()
	if len(received) != 1 {
		t.Fatalf("the new consumer received %d distinct messages (%v), want only the one sent after the kill", len(received), received)
	}
}
