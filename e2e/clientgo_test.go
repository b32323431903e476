package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

func newProducer(t testing.TB, nsAddr string, opts ...producer.Option) rocketmq.Producer {
	t.Helper()
	opts = append([]producer.Option{
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{nsAddr})),
		producer.WithGroupName(instance("pg")),
		producer.WithInstanceName(instance("p")),
		producer.WithRetry(2),
	}, opts...)
	p, err := rocketmq.NewProducer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

// received collects consumed messages by body.
type received struct {
	mu     sync.Mutex
	bodies map[string]int
	tags   map[string]int
	total  int
}

func newReceived() *received {
	return &received{bodies: make(map[string]int), tags: make(map[string]int)}
}

func (r *received) add(msgs ...*primitive.MessageExt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		b := string(m.Body)
		if r.bodies[b] == 0 {
			r.tags[m.GetTags()]++
		}
		r.bodies[b]++
		r.total++
	}
}

func (r *received) unique() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func (r *received) has(body string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[body] > 0
}

func newPushConsumer(t testing.TB, nsAddr, group, topic, expr string, r *received, opts ...consumer.Option) rocketmq.PushConsumer {
	t.Helper()
	opts = append([]consumer.Option{
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{nsAddr})),
		consumer.WithGroupName(group),
		consumer.WithInstance(instance("c")),
		consumer.WithConsumerModel(consumer.Clustering),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}, opts...)
	c, err := rocketmq.NewPushConsumer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: expr},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			r.add(msgs...)
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

func tagOf(i int) string {
	if i%2 == 0 {
		return "TagA"
	}
	return "TagB"
}

func newMessage(topic, kind string, i int) *primitive.Message {
	m := primitive.NewMessage(topic, []byte(fmt.Sprintf("%s-%d", kind, i)))
	m.WithTag(tagOf(i))
	m.WithKeys([]string{fmt.Sprintf("key-%s-%d", kind, i)})
	return m
}

// TestSendModesAndPushConsumers sends 1,000 messages in each of the four ways (sync, async,
// oneway, batch) with keys and tags; a clustering push consumer receives every one, and a
// consumer subscribed to TagA receives only TagA.
func TestSendModesAndPushConsumers(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	const n = 1000
	topic := "SendModes"
	p := newProducer(t, s.ns.addr)
	ctx := context.Background()

	for i := range n {
		res, err := p.SendSync(ctx, newMessage(topic, "sync", i))
		if err != nil {
			t.Fatalf("SendSync %d: %v", i, err)
		}
		if res.Status != primitive.SendOK || len(res.OffsetMsgID) != 32 {
			t.Fatalf("SendSync %d: %+v", i, res)
		}
	}
	var wg sync.WaitGroup
	var asyncErr sync.Map
	for i := range n {
		wg.Add(1)
		err := p.SendAsync(ctx, func(_ context.Context, res *primitive.SendResult, err error) {
			defer wg.Done()
			if err != nil {
				asyncErr.Store(i, err)
			}
		}, newMessage(topic, "async", i))
		if err != nil {
			t.Fatalf("SendAsync %d: %v", i, err)
		}
	}
	wg.Wait()
	asyncErr.Range(func(k, v any) bool { t.Fatalf("async send %v: %v", k, v); return false })
	for i := range n {
		if err := p.SendOneWay(ctx, newMessage(topic, "oneway", i)); err != nil {
			t.Fatalf("SendOneWay %d: %v", i, err)
		}
	}
	for i := 0; i < n; i += 100 {
		batch := make([]*primitive.Message, 100)
		for j := range batch {
			batch[j] = newMessage(topic, "batch", i+j)
		}
		res, err := p.SendSync(ctx, batch...)
		if err != nil {
			t.Fatalf("batch at %d: %v", i, err)
		}
		if ids := strings.Split(res.OffsetMsgID, ","); len(ids) != 100 {
			t.Fatalf("batch at %d: %d offset ids", i, len(ids))
		}
	}

	all, tagA := newReceived(), newReceived()
	c1 := newPushConsumer(t, s.ns.addr, "all-group", topic, "*", all)
	defer c1.Shutdown()
	c2 := newPushConsumer(t, s.ns.addr, "taga-group", topic, "TagA", tagA)
	defer c2.Shutdown()
	waitFor(t, 30*time.Second, "every message", func() bool { return all.unique() == 4*n })
	waitFor(t, 30*time.Second, "every TagA message", func() bool { return tagA.unique() == 2*n })
	for _, kind := range []string{"sync", "async", "oneway", "batch"} {
		for i := range n {
			body := fmt.Sprintf("%s-%d", kind, i)
			if !all.has(body) {
				t.Fatalf("missing %s", body)
			}
		}
	}
	time.Sleep(200 * time.Millisecond)
	tagA.mu.Lock()
	defer tagA.mu.Unlock()
	if tagA.tags["TagB"] != 0 || tagA.tags["TagA"] != 2*n {
		t.Fatalf("TagA consumer got tags %v", tagA.tags)
	}
}
