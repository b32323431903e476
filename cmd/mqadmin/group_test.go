package main

import (
	"strings"
	"testing"
	"time"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/message"
)

// TestGlobalFlagsAndVersion: the common flags work before the command as after it.
func TestGlobalFlagsAndVersion(t *testing.T) {
	s := startServer(t, nil)
	var out, errb strings.Builder
	if code := run([]string{"-n", s.nsAddr, "-json", "topicList"}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"topicList": [`) {
		t.Fatalf("mqadmin -n X -json topicList: exit %d, %q %q", code, out.String(), errb.String())
	}
	for _, args := range [][]string{{"-version"}, {"topicList", "-version"}} {
		out.Reset()
		if code := run(args, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "mqadmin ") || !strings.Contains(out.String(), "commit") {
			t.Fatalf("mqadmin %v: exit %d, %q", args, code, out.String())
		}
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"-bogus", "topicList"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "-bogus") {
		t.Fatalf("unknown global flag: exit %d %q", code, errb.String())
	}
}

// TestSendConsumeAndIDForms: sendMessage stores a message, consumeMessage prints it without
// committing, and queryMsgById finds it by either id and says which form matched.
func TestSendConsumeAndIDForms(t *testing.T) {
	s := startServer(t, nil)
	var sent struct {
		Status      string `json:"status"`
		MsgID       string `json:"msgId"`
		OffsetMsgID string `json:"offsetMsgId"`
		QueueID     int32  `json:"queueId"`
	}
	s.okJSON(t, &sent, "sendMessage", "-t", "CliTopic", "-p", "hello cli", "-k", "k1 k2", "-c", "TagC")
	if sent.Status != "SEND_OK" || sent.MsgID == "" || sent.OffsetMsgID == "" {
		t.Fatalf("sendMessage: %+v", sent)
	}
	if out := s.ok(t, "sendMessage", "-t", "CliTopic", "-p", "second"); !hasRow(out, "#Broker", "Name", "#QID") || !strings.Contains(out, "SEND_OK") {
		t.Errorf("sendMessage table:\n%s", out)
	}
	if err := s.b.Store().Sync(ctxT(t)); err != nil { // readable once dispatched
		t.Fatal(err)
	}
	var msgs []messageJSON
	s.okJSON(t, &msgs, "consumeMessage", "-t", "CliTopic")
	bodies := map[string]bool{}
	for _, m := range msgs {
		bodies[m.Body] = true
	}
	if len(msgs) != 2 || !bodies["hello cli"] || !bodies["second"] {
		t.Fatalf("consumeMessage: %+v", msgs)
	}
	if s.okJSON(t, &msgs, "consumeMessage", "-t", "CliTopic", "-c", "1"); len(msgs) != 1 {
		t.Fatalf("consumeMessage -c 1: %d messages", len(msgs))
	}
	if out := s.ok(t, "consumeMessage", "-t", "CliTopic", "-s", "TagC"); !strings.Contains(out, "hello cli") || strings.Contains(out, "second") {
		t.Errorf("consumeMessage -s TagC:\n%s", out)
	}

	for _, c := range []struct{ id, form string }{
		{sent.OffsetMsgID, "an offset message id"},
		{sent.MsgID, "a client message id (UNIQ_KEY)"},
	} {
		r := s.mqadmin(t, "queryMsgById", "-i", c.id, "-json")
		if r.code != 0 || !strings.Contains(r.stdout, "hello cli") || !strings.Contains(r.stderr, c.id+" is "+c.form) {
			t.Errorf("queryMsgById -i %s: %+v", c.id, r)
		}
	}
	if r := s.mqadmin(t, "queryMsgById", "-i", sent.MsgID, "-t", "CliTopic"); r.code != 0 || !strings.Contains(r.stdout, "hello cli") {
		t.Errorf("queryMsgById -t: %+v", r)
	}
	checkFailures(t, s, []failure{
		{"no body", []string{"sendMessage", "-t", "CliTopic"}, exitUsage, "-t and -p are required"},
		{"no topic", []string{"consumeMessage"}, exitUsage, "-t is required"},
		{"unknown uniq key", []string{"queryMsgById", "-i", strings.Repeat("AB", 16), "-t", "CliTopic"}, exitFailure, "nor a UNIQ_KEY in topic CliTopic"},
	})
}

// TestGroupCommands: subscription groups, connection lists and an offset reset.
func TestGroupCommands(t *testing.T) {
	s := startServer(t, nil)
	addr := s.b.Addr()
	var upd struct {
		Brokers []string `json:"brokers"`
		Config  struct {
			GroupName     string `json:"groupName"`
			RetryMaxTimes int    `json:"retryMaxTimes"`
			ConsumeEnable bool   `json:"consumeEnable"`
		} `json:"config"`
	}
	s.okJSON(t, &upd, "updateSubGroup", "-g", "CliGroup", "-b", addr, "-r", "3", "-s=false")
	if len(upd.Brokers) != 1 || upd.Config.RetryMaxTimes != 3 || upd.Config.ConsumeEnable {
		t.Fatalf("updateSubGroup: %+v", upd)
	}
	if gc, err := s.b.Group("CliGroup"); err != nil || gc.ConsumeMessageOrderly {
		t.Fatalf("group without -o: %+v %v", gc, err)
	}
	s.okJSON(t, &upd, "updateSubGroup", "-g", "CliGroup", "-b", addr, "-r", "3", "-s=false", "-o")
	if gc, err := s.b.Group("CliGroup"); err != nil || !gc.ConsumeMessageOrderly || gc.RetryMaxTimes != 3 {
		t.Fatalf("updateSubGroup -o: %+v %v", gc, err)
	}
	if out := s.ok(t, "updateSubGroup", "-g", "CliGroup2", "-c", "DefaultCluster"); !hasRow(out, addr, "CliGroup2", "true", "1", "16") {
		t.Errorf("updateSubGroup -c:\n%s", out)
	}
	if out := s.ok(t, "deleteSubGroup", "-g", "CliGroup", "-b", addr, "-r"); !hasRow(out, addr, "CliGroup", "deleted") {
		t.Errorf("deleteSubGroup:\n%s", out)
	}
	if out := s.ok(t, "deleteSubGroup", "-g", "CliGroup", "-b", addr); !hasRow(out, addr, "CliGroup", "did", "not", "exist") {
		t.Errorf("deleteSubGroup again:\n%s", out)
	}

	// A producer and a consumer of our client, heartbeating the broker.
	p, err := client.NewProducer(client.WithNameServer(s.nsAddr), client.WithGroup("CliPG"), client.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range 3 {
		if _, err := p.Send(ctxT(t), message.New("GroupTopic", []byte{'a' + byte(i)})); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.b.Store().Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	c, err := client.NewPullConsumer(client.WithNameServer(s.nsAddr), client.WithGroup("CliCG"), client.WithLogger(quiet),
		client.WithSuspendTimeout(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Subscribe("GroupTopic", "*")
	queues, err := c.Queues(ctxT(t), "GroupTopic")
	if err != nil {
		t.Fatal(err)
	}
	pulled := 0
	for _, mq := range queues {
		res, err := c.Pull(ctxT(t), mq, 0, 32)
		if err != nil {
			t.Fatal(err)
		}
		pulled += len(res.Messages)
	}
	if pulled != 3 {
		t.Fatalf("the consumer pulled %d messages, want 3", pulled)
	}
	var cc struct {
		ConnectionSet []struct {
			ClientID string `json:"clientId"`
			Language string `json:"language"`
		} `json:"connectionSet"`
		SubscriptionTable map[string]any `json:"subscriptionTable"`
	}
	// The consumer's heartbeat is sent in the background; the group is online once the broker
	// answered it (the group and its retry topic are made durable first).
	deadline := time.Now().Add(10 * time.Second)
	for s.mqadmin(t, "consumerConnection", "-g", "CliCG").code != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	s.okJSON(t, &cc, "consumerConnection", "-g", "CliCG")
	if len(cc.ConnectionSet) != 1 || cc.ConnectionSet[0].ClientID != c.ClientID() || cc.ConnectionSet[0].Language != "GO" {
		t.Fatalf("consumerConnection: %+v", cc)
	}
	if _, ok := cc.SubscriptionTable["GroupTopic"]; !ok {
		t.Fatalf("consumerConnection subscriptions: %+v", cc.SubscriptionTable)
	}
	if out := s.ok(t, "consumerConnection", "-g", "CliCG"); !strings.Contains(out, c.ClientID()) || !strings.Contains(out, "ConsumeType: CONSUME_ACTIVELY") {
		t.Errorf("consumerConnection:\n%s", out)
	}
	if out := s.ok(t, "producerConnection", "-g", "CliPG", "-t", "GroupTopic"); !hasRow(out, p.ClientID()) {
		t.Errorf("producerConnection:\n%s", out)
	}

	// The group committed nothing; a reset to 0 (all messages) commits offset 0 everywhere,
	// a reset to "now" the end of every queue.
	var reset struct {
		Notified int `json:"notified"`
		Queues   []struct {
			QueueID int32 `json:"queueId"`
			Offset  int64 `json:"offset"`
		} `json:"queues"`
	}
	s.okJSON(t, &reset, "resetOffsetByTime", "-g", "CliCG", "-t", "GroupTopic", "-s", "now")
	var total int64
	for _, q := range reset.Queues {
		total += q.Offset
	}
	if len(reset.Queues) == 0 || total != 3 || reset.Notified != 1 {
		t.Fatalf("resetOffsetByTime -s now: %+v", reset)
	}
	progress, err := s.admin(t).ConsumeStats(ctxT(t), "CliCG", "GroupTopic")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range progress {
		if q.Lag() != 0 {
			t.Fatalf("lag after the reset to now: %+v", progress)
		}
	}
	if out := s.ok(t, "resetOffsetByTime", "-g", "CliCG", "-t", "GroupTopic", "-s", "0"); !strings.Contains(out, "Live consumers notified: 1") {
		t.Errorf("resetOffsetByTime -s 0:\n%s", out)
	}

	checkFailures(t, s, []failure{
		{"no group", []string{"updateSubGroup", "-b", addr}, exitUsage, "-g is required"},
		{"no target", []string{"deleteSubGroup", "-g", "x"}, exitUsage, "one of -b or -c is required"},
		{"offline group", []string{"consumerConnection", "-g", "CliCG-none"}, exitFailure, "CONSUMER_NOT_ONLINE"},
		{"unknown producer", []string{"producerConnection", "-g", "nobody", "-t", "GroupTopic"}, exitFailure, "not exist"},
		{"bad time", []string{"resetOffsetByTime", "-g", "CliCG", "-t", "GroupTopic", "-s", "yesterday"}, exitUsage, "-s:"},
	})
}

// admin returns an admin client of s.
func (s *server) admin(t *testing.T) *client.Admin {
	t.Helper()
	a, err := client.NewAdmin(client.WithNameServer(s.nsAddr), client.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}
