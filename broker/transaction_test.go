package broker

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
	"github.com/mqstore/mqstore/txn"
)

// txnBroker starts a broker whose check service does not run by itself (tests call CheckNow)
// and checks every half message older than 1 ms.
func txnBroker(t *testing.T, mutate func(*Config)) *testBroker {
	return startBroker(t, func(c *Config) {
		c.TransactionTimeOut = 1
		c.TransactionCheckInterval = 3600_000
		if mutate != nil {
			mutate(c)
		}
	})
}

// checkRequest is a CHECK_TRANSACTION_STATE a fake producer received.
type checkRequest struct {
	ext    map[string]string
	record message.Record
}

// fakeProducer is a raw client announcing one producer client instance of a group; it records
// the checks it receives.
type fakeProducer struct {
	*remoting.Client
	t     *testing.T
	id    string
	group string

	mu     sync.Mutex
	checks []checkRequest
}

func newFakeProducer(t *testing.T, id, group string) *fakeProducer {
	t.Helper()
	c, err := remoting.NewClient(remoting.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeProducer{Client: c, t: t, id: id, group: group}
	c.RegisterHandler(remoting.RequestCheckTransactionState, func(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
		ext := map[string]string{}
		for _, f := range req.ExtFields {
			ext[f.Key] = f.Value
		}
		var r message.Record
		if _, err := message.DecodeRecord(req.Body, &r, true); err != nil {
			t.Errorf("check body: %v", err)
		}
		r.Body, r.Topic, r.Properties = append([]byte(nil), r.Body...), append([]byte(nil), r.Topic...), r.Properties.Clone()
		p.mu.Lock()
		p.checks = append(p.checks, checkRequest{ext: ext, record: r})
		p.mu.Unlock()
		if !req.IsOneway() {
			t.Errorf("check is not oneway")
		}
		return nil
	})
	t.Cleanup(func() { c.Close() })
	return p
}

func (p *fakeProducer) heartbeat(addr string) {
	p.t.Helper()
	req := remoting.NewRequest(remoting.RequestHeartBeat)
	req.Body = heartbeatBody(p.id, "", "", "", p.group)
	resp, err := p.Invoke(context.Background(), addr, req)
	if err != nil {
		p.t.Fatal(err)
	}
	expect(p.t, resp, remoting.ResponseSuccess)
	resp.Release()
}

func (p *fakeProducer) received() []checkRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]checkRequest(nil), p.checks...)
}

// halfSend is a prepared half message as the send answer describes it.
type halfSend struct {
	commitLogOffset int64
	queueOffset     int64
	msgID           string
	uniq            string
}

// sendHalf sends a transactional message of group over p's connection (SEND_MESSAGE_V2-like
// V1 header, sysFlag PREPARED, TRAN_MSG and PGROUP as the clients set them).
func (p *fakeProducer) sendHalf(addr, topic string, queueID int, body string, extra ...string) halfSend {
	p.t.Helper()
	resp := p.sendHalfResp(addr, topic, queueID, body, extra...)
	defer resp.Release()
	expect(p.t, resp, remoting.ResponseSuccess)
	_, off, err := message.ParseOffsetMsgID(resp.Ext(protocol.FieldMsgID))
	if err != nil {
		p.t.Fatalf("msgId %q: %v", resp.Ext(protocol.FieldMsgID), err)
	}
	q, _ := resp.GetInt64(protocol.FieldQueueOffset)
	if resp.Ext(protocol.FieldQueueID) != strconv.Itoa(queueID) {
		p.t.Fatalf("queueId %q, want the queue asked %d", resp.Ext(protocol.FieldQueueID), queueID)
	}
	return halfSend{commitLogOffset: off, queueOffset: q, msgID: resp.Ext(protocol.FieldMsgID), uniq: resp.Ext(protocol.FieldTransactionID)}
}

