package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/testserver"
	"github.com/mqstore/mqstore/message"
)

var quiet = testserver.Quiet

// server is an in-process name server and broker on loopback ports.
type server struct {
	nsAddr string
	b      *broker.Broker
}

func startServer(t *testing.T, mutate func(*broker.Config)) *server {
	t.Helper()
	ts := testserver.Start(t, func(c *broker.Config) {
		c.TransactionCheckInterval = 3600_000 // open transactions stay open; tests run the checks
		if mutate != nil {
			mutate(c)
		}
	})
	return &server{nsAddr: ts.NameServer, b: ts.Broker}
}

// result is one mqadmin run.
type result struct {
	code           int
	stdout, stderr string
}

// mqadmin runs a subcommand against s (-n added).
func (s *server) mqadmin(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb strings.Builder
	full := append([]string{args[0], "-n", s.nsAddr}, args[1:]...)
	code := run(full, &out, &errb)
	return result{code, out.String(), errb.String()}
}

// ok runs a subcommand that must succeed and returns its stdout.
func (s *server) ok(t *testing.T, args ...string) string {
	t.Helper()
	r := s.mqadmin(t, args...)
	if r.code != 0 {
		t.Fatalf("mqadmin %v: exit %d: %s", args, r.code, r.stderr)
	}
	return r.stdout
}

// okJSON runs a subcommand with -json and decodes its output into v.
func (s *server) okJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := s.ok(t, append(args, "-json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("mqadmin %v -json: %v\n%s", args, err, out)
	}
}

// hasRow reports whether a table has a line whose whitespace-separated cells start with cells.
func hasRow(table string, cells ...string) bool {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) >= len(cells) && slicesEqual(f[:len(cells)], cells) {
			return true
		}
	}
	return false
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// failure is an expected failure: exit code and a piece of the one-line reason.
type failure struct {
	name string
	args []string
	code int
	want string
}

func checkFailures(t *testing.T, s *server, cases []failure) {
	t.Helper()
	for _, c := range cases {
		r := s.mqadmin(t, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d stderr %q; want exit %d with %q", c.name, r.code, r.stderr, c.code, c.want)
		}
		if c.code == exitFailure && strings.Count(strings.TrimRight(r.stderr, "\n"), "\n") != 0 {
			t.Errorf("%s: the reason takes more than one line: %q", c.name, r.stderr)
		}
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestUsageAndUnreachable(t *testing.T) {
	var out, errb strings.Builder
	if code := run(nil, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "txnCommit") {
		t.Errorf("no command: %d %q", code, errb.String())
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"help"}, exitOK, "consumerProgress"},
		{[]string{"nope"}, exitUsage, `unknown command "nope"`},
		{[]string{"topicRoute", "-n", "127.0.0.1:1"}, exitUsage, "-t is required"},
		{[]string{"topicRoute", "-x"}, exitUsage, "flag provided but not defined"},
		{[]string{"topicList", "extra"}, exitUsage, "unexpected argument"},
		{[]string{"clusterList", "-n", "127.0.0.1:1"}, exitFailure, "mqadmin clusterList: cannot reach 127.0.0.1:1: connect: connection refused"},
		{[]string{"topicList", "-n", "127.0.0.1:1", "-json"}, exitFailure, "cannot reach 127.0.0.1:1"},
	} {
		var out, errb strings.Builder
		code := run(tt.args, &out, &errb)
		if code != tt.code || !strings.Contains(out.String()+errb.String(), tt.want) {
			t.Errorf("%v: exit %d, %q %q; want %d with %q", tt.args, code, out.String(), errb.String(), tt.code, tt.want)
		}
		if tt.code == exitFailure && strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%v: reason not one line: %q", tt.args, errb.String())
		}
	}
}

