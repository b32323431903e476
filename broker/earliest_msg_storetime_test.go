package broker

import (
	"testing"
	"time"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

func TestGetEarliestMsgStoreTime(t *testing.T) {
	tb := startBroker(t, nil)
	before := time.Now().UnixMilli()
	tb.fill("EarlyT", 2)
	resp := tb.call(remoting.RequestGetEarliestMsgStoreTime, nil, "topic", "EarlyT", "queueId", "0")
	expect(t, resp, remoting.ResponseSuccess)
	if ts := extInt(t, resp, protocol.FieldTimestamp); ts < before || ts > time.Now().UnixMilli() {
		t.Fatalf("timestamp %d not within the test", ts)
	}
	resp = tb.call(remoting.RequestGetEarliestMsgStoreTime, nil, "topic", "EarlyT", "queueId", "3")
	expect(t, resp, remoting.ResponseSuccess)
	if ts := extInt(t, resp, protocol.FieldTimestamp); ts != -1 {
		t.Fatalf("empty queue: timestamp %d, want -1", ts)
	}
}
