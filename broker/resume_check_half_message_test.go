package broker

import (
	"strconv"
	"strings"
	"testing"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// TestResumeCheckHalfMessage: a half message discarded after transactionCheckMax checks refuses
// a late commit, is put back by RESUME_CHECK_HALF_MESSAGE (once), and the resumed one is checked
// and committed.
func TestResumeCheckHalfMessage(t *testing.T) {
	tb := txnBroker(t, func(c *Config) { c.TransactionCheckMax = 1 })
	p := newFakeProducer(t, "A", "pg")
	p.heartbeat(tb.Addr())
	h := p.sendHalf(tb.Addr(), "ResumeTopic", 0, "late")
	open := p.sendHalf(tb.Addr(), "ResumeTopic", 0, "open")
	checkNow(t, tb) // both checked once; "open" is answered UNKNOW, then rolled back
	expect(t, p.endTransaction(tb.Addr(), open, message.TransactionNotType, true), remoting.ResponseSuccess)
	expect(t, p.endTransaction(tb.Addr(), open, message.TransactionRollbackType, false), remoting.ResponseSuccess)
	if stats := checkNow(t, tb); stats.Discarded != 1 { // one check is the max
		t.Fatalf("round %+v", stats)
	}
	resp := p.endTransaction(tb.Addr(), h, message.TransactionCommitType, false)
	if resp.ResponseCode() != remoting.ResponseIllegalOperation || !strings.Contains(resp.Remark, "discarded") {
		t.Fatalf("commit of a discarded transaction: %v %q", resp.ResponseCode(), resp.Remark)
	}

	for _, tt := range []struct {
		name  string
		msgID string
		code  remoting.ResponseCode
	}{
		{"bad id", "XYZ", remoting.ResponseSystemError},
		{"not discarded", open.msgID, remoting.ResponseSystemError},
		{"resume", h.msgID, remoting.ResponseSuccess},
		{"resume again", h.msgID, remoting.ResponseSystemError},
	} {
		resp := tb.call(remoting.RequestResumeCheckHalfMessage, nil, protocol.FieldMsgID, tt.msgID)
		if resp.ResponseCode() != tt.code {
			t.Fatalf("%s: %v %q, want %v", tt.name, resp.ResponseCode(), resp.Remark, tt.code)
		}
	}
	txs := tb.Store().Transactions().Open()
	if len(txs) != 1 || txs[0].ResumedFrom != h.commitLogOffset || txs[0].CheckTimes != 0 {
		t.Fatalf("open after resume %+v", txs)
	}
	// The resumed half message is checked; the answer (for its new offsets) commits it.
	before := len(p.received())
	checkNow(t, tb)
	waitUntil(t, "the check of the resumed message", func() bool { return len(p.received()) == before+1 })
	c := p.received()[before]
	resumed := halfSend{commitLogOffset: txs[0].HalfOffset, queueOffset: txs[0].QueueOffset, uniq: c.ext[protocol.FieldMsgID]}
	if c.ext[protocol.FieldCommitLogOffset] != strconv.FormatInt(resumed.commitLogOffset, 10) || string(c.record.Body) != "late" {
		t.Fatalf("check of the resumed message %v %q", c.ext, c.record.Body)
	}
	expect(t, p.endTransaction(tb.Addr(), resumed, message.TransactionCommitType, true), remoting.ResponseSuccess)
	tb.sync()
	if n := tb.Store().MaxOffset("ResumeTopic", 0); n != 1 {
		t.Fatalf("%d messages delivered, want 1", n)
	}
}
