package broker

import (
	"strings"
	"testing"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

func batchBody(t testing.TB, n int) []byte {
	t.Helper()
	var body []byte
	var err error
	for i := range n {
		body, err = message.AppendBatchEntry(body, int32(i), []byte(strings.Repeat("b", i+1)),
			props("TAGS", "Batch", "KEYS", "bk"))
		if err != nil {
			t.Fatal(err)
		}
	}
	return body
}

func TestSendBatchMessage(t *testing.T) {
	tb := startBroker(t, nil)
	resp := tb.call(remoting.RequestSendBatchMessage, batchBody(t, 3), v2Args("BatchTopic", 2, nil, true)...)
	expect(t, resp, remoting.ResponseSuccess)
	ids := strings.Split(resp.Ext(protocol.FieldMsgID), ",")
	if len(ids) != 3 || resp.Ext(protocol.FieldQueueID) != "2" || resp.Ext(protocol.FieldQueueOffset) != "0" || resp.Ext(protocol.FieldTraceOn) == "" {
		t.Fatalf("answer %v", resp)
	}
	for i, id := range ids {
		m, err := tb.Store().LookupByMsgID(id)
		if err != nil {
			t.Fatal(err)
		}
		if m.QueueOffset != int64(i) || m.QueueID != 2 || m.Flag != int32(i) || len(m.Body) != i+1 || m.Tags() != "Batch" {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
	resp = tb.call(remoting.RequestSendBatchMessage, batchBody(t, 2), v2Args("BatchTopic", 2, nil, true)...)
	expect(t, resp, remoting.ResponseSuccess)
	if resp.Ext(protocol.FieldQueueOffset) != "3" {
		t.Fatalf("second batch starts at %s, want 3", resp.Ext(protocol.FieldQueueOffset))
	}
}

func TestSendBatchMessageErrors(t *testing.T) {
	tb := startBroker(t, nil)
	tests := []struct {
		name  string
		body  []byte
		topic string
		code  remoting.ResponseCode
	}{
		{"malformed body", []byte{0, 0, 0, 99, 1, 2, 3}, "B", remoting.ResponseMessageIllegal},
		{"empty batch", nil, "B", remoting.ResponseMessageIllegal},
		{"retry topic", batchBody(t, 1), "%RETRY%g", remoting.ResponseMessageIllegal},
		{"invalid topic", batchBody(t, 1), "a b", remoting.ResponseInvalidParameter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, tb.call(remoting.RequestSendBatchMessage, tt.body, v2Args(tt.topic, 0, nil, true)...), tt.code)
		})
	}
}
