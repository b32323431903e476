package broker

import (
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

func TestUpdateConsumerOffset(t *testing.T) {
	tb := startBroker(t, nil)
	u := func(offset string) *remoting.Command {
		return tb.call(remoting.RequestUpdateConsumerOffset, nil,
			"consumerGroup", "g", "topic", "T", "queueId", "3", "commitOffset", offset)
	}
	expect(t, u("17"), remoting.ResponseSuccess)
	expect(t, u("-1"), remoting.ResponseSuccess) // "none": ignored
	if off, ok := tb.offsets.query("g", "T", 3); !ok || off != 17 {
		t.Fatalf("offset %d %v", off, ok)
	}
	expect(t, u("x"), remoting.ResponseSystemError)
	expect(t, tb.call(remoting.RequestUpdateConsumerOffset, nil, "consumerGroup", "g"), remoting.ResponseSystemError)
}
