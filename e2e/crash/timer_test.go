package crash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// timerDelivery is one delivery of a timer message seen by the consumer.
type timerDelivery struct {
	due       int64 // earliest allowed delivery (ms), carried in the "due" property
	storeTime int64 // store time of the delivered copy
}

// TestTimersAcrossKill: timer messages sent by the unmodified rocketmq-client-go with
// __STARTDELIVERTIME, TIMER_DELAY_SEC and delay levels, pending when the real binary is killed
// with SIGKILL, are each delivered after the restart, never before their time; only timers due
// before the kill may come twice. MQSTORE_TIMER_MANY=100000 adds a run of that many timers spread
// over a minute (no kill) and reports the lateness distribution.
func TestTimersAcrossKill(t *testing.T) {
	n := newNode(t, "-timerPrecisionMs", "100", "-messageDelayLevel", "1s 2s 3s")
	n.start()
	topic := fmt.Sprintf("timer-kill-%d", rand.IntN(1e6))
	p := startProducer(t, n)
	type sent struct {
		body string
		due  int64
	}
	var all []sent
	for i := range 90 {
		body := fmt.Sprintf("%s/%d", topic, i)
		m := primitive.NewMessage(topic, []byte(body))
		before := time.Now().UnixMilli()
		var due int64
		switch i % 3 {
		case 0:
			due = before + 500 + int64(i)*40
			m.WithProperty("__STARTDELIVERTIME", strconv.FormatInt(due, 10))
		case 1:
			sec := 1 + i%4
			due = before + int64(sec)*1000
			m.WithProperty("TIMER_DELAY_SEC", strconv.Itoa(sec))
		case 2:
			level := 1 + i%3
			due = before + int64(level)*1000
			m.WithDelayTimeLevel(level)
		}
		m.WithProperty("due", strconv.FormatInt(due, 10))
		if res, err := p.SendSync(context.Background(), m); err != nil || res.Status != primitive.SendOK {
			t.Fatalf("send %d: %v %v", i, res, err)
		}
		all = append(all, sent{body, due})
	}
	time.Sleep(1500 * time.Millisecond) // some fire, most are pending
	killedAt := time.Now().UnixMilli()
	n.kill()
	p.Shutdown()
	n.start()
	restartedAt := time.Now().UnixMilli()

	want := make([]string, len(all))
	for i, s := range all {
		want[i] = s.body
	}
	got := consumeTimers(t, n, "timer-kill-c", topic, want, 30*time.Second)
	var lateness []int64
	dups := 0
	for _, s := range all {
		ds := got[s.body]
		if len(ds) == 0 {
			t.Errorf("%s (due %d) never delivered", s.body, s.due)
			continue
		}
		if len(ds) > 1 {
			dups++
			if s.due > killedAt {
				t.Errorf("%s due %d after the kill (%d) delivered %d times", s.body, s.due, killedAt, len(ds))
			}
		}
		for _, d := range ds {
			if d.storeTime < s.due {
				t.Errorf("%s delivered %d ms early", s.body, s.due-d.storeTime)
			}
		}
		if s.due > restartedAt {
			late := ds[0].storeTime - s.due
			lateness = append(lateness, late)
			if late > 100+900 {
				t.Errorf("%s delivered %d ms late (precision 100 ms)", s.body, late)
			}
		}
	}
	t.Logf("%d timers, %d delivered twice (due before the kill); lateness of the %d due after the restart: %s",
		len(all), dups, len(lateness), distribution(lateness))
}

