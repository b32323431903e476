package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/message"
)

// undecided leaves every transaction open: its local transaction and its checks answer UNKNOW.
type undecided struct{}

func (undecided) ExecuteLocal(*message.Message, client.SendResult, any) client.TransactionState {
	return client.TransactionUnknown
}
func (undecided) Check(*client.MessageExt) client.TransactionState { return client.TransactionUnknown }

// sendHalves sends n transactional messages of group to topic whose local transactions stay
// undecided, and returns the producer (still running) and the send results.
func sendHalves(t *testing.T, s *server, group, topic string, n int) (*client.TransactionProducer, []client.TransactionResult) {
	t.Helper()
	tp, err := client.NewTransactionProducer(undecided{}, client.WithNameServer(s.nsAddr), client.WithLogger(quiet), client.WithGroup(group))
	if err != nil {
		t.Fatal(err)
	}
	var out []client.TransactionResult
	for i := range n {
		res, err := tp.SendInTransaction(ctxT(t), message.New(topic, []byte(fmt.Sprintf("%s %d", group, i))), nil)
		if err != nil || res.State != client.TransactionUnknown {
			t.Fatalf("send %d: %+v %v", i, res, err)
		}
		out = append(out, res)
	}
	return tp, out
}

// txnListJSON is txnList -json.
type txnListJSON struct {
	Total        int `json:"total"`
	Transactions []struct {
		BrokerAddr      string `json:"brokerAddr"`
		HalfOffset      int64  `json:"halfOffset"`
		OffsetMsgID     string `json:"offsetMsgId"`
		ProducerGroup   string `json:"producerGroup"`
		Topic           string `json:"topic"`
		QueueID         int32  `json:"queueId"`
		TransactionID   string `json:"transactionId"`
		AgeMillis       int64  `json:"ageMillis"`
		CheckTimes      int    `json:"checkTimes"`
		LastCheckResult string `json:"lastCheckResult"`
		ResumedFrom     int64  `json:"resumedFrom"`
	} `json:"transactions"`
}

// resolveJSON is txnCommit / txnRollback -json.
type resolveJSON struct {
	BrokerAddr  string `json:"brokerAddr"`
	HalfOffset  int64  `json:"halfOffset"`
	Changed     bool   `json:"changed"`
	Remark      string `json:"remark"`
	Topic       string `json:"topic"`
	QueueOffset int64  `json:"queueOffset"`
	MsgID       string `json:"msgId"`
}

// consumed pulls every message of queue 0 of topic from offset 0 as group (no long polling).
func consumed(t *testing.T, c *client.PullConsumer, topic string) []string {
	t.Helper()
	mq := client.MessageQueue{Topic: topic, BrokerName: "broker-a", QueueID: 0}
	var bodies []string
	for offset := int64(0); ; {
		res, err := c.Pull(ctxT(t), mq, offset, 32)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != client.PullFound {
			return bodies
		}
		for _, m := range res.Messages {
			bodies = append(bodies, string(m.Body))
		}
		offset = res.NextBeginOffset
	}
}