func (p *fakeProducer) sendHalfResp(addr, topic string, queueID int, body string, extra ...string) *remoting.Command {
	p.t.Helper()
	kv := append([]string{"TRAN_MSG", "true", "PGROUP", p.group, "UNIQ_KEY", "UNIQ-" + body, "KEYS", body}, extra...)
	args := sendArgs(topic, queueID, props(kv...))
	for i := range args {
		if args[i] == "sysFlag" {
			args[i+1] = "4"
		}
	}
	req := remoting.NewRequest(remoting.RequestSendMessage)
	for i := 0; i+1 < len(args); i += 2 {
		req.SetExt(args[i], args[i+1])
	}
	req.Body = []byte(body)
	resp, err := p.Invoke(context.Background(), addr, req)
	if err != nil {
		p.t.Fatal(err)
	}
	return resp
}

// endTransaction sends END_TRANSACTION (two-way, so the test sees the answer).
func (p *fakeProducer) endTransaction(addr string, h halfSend, state int32, fromCheck bool) *remoting.Command {
	p.t.Helper()
	return endTransactionCall(p.t, p.Client, addr, p.group, h, state, fromCheck)
}

func endTransactionCall(t *testing.T, c *remoting.Client, addr, group string, h halfSend, state int32, fromCheck bool) *remoting.Command {
	t.Helper()
	req := remoting.NewRequest(remoting.RequestEndTransaction)
	req.SetExt(protocol.FieldProducerGroup, group)
	req.SetExtInt64(protocol.FieldTranStateTableOffset, h.queueOffset)
	req.SetExtInt64(protocol.FieldCommitLogOffset, h.commitLogOffset)
	req.SetExt(protocol.FieldCommitOrRollback, strconv.Itoa(int(state)))
	req.SetExtBool(protocol.FieldFromTransactionCheck, fromCheck)
	req.SetExt(protocol.FieldMsgID, h.uniq)
	resp, err := c.Invoke(context.Background(), addr, req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(resp.Release)
	return resp
}

func checkNow(t *testing.T, tb *testBroker) txn.RoundStats {
	t.Helper()
	time.Sleep(2 * time.Millisecond) // older than transactionTimeOut (1 ms)
	stats, err := tb.Store().Transactions().CheckNow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return stats
}

// TestTransactionalSend: a half message is answered as RocketMQ does (spec §6.3) and stays
// invisible in its topic; rejectTransactionMessage and a delay level are refused.
func TestTransactionalSend(t *testing.T) {
	tb := txnBroker(t, nil)
	p := newFakeProducer(t, "A", "pg")
	h := p.sendHalf(tb.Addr(), "TxTopic", 2, "order-1", "TAGS", "TagT")
	if len(h.msgID) != 32 || h.uniq != "UNIQ-order-1" || h.queueOffset != 0 {
		t.Fatalf("answer %+v", h)
	}
	half, err := tb.Store().ReadAt(h.commitLogOffset)
	if err != nil {
		t.Fatal(err)
	}
	if half.Topic != txn.HalfTopic || half.QueueOffset != h.queueOffset {
		t.Fatalf("half record %s@%d", half.Topic, half.QueueOffset)
	}
	if v, _ := half.Property(message.PropertyRealTopic); v != "TxTopic" {
		t.Fatalf("REAL_TOPIC %q", v)
	}
	if v, _ := half.Property(message.PropertyRealQueueID); v != "2" {
		t.Fatalf("REAL_QID %q", v)
	}
	tb.sync()
	if n := tb.Store().MaxOffset("TxTopic", 2); n != 0 {
		t.Fatalf("the real queue holds %d messages before the commit", n)
	}
	open := tb.Store().Transactions().Open()
	if len(open) != 1 || open[0].ProducerGroup != "pg" || open[0].Topic != "TxTopic" {
		t.Fatalf("open %+v", open)
	}
	if h2 := p.sendHalf(tb.Addr(), "TxTopic", 0, "order-2"); h2.queueOffset != 1 {
		t.Fatalf("second half-queue offset %d", h2.queueOffset)
	}

	// A redelivery sent back as a normal message by an old client keeps TRAN_MSG: it is stored
	// as a normal (delayed) message of the retry topic, not as a half message.
	args := sendArgs(RetryTopicPrefix+"cg", 0, props("TRAN_MSG", "true", "PGROUP", "pg", "DELAY", "3"))
	for i := range args {
		switch args[i] {
		case protocol.FieldSysFlag:
			args[i+1] = "4"
		case protocol.FieldReconsumeTimes:
			args[i+1] = "1"
		}
	}
	resp := tb.call(remoting.RequestSendMessage, []byte("again"), args...)
	expect(t, resp, remoting.ResponseSuccess)
	_, off, _ := message.ParseOffsetMsgID(resp.Ext(protocol.FieldMsgID))
	if sm, err := tb.Store().ReadAt(off); err != nil || sm.Topic != store.TimerTopic ||
		message.TransactionType(sm.SysFlag) != message.TransactionNotType {
		t.Fatalf("redelivery stored as %+v: %v", sm, err)
	}
	if n := len(tb.Store().Transactions().Open()); n != 2 {
		t.Fatalf("%d open transactions, want the 2 half messages", n)
	}

	for _, tt := range []struct {
		name  string
		cfg   func(*Config)
		extra []string
		code  remoting.ResponseCode
	}{
		{"rejectTransactionMessage", func(c *Config) { c.RejectTransactionMessage = true }, nil, remoting.ResponseNoPermission},
		{"delay level", nil, []string{"DELAY", "3"}, remoting.ResponseMessageIllegal},
		{"timer property", nil, []string{"TIMER_DELAY_SEC", "3"}, remoting.ResponseMessageIllegal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tb := txnBroker(t, tt.cfg)
			p := newFakeProducer(t, "A", "pg")
			resp := p.sendHalfResp(tb.Addr(), "TxTopic", 0, "x", tt.extra...)
			defer resp.Release()
			expect(t, resp, tt.code)
			if n := len(tb.Store().Transactions().Open()); n != 0 {
				t.Fatalf("%d open transactions", n)
			}
		})
	}
}