func TestTopicCommands(t *testing.T) {
	s := startServer(t, nil)
	addr := s.b.Addr()
	out := s.ok(t, "updateTopic", "-t", "Orders", "-r", "2", "-w", "2", "-b", addr)
	if !hasRow(out, "#Broker", "Addr", "#Topic") || !hasRow(out, addr, "Orders", "2", "2", "RW-", "false") {
		t.Errorf("updateTopic:\n%s", out)
	}
	var created struct {
		Topic          string   `json:"topic"`
		Brokers        []string `json:"brokers"`
		WriteQueueNums int      `json:"writeQueueNums"`
	}
	s.okJSON(t, &created, "updateTopic", "-t", "Audit", "-r", "1", "-w", "1", "-c", "DefaultCluster")
	if created.Topic != "Audit" || len(created.Brokers) != 1 || created.Brokers[0] != addr || created.WriteQueueNums != 1 {
		t.Errorf("updateTopic -c -json %+v", created)
	}

	if out := s.ok(t, "topicList"); !hasRow(out, "Orders") || !hasRow(out, "Audit") {
		t.Errorf("topicList:\n%s", out)
	}
	var list struct {
		TopicList []string `json:"topicList"`
	}
	if s.okJSON(t, &list, "topicList"); !strings.Contains(strings.Join(list.TopicList, ","), "Orders") {
		t.Errorf("topicList -json %v", list)
	}

	out = s.ok(t, "topicRoute", "-t", "Orders")
	if !hasRow(out, "DefaultCluster", "broker-a", "0", addr, "2", "2", "RW-") {
		t.Errorf("topicRoute:\n%s", out)
	}
	var route struct {
		BrokerDatas []struct {
			BrokerName  string            `json:"brokerName"`
			BrokerAddrs map[string]string `json:"brokerAddrs"`
		} `json:"brokerDatas"`
		QueueDatas []struct {
			WriteQueueNums int `json:"writeQueueNums"`
			Perm           int `json:"perm"`
		} `json:"queueDatas"`
	}
	s.okJSON(t, &route, "topicRoute", "-t", "Orders")
	if len(route.BrokerDatas) != 1 || route.BrokerDatas[0].BrokerAddrs["0"] != addr || route.QueueDatas[0].WriteQueueNums != 2 || route.QueueDatas[0].Perm != 6 {
		t.Errorf("topicRoute -json %+v", route)
	}

	p, err := client.NewProducer(client.WithNameServer(s.nsAddr), client.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range 3 {
		if _, err := p.Send(ctxT(t), message.New("Orders", []byte(fmt.Sprint("order ", i)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.b.Store().Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	out = s.ok(t, "topicStatus", "-t", "Orders")
	if !hasRow(out, "#Broker", "Name", "#QID", "#Min", "Offset", "#Max", "Offset", "#Last", "Updated") ||
		!regexp.MustCompile(`(?m)^broker-a\s+0\s+0\s+\d\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}|-)\s*$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^broker-a\s+1\s+0\s+\d\s+`).MatchString(out) {
		t.Errorf("topicStatus:\n%s", out)
	}
	var status struct {
		Topic  string `json:"topic"`
		Queues []struct {
			QueueID             int32 `json:"queueId"`
			MaxOffset           int64 `json:"maxOffset"`
			LastUpdateTimestamp int64 `json:"lastUpdateTimestamp"`
		} `json:"queues"`
	}
	s.okJSON(t, &status, "topicStatus", "-t", "Orders")
	total := int64(0)
	for _, q := range status.Queues {
		total += q.MaxOffset
		if (q.MaxOffset > 0) != (q.LastUpdateTimestamp > 0) {
			t.Errorf("queue %+v", q)
		}
	}
	if status.Topic != "Orders" || len(status.Queues) != 2 || total != 3 {
		t.Errorf("topicStatus -json %+v", status)
	}

	checkFailures(t, s, []failure{
		{"route of an unknown topic", []string{"topicRoute", "-t", "Nope"}, exitFailure, "mqadmin topicRoute: topic Nope does not exist"},
		{"status of an unknown topic", []string{"topicStatus", "-t", "Nope", "-json"}, exitFailure, "topic Nope does not exist"},
		{"updateTopic without a broker", []string{"updateTopic", "-t", "X"}, exitUsage, "-b or -c"},
		{"updateTopic on an unknown cluster", []string{"updateTopic", "-t", "X", "-c", "Other"}, exitFailure, "cluster Other does not exist"},
		{"updateTopic with a bad name", []string{"updateTopic", "-t", "bad name!", "-b", addr}, exitFailure, "answered"},
	})
}

func TestMessageCommands(t *testing.T) {
	s := startServer(t, nil)
	s.ok(t, "updateTopic", "-t", "Orders", "-r", "1", "-w", "1", "-b", s.b.Addr())
	p, err := client.NewProducer(client.WithNameServer(s.nsAddr), client.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var sent []client.SendResult
	for i := range 2 {
		m := message.New("Orders", []byte(fmt.Sprint("order ", i)))
		m.SetKeys("customer-7")
		m.SetTags("paid")
		res, err := p.Send(ctxT(t), m)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, res)
	}
	if err := s.b.Store().Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}

	out := s.ok(t, "queryMsgById", "-i", sent[1].OffsetMsgID)
	for _, row := range [][]string{{"Message", "ID:", sent[1].MsgID}, {"OffsetMsgId:", sent[1].OffsetMsgID}, {"Topic:", "Orders"},
		{"Tags:", "[paid]"}, {"Keys:", "[customer-7]"}, {"Queue", "Offset:", "1"}, {"Message", "Body:", `"order`, `1"`}} {
		if !hasRow(out, row...) {
			t.Errorf("queryMsgById lacks %v:\n%s", row, out)
		}
	}
	var m messageJSON
	s.okJSON(t, &m, "queryMsgById", "-i", sent[0].OffsetMsgID)
	if m.Body != "order 0" || m.MsgID != sent[0].MsgID || m.QueueOffset != 0 || m.Tags != "paid" || m.Properties["KEYS"] != "customer-7" {
		t.Errorf("queryMsgById -json %+v", m)
	}

	out = s.ok(t, "queryMsgByKey", "-t", "Orders", "-k", "customer-7")
	if !hasRow(out, sent[0].MsgID, sent[0].OffsetMsgID, "0", "0") || !hasRow(out, sent[1].MsgID, sent[1].OffsetMsgID, "0", "1") {
		t.Errorf("queryMsgByKey:\n%s", out)
	}
	var found struct {
		Messages []messageJSON `json:"messages"`
	}
	if s.okJSON(t, &found, "queryMsgByKey", "-t", "Orders", "-k", "customer-7", "-c", "1"); len(found.Messages) != 1 {
		t.Errorf("queryMsgByKey -c 1 -json %+v", found)
	}
	if s.okJSON(t, &found, "queryMsgByKey", "-t", "Orders", "-k", "nobody"); len(found.Messages) != 0 {
		t.Errorf("queryMsgByKey of an unknown key %+v", found)
	}

	out = s.ok(t, "queryMsgByOffset", "-t", "Orders", "-b", "broker-a", "-i", "0", "-o", "1")
	if !hasRow(out, "Message", "ID:", sent[1].MsgID) || !hasRow(out, "Message", "Body:", `"order`, `1"`) {
		t.Errorf("queryMsgByOffset:\n%s", out)
	}
	if s.okJSON(t, &m, "queryMsgByOffset", "-t", "Orders", "-b", "broker-a", "-i", "0", "-o", "0"); m.Body != "order 0" {
		t.Errorf("queryMsgByOffset -json %+v", m)
	}
	checkFailures(t, s, []failure{
		{"offset past the end", []string{"queryMsgByOffset", "-t", "Orders", "-b", "broker-a", "-i", "0", "-o", "9"}, exitFailure, "no message at offset 9"},
		{"unknown topic", []string{"queryMsgByOffset", "-t", "Nope", "-b", "broker-a", "-i", "0", "-o", "0"}, exitFailure, "topic Nope does not exist"},
		{"missing queue", []string{"queryMsgByOffset", "-t", "Orders", "-b", "broker-a", "-o", "0"}, exitUsage, "-i and -o are required"},
		{"bad id", []string{"queryMsgById", "-i", "XYZ"}, exitUsage, "-i XYZ: not a message id"},
		{"id of no message", []string{"queryMsgById", "-i", message.OffsetMsgID(netip.MustParseAddrPort(s.b.Addr()), 1<<30)}, exitFailure, "answered"},
	})
}

func TestConsumerProgress(t *testing.T) {
	s := startServer(t, nil)
	s.ok(t, "updateTopic", "-t", "Orders", "-r", "2", "-w", "2", "-b", s.b.Addr())
	p, err := client.NewProducer(client.WithNameServer(s.nsAddr), client.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range 4 {
		if _, err := p.Send(ctxT(t), message.New("Orders", []byte(fmt.Sprint("order ", i)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.b.Store().Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	c, err := client.NewPullConsumer(client.WithNameServer(s.nsAddr), client.WithLogger(quiet), client.WithGroup("billing"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q0 := client.MessageQueue{Topic: "Orders", BrokerName: "broker-a", QueueID: 0}
	q1 := client.MessageQueue{Topic: "Orders", BrokerName: "broker-a", QueueID: 1}
	max0 := s.b.Store().MaxOffset("Orders", 0)
	max1 := s.b.Store().MaxOffset("Orders", 1)
	if err := c.CommitOffset(ctxT(t), q0, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.CommitOffset(ctxT(t), q1, 0); err != nil {
		t.Fatal(err)
	}
	lag := max0 - 1 + max1
	out := s.ok(t, "consumerProgress", "-g", "billing")
	if !hasRow(out, "#Topic", "#Broker", "Name", "#QID", "#Broker", "Offset", "#Consumer", "Offset", "#Diff", "#LastTime") ||
		!hasRow(out, "Orders", "broker-a", "0", strconv.FormatInt(max0, 10), "1", strconv.FormatInt(max0-1, 10)) ||
		!hasRow(out, "Orders", "broker-a", "1", strconv.FormatInt(max1, 10), "0", strconv.FormatInt(max1, 10), "-") ||
		!strings.Contains(out, fmt.Sprintf("Diff Total: %d\n", lag)) {
		t.Errorf("consumerProgress (queue 0 holds %d, queue 1 %d):\n%s", max0, max1, out)
	}
	var progress struct {
		Group  string `json:"group"`
		Queues []struct {
			QueueID        int32 `json:"queueId"`
			ConsumerOffset int64 `json:"consumerOffset"`
			Lag            int64 `json:"lag"`
			LastTimestamp  int64 `json:"lastTimestamp"`
		} `json:"queues"`
		DiffTotal int64 `json:"diffTotal"`
	}
	s.okJSON(t, &progress, "consumerProgress", "-g", "billing", "-t", "Orders")
	if progress.Group != "billing" || len(progress.Queues) != 2 || progress.DiffTotal != lag || progress.Queues[0].ConsumerOffset != 1 ||
		progress.Queues[0].LastTimestamp == 0 || progress.Queues[1].LastTimestamp != 0 {
		t.Errorf("consumerProgress -json %+v", progress)
	}
	checkFailures(t, s, []failure{
		{"a group without progress", []string{"consumerProgress", "-g", "nobody"}, exitFailure, "consumer group nobody has no consume progress"},
		{"an unknown topic", []string{"consumerProgress", "-g", "billing", "-t", "Nope"}, exitFailure, "topic Nope does not exist"},
		{"no group", []string{"consumerProgress"}, exitUsage, "-g is required"},
	})
}

func TestClusterAndBrokerStatus(t *testing.T) {
	s := startServer(t, nil)
	addr := s.b.Addr()
	out := s.ok(t, "clusterList")
	if !hasRow(out, "#Cluster", "Name", "#Broker", "Name", "#BID") || !hasRow(out, "DefaultCluster", "broker-a", "0", addr, "V4_9_4", "0", "0") {
		t.Errorf("clusterList:\n%s", out)
	}
	var clusters struct {
		Brokers []struct {
			Cluster, BrokerName, Addr, Version string
			BrokerID                           int64
		} `json:"brokers"`
	}
	s.okJSON(t, &clusters, "clusterList")
	if len(clusters.Brokers) != 1 || clusters.Brokers[0].Addr != addr || clusters.Brokers[0].Cluster != "DefaultCluster" || clusters.Brokers[0].Version != "V4_9_4" {
		t.Errorf("clusterList -json %+v", clusters)
	}
	for _, args := range [][]string{{"brokerStatus", "-b", addr}, {"brokerStatus"}, {"brokerStatus", "-c", "DefaultCluster"}} {
		out := s.ok(t, args...)
		if !hasRow(out, "#Key", "#Value") || !hasRow(out, "brokerName", "broker-a") || !hasRow(out, "brokerAddr", addr) {
			t.Errorf("%v:\n%s", args, out)
		}
	}
	var info map[string]string
	if s.okJSON(t, &info, "brokerStatus", "-b", addr); info["brokerName"] != "broker-a" || info["flushDiskType"] != "ASYNC_FLUSH" {
		t.Errorf("brokerStatus -json %v", info)
	}
	var all map[string]map[string]string
	if s.okJSON(t, &all, "brokerStatus"); all[addr]["brokerName"] != "broker-a" {
		t.Errorf("brokerStatus -json of every broker %v", all)
	}
	checkFailures(t, s, []failure{
		{"unreachable broker", []string{"brokerStatus", "-b", "127.0.0.1:1"}, exitFailure, "mqadmin brokerStatus: broker 127.0.0.1:1: cannot reach 127.0.0.1:1: connect: connection refused"},
		{"unknown cluster", []string{"brokerStatus", "-c", "Other"}, exitFailure, "cluster Other does not exist"},
	})
}