// TestManyTimers sends timers spread over a window (MQSTORE_TIMER_MANY of them over a minute; a
// small run over 3 s by default) and reports the observed lateness distribution.
func TestManyTimers(t *testing.T) {
	count, window := 2000, 3*time.Second
	if v, err := strconv.Atoi(os.Getenv("MQSTORE_TIMER_MANY")); err == nil && v > 0 {
		count, window = v, time.Minute
	}
	n := newNode(t, "-timerPrecisionMs", "100")
	n.start()
	topic := fmt.Sprintf("timer-many-%d", rand.IntN(1e6))
	p := startProducer(t, n)
	defer p.Shutdown()
	start := time.Now().UnixMilli() + 2000 // sending takes a while: start the window later
	want := make([]string, count)
	due := make(map[string]int64, count)
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	sem := make(chan struct{}, 64)
	for i := range count {
		body := fmt.Sprintf("%s/%d", topic, i)
		want[i] = body
		d := start + int64(i)*window.Milliseconds()/int64(count)
		due[body] = d
		m := primitive.NewMessage(topic, []byte(body))
		m.WithProperty("__STARTDELIVERTIME", strconv.FormatInt(d, 10))
		m.WithProperty("due", strconv.FormatInt(d, 10))
		sem <- struct{}{}
		wg.Add(1)
		p.SendAsync(context.Background(), func(_ context.Context, res *primitive.SendResult, err error) {
			defer wg.Done()
			<-sem
			if err != nil || res.Status != primitive.SendOK {
				select {
				case errs <- fmt.Errorf("%v %v", res, err):
				default:
				}
			}
		}, m)
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	sentBy := time.Now().UnixMilli()
	got := consumeTimers(t, n, "timer-many-c", topic, want, window+30*time.Second)
	var lateness []int64
	for _, body := range want {
		ds := got[body]
		if len(ds) == 0 {
			t.Fatalf("%s never delivered", body)
		}
		if ds[0].storeTime < due[body] {
			t.Fatalf("%s delivered %d ms early", body, due[body]-ds[0].storeTime)
		}
		if due[body] > sentBy {
			lateness = append(lateness, ds[0].storeTime-due[body])
		}
	}
	t.Logf("%d timers over %v (precision 100 ms); lateness of the %d due after the last send: %s",
		count, window, len(lateness), distribution(lateness))
}

func startProducer(t *testing.T, n *node) rocketmq.Producer {
	t.Helper()
	p, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{n.namesrvAddr()})),
		producer.WithGroupName("timer-p"),
		producer.WithInstanceName(fmt.Sprintf("timer-p-%d", rand.Int64())),
		producer.WithRetry(2),
		producer.WithSendMsgTimeout(5*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// consumeTimers consumes until every wanted body arrived (or timeout), then a second more to
// catch duplicates; it returns the deliveries of each body.
func consumeTimers(t *testing.T, n *node, group, topic string, want []string, timeout time.Duration) map[string][]timerDelivery {
	t.Helper()
	var mu sync.Mutex
	got := make(map[string][]timerDelivery)
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{n.namesrvAddr()})),
		consumer.WithGroupName(group),
		consumer.WithInstance(fmt.Sprintf("timer-c-%d", rand.Int64())),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithConsumeMessageBatchMaxSize(32),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				due, _ := strconv.ParseInt(m.GetProperty("due"), 10, 64)
				got[string(m.Body)] = append(got[string(m.Body)], timerDelivery{due: due, storeTime: m.StoreTimestamp})
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
	missing := func() int {
		mu.Lock()
		defer mu.Unlock()
		k := 0
		for _, w := range want {
			if len(got[w]) == 0 {
				k++
			}
		}
		return k
	}
	deadline := time.Now().Add(timeout)
	for missing() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	mu.Lock()
	defer mu.Unlock()
	out := make(map[string][]timerDelivery, len(got))
	for k, v := range got {
		out[k] = slices.Clone(v)
	}
	return out
}

// distribution summarizes latenesses in ms.
func distribution(ms []int64) string {
	if len(ms) == 0 {
		return "none"
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	q := func(p float64) int64 { return s[min(len(s)-1, int(p*float64(len(s))))] }
	var sum int64
	for _, v := range s {
		sum += v
	}
	return fmt.Sprintf("min %d ms, p50 %d ms, p90 %d ms, p99 %d ms, max %d ms, mean %.1f ms",
		s[0], q(0.5), q(0.9), q(0.99), s[len(s)-1], float64(sum)/float64(len(s)))
}
