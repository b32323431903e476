package broker

import (
	"testing"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

func TestGetMinOffset(t *testing.T) {
	tb := startBroker(t, nil)
	tb.fill("MinT", 3)
	resp := tb.call(remoting.RequestGetMinOffset, nil, "topic", "MinT", "queueId", "0")
	expect(t, resp, remoting.ResponseSuccess)
	if got := extInt(t, resp, protocol.FieldOffset); got != 0 {
		t.Fatalf("min offset %d", got)
	}
	expect(t, tb.call(remoting.RequestGetMinOffset, nil, "topic", "MinT"), remoting.ResponseSystemError)
}
