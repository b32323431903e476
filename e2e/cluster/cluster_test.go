// Package cluster runs multi-broker clusters of real processes: two `mqstore namesrv` and two
// mqstore brokers (distinct brokerName, one cluster) on loopback, driven by mqadmin and by the
// unmodified rocketmq-client-go. It checks registration with both name servers, merged
// routes, cluster-wide topic creation, queues spread over the brokers, push consumers
// rebalancing across them, transaction check-backs per broker, and what a broker's death
// (SIGKILL), hang (SIGSTOP) and clean stop (SIGTERM) do to routes and to a running producer.
//
// MQSTORE_CLUSTER_LONG=1 keeps the producer of TestBrokerKilled running for 40 s after the
// kill, past the client's 30 s route poll.
package cluster

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

func newProducer(t testing.TB, ns []string, group string, opts ...producer.Option) rocketmq.Producer {
	t.Helper()
	p, err := rocketmq.NewProducer(append([]producer.Option{producer.WithNameServer(ns), producer.WithGroupName(group),
		producer.WithInstanceName(instance("p"))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

// received is what one push consumer got: bodies and the broker of each message's queue.
type received struct {
	mu      sync.Mutex
	bodies  map[string]int
	brokers map[string]int
}

func (r *received) snapshot() (bodies, brokers map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	bodies, brokers = map[string]int{}, map[string]int{}
	for k, v := range r.bodies {
		bodies[k] = v
	}
	for k, v := range r.brokers {
		brokers[k] = v
	}
	return bodies, brokers
}

// startConsumer starts a clustering push consumer of group on topic through ns.
func startConsumer(t testing.TB, ns []string, group, topic string) *received {
	t.Helper()
	r := &received{bodies: map[string]int{}, brokers: map[string]int{}}
	c, err := rocketmq.NewPushConsumer(consumer.WithNameServer(ns), consumer.WithGroupName(group),
		consumer.WithInstance(instance("c")), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, m := range msgs {
			r.bodies[string(m.Body)]++
			if m.Queue != nil {
				r.brokers[m.Queue.BrokerName]++
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
	return r
}

// TestClusterSpreadAndRebalance: two brokers register with two name servers; mqadmin
// updateTopic -c creates the topic on both masters; both name servers route it to both; the
// unmodified producer spreads its sends over the queues of both brokers, and two push
// consumers of one group (one through each name server) split the queues between them and
// together receive every message.
func TestClusterSpreadAndRebalance(t *testing.T) {
	c := startCluster(t, "ClusterS", []string{"broker-a", "broker-b"}, nil)
	out := c.createTopic(t, "Spread", 4)
	for _, b := range c.brokers {
		if !strings.Contains(out, b.addr) {
			t.Errorf("mqadmin updateTopic -c output lacks %s:\n%s", b.addr, out)
		}
	}
	for i, a := range c.admins {
		route, err := a.TopicRoute(context.Background(), "Spread")
		if err != nil {
			t.Fatal(err)
		}
		for _, qd := range route.QueueDatas {
			if qd.WriteQueueNums != 4 || qd.ReadQueueNums != 4 {
				t.Errorf("name server %s: %s serves %d/%d queues, want 4/4", c.ns[i], qd.BrokerName, qd.ReadQueueNums, qd.WriteQueueNums)
			}
		}
		for _, bd := range route.BrokerDatas {
			if want := c.broker(bd.BrokerName).addr; bd.BrokerAddrs[0] != want {
				t.Errorf("name server %s: %s at %q, want %s", c.ns[i], bd.BrokerName, bd.BrokerAddrs[0], want)
			}
		}
	}

	c1 := startConsumer(t, c.ns[:1], "spread-c", "Spread")
	c2 := startConsumer(t, c.ns[1:], "spread-c", "Spread")
	p := newProducer(t, c.ns[1:], "spread-p")
	sentTo := map[string]int{}
	var sent []string
	send := func() {
		body := fmt.Sprintf("m%04d", len(sent))
		res, err := p.SendSync(context.Background(), primitive.NewMessage("Spread", []byte(body)))
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("send %s: %v %v", body, res, err)
		}
		sentTo[res.MessageQueue.BrokerName]++
		sent = append(sent, body)
	}
	for range 80 {
		send()
	}
	if sentTo["broker-a"] != 40 || sentTo["broker-b"] != 40 {
		t.Errorf("80 sends went to %v, want 40 to each broker (round robin over 8 queues)", sentTo)
	}
	// The consumers rebalance when the brokers tell them the group changed; keep sending until
	// each has received messages, then every message must have arrived.
	waitFor(t, 60*time.Second, "both consumers to receive messages", func() bool {
		b1, _ := c1.snapshot()
		b2, _ := c2.snapshot()
		if len(b1) > 0 && len(b2) > 0 {
			return true
		}
		send()
		time.Sleep(50 * time.Millisecond)
		return false
	})
	waitFor(t, 60*time.Second, fmt.Sprintf("all %d messages to arrive", len(sent)), func() bool {
		b1, _ := c1.snapshot()
		b2, _ := c2.snapshot()
		for _, s := range sent {
			if b1[s]+b2[s] == 0 {
				return false
			}
		}
		return true
	})
	_, br1 := c1.snapshot()
	_, br2 := c2.snapshot()
	t.Logf("sent to %v; consumer 1 got from %v, consumer 2 from %v", sentTo, br1, br2)
	if br1["broker-a"]+br2["broker-a"] == 0 || br1["broker-b"]+br2["broker-b"] == 0 {
		t.Errorf("consumers got from %v and %v: not from both brokers", br1, br2)
	}
}

// checkListener leaves every local transaction unknown and answers check-backs by the body's
// prefix, recording which broker (store host) asked about which body.
type checkListener struct {
	mu     sync.Mutex
	checks map[string]string // body → store host of the half message checked
}

func (l *checkListener) ExecuteLocalTransaction(*primitive.Message) primitive.LocalTransactionState {
	return primitive.UnkonwnState
}

func (l *checkListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	l.mu.Lock()
	l.checks[string(m.Body)] = m.StoreHost
	l.mu.Unlock()
	if strings.HasPrefix(string(m.Body), "commit") {
		return primitive.CommitMessageState
	}
	return primitive.RollbackMessageState
}

// TestClusterTransactionsPerBroker: a transactional producer's half messages land on both
// brokers; each broker checks its own half messages back through its connection to the
// producer; committed messages are delivered once, rolled-back ones never.
func TestClusterTransactionsPerBroker(t *testing.T) {
	c := startCluster(t, "ClusterT", []string{"broker-a", "broker-b"}, nil,
		"-transactionTimeOut", "1000", "-transactionCheckInterval", "300")
	c.createTopic(t, "Txn", 2)
	l := &checkListener{checks: map[string]string{}}
	tp, err := rocketmq.NewTransactionProducer(l, producer.WithNameServer(c.ns), producer.WithGroupName("txn-p"),
		producer.WithInstanceName(instance("tp")))
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Start(); err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown()
	r := startConsumer(t, c.ns, "txn-c", "Txn")

	halfOn := map[string]string{} // body → broker of the half message
	var bodies []string
	for i := range 16 {
		body := fmt.Sprintf("commit-%02d", i)
		if i%2 == 1 {
			body = fmt.Sprintf("rollback-%02d", i)
		}
		res, err := tp.SendMessageInTransaction(context.Background(), primitive.NewMessage("Txn", []byte(body)))
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("send %s: %+v %v", body, res, err)
		}
		halfOn[body] = res.MessageQueue.BrokerName
		bodies = append(bodies, body)
	}
	waitFor(t, 60*time.Second, "a check-back of every transaction", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.checks) == len(bodies)
	})
	waitFor(t, 60*time.Second, "every committed message", func() bool {
		got, _ := r.snapshot()
		for _, b := range bodies {
			if strings.HasPrefix(b, "commit") && got[b] == 0 {
				return false
			}
		}
		return true
	})
	l.mu.Lock()
	checks := l.checks
	l.mu.Unlock()
	askedBy := map[string]int{}
	for _, body := range bodies {
		want := c.broker(halfOn[body]).addr
		if checks[body] != want {
			t.Errorf("%s: half message on %s (%s) checked from store host %s", body, halfOn[body], want, checks[body])
		}
		askedBy[halfOn[body]]++
	}
	if askedBy["broker-a"] == 0 || askedBy["broker-b"] == 0 {
		t.Errorf("check-backs came from %v, want both brokers", askedBy)
	}
	// Every rollback was checked (above) before the last commit arrived; a rolled-back message
	// delivered would be in the same consume queues as the commits.
	got, brokers := r.snapshot()
	for b, n := range got {
		if !strings.HasPrefix(b, "commit") || n != 1 {
			t.Errorf("%s delivered %d times", b, n)
		}
	}
	t.Logf("check-backs per broker %v; committed messages from %v", askedBy, brokers)
}

// sendLog records the outcome of every send of a running producer.
type sendLog struct {
	mu    sync.Mutex
	sends []sendOutcome
}

type sendOutcome struct {
	at     time.Time // when the send returned
	took   time.Duration
	broker string // broker of the acknowledged queue ("" on failure)
	err    error
}

// run sends with p until stop closes, one send at a time.
func (l *sendLog) run(p rocketmq.Producer, topic string, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		start := time.Now()
		res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(fmt.Sprintf("f%06d", i))))
		o := sendOutcome{at: time.Now(), took: time.Since(start), err: err}
		if err == nil && res.Status == primitive.SendOK {
			o.broker = res.MessageQueue.BrokerName
		} else if err == nil {
			o.err = fmt.Errorf("status %d", res.Status)
		}
		l.mu.Lock()
		l.sends = append(l.sends, o)
		l.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
}

// since summarises the sends that returned after t: successes by broker, failures, the
// longest send, and the failure window (first to last failure).
func (l *sendLog) since(t time.Time) (ok map[string]int, failed int, longest, window time.Duration, firstErr error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ok = map[string]int{}
	var first, last time.Time
	for _, s := range l.sends {
		if s.at.Before(t) {
			continue
		}
		longest = max(longest, s.took)
		if s.err != nil {
			failed++
			if first.IsZero() {
				first, firstErr = s.at, s.err
			}
			last = s.at
			continue
		}
		ok[s.broker]++
	}
	if !first.IsZero() {
		window = last.Sub(first)
	}
	return ok, failed, longest, window, firstErr
}

// TestBrokerKilled: SIGKILL of one broker while the unmodified producer sends. Both name
// servers drop it from the routes at once (its registration connection closes); the
// producer, whose cached route still lists the dead broker until its 30 s poll, keeps
// sending to the other broker within its retry budget. The restarted broker rejoins the
// routes.
func TestBrokerKilled(t *testing.T) {
	c := startCluster(t, "ClusterK", []string{"broker-a", "broker-b"},
		[]string{"-scanNotActiveBrokerInterval", "200", "-brokerChannelExpiredTime", "3000"})
	c.createTopic(t, "Failover", 4)
	p := newProducer(t, c.ns, "failover-p", producer.WithSendMsgTimeout(3*time.Second))
	var log sendLog
	stop, done := make(chan struct{}), make(chan struct{})
	go log.run(p, "Failover", stop, done)
	defer func() { close(stop); <-done }()
	waitFor(t, 20*time.Second, "sends to both brokers", func() bool {
		ok, _, _, _, _ := log.since(time.Time{})
		return ok["broker-a"] > 10 && ok["broker-b"] > 10
	})

	b := c.broker("broker-b")
	killed := time.Now()
	b.Signal(syscall.SIGKILL)
	b.Wait()
	for i, a := range c.admins {
		// Bound: the expiry and one scan, with slack for a loaded machine; in practice the
		// closed registration connection removes it at once.
		took := waitFor(t, 3*time.Second+200*time.Millisecond+5*time.Second, "route without broker-b at "+c.ns[i], func() bool {
			return slices.Equal(routeBrokers(a, "Failover"), []string{"broker-a"}) && !slices.Contains(clusterBrokers(a, c.name), "broker-b")
		})
		t.Logf("SIGKILL to route without broker-b at name server %d: %v (since kill %v)", i+1, took.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	}
	window := 5 * time.Second
	if os.Getenv("MQSTORE_CLUSTER_LONG") != "" {
		window = 40 * time.Second
	}
	time.Sleep(window - time.Since(killed))
	ok, failed, longest, failWindow, firstErr := log.since(killed)
	t.Logf("producer in the %v after SIGKILL: %v acknowledged, %d failed (over %v; first %v), longest send %v",
		window, ok, failed, failWindow, firstErr, longest.Round(time.Millisecond))
	if failed > 0 {
		t.Errorf("%d sends failed after the kill (first: %v); the retry budget should have covered them", failed, firstErr)
	}
	if ok["broker-a"] == 0 {
		t.Errorf("no send acknowledged by broker-a after the kill: %v", ok)
	}

	b.restart()
	for i, a := range c.admins {
		waitFor(t, 10*time.Second, "broker-b back in the route at "+c.ns[i], func() bool {
			return slices.Equal(routeBrokers(a, "Failover"), []string{"broker-a", "broker-b"})
		})
	}
}

// TestBrokerHangExpires: a broker stopped with SIGSTOP keeps its connections open, so only the
// name servers' expiry removes it: within brokerChannelExpiredTime plus one scan of its last
// registration. A running producer loses no send: each one that picks the hung broker times
// out (1 s here) and is retried on the other. After SIGCONT the broker registers again and is
// back in the routes.
func TestBrokerHangExpires(t *testing.T) {
	const expiry, scan = 2 * time.Second, 200 * time.Millisecond
	c := startCluster(t, "ClusterH", []string{"broker-a", "broker-b"},
		[]string{"-scanNotActiveBrokerInterval", scan.String(), "-brokerChannelExpiredTime", expiry.String()})
	c.createTopic(t, "Hang", 2)
	p := newProducer(t, c.ns, "hang-p", producer.WithSendMsgTimeout(time.Second))
	var log sendLog
	stop, done := make(chan struct{}), make(chan struct{})
	go log.run(p, "Hang", stop, done)
	defer func() { close(stop); <-done }()
	waitFor(t, 20*time.Second, "sends to both brokers", func() bool {
		ok, _, _, _, _ := log.since(time.Time{})
		return ok["broker-a"] > 5 && ok["broker-b"] > 5
	})
	b := c.broker("broker-b")
	stopped := time.Now()
	b.Signal(syscall.SIGSTOP)
	for i, a := range c.admins {
		// Its last registration was at most one registerNameServerPeriod (500 ms) before the stop.
		took := waitFor(t, expiry+scan+5*time.Second, "broker-b to expire at "+c.ns[i], func() bool {
			return slices.Equal(routeBrokers(a, "Hang"), []string{"broker-a"})
		})
		t.Logf("SIGSTOP to route without broker-b at name server %d: %v (since stop %v)", i+1, took.Round(time.Millisecond), time.Since(stopped).Round(time.Millisecond))
	}
	if got := time.Since(stopped); got < expiry-500*time.Millisecond {
		t.Errorf("broker-b left the routes %v after SIGSTOP, before the %v expiry could pass", got, expiry)
	}
	time.Sleep(5*time.Second - time.Since(stopped))
	ok, failed, longest, _, firstErr := log.since(stopped)
	t.Logf("producer in the 5s after SIGSTOP: %v acknowledged, %d failed (first %v), longest send %v",
		ok, failed, firstErr, longest.Round(time.Millisecond))
	if failed > 0 {
		t.Errorf("%d sends failed while broker-b hung (first: %v)", failed, firstErr)
	}
	b.Signal(syscall.SIGCONT)
	for i, a := range c.admins {
		waitFor(t, 10*time.Second, "broker-b back at "+c.ns[i], func() bool {
			return slices.Equal(routeBrokers(a, "Hang"), []string{"broker-a", "broker-b"})
		})
	}
}

// TestCleanShutdownUnregisters: a broker stopped with SIGTERM unregisters from both name
// servers, which drop it at once although their expiry is RocketMQ's 120 s.
func TestCleanShutdownUnregisters(t *testing.T) {
	c := startCluster(t, "ClusterU", []string{"broker-a", "broker-b"}, nil)
	c.createTopic(t, "Bye", 2)
	b := c.broker("broker-b")
	b.Signal(syscall.SIGTERM)
	if err := b.Wait(); err != nil {
		t.Fatalf("broker-b exited with %v: %s", err, b.Stderr())
	}
	for i, a := range c.admins {
		// Checked right after the exit: nothing else removes it for 120 s.
		if got := routeBrokers(a, "Bye"); !slices.Equal(got, []string{"broker-a"}) {
			t.Errorf("name server %s routes Bye to %v after broker-b's clean exit", c.ns[i], got)
		}
		if got := clusterBrokers(a, c.name); !slices.Equal(got, []string{"broker-a"}) {
			t.Errorf("name server %s lists %v in %s after broker-b's clean exit", c.ns[i], got, c.name)
		}
	}
}
