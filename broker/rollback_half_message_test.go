package broker

import (
	"strconv"
	"strings"
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

func TestRollbackHalfMessage(t *testing.T) {
	tb, logs := loggedTxnBroker(t, func(c *Config) { c.TransactionCheckMax = 1 })
	p := newFakeProducer(t, "A", "pg")
	p.heartbeat(tb.Addr())
	h := p.sendHalf(tb.Addr(), "OpTopic", 0, "one")
	discarded := p.sendHalf(tb.Addr(), "OpTopic", 0, "discarded")
	checkNow(t, tb) // both checked once, never answered
	rollback := remoting.RequestRollbackHalfMessage
	off := func(h halfSend) string { return strconv.FormatInt(h.commitLogOffset, 10) }
	runOperatorCalls(t, tb, []operatorCall{
		{"rollback", rollback, []string{"commitLogOffset", off(h)}, remoting.ResponseSuccess, "true", "rolled back"},
		{"rollback again", rollback, []string{"commitLogOffset", off(h), "producerGroup", "pg"}, remoting.ResponseSuccess, "false", "already rolled back; nothing changed"},
		{"commit of a rolled back one", remoting.RequestCommitHalfMessage, []string{"commitLogOffset", off(h)}, remoting.ResponseIllegalOperation, "", "commit refused"},
	})
	if stats := checkNow(t, tb); stats.Discarded != 1 { // the second check is over the max
		t.Fatalf("round %+v", stats)
	}
	runOperatorCalls(t, tb, []operatorCall{
		{"rollback of a discarded one", rollback, []string{"commitLogOffset", off(discarded)}, remoting.ResponseIllegalOperation, "", "RESUME_CHECK_HALF_MESSAGE"},
		{"commit of a discarded one", remoting.RequestCommitHalfMessage, []string{"commitLogOffset", off(discarded)}, remoting.ResponseIllegalOperation, "", "txnResume"},
	})
	tb.sync()
	if n := tb.Store().MaxOffset("OpTopic", 0); n != 0 {
		t.Fatalf("%d messages delivered, want 0", n)
	}
	if !strings.Contains(logs.String(), "level=INFO msg=\"broker: transaction rolled back by an operator\"") {
		t.Errorf("log:\n%s", logs.String())
	}
}
