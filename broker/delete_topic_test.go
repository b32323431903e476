package broker

import (
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

func TestDeleteTopicInBroker(t *testing.T) {
	reg := &recordingRegistrar{}
	tb := startBroker(t, nil, func(o *Options) { o.Registrar = reg })
	tb.fill("Doomed", 2)
	tb.offsets.commit("g", "Doomed", 0, 1)
	expect(t, tb.call(remoting.RequestDeleteTopicInBroker, nil, "topic", "Doomed"), remoting.ResponseSuccess)
	if _, ok := tb.topics.get("Doomed"); ok {
		t.Fatal("topic config survived")
	}
	if _, ok := tb.offsets.query("g", "Doomed", 0); ok {
		t.Fatal("offsets survived")
	}
	if tb.Store().MaxOffset("Doomed", 0) != 0 {
		t.Fatal("queue survived")
	}
	if _, ok := reg.last().Topics["Doomed"]; ok {
		t.Fatal("still registered")
	}
	expect(t, tb.call(remoting.RequestDeleteTopicInBroker, nil), remoting.ResponseSystemError)
}