// TestCheckTransactionState: checks go oneway to the client that sent the half message, not to
// another producer of its group; the body is the half message with its real topic and queue,
// and the header carries the offsets the answer echoes. When the sender is gone the group's
// other producer is asked; when no producer is online the check is not counted.
func TestCheckTransactionState(t *testing.T) {
	tb := txnBroker(t, nil)
	a := newFakeProducer(t, "A", "pg")
	b := newFakeProducer(t, "B", "pg")
	a.heartbeat(tb.Addr())
	b.heartbeat(tb.Addr())
	h1 := a.sendHalf(tb.Addr(), "TxTopic", 1, "order-1", "TAGS", "TagT")

	stats := checkNow(t, tb)
	if stats.Checked != 1 || stats.Failed != 0 {
		t.Fatalf("round %+v", stats)
	}
	waitUntil(t, "the check", func() bool { return len(a.received()) == 1 })
	if n := len(b.received()); n != 0 {
		t.Fatalf("the producer that sent nothing got %d checks", n)
	}
	got := a.received()[0]
	want := map[string]string{
		protocol.FieldTranStateTableOffset: strconv.FormatInt(h1.queueOffset, 10),
		protocol.FieldCommitLogOffset:      strconv.FormatInt(h1.commitLogOffset, 10),
		protocol.FieldMsgID:                "UNIQ-order-1",
		protocol.FieldTransactionID:        "UNIQ-order-1",
		protocol.FieldOffsetMsgID:          h1.msgID,
		protocol.FieldBrokerName:           "broker-a",
	}
	for k, v := range want {
		if got.ext[k] != v {
			t.Errorf("check ext %s = %q, want %q", k, got.ext[k], v)
		}
	}
	r := got.record
	if string(r.Topic) != "TxTopic" || r.QueueID != 1 || r.QueueOffset != h1.queueOffset || r.PhysicalOffset != h1.commitLogOffset ||
		string(r.Body) != "order-1" {
		t.Fatalf("check body %s/%d@%d phys %d body %q", r.Topic, r.QueueID, r.QueueOffset, r.PhysicalOffset, r.Body)
	}
	for k, v := range map[string]string{"PGROUP": "pg", "UNIQ_KEY": "UNIQ-order-1", "TRANSACTION_CHECK_TIMES": "1", "TAGS": "TagT"} {
		if got, _ := r.Properties.Get(k); got != v {
			t.Errorf("check body property %s = %q, want %q", k, got, v)
		}
	}

	// The answer commits.
	expect(t, a.endTransaction(tb.Addr(), h1, message.TransactionCommitType, true), remoting.ResponseSuccess)
	if n := len(tb.Store().Transactions().Open()); n != 0 {
		t.Fatalf("%d open after the check answer", n)
	}

	// The sender leaves: B is asked.
	h2 := a.sendHalf(tb.Addr(), "TxTopic", 0, "order-2")
	a.Close()
	waitUntil(t, "A's connection to close", func() bool { return len(tb.clients.producerChannels("pg")) == 1 })
	checkNow(t, tb)
	waitUntil(t, "B's check", func() bool { return len(b.received()) == 1 })
	if c := b.received()[0]; c.ext[protocol.FieldCommitLogOffset] != strconv.FormatInt(h2.commitLogOffset, 10) {
		t.Fatalf("B asked about %v", c.ext)
	}

	// Nobody online: the check is not delivered and not counted.
	b.Close()
	waitUntil(t, "B's connection to close", func() bool { return len(tb.clients.producerChannels("pg")) == 0 })
	stats = checkNow(t, tb)
	if stats.Checked != 0 || stats.Failed != 1 {
		t.Fatalf("round without producers %+v", stats)
	}
	open := tb.Store().Transactions().Open()
	if len(open) != 1 || open[0].CheckTimes != 1 {
		t.Fatalf("open %+v", open)
	}

	// A new producer of the group, which has not sent a heartbeat yet but sends a half
	// message, is asked about it over that connection.
	c := newFakeProducer(t, "C", "pg2")
	h3 := c.sendHalf(tb.Addr(), "TxTopic", 0, "order-3")
	checkNow(t, tb)
	waitUntil(t, "C's check", func() bool { return len(c.received()) == 1 })
	if got := c.received()[0].ext[protocol.FieldCommitLogOffset]; got != strconv.FormatInt(h3.commitLogOffset, 10) {
		t.Fatalf("C asked about %s", got)
	}
	// Known by its address until its heartbeat, then by its client id, once.
	if chans := tb.clients.producerChannels("pg2"); len(chans) != 1 || chans[0].clientID[0] != '@' {
		t.Fatalf("pg2 producers before the heartbeat %+v", chans)
	}
	c.heartbeat(tb.Addr())
	if chans := tb.clients.producerChannels("pg2"); len(chans) != 1 || chans[0].clientID != "C" {
		t.Fatalf("pg2 producers after the heartbeat %+v", chans)
	}
}

// TestCheckRoundRobin: without a sender to prefer (the broker restarted), checks of a group go
// to its producers in turn.
func TestCheckRoundRobin(t *testing.T) {
	tb := txnBroker(t, nil)
	ps := []*fakeProducer{newFakeProducer(t, "A", "pg"), newFakeProducer(t, "B", "pg"), newFakeProducer(t, "C", "pg")}
	for _, p := range ps {
		p.heartbeat(tb.Addr())
	}
	for i := range 6 {
		h := ps[0].sendHalf(tb.Addr(), "TxTopic", 0, "rr-"+strconv.Itoa(i))
		tb.origins.forget(h.commitLogOffset)
	}
	checkNow(t, tb)
	waitUntil(t, "6 checks", func() bool {
		n := 0
		for _, p := range ps {
			n += len(p.received())
		}
		return n == 6
	})
	for _, p := range ps {
		if n := len(p.received()); n != 2 {
			t.Fatalf("producer %s got %d of 6 checks", p.id, n)
		}
	}
}
