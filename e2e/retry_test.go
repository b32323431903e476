package e2e

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/remoting"
)

// Retry, dead letters and delay levels with the real push consumer: ConsumeRetryLater sends
// the message back (CONSUMER_SEND_MSG_BACK), the broker delays it and redelivers it through
// %RETRY%<group>, and after maxReconsumeTimes puts it in %DLQ%<group>.

// fastDelays makes every delay level 1 s, so retries (level 3 + reconsumeTimes) come quickly.
func fastDelays(c *broker.Config) {
	c.MessageDelayLevel = "1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s"
}

// createTopic creates a topic with one queue through UPDATE_AND_CREATE_TOPIC. A push consumer
// learns the route of %RETRY%<group> only at start or every 30 s, so tests create it first, as
// operators create groups before their consumers start.
func createTopic(t testing.TB, s *server, topic string, queues int) {
	t.Helper()
	q := strconv.Itoa(queues)
	resp := invoke(t, rawClient(t), s.b.Addr(), remoting.RequestUpdateAndCreateTopic, nil,
		"topic", topic, "defaultTopic", "TBW102", "readQueueNums", q, "writeQueueNums", q, "perm", "6",
		"topicFilterType", "SINGLE_TAG", "topicSysFlag", "0", "order", "false")
	defer resp.Release()
	if resp.ResponseCode() != remoting.ResponseSuccess {
		t.Fatalf("create %s: %v %s", topic, resp.ResponseCode(), resp.Remark)
	}
}

// delivery is one call of a consumer callback for one message.
type delivery struct {
	body           string
	reconsumeTimes int32
	topic          string
	at             time.Time
}

// deliveries records callback calls.
type deliveries struct {
	mu   sync.Mutex
	list []delivery
}

func (d *deliveries) add(m *primitive.MessageExt) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.list = append(d.list, delivery{body: string(m.Body), reconsumeTimes: m.ReconsumeTimes, topic: m.Topic, at: time.Now()})
	n := 0
	for _, x := range d.list {
		if x.body == string(m.Body) {
			n++
		}
	}
	return n
}

func (d *deliveries) of(body string) []delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []delivery
	for _, x := range d.list {
		if x.body == body {
			out = append(out, x)
		}
	}
	return out
}

// newFuncConsumer starts a push consumer of topic whose callback is fn.
func newFuncConsumer(t testing.TB, nsAddr, group, topic string,
	fn func(*primitive.MessageExt) consumer.ConsumeResult, opts ...consumer.Option) rocketmq.PushConsumer {
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
	err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			for _, m := range msgs {
				if r := fn(m); r != consumer.ConsumeSuccess {
					return r, nil
				}
			}
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown() })
	return c
}

// TestRetryLater: a consumer that answers "retry later" twice and then succeeds gets the
// message three times, with reconsume times 0, 1, 2 and its original topic, and then never again.
func TestRetryLater(t *testing.T) {
	t.Parallel()
	s := startServer(t, fastDelays)
	topic, group := "RetryTopic", "retry-cg"
	p := newProducer(t, s.ns.addr)
	sendN(t, p, topic, "warm", 0, 1)
	createTopic(t, s, broker.RetryTopicPrefix+group, 1)
	var got deliveries
	newFuncConsumer(t, s.ns.addr, group, topic, func(m *primitive.MessageExt) consumer.ConsumeResult {
		if n := got.add(m); string(m.Body) == "retry-me" && n <= 2 {
			return consumer.ConsumeRetryLater
		}
		return consumer.ConsumeSuccess
	})
	waitFor(t, 20*time.Second, "the warm-up message", func() bool { return len(got.of("warm-0")) == 1 })
	if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("retry-me"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the third delivery", func() bool { return len(got.of("retry-me")) == 3 })
	time.Sleep(2500 * time.Millisecond) // a fourth would come 1 s after a send-back
	list := got.of("retry-me")
	if len(list) != 3 {
		t.Fatalf("%d deliveries, want 3", len(list))
	}
	for i, d := range list {
		if d.reconsumeTimes != int32(i) || d.topic != topic {
			t.Fatalf("delivery %d: reconsume times %d topic %s", i, d.reconsumeTimes, d.topic)
		}
		if i > 0 && d.at.Sub(list[i-1].at) < 900*time.Millisecond {
			t.Fatalf("delivery %d came %v after the previous one (delay level 1 s)", i, d.at.Sub(list[i-1].at))
		}
	}
	if n := len(got.of("warm-0")); n != 1 {
		t.Fatalf("the successful message was delivered %d times", n)
	}
}

// TestDeadLetter: a consumer that always fails, with maxReconsumeTimes 2, gets the message
// three times (reconsume times 0, 1, 2); then it is in %DLQ%<group>, once, and not redelivered.
func TestDeadLetter(t *testing.T) {
	t.Parallel()
	s := startServer(t, fastDelays)
	topic, group := "DLQTopic", "dlq-cg"
	p := newProducer(t, s.ns.addr)
	sendN(t, p, topic, "warm", 0, 1)
	createTopic(t, s, broker.RetryTopicPrefix+group, 1)
	var got deliveries
	newFuncConsumer(t, s.ns.addr, group, topic, func(m *primitive.MessageExt) consumer.ConsumeResult {
		got.add(m)
		if string(m.Body) == "poison" {
			return consumer.ConsumeRetryLater
		}
		return consumer.ConsumeSuccess
	}, consumer.WithMaxReconsumeTimes(2))
	waitFor(t, 20*time.Second, "the warm-up message", func() bool { return len(got.of("warm-0")) == 1 })
	if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("poison"))); err != nil {
		t.Fatal(err)
	}
	dlq := broker.DLQTopicPrefix + group
	waitFor(t, 20*time.Second, "the dead letter", func() bool {
		s.b.Store().Sync(context.Background())
		return s.b.Store().MaxOffset(dlq, 0) == 1
	})
	time.Sleep(1500 * time.Millisecond)
	list := got.of("poison")
	if len(list) != 3 {
		t.Fatalf("%d deliveries, want 3", len(list))
	}
	for i, d := range list {
		if d.reconsumeTimes != int32(i) {
			t.Fatalf("delivery %d: reconsume times %d", i, d.reconsumeTimes)
		}
	}
	s.b.Store().Sync(context.Background())
	if n := s.b.Store().MaxOffset(dlq, 0); n != 1 {
		t.Fatalf("%d dead letters, want 1", n)
	}
	u, _ := s.b.Store().QueueUnit(dlq, 0, 0)
	m, err := s.b.Store().ReadAt(u.CommitLogOffset)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Body) != "poison" || m.ReconsumeTimes != 3 {
		t.Fatalf("dead letter %q reconsume times %d", m.Body, m.ReconsumeTimes)
	}
	if v, _ := m.Property("RETRY_TOPIC"); v != topic {
		t.Fatalf("dead letter RETRY_TOPIC %q", v)
	}
}