// TestTransactionCommands: a producer sends two transactional messages and dies before
// deciding; txnList shows them; txnCommit makes the first reach a consumer exactly once, and a
// repeated txnCommit changes nothing; txnRollback drops the second. A transaction discarded
// after too many checks is put back by txnResume.
func TestTransactionCommands(t *testing.T) {
	s := startServer(t, func(c *broker.Config) {
		c.TransactionTimeOut = 1
		c.TransactionCheckMax = 1
	})
	addr := s.b.Addr()
	s.ok(t, "updateTopic", "-t", "Payments", "-r", "1", "-w", "1", "-b", addr)
	tp, halves := sendHalves(t, s, "paymentsTx", "Payments", 2)
	if err := tp.Close(); err != nil { // the producer dies with its transactions open
		t.Fatal(err)
	}

	out := s.ok(t, "txnList")
	if !hasRow(out, "#Broker", "Addr", "#Half", "Offset", "#Producer", "Group", "#Topic", "#QID", "#Age", "#Checks", "#Last", "Check", "#Transaction", "ID") ||
		!strings.Contains(out, "\nOpen: 2\n") {
		t.Errorf("txnList:\n%s", out)
	}
	var list txnListJSON
	s.okJSON(t, &list, "txnList")
	if list.Total != 2 || len(list.Transactions) != 2 {
		t.Fatalf("txnList -json %+v", list)
	}
	for i, tx := range list.Transactions {
		if tx.BrokerAddr != addr || tx.OffsetMsgID != halves[i].OffsetMsgID || tx.ProducerGroup != "paymentsTx" || tx.Topic != "Payments" ||
			tx.QueueID != 0 || tx.TransactionID != halves[i].MsgID || tx.AgeMillis < 0 || tx.CheckTimes != 0 || tx.LastCheckResult != "none" || tx.ResumedFrom != -1 {
			t.Errorf("open transaction %d: %+v, sent %+v", i, tx, halves[i])
		}
		if !hasRow(out, addr, strconv.FormatInt(tx.HalfOffset, 10), "paymentsTx", "Payments", "0") ||
			!regexp.MustCompile(`(?m)^`+addr+`\s+`+strconv.FormatInt(tx.HalfOffset, 10)+`\s+paymentsTx\s+Payments\s+0\s+\S+\s+0\s+none\s+`+tx.TransactionID+`\s*$`).MatchString(out) {
			t.Errorf("txnList row of %d:\n%s", tx.HalfOffset, out)
		}
	}
	if s.okJSON(t, &list, "txnList", "-b", addr, "-c", "1"); list.Total != 2 || len(list.Transactions) != 1 {
		t.Errorf("txnList -c 1: %+v", list)
	}
	if out := s.ok(t, "txnList", "-c", "1"); !strings.Contains(out, "Open: 2 (1 shown)") {
		t.Errorf("txnList -c 1:\n%s", out)
	}
	first := list.Transactions[0].HalfOffset
	firstArg := strconv.FormatInt(first, 10)

	consumer, err := client.NewPullConsumer(client.WithNameServer(s.nsAddr), client.WithLogger(quiet), client.WithGroup("ledger"),
		client.WithSuspendTimeout(0))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	if got := consumed(t, consumer, "Payments"); len(got) != 0 {
		t.Fatalf("consumed before the commit: %q", got)
	}

	out = s.ok(t, "txnCommit", "-o", firstArg)
	if !strings.HasPrefix(out, fmt.Sprintf("half message %d on %s: committed; delivered to Payments queue 0 offset 0, msgId ", first, addr)) {
		t.Errorf("txnCommit: %q", out)
	}
	_, committedOffset, err := message.ParseOffsetMsgID(strings.TrimSpace(out[strings.LastIndex(out, " ")+1:]))
	if err != nil {
		t.Fatalf("msgId in %q: %v", out, err)
	}
	if err := s.b.Store().Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := consumed(t, consumer, "Payments"); len(got) != 1 || got[0] != "paymentsTx 0" {
		t.Fatalf("consumed after the commit: %q", got)
	}
	// Again, by number and by id: nothing changes.
	out = s.ok(t, "txnCommit", "-o", firstArg, "-b", addr)
	if out != fmt.Sprintf("half message %d on %s: transaction already committed; nothing changed\n", first, addr) {
		t.Errorf("txnCommit again: %q", out)
	}
	var res resolveJSON
	s.okJSON(t, &res, "txnCommit", "-i", halves[0].OffsetMsgID)
	if res.Changed || res.HalfOffset != first || res.BrokerAddr != addr || !strings.Contains(res.Remark, "nothing changed") {
		t.Errorf("txnCommit -i -json again: %+v", res)
	}
	if err := s.b.Store().Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := consumed(t, consumer, "Payments"); len(got) != 1 {
		t.Fatalf("consumed after the repeated commits: %q", got)
	}
	if n := s.b.Store().MaxOffset("Payments", 0); n != 1 {
		t.Fatalf("%d messages in Payments", n)
	}

	s.okJSON(t, &list, "txnList")
	if list.Total != 1 || list.Transactions[0].OffsetMsgID != halves[1].OffsetMsgID {
		t.Fatalf("open after the commit: %+v", list)
	}
	secondArg := strconv.FormatInt(list.Transactions[0].HalfOffset, 10)
	if out := s.ok(t, "txnRollback", "-o", secondArg); out != fmt.Sprintf("half message %s on %s: rolled back\n", secondArg, addr) {
		t.Errorf("txnRollback: %q", out)
	}
	if s.okJSON(t, &res, "txnRollback", "-o", secondArg); res.Changed || !strings.Contains(res.Remark, "already rolled back") {
		t.Errorf("txnRollback again: %+v", res)
	}
	if out := s.ok(t, "txnList"); !strings.Contains(out, "Open: 0") {
		t.Errorf("txnList at the end:\n%s", out)
	}
	if got := consumed(t, consumer, "Payments"); len(got) != 1 {
		t.Fatalf("consumed after the rollback: %q", got)
	}

	// A live producer whose checks stay undecided: checked once, then discarded, then resumed.
	live, resumable := sendHalves(t, s, "refundsTx", "Payments", 1)
	defer live.Close()
	checkFailures(t, s, []failure{
		{"resume of an open transaction", []string{"txnResume", "-i", resumable[0].OffsetMsgID}, exitFailure, "not discarded"},
	})
	for range 2 {
		time.Sleep(2 * time.Millisecond) // older than transactionTimeOut
		if _, err := s.b.Store().Transactions().CheckNow(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if s.okJSON(t, &list, "txnList"); list.Total != 0 {
		t.Fatalf("open after the discard: %+v", list)
	}
	// The discarded transaction is listed, and resumed by its transaction id (UNIQ_KEY).
	var discarded struct {
		Total        int `json:"total"`
		Transactions []struct {
			TransactionID string `json:"transactionId"`
			ProducerGroup string `json:"producerGroup"`
			Topic         string `json:"topic"`
			CheckTimes    string `json:"checkTimes"`
		} `json:"transactions"`
	}
	// The discarded copy is readable once dispatched to TRANS_CHECK_MAX_TIME_TOPIC's queue.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		s.okJSON(t, &discarded, "txnList", "-discarded")
		if discarded.Total == 1 || time.Now().After(deadline) {
			break
		}
	}
	if discarded.Total != 1 || discarded.Transactions[0].TransactionID != resumable[0].MsgID ||
		discarded.Transactions[0].ProducerGroup != "refundsTx" || discarded.Transactions[0].Topic != "Payments" {
		t.Fatalf("txnList -discarded: %+v", discarded)
	}
	if out := s.ok(t, "txnList", "-discarded"); !strings.Contains(out, resumable[0].MsgID) || !strings.Contains(out, "Discarded: 1") {
		t.Errorf("txnList -discarded:\n%s", out)
	}
	r := s.mqadmin(t, "txnResume", "-i", resumable[0].MsgID)
	if r.code != 0 || !strings.Contains(r.stdout, "resumed as commitLogOffset") ||
		!strings.Contains(r.stderr, resumable[0].MsgID+" is a transaction id (UNIQ_KEY)") {
		t.Errorf("txnResume by transaction id: %+v", r)
	}
	if s.okJSON(t, &list, "txnList"); list.Total != 1 || list.Transactions[0].ResumedFrom <= 0 || list.Transactions[0].ProducerGroup != "refundsTx" {
		t.Fatalf("open after the resume: %+v", list)
	}
	checkFailures(t, s, []failure{
		{"commit of a rolled back one", []string{"txnCommit", "-o", secondArg}, exitFailure, "transaction already rolled back; commit refused"},
		{"commit of a discarded one", []string{"txnCommit", "-i", resumable[0].OffsetMsgID}, exitFailure, "transaction resumed as a new half message"},
		{"resume again", []string{"txnResume", "-i", resumable[0].OffsetMsgID}, exitFailure, "not discarded"},
		{"no half message", []string{"txnCommit", "-o", "99999999"}, exitFailure, "no half message at offset 99999999 on " + addr},
		{"not a half message", []string{"txnRollback", "-o", strconv.FormatInt(committedOffset, 10)}, exitFailure,
			fmt.Sprintf("no half message at offset %d", committedOffset)},
		{"no offset", []string{"txnCommit"}, exitUsage, "-o (or -i) is required"},
		{"both", []string{"txnCommit", "-i", halves[0].OffsetMsgID, "-o", "1"}, exitUsage, "no -o or -b with it"},
		{"bad id", []string{"txnRollback", "-i", "XYZ"}, exitUsage, "-i XYZ"},
		{"unreachable broker", []string{"txnList", "-b", "127.0.0.1:1"}, exitFailure, "cannot reach 127.0.0.1:1"},
	})
}
