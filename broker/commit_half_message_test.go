package broker

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// loggedTxnBroker is txnBroker with its log kept.
func loggedTxnBroker(t *testing.T, mutate func(*Config)) (*testBroker, *syncBuffer) {
	logs := &syncBuffer{}
	tb := startBroker(t, func(c *Config) {
		c.TransactionTimeOut = 1
		c.TransactionCheckInterval = 3600_000
		if mutate != nil {
			mutate(c)
		}
	}, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	return tb, logs
}

// operatorCall is an operator's commit or rollback of the half message at offset.
type operatorCall struct {
	name    string
	code    remoting.RequestCode
	ext     []string
	want    remoting.ResponseCode
	changed string // the changed field of the answer ("" when absent)
	remark  string // a part of the remark
}

func runOperatorCalls(t *testing.T, tb *testBroker, calls []operatorCall) map[string]*remoting.Command {
	t.Helper()
	out := map[string]*remoting.Command{}
	for _, c := range calls {
		resp := tb.call(c.code, nil, c.ext...)
		if resp.ResponseCode() != c.want || resp.Ext(protocol.FieldChanged) != c.changed || !strings.Contains(resp.Remark, c.remark) {
			t.Errorf("%s: %v changed=%q %q; want %v changed=%q remark with %q", c.name, resp.ResponseCode(),
				resp.Ext(protocol.FieldChanged), resp.Remark, c.want, c.changed, c.remark)
		}
		out[c.name] = resp
	}
	return out
}

func TestCommitHalfMessage(t *testing.T) {
	tb, logs := loggedTxnBroker(t, nil)
	p := newFakeProducer(t, "A", "pg")
	h := p.sendHalf(tb.Addr(), "OpTopic", 2, "one")
	other := p.sendHalf(tb.Addr(), "OpTopic", 2, "other")
	rolledBack := p.sendHalf(tb.Addr(), "OpTopic", 2, "rolled back")
	expect(t, p.endTransaction(tb.Addr(), rolledBack, message.TransactionRollbackType, false), remoting.ResponseSuccess)
	plain := tb.send("OpTopic", 0, "plain", nil)
	expect(t, plain, remoting.ResponseSuccess)
	_, plainOffset, _ := message.ParseOffsetMsgID(plain.Ext(protocol.FieldMsgID))
	off := func(h halfSend) string { return strconv.FormatInt(h.commitLogOffset, 10) }
	commit := remoting.RequestCommitHalfMessage
	got := runOperatorCalls(t, tb, []operatorCall{
		{"commit", commit, []string{"commitLogOffset", off(h)}, remoting.ResponseSuccess, "true", "committed"},
		{"commit again", commit, []string{"commitLogOffset", off(h)}, remoting.ResponseSuccess, "false", "already committed; nothing changed"},
		{"commit with the group", commit, []string{"commitLogOffset", off(h), "producerGroup", "pg"}, remoting.ResponseSuccess, "false", "nothing changed"},
		{"rollback of a committed one", remoting.RequestRollbackHalfMessage, []string{"commitLogOffset", off(h)}, remoting.ResponseIllegalOperation, "", "rollback refused"},
		{"commit of a rolled back one", commit, []string{"commitLogOffset", off(rolledBack)}, remoting.ResponseIllegalOperation, "", "commit refused"},
		{"wrong group", commit, []string{"commitLogOffset", off(other), "producerGroup", "other"}, remoting.ResponseSystemError, "", "producer group wrong"},
		{"not a half message", commit, []string{"commitLogOffset", strconv.FormatInt(plainOffset, 10)}, remoting.ResponseQueryNotFound, "", "not a half message"},
		{"no message", commit, []string{"commitLogOffset", "99999999"}, remoting.ResponseQueryNotFound, "", "no half message"},
		{"no offset", commit, nil, remoting.ResponseSystemError, "", "commitLogOffset"},
	})
	resp := got["commit"]
	if resp.Ext(protocol.FieldTopic) != "OpTopic" || resp.Ext(protocol.FieldQueueID) != "2" || resp.Ext(protocol.FieldQueueOffset) != "0" || resp.Ext(protocol.FieldMsgID) == "" {
		t.Errorf("commit answer %v", resp.ExtFields)
	}
	tb.sync()
	if n := tb.Store().MaxOffset("OpTopic", 2); n != 1 {
		t.Fatalf("%d messages delivered, want 1", n)
	}
	m, err := tb.Store().LookupByMsgID(resp.Ext(protocol.FieldMsgID))
	if err != nil || string(m.Body) != "one" {
		t.Fatalf("committed message %v %v", m, err)
	}
	if open := tb.Store().Transactions().Open(); len(open) != 1 || open[0].HalfOffset != other.commitLogOffset {
		t.Fatalf("open %+v", open)
	}
	log := logs.String()
	if !strings.Contains(log, "level=INFO msg=\"broker: transaction committed by an operator\"") ||
		!strings.Contains(log, "commitLogOffset="+off(h)) || !strings.Contains(log, "changed nothing") {
		t.Errorf("log:\n%s", log)
	}
}

func TestOperatorCommitOnSlave(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.BrokerID = 1 })
	expect(t, tb.call(remoting.RequestCommitHalfMessage, nil, "commitLogOffset", "0"), remoting.ResponseSlaveNotAvailable)
}
