package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/mqstore/mqstore/filter"
	"github.com/mqstore/mqstore/remoting"
)

// sqlMessage is one sent message's properties; absent ones are not in the map.
type sqlMessage struct {
	body  string
	props map[string]string
}

func (m sqlMessage) lookup(name string) (string, bool) {
	v, ok := m.props[name]
	return v, ok
}

// sqlMessages builds n messages over a mix of properties: a (0..99, sometimes absent or not a
// number), region (eu/us/ap or absent), price (a decimal) and the tag.
func sqlMessages(n int) []sqlMessage {
	out := make([]sqlMessage, n)
	for i := range out {
		p := map[string]string{
			"TAGS":  []string{"TagA", "TagB"}[i%2],
			"price": strconv.FormatFloat(float64(i%50)/4, 'f', -1, 64),
		}
		switch {
		case i%7 == 0: // no a
		case i%11 == 0:
			p["a"] = "not-a-number"
		default:
			p["a"] = strconv.Itoa(i % 100)
		}
		if i%5 != 0 {
			p["region"] = []string{"eu", "us", "ap"}[i%3]
		}
		out[i] = sqlMessage{body: fmt.Sprintf("sql-%d", i), props: p}
	}
	return out
}

// newSQLConsumer starts an unmodified rocketmq-client-go push consumer subscribed with a SQL92
// selector.
func newSQLConsumer(t testing.TB, nsAddr, group, topic, expr string, r *received) rocketmq.PushConsumer {
	t.Helper()
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{nsAddr})),
		consumer.WithGroupName(group),
		consumer.WithInstance(instance("sql")),
		consumer.WithConsumerModel(consumer.Clustering),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.SQL92, Expression: expr},
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