// TestDelayLevels: messages of delay levels 1 and 3 (1 s, 10 s) reach the consumer no earlier
// than their delay after they were sent and within a second after; level-3 messages pending
// across a broker restart are delivered after it, on time.
func TestDelayLevels(t *testing.T) {
	t.Parallel()
	const perLevel = 5
	check := func(t *testing.T, got *deliveries, born map[string]time.Time, delays map[string]time.Duration, late time.Duration) {
		t.Helper()
		for body, d := range delays {
			list := got.of(body)
			if len(list) != 1 {
				t.Fatalf("%s delivered %d times", body, len(list))
			}
			after := list[0].at.Sub(born[body])
			if after < d || after > d+late {
				t.Errorf("%s (delay %v) delivered %v after its send", body, d, after)
			} else {
				t.Logf("%s (delay %v) delivered %v after its send", body, d, after)
			}
		}
	}
	send := func(t *testing.T, p rocketmq.Producer, topic string, levels ...int) (map[string]time.Time, map[string]time.Duration) {
		born, delays := map[string]time.Time{}, map[string]time.Duration{}
		for _, level := range levels {
			for i := range perLevel {
				body := "level" + strconv.Itoa(level) + "-" + strconv.Itoa(i)
				m := primitive.NewMessage(topic, []byte(body))
				m.WithDelayTimeLevel(level)
				born[body] = time.Now()
				if _, err := p.SendSync(context.Background(), m); err != nil {
					t.Fatal(err)
				}
				delays[body] = map[int]time.Duration{1: time.Second, 3: 10 * time.Second}[level]
			}
		}
		return born, delays
	}

	t.Run("levels 1 and 3", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		topic := "DelayLevels"
		p := newProducer(t, s.ns.addr)
		sendN(t, p, topic, "warm", 0, 1)
		var got deliveries
		newFuncConsumer(t, s.ns.addr, "delay-cg", topic, func(m *primitive.MessageExt) consumer.ConsumeResult {
			got.add(m)
			return consumer.ConsumeSuccess
		})
		waitFor(t, 20*time.Second, "the warm-up message", func() bool { return len(got.of("warm-0")) == 1 })
		born, delays := send(t, p, topic, 1, 3)
		waitFor(t, 15*time.Second, "the delayed messages", func() bool {
			got.mu.Lock()
			defer got.mu.Unlock()
			return len(got.list) == 1+2*perLevel
		})
		check(t, &got, born, delays, time.Second)
	})

	t.Run("pending across a restart", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		topic := "DelayRestart"
		p := newProducer(t, s.ns.addr)
		born, delays := send(t, p, topic, 3)
		p.Shutdown()
		time.Sleep(time.Second)
		s.restart()
		var got deliveries
		newFuncConsumer(t, s.ns.addr, "delay-restart-cg", topic, func(m *primitive.MessageExt) consumer.ConsumeResult {
			got.add(m)
			return consumer.ConsumeSuccess
		})
		waitFor(t, 20*time.Second, "the delayed messages", func() bool {
			got.mu.Lock()
			defer got.mu.Unlock()
			return len(got.list) == perLevel
		})
		// The consumer started after the restart: allow its start-up on top of the second.
		check(t, &got, born, delays, 3*time.Second)
	})
}
