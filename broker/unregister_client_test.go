package broker

import (
	"slices"
	"testing"
	"time"

	"github.com/mqstore/mqstore/remoting"
)

func TestUnregisterClient(t *testing.T) {
	tb := startBroker(t, nil)
	c1 := newConsumerClient(t, "10.0.0.1@c1")
	c2 := newConsumerClient(t, "10.0.0.2@c2")
	c1.heartbeat(t, tb.Addr(), heartbeatBody(c1.id, "ur-group", "T", "*"))
	c2.heartbeat(t, tb.Addr(), heartbeatBody(c2.id, "ur-group", "T", "*", "ur-producers"))
	waitUntil(t, "the join notifications", func() bool { return len(c1.notifications()) == 2 })
	n := len(c1.notifications())

	expect(t, tb.call(remoting.RequestUnregisterClient, nil,
		"clientID", c2.id, "producerGroup", "ur-producers", "consumerGroup", "ur-group"), remoting.ResponseSuccess)
	if got := consumerList(t, tb, "ur-group"); !slices.Equal(got, []string{c1.id}) {
		t.Fatalf("consumer list %v", got)
	}
	if conns := tb.clients.producerConns("ur-producers"); len(conns) != 0 {
		t.Fatalf("%d producer connections left", len(conns))
	}
	waitUntil(t, "c1's notification", func() bool { return len(c1.notifications()) > n })

	// Unknown clients and groups are fine.
	expect(t, tb.call(remoting.RequestUnregisterClient, nil, "clientID", "x", "consumerGroup", "none"), remoting.ResponseSuccess)
	time.Sleep(10 * time.Millisecond)
}
