package broker

import (
	"testing"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

func TestQueryConsumerOffset(t *testing.T) {
	tb := startBroker(t, nil)
	q := func(group, topic, queue string) *remoting.Command {
		return tb.call(remoting.RequestQueryConsumerOffset, nil, "consumerGroup", group, "topic", topic, "queueId", queue)
	}
	// Nothing committed, queue starting at 0: 0 (RocketMQ's answer for fresh in-memory queues).
	resp := q("g", "T", "0")
	expect(t, resp, remoting.ResponseSuccess)
	if extInt(t, resp, protocol.FieldOffset) != 0 {
		t.Fatalf("offset %s", resp.Ext(protocol.FieldOffset))
	}
	tb.offsets.commit("g", "T", 1, 42)
	resp = q("g", "T", "1")
	expect(t, resp, remoting.ResponseSuccess)
	if extInt(t, resp, protocol.FieldOffset) != 42 {
		t.Fatalf("offset %s", resp.Ext(protocol.FieldOffset))
	}
	expect(t, tb.call(remoting.RequestQueryConsumerOffset, nil, "topic", "T", "queueId", "0"), remoting.ResponseSystemError)
	expect(t, q("g", "T", "x"), remoting.ResponseSystemError)
}
