package broker

import (
	"slices"
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

func TestGetConsumerListByGroup(t *testing.T) {
	tb := startBroker(t, nil)
	expect(t, tb.call(remoting.RequestGetConsumerListByGroup, nil, "consumerGroup", "nobody"), remoting.ResponseSystemError)
	expect(t, tb.call(remoting.RequestGetConsumerListByGroup, nil), remoting.ResponseSystemError)
	ids := []string{"10.0.0.3@z", "10.0.0.1@a", "10.0.0.2@m"}
	for _, id := range ids {
		c := newConsumerClient(t, id)
		c.heartbeat(t, tb.Addr(), heartbeatBody(id, "list-group", "T", "*"))
	}
	slices.Sort(ids)
	if got := consumerList(t, tb, "list-group"); !slices.Equal(got, ids) {
		t.Fatalf("consumer list %v, want sorted %v", got, ids)
	}
}
