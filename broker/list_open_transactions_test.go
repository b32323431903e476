package broker

import (
	"encoding/json"
	"testing"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/remoting"
)

func TestListOpenTransactions(t *testing.T) {
	tb := txnBroker(t, nil)
	p := newFakeProducer(t, "A", "pg")
	p.heartbeat(tb.Addr())
	first := p.sendHalf(tb.Addr(), "ListTopic", 1, "first")
	checkNow(t, tb) // first is checked once; the fake producer never answers
	second := p.sendHalf(tb.Addr(), "ListTopic", 0, "second")

	list := func(ext ...string) (*remoting.Command, openTransactionsBody) {
		resp := tb.call(remoting.RequestListOpenTransactions, nil, ext...)
		var body openTransactionsBody
		if resp.ResponseCode() == remoting.ResponseSuccess {
			if err := json.Unmarshal(resp.Body, &body); err != nil {
				t.Fatalf("body %s: %v", resp.Body, err)
			}
		}
		return resp, body
	}
	for _, tt := range []struct {
		name  string
		ext   []string
		code  remoting.ResponseCode
		total int
		items int
	}{
		{"all", nil, remoting.ResponseSuccess, 2, 2},
		{"maxNum", []string{"maxNum", "1"}, remoting.ResponseSuccess, 2, 1},
		{"bad maxNum", []string{"maxNum", "0"}, remoting.ResponseSystemError, 0, 0},
		{"bad maxNum text", []string{"maxNum", "x"}, remoting.ResponseSystemError, 0, 0},
	} {
		resp, body := list(tt.ext...)
		if resp.ResponseCode() != tt.code || body.Total != tt.total || len(body.Transactions) != tt.items {
			t.Errorf("%s: %v %q total %d items %d", tt.name, resp.ResponseCode(), resp.Remark, body.Total, len(body.Transactions))
		}
	}
	_, body := list()
	got := body.Transactions[0]
	if got.CommitLogOffset != first.commitLogOffset || got.TranStateTableOffset != first.queueOffset ||
		got.OffsetMsgID != first.msgID || got.ProducerGroup != "pg" || got.Topic != "ListTopic" || got.QueueID != 1 ||
		got.TransactionID != first.uniq || got.CheckTimes != 1 || got.LastCheckResult != "unknown" ||
		got.LastCheckTimestamp == 0 || got.StoreTimestamp == 0 || got.AgeMillis < 0 || got.ResumedFrom != -1 {
		t.Errorf("first %+v, sent %+v", got, first)
	}
	got = body.Transactions[1]
	if got.CommitLogOffset != second.commitLogOffset || got.CheckTimes != 0 || got.LastCheckResult != "none" || got.LastCheckTimestamp != 0 {
		t.Errorf("second %+v", got)
	}
	expect(t, p.endTransaction(tb.Addr(), first, message.TransactionCommitType, false), remoting.ResponseSuccess)
	if _, body := list(); body.Total != 1 || body.Transactions[0].CommitLogOffset != second.commitLogOffset {
		t.Errorf("after a commit %+v", body)
	}
}
