package broker

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/mqstore/mqstore/protocol"

	"github.com/mqstore/mqstore/filter"
	"github.com/mqstore/mqstore/remoting"
)

// subscriptionBody is a SubscriptionData as clients send it.
func subscriptionBody(topic, typ, expr string) map[string]any {
	return map[string]any{
		"classFilterMode": false, "topic": topic, "subString": expr, "tagsSet": []string{},
		"codeSet": []string{}, "subVersion": int64(1795454360661882678), "expressionType": typ,
	}
}

// typedHeartbeat is a heartbeat of one consumer group with one subscription of a given type,
// and a producer group.
func typedHeartbeat(clientID, group, topic, typ, expr string) []byte {
	b, _ := json.Marshal(map[string]any{
		"clientID":        clientID,
		"producerDataSet": []any{map[string]any{"groupName": group + "-producer"}},
		"consumerDataSet": []any{map[string]any{
			"groupName": group, "consumeType": "CONSUME_PASSIVELY", "messageModel": "CLUSTERING",
			"consumeFromWhere": "CONSUME_FROM_FIRST_OFFSET", "unitMode": false,
			"subscriptionDataSet": []any{subscriptionBody(topic, typ, expr)},
		}},
	})
	return b
}

func TestCheckClientConfig(t *testing.T) {
	on := startBroker(t, nil)
	off := startBroker(t, func(c *Config) { c.EnablePropertyFilter = false })
	cases := []struct {
		tb         *testBroker
		typ, expr  string
		code       remoting.ResponseCode
		remarkHint string
	}{
		{on, "TAG", "TagA || TagB", remoting.ResponseSuccess, ""},
		{on, "", "a > ", remoting.ResponseSuccess, ""}, // an empty type is TAG
		{on, "SQL92", "a > 5 AND region IN ('eu', 'us')", remoting.ResponseSuccess, ""},
		{on, "SQL92", "a > ", remoting.ResponseSubscriptionParseFailed, "expected a value"},
		{on, "SQL92", "a = NULL", remoting.ResponseSubscriptionParseFailed, "IS NULL"},
		{on, "SQL92", "TagA || TagB", remoting.ResponseSubscriptionParseFailed, "unexpected character '|'"},
		{on, "JS", "true", remoting.ResponseSubscriptionParseFailed, "unknown expression type"},
		{off, "TAG", "*", remoting.ResponseSuccess, ""},
		{off, "SQL92", "a > 5", remoting.ResponseSystemError, "The broker does not support consumer to filter message by SQL92"},
	}
	for _, c := range cases {
		body, _ := json.Marshal(map[string]any{
			"clientId": "10.0.0.1@check", "group": "check-group", "namespace": "",
			"subscriptionData": subscriptionBody("CheckTopic", c.typ, c.expr),
		})
		resp := c.tb.call(remoting.RequestCheckClientConfig, body)
		if resp.ResponseCode() != c.code || !strings.Contains(resp.Remark, c.remarkHint) {
			t.Errorf("%s %q: %v %q, want %v with %q", c.typ, c.expr, resp.ResponseCode(), resp.Remark, c.code, c.remarkHint)
		}
	}
	// No subscription in the body: nothing to refuse.
	expect(t, on.call(remoting.RequestCheckClientConfig, []byte(`{"clientId":"x","group":"g"}`)), remoting.ResponseSuccess)
	expect(t, on.call(remoting.RequestCheckClientConfig, []byte(`{`)), remoting.ResponseSystemError)
}

// A heartbeat whose SQL92 subscription the broker refuses is answered with the reason, and its
// consumer group is not registered (no pull is served under it); its producer group is.
func TestHeartBeatRefusesInvalidSubscription(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(*Config)
		expr   string
		code   remoting.ResponseCode
		remark string
	}{
		{"parse", nil, "a >> 1", remoting.ResponseSubscriptionParseFailed, `SQL92 expression "a >> 1"`},
		{"disabled", func(c *Config) { c.EnablePropertyFilter = false }, "a > 1", remoting.ResponseSystemError, "does not support"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tb := startBroker(t, c.mutate)
			cc := newConsumerClient(t, "10.0.0.9@bad")
			req := remoting.NewRequest(remoting.RequestHeartBeat)
			req.Body = typedHeartbeat(cc.id, "bad-group", "HBTopic", "SQL92", c.expr)
			resp, err := cc.Invoke(context.Background(), tb.Addr(), req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Release()
			if resp.ResponseCode() != c.code || !strings.Contains(resp.Remark, c.remark) {
				t.Fatalf("heartbeat answered %v %q, want %v with %q", resp.ResponseCode(), resp.Remark, c.code, c.remark)
			}
			if got := consumerList(t, tb, "bad-group"); len(got) != 0 {
				t.Fatalf("refused group registered: %v", got)
			}
			if tb.clients.subscription("bad-group", "HBTopic") != nil {
				t.Fatal("refused subscription kept")
			}
			if conns := tb.clients.producerConns("bad-group-producer"); len(conns) != 1 {
				t.Fatalf("%d producer connections, want the heartbeat's producer", len(conns))
			}
		})
	}
}