// TestSQL92PushConsumers sends messages over a mix of properties; push consumers subscribed with
// SQL92 selectors receive exactly the messages an in-test predicate selects (written by hand,
// and checked against package filter on every message), none other.
func TestSQL92PushConsumers(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	const topic = "SQLTopic"
	msgs := sqlMessages(600)
	p := newProducer(t, s.ns.addr)
	for _, m := range msgs {
		pm := primitive.NewMessage(topic, []byte(m.body))
		for k, v := range m.props {
			if k == "TAGS" {
				pm.WithTag(v)
			} else {
				pm.WithProperty(k, v)
			}
		}
		if _, err := p.SendSync(context.Background(), pm); err != nil {
			t.Fatal(err)
		}
	}
	num := func(m sqlMessage, k string) (float64, bool) {
		v, ok := m.props[k]
		if !ok {
			return 0, false
		}
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	cases := []struct {
		expr string
		want func(m sqlMessage) bool
	}{
		{"a BETWEEN 10 AND 40 AND region IN ('eu', 'ap')", func(m sqlMessage) bool {
			a, ok := num(m, "a")
			r := m.props["region"]
			return ok && a >= 10 && a <= 40 && (r == "eu" || r == "ap")
		}},
		{"region IS NULL OR (TAGS = 'TagB' AND price > 7.5)", func(m sqlMessage) bool {
			if _, ok := m.props["region"]; !ok {
				return true
			}
			pr, _ := num(m, "price")
			return m.props["TAGS"] == "TagB" && pr > 7.5
		}},
		{"NOT (region = 'us') AND a IS NOT NULL", func(m sqlMessage) bool {
			r, ok := m.props["region"]
			_, hasA := m.props["a"]
			return ok && r != "us" && hasA
		}},
	}
	type run struct {
		got  *received
		want map[string]bool
		c    rocketmq.PushConsumer
	}
	runs := make([]run, len(cases))
	for i, c := range cases {
		e, err := filter.Compile(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		want := make(map[string]bool)
		for _, m := range msgs {
			if c.want(m) != e.Match(m.lookup) {
				t.Fatalf("%q: the hand-written predicate and package filter disagree on %v", c.expr, m.props)
			}
			if c.want(m) {
				want[m.body] = true
			}
		}
		if len(want) == 0 || len(want) == len(msgs) {
			t.Fatalf("%q selects %d of %d messages: not a test of filtering", c.expr, len(want), len(msgs))
		}
		runs[i] = run{got: newReceived(), want: want}
		runs[i].c = newSQLConsumer(t, s.ns.addr, fmt.Sprintf("sql-group-%d", i), topic, c.expr, runs[i].got)
		defer runs[i].c.Shutdown()
	}
	for i, r := range runs {
		waitFor(t, 30*time.Second, fmt.Sprintf("%q's %d messages", cases[i].expr, len(r.want)),
			func() bool { return r.got.unique() >= len(r.want) })
	}
	time.Sleep(300 * time.Millisecond) // room for an unexpected extra message to arrive
	for i, r := range runs {
		r.got.mu.Lock()
		for body := range r.got.bodies {
			if !r.want[body] {
				t.Errorf("%q: received %s, which it does not select", cases[i].expr, body)
			}
		}
		if len(r.got.bodies) != len(r.want) {
			t.Errorf("%q: received %d distinct messages, want %d", cases[i].expr, len(r.got.bodies), len(r.want))
		}
		r.got.mu.Unlock()
	}
}

// clientLog is rocketmq-client-go's logger for the whole package, installed before any client
// runs (rlog's logger is a global without synchronization).
var clientLog = &heartbeatLog{}

func init() { rlog.SetLogger(clientLog) }

// heartbeatLog captures rocketmq-client-go's "send heart beat to broker failed" warnings (the
// client's only report of a refused heartbeat) and prints errors as the default logger would.
type heartbeatLog struct {
	mu      sync.Mutex
	remarks []string
}

func (l *heartbeatLog) Debug(string, map[string]any) {}
func (l *heartbeatLog) Info(string, map[string]any)  {}
func (l *heartbeatLog) Warning(msg string, fields map[string]any) {
	if msg == "send heart beat to broker failed" {
		l.mu.Lock()
		l.remarks = append(l.remarks, fmt.Sprintf("%v: %v", fields["responseCode"], fields["remark"]))
		l.mu.Unlock()
	}
}
func (l *heartbeatLog) Error(msg string, fields map[string]any) {
	fmt.Fprintln(os.Stderr, "rocketmq-client-go:", msg, fields)
}
func (l *heartbeatLog) Fatal(msg string, fields map[string]any) { l.Error(msg, fields) }
func (l *heartbeatLog) Level(string)                            {}
func (l *heartbeatLog) OutputPath(string) error                 { return nil }

func (l *heartbeatLog) find(s string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.remarks {
		if strings.Contains(r, s) {
			return r
		}
	}
	return ""
}

// TestSQL92InvalidExpression: a consumer subscribing with an expression that does not compile
// is refused with the broker's message. RocketMQ's Java consumer asks CHECK_CLIENT_CONFIG in
// start and fails with its remark; rocketmq-client-go's CheckClientInBroker is empty and its
// Start never hears the broker, so here the refusal reaches it as the heartbeat's answer (its
// log shows code 23 and the remark), its group is not registered, nothing is delivered and no
// offset moves.
func TestSQL92InvalidExpression(t *testing.T) {
	log := clientLog
	s := startServer(t, nil)
	const topic, group, expr = "SQLBadTopic", "sql-bad-group", "a > 'x'"
	p := newProducer(t, s.ns.addr)
	if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("m"))); err != nil {
		t.Fatal(err)
	}

	// What a Java consumer's start asks and would fail with.
	raw := rawClient(t)
	body, _ := json.Marshal(map[string]any{"clientId": "java@x", "group": group, "subscriptionData": map[string]any{
		"topic": topic, "subString": expr, "expressionType": "SQL92"}})
	resp := invoke(t, raw, s.b.Addr(), remoting.RequestCheckClientConfig, body)
	if resp.ResponseCode() != remoting.ResponseSubscriptionParseFailed || !strings.Contains(resp.Remark, "cannot be compared") {
		t.Fatalf("CHECK_CLIENT_CONFIG answered %v %q", resp.ResponseCode(), resp.Remark)
	}

	got := newReceived()
	c := newSQLConsumer(t, s.ns.addr, group, topic, expr, got)
	defer c.Shutdown()
	waitFor(t, 10*time.Second, "the refused heartbeat in the client's log", func() bool { return log.find(resp.Remark) != "" })
	if r := log.find(resp.Remark); !strings.HasPrefix(r, "23: ") {
		t.Fatalf("client log %q, want code 23 with the broker's remark", r)
	}
	time.Sleep(500 * time.Millisecond)
	if got.unique() != 0 {
		t.Fatalf("a refused subscription received %d messages", got.unique())
	}
	for q := range 4 {
		if off := committedOffset(t, raw, s.b.Addr(), group, topic, q); off > 0 {
			t.Fatalf("queue %d: offset committed to %d under a refused subscription", q, off)
		}
	}
}
