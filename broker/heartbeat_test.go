package broker

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// consumerClient is a raw client that announces itself as one consumer client instance and
// records the NOTIFY_CONSUMER_IDS_CHANGED requests it receives.
type consumerClient struct {
	*remoting.Client
	id string

	mu       sync.Mutex
	notified []string
}

func newConsumerClient(t *testing.T, id string) *consumerClient {
	t.Helper()
	c, err := remoting.NewClient(remoting.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	cc := &consumerClient{Client: c, id: id}
	c.RegisterHandler(remoting.RequestNotifyConsumerIDsChanged, func(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
		cc.mu.Lock()
		cc.notified = append(cc.notified, req.Ext(protocol.FieldConsumerGroup))
		cc.mu.Unlock()
		return nil
	})
	t.Cleanup(func() { c.Close() })
	return cc
}

func (cc *consumerClient) notifications() []string {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return slices.Clone(cc.notified)
}

func heartbeatBody(clientID, group, topic, expr string, producerGroups ...string) []byte {
	hb := map[string]any{"clientID": clientID, "producerDataSet": []any{}, "consumerDataSet": []any{}}
	var producers []any
	for _, g := range producerGroups {
		producers = append(producers, map[string]any{"groupName": g})
	}
	if producers != nil {
		hb["producerDataSet"] = producers
	}
	if group != "" {
		hb["consumerDataSet"] = []any{map[string]any{
			"groupName": group, "consumeType": "CONSUME_PASSIVELY", "messageModel": "CLUSTERING",
			"consumeFromWhere": "CONSUME_FROM_FIRST_OFFSET", "unitMode": false,
			"subscriptionDataSet": []any{map[string]any{
				"classFilterMode": false, "topic": topic, "subString": expr, "tagsSet": []string{},
				"codeSet": []string{}, "subVersion": int64(1795454360661882678), "expressionType": "TAG",
			}},
		}}
	}
	b, _ := json.Marshal(hb)
	return b
}

func (cc *consumerClient) heartbeat(t *testing.T, addr string, body []byte) {
	t.Helper()
	req := remoting.NewRequest(remoting.RequestHeartBeat)
	req.Body = body
	resp, err := cc.Invoke(context.Background(), addr, req)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, resp, remoting.ResponseSuccess)
	resp.Release()
}

