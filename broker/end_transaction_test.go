package broker

import (
	"strings"
	"testing"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// TestEndTransaction: validation (spec §6.4), commit and rollback, UNKNOW, and idempotent
// repeats, with what each leaves in the real topic.
func TestEndTransaction(t *testing.T) {
	tb := txnBroker(t, nil)
	p := newFakeProducer(t, "A", "pg")
	addr := tb.Addr()
	commitMe := p.sendHalf(addr, "EndTopic", 1, "commit-me", "TAGS", "TagC")
	rollMe := p.sendHalf(addr, "EndTopic", 1, "roll-me")

	bad := func(h halfSend, f func(*halfSend)) halfSend { f(&h); return h }
	steps := []struct {
		name   string
		group  string
		h      halfSend
		state  int32
		code   remoting.ResponseCode
		remark string
		open   int // open transactions after the step
	}{
		{"unknown", "pg", commitMe, message.TransactionNotType, remoting.ResponseSuccess, "unknown", 2},
		{"bad state", "pg", commitMe, 5, remoting.ResponseSystemError, "commitOrRollback", 2},
		{"wrong group", "other", commitMe, message.TransactionCommitType, remoting.ResponseSystemError, "The producer group wrong", 2},
		{"wrong queue offset", "pg", bad(commitMe, func(h *halfSend) { h.queueOffset = 7 }), message.TransactionCommitType,
			remoting.ResponseSystemError, "The transaction state table offset wrong", 2},
		{"no half message", "pg", bad(commitMe, func(h *halfSend) { h.commitLogOffset += 3 }), message.TransactionCommitType,
			remoting.ResponseSystemError, "Find prepared transaction message failed", 2},
		{"commit", "pg", commitMe, message.TransactionCommitType, remoting.ResponseSuccess, "", 1},
		{"commit again", "pg", commitMe, message.TransactionCommitType, remoting.ResponseSuccess, "already committed", 1},
		{"rollback after commit", "pg", commitMe, message.TransactionRollbackType, remoting.ResponseIllegalOperation, "already committed", 1},
		{"rollback", "pg", rollMe, message.TransactionRollbackType, remoting.ResponseSuccess, "", 0},
		{"rollback again", "pg", rollMe, message.TransactionRollbackType, remoting.ResponseSuccess, "already rolled back", 0},
		{"commit after rollback", "pg", rollMe, message.TransactionCommitType, remoting.ResponseIllegalOperation, "already rolled back", 0},
	}
	for _, s := range steps {
		resp := endTransactionCall(t, p.Client, addr, s.group, s.h, s.state, false)
		if resp.ResponseCode() != s.code || !strings.Contains(resp.Remark, s.remark) {
			t.Fatalf("%s: %v %q, want %v %q", s.name, resp.ResponseCode(), resp.Remark, s.code, s.remark)
		}
		if n := len(tb.Store().Transactions().Open()); n != s.open {
			t.Fatalf("%s: %d open, want %d", s.name, n, s.open)
		}
	}
	// Exactly the committed message is in the real queue, once, as RocketMQ stores it.
	tb.sync()
	if n := tb.Store().MaxOffset("EndTopic", 1); n != 1 {
		t.Fatalf("real queue holds %d messages, want 1", n)
	}
	got, err := tb.Store().GetMessages("EndTopic", 1, 0, 10, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	r := records(t, got.Messages[0])[0]
	if string(r.Body) != "commit-me" || message.TransactionType(r.SysFlag) != message.TransactionCommitType ||
		r.PreparedTransactionOffset != commitMe.commitLogOffset {
		t.Fatalf("committed record %q sysflag %x prepared %d", r.Body, r.SysFlag, r.PreparedTransactionOffset)
	}
	if v, _ := r.Properties.Get("TAGS"); v != "TagC" {
		t.Fatalf("TAGS %q", v)
	}
	if r.Properties.Len() == 0 || !strings.Contains(string(r.Properties), "TRAN_MSG") {
		t.Fatalf("committed properties %q lack TRAN_MSG (RocketMQ keeps it)", r.Properties)
	}
}

// TestEndTransactionSlave: a slave refuses to end transactions.
func TestEndTransactionSlave(t *testing.T) {
	tb := txnBroker(t, func(c *Config) { c.BrokerID = 1 })
	resp := endTransactionCall(t, tb.client, tb.Addr(), "pg", halfSend{}, message.TransactionCommitType, false)
	expect(t, resp, remoting.ResponseSlaveNotAvailable)
	// A missing field is refused too.
	tb2 := txnBroker(t, nil)
	expect(t, tb2.call(remoting.RequestEndTransaction, nil, protocol.FieldProducerGroup, "pg"), remoting.ResponseSystemError)
}
