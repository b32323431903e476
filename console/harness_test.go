package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	rmqconsumer "github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/console"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/metrics"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
)

func init() { rlog.SetLogLevel("error") }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is a name server, a broker with metrics, and the console on the metrics port.
type env struct {
	t      testing.TB
	nsAddr string
	b      *broker.Broker
	base   string // http://127.0.0.1:port
	log    *logBuffer
}

// logBuffer collects the console's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func startEnv(t testing.TB, mutate func(*console.Options)) *env {
	t.Helper()
	return startEnvConfig(t, nil, mutate)
}

// startEnvConfig is startEnv with the broker's configuration changed by config first.
func startEnvConfig(t testing.TB, config func(*broker.Config), mutate func(*console.Options)) *env {
	t.Helper()
	ns, err := namesrv.Listen("127.0.0.1:0", namesrv.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	cfg := broker.DefaultConfig()
	cfg.StorePathRootDir = t.TempDir()
	cfg.ListenPort = 0
	cfg.MappedFileSizeCommitLog = 64 << 20
	cfg.FlushConsumerOffsetInterval = 500
	cfg.TransactionTimeOut = 3_600_000 // no checks during a test: transactions stay open
	cfg.TransactionCheckInterval = 3_600_000
	if config != nil {
		config(&cfg)
	}
	m := metrics.New(metrics.Options{Cluster: cfg.BrokerClusterName, NodeID: cfg.BrokerName, NoRuntimeMetrics: true})
	b, err := broker.New(cfg, broker.Options{
		Registrar: broker.EmbeddedRegistrar(ns.Registry()),
		Logger:    quiet,
		Remoting:  remoting.Options{Logger: quiet},
		Store:     func(o *store.Options) { o.ConsumeQueueUnits = 20000 },
		Metrics:   m,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	m.SetSnapshot(b.MetricsSnapshot)

	logs := &logBuffer{}
	opts := console.Options{Broker: b, Gatherer: m.Registry(), ListenAddr: "127.0.0.1:0", NameServers: []string{ns.Addr()},
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	if mutate != nil {
		mutate(&opts)
	}
	c, err := console.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := m.Serve(metrics.HTTPOptions{Addr: "127.0.0.1:0", Logger: quiet, Handlers: map[string]http.Handler{console.Prefix: c.Handler()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &env{t: t, nsAddr: ns.Addr(), b: b, base: "http://" + srv.Addr().String(), log: logs}
}

// getJSON decodes GET base+path into v and returns the status.
func (e *env) getJSON(path string, v any) int {
	e.t.Helper()
	resp, err := http.Get(e.base + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode
}

var tokenRE = regexp.MustCompile(`name="mqstore-console-token" content="([0-9a-f]+)"`)

// token reads the CSRF token from a page.
func (e *env) token() string {
	e.t.Helper()
	resp, err := http.Get(e.base + "/console/")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	m := tokenRE.FindSubmatch(page)
	if m == nil {
		e.t.Fatalf("no token in the page:\n%s", page)
	}
	return string(m[1])
}

// post sends a write with the given headers; it returns the status and the decoded answer.
func (e *env) post(path, body string, header map[string]string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.base+path, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// admin returns our wire client, to check what the console shows against the wire API.
func (e *env) admin() *client.Admin {
	e.t.Helper()
	a, err := client.NewAdmin(client.WithNameServer(e.nsAddr), client.WithLogger(quiet))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { a.Close() })
	return a
}

var seq atomic.Int64

func instance(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e6, seq.Add(1))
}

// sendN sends n messages to topic with rocketmq-client-go, keys "<topic>-key-<i>".
func (e *env) sendN(topic string, from, n int) {
	e.t.Helper()
	p, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{e.nsAddr})),
		producer.WithGroupName(instance("pg")), producer.WithInstanceName(instance("p")), producer.WithRetry(2))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		e.t.Fatal(err)
	}
	defer p.Shutdown()
	for i := from; i < from+n; i++ {
		m := primitive.NewMessage(topic, []byte(fmt.Sprintf("body <b>%d</b> of %s", i, topic)))
		m.WithKeys([]string{fmt.Sprintf("%s-key-%d", topic, i)})
		m.WithTag("TagA")
		if _, err := p.SendSync(context.Background(), m); err != nil {
			e.t.Fatal(err)
		}
	}
	// A send is answered once appended; queues show it once dispatched.
	st := e.b.Store()
	if err := st.WaitDispatched(context.Background(), st.MaxPhysicalOffset()); err != nil {
		e.t.Fatal(err)
	}
}

// received collects the bodies a push consumer got.
type received struct {
	mu     sync.Mutex
	bodies map[string]bool
}

func (r *received) has(body string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[body]
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// consume starts a rocketmq-client-go push consumer of group on topic.
func (e *env) consume(group, topic string) (rocketmq.PushConsumer, *received) {
	e.t.Helper()
	r := &received{bodies: map[string]bool{}}
	c, err := rocketmq.NewPushConsumer(
		rmqconsumer.WithNsResolver(primitive.NewPassthroughResolver([]string{e.nsAddr})),
		rmqconsumer.WithGroupName(group), rmqconsumer.WithInstance(instance("c")),
		rmqconsumer.WithConsumerModel(rmqconsumer.Clustering),
		rmqconsumer.WithConsumeFromWhere(rmqconsumer.ConsumeFromFirstOffset))
	if err != nil {
		e.t.Fatal(err)
	}
	err = c.Subscribe(topic, rmqconsumer.MessageSelector{Type: rmqconsumer.TAG, Expression: "*"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (rmqconsumer.ConsumeResult, error) {
			r.mu.Lock()
			for _, m := range msgs {
				r.bodies[string(m.Body)] = true
			}
			r.mu.Unlock()
			return rmqconsumer.ConsumeSuccess, nil
		})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		e.t.Fatal(err)
	}
	return c, r
}

// prepare stores n half messages of topic in-process (open transactions no producer will
// answer for), bodies "txn <i>".
func (e *env) prepare(topic, group string, n int) []int64 {
	e.t.Helper()
	var offsets []int64
	for i := range n {
		m := message.New(topic, []byte(fmt.Sprintf("txn %d", i)))
		m.QueueID = int32(i % 4)
		m.SetProperty(message.PropertyUniqKey, fmt.Sprintf("TX%030d", i))
		r, err := e.b.Store().Transactions().Prepare(m, group)
		if err != nil {
			e.t.Fatal(err)
		}
		offsets = append(offsets, r.HalfOffset)
	}
	return offsets
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// createTopic creates a topic with queues over the wire.
func (e *env) createTopic(name string, queues int) {
	e.t.Helper()
	if err := e.admin().CreateTopic(context.Background(), e.b.Addr(), namesrv.TopicConfig{TopicName: name, ReadQueueNums: queues, WriteQueueNums: queues}); err != nil {
		e.t.Fatal(err)
	}
}

// createTopicInProcess creates a 4-queue topic on the broker directly (no wire: with ACL on,
// the wire needs signatures).
func (e *env) createTopicInProcess(name string) {
	e.t.Helper()
	if err := e.b.UpdateTopic(namesrv.TopicConfig{TopicName: name, ReadQueueNums: 4, WriteQueueNums: 4, Perm: namesrv.PermRW}, "test"); err != nil {
		e.t.Fatal(err)
	}
}

// sendDelayed sends n messages to topic with rocketmq-client-go at a delay level (18 = 2 h:
// they stay in the timing wheel for the test), bodies "later <i>".
func (e *env) sendDelayed(topic string, n, level int) {
	e.t.Helper()
	p, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{e.nsAddr})),
		producer.WithGroupName(instance("pg")), producer.WithInstanceName(instance("p")), producer.WithRetry(2))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		e.t.Fatal(err)
	}
	defer p.Shutdown()
	for i := range n {
		m := primitive.NewMessage(topic, []byte(fmt.Sprintf("later %d", i)))
		m.WithDelayTimeLevel(level)
		if _, err := p.SendSync(context.Background(), m); err != nil {
			e.t.Fatal(err)
		}
	}
}

// deadLetters stores n dead letters of group in-process (%DLQ%group, as the broker files a
// message that ran out of retries), bodies "dead <i>", RETRY_TOPIC = origin.
func (e *env) deadLetters(group, origin string, n int) {
	e.t.Helper()
	dlq := broker.DLQTopicPrefix + group
	if err := e.b.UpdateTopic(namesrv.TopicConfig{TopicName: dlq, ReadQueueNums: 1, WriteQueueNums: 1, Perm: namesrv.PermRW}, "test"); err != nil {
		e.t.Fatal(err)
	}
	for i := range n {
		m := message.New(dlq, []byte(fmt.Sprintf("dead %d", i)))
		m.SetProperty(message.PropertyRetryTopic, origin)
		m.SetProperty(message.PropertyUniqKey, fmt.Sprintf("DEAD%028d", i))
		m.ReconsumeTimes = 16
		if _, err := e.b.Store().Put(m); err != nil {
			e.t.Fatal(err)
		}
	}
	st := e.b.Store()
	if err := st.WaitDispatched(context.Background(), st.MaxPhysicalOffset()); err != nil {
		e.t.Fatal(err)
	}
}