func consumerList(t *testing.T, tb *testBroker, group string) []string {
	t.Helper()
	resp := tb.call(remoting.RequestGetConsumerListByGroup, nil, "consumerGroup", group)
	if resp.ResponseCode() != remoting.ResponseSuccess {
		return nil
	}
	var body struct {
		ConsumerIDList []string `json:"consumerIdList"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		t.Fatal(err)
	}
	return body.ConsumerIDList
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHeartBeat(t *testing.T) {
	tb := startBroker(t, nil)
	c1 := newConsumerClient(t, "10.0.0.1@c1")
	c1.heartbeat(t, tb.Addr(), heartbeatBody(c1.id, "hb-group", "HBTopic", "TagA || TagB", "prod-group"))
	// Joining notifies the whole group, the newcomer included.
	waitUntil(t, "c1's own join notification", func() bool { return len(c1.notifications()) == 1 })

	if got := consumerList(t, tb, "hb-group"); !slices.Equal(got, []string{c1.id}) {
		t.Fatalf("consumer list %v", got)
	}
	if tc, ok := tb.topics.get("%RETRY%hb-group"); !ok || tc.WriteQueueNums != 1 || tc.Perm != 6 {
		t.Fatalf("retry topic %+v %v", tc, ok)
	}
	if _, ok := tb.groups.get("hb-group"); !ok {
		t.Fatal("group config not created")
	}
	sub := tb.clients.subscription("hb-group", "HBTopic")
	if sub == nil || sub.filter == nil || !sub.filter.MatchTagsCode(message.TagsHashCode("TagB")) || sub.filter.MatchTagsCode(message.TagsHashCode("TagC")) {
		t.Fatalf("subscription %+v", sub)
	}
	if conns := tb.clients.producerConns("prod-group"); len(conns) != 1 {
		t.Fatalf("%d producer connections", len(conns))
	}

	// A second member joins: the first is told to rebalance.
	c2 := newConsumerClient(t, "10.0.0.2@c2")
	c2.heartbeat(t, tb.Addr(), heartbeatBody(c2.id, "hb-group", "HBTopic", "*"))
	waitUntil(t, "c1's notification", func() bool { return len(c1.notifications()) == 2 })
	if got := c1.notifications(); got[1] != "hb-group" {
		t.Fatalf("notifications %v", got)
	}
	if got := consumerList(t, tb, "hb-group"); !slices.Equal(got, []string{c1.id, c2.id}) {
		t.Fatalf("consumer list %v", got)
	}
	// A repeated heartbeat changes nothing.
	n := len(c1.notifications())
	c2.heartbeat(t, tb.Addr(), heartbeatBody(c2.id, "hb-group", "HBTopic", "*"))
	time.Sleep(50 * time.Millisecond)
	if len(c1.notifications()) != n {
		t.Fatal("a repeated heartbeat notified the group")
	}

	// c2 disconnects: it leaves the group and c1 is notified again.
	c2.Close()
	waitUntil(t, "c2's removal", func() bool { return slices.Equal(consumerList(t, tb, "hb-group"), []string{c1.id}) })
	waitUntil(t, "c1's second notification", func() bool { return len(c1.notifications()) > n })

	// Bad bodies.
	expect(t, tb.call(remoting.RequestHeartBeat, []byte("{"), nil...), remoting.ResponseSystemError)
	expect(t, tb.call(remoting.RequestHeartBeat, []byte(`{"clientID":""}`), nil...), remoting.ResponseSystemError)
}

func TestClientExpiry(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tb := startBroker(t, func(c *Config) { c.ChannelExpiredTimeout = 1000 }, func(o *Options) {
		o.Now = clock
		o.ClientScanInterval = 10 * time.Millisecond
	})
	c1 := newConsumerClient(t, "10.0.0.1@c1")
	c2 := newConsumerClient(t, "10.0.0.2@c2")
	c1.heartbeat(t, tb.Addr(), heartbeatBody(c1.id, "exp-group", "T", "*"))
	c2.heartbeat(t, tb.Addr(), heartbeatBody(c2.id, "exp-group", "T", "*"))
	waitUntil(t, "the join notifications", func() bool { return len(c1.notifications()) == 2 })
	mu.Lock()
	now = now.Add(800 * time.Millisecond)
	mu.Unlock()
	c1.heartbeat(t, tb.Addr(), heartbeatBody(c1.id, "exp-group", "T", "*"))
	mu.Lock()
	now = now.Add(800 * time.Millisecond) // c2 silent for 1.6 s, c1 for 0.8 s
	mu.Unlock()
	n := len(c1.notifications())
	waitUntil(t, "c2's expiry", func() bool { return slices.Equal(consumerList(t, tb, "exp-group"), []string{c1.id}) })
	waitUntil(t, "c1's notification", func() bool { return len(c1.notifications()) > n })
}

// slowRegistrar records registrations after a delay, so a registration that is not awaited
// is recorded only after the reply it should have preceded.
type slowRegistrar struct{ recordingRegistrar }

func (r *slowRegistrar) Register(ctx context.Context, reg namesrv.Registration) error {
	time.Sleep(100 * time.Millisecond)
	return r.recordingRegistrar.Register(ctx, reg)
}

func TestHeartBeatRegistersRetryTopicBeforeReply(t *testing.T) {
	reg := &slowRegistrar{}
	tb := startBroker(t, nil, func(o *Options) { o.Registrar = reg })
	c := newConsumerClient(t, "10.0.0.1@r")
	c.heartbeat(t, tb.Addr(), heartbeatBody(c.id, "reg-a", "T", "*"))
	if _, ok := reg.last().Topics["%RETRY%reg-a"]; !ok {
		t.Fatal("the heartbeat was answered before its retry topic was registered")
	}
	// Two groups in one heartbeat: both retry topics are registered before the reply.
	hb := protocol.HeartbeatData{ClientID: c.id, ProducerDataSet: []protocol.ProducerData{}, ConsumerDataSet: []protocol.ConsumerData{
		{GroupName: "reg-b", ConsumeType: protocol.ConsumePassively, MessageModel: protocol.ModelClustering},
		{GroupName: "reg-c", ConsumeType: protocol.ConsumePassively, MessageModel: protocol.ModelClustering},
	}}
	body, _ := json.Marshal(hb)
	c.heartbeat(t, tb.Addr(), body)
	last := reg.last()
	for _, g := range []string{"reg-b", "reg-c"} {
		if _, ok := last.Topics["%RETRY%"+g]; !ok {
			t.Fatalf("retry topic of %s not registered before the reply", g)
		}
	}
}