// fillProps sends n messages to topic queue 0 with properties seq=i, and region (eu, us, ap,
// absent for every fourth).
func (tb *testBroker) fillProps(topic string, n int) {
	tb.t.Helper()
	for i := range n {
		kv := []string{"seq", strconv.Itoa(i), "TAGS", "T" + strconv.Itoa(i%2)}
		if i%4 != 3 {
			kv = append(kv, "region", []string{"eu", "us", "ap"}[i%3])
		}
		expect(tb.t, tb.send(topic, 0, "m"+strconv.Itoa(i), props(kv...)), remoting.ResponseSuccess)
	}
	tb.sync()
}

// pullSeqs pulls from offset and returns the answer and the seq properties it carried.
func pullSeqs(t *testing.T, tb *testBroker, args []string) (*remoting.Command, []string) {
	t.Helper()
	resp := tb.call(remoting.RequestPullMessage, nil, args...)
	var seqs []string
	if resp.ResponseCode() == remoting.ResponseSuccess {
		for _, r := range records(t, resp.Body) {
			s, _ := r.Properties.Get("seq")
			seqs = append(seqs, s)
		}
	}
	return resp, seqs
}

func TestPullMessageSQL92(t *testing.T) {
	tb := startBroker(t, nil)
	tb.fillProps("SQLTopic", 40)
	const expr = "region IN ('eu', 'ap') AND seq >= 10 OR TAGS = 'T1' AND seq < 4"
	want := func() []string {
		e, err := filter.Compile(expr)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for i := range 40 {
			p := map[string]string{"seq": strconv.Itoa(i), "TAGS": "T" + strconv.Itoa(i%2)}
			if i%4 != 3 {
				p["region"] = []string{"eu", "us", "ap"}[i%3]
			}
			if e.Match(func(k string) (string, bool) { v, ok := p[k]; return v, ok }) {
				out = append(out, strconv.Itoa(i))
			}
		}
		return out
	}()

	// The group's subscription from its heartbeat, the pull header saying nothing.
	cc := newConsumerClient(t, "10.0.0.1@sql")
	cc.heartbeat(t, tb.Addr(), typedHeartbeat(cc.id, "pull-group", "SQLTopic", "SQL92", expr))
	resp, got := pullSeqs(t, tb, pullArgs("SQLTopic", 0, 0, 32, 0, 0, ""))
	expect(t, resp, remoting.ResponseSuccess)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("pulled seqs %v, want %v", got, want)
	}
	if next := extInt(t, resp, protocol.FieldNextBeginOffset); next != 40 {
		t.Fatalf("nextBeginOffset %d", next)
	}

	// rocketmq-client-go with PostSubscriptionWhenPull repeats the expression with type TAG:
	// the heartbeat's type wins.
	resp, got = pullSeqs(t, tb, pullArgs("SQLTopic", 0, 0, 32, protocol.PullFlagSubscription, 0, expr))
	expect(t, resp, remoting.ResponseSuccess)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("pulled seqs %v with the header's expression, want %v", got, want)
	}

	// A header expression of its own, typed SQL92.
	args := pullArgs("SQLTopic", 0, 0, 32, protocol.PullFlagSubscription, 0, "seq BETWEEN 5 AND 7")
	args[len(args)-1] = "SQL92"
	resp, got = pullSeqs(t, tb, args)
	expect(t, resp, remoting.ResponseSuccess)
	if strings.Join(got, ",") != "5,6,7" {
		t.Fatalf("pulled seqs %v, want 5,6,7", got)
	}

	// The bug: an expression the broker cannot use is refused, never NO_MATCHED_MSG
	// with a next offset past the messages.
	args = pullArgs("SQLTopic", 0, 0, 32, protocol.PullFlagSubscription, 0, "seq >")
	args[len(args)-1] = "SQL92"
	resp, _ = pullSeqs(t, tb, args)
	expect(t, resp, remoting.ResponseSubscriptionParseFailed)
	if _, err := resp.GetInt64(protocol.FieldNextBeginOffset); err == nil {
		t.Fatal("a refused pull carries a next offset")
	}

	// Nothing matches: NO_MATCHED_MSG moves past the scanned messages (they do not match).
	args = pullArgs("SQLTopic", 0, 0, 32, protocol.PullFlagSubscription, 0, "seq > 1000")
	args[len(args)-1] = "SQL92"
	resp, _ = pullSeqs(t, tb, args)
	expect(t, resp, remoting.ResponsePullRetryImmediately)
	if next := extInt(t, resp, protocol.FieldNextBeginOffset); next != 40 {
		t.Fatalf("nextBeginOffset %d", next)
	}
}

func TestPullMessageSQL92Disabled(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.EnablePropertyFilter = false })
	tb.fillProps("SQLTopic", 4)
	args := pullArgs("SQLTopic", 0, 0, 32, protocol.PullFlagSubscription, 0, "seq > 1")
	args[len(args)-1] = "SQL92"
	resp, _ := pullSeqs(t, tb, args)
	expect(t, resp, remoting.ResponseSystemError)
	if resp.Remark != "The broker does not support consumer to filter message by SQL92" {
		t.Fatalf("remark %q", resp.Remark)
	}
}
