package broker

import (
	"encoding/json"
	"testing"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

func TestGetConsumerConnectionList(t *testing.T) {
	tb := startBroker(t, nil)
	expect(t, tb.call(remoting.RequestGetConsumerConnectionList, nil, "consumerGroup", "nobody"), remoting.ResponseConsumerNotOnline)
	for _, id := range []string{"10.0.0.2@b", "10.0.0.1@a"} {
		newConsumerClient(t, id).heartbeat(t, tb.Addr(), heartbeatBody(id, "CG", "CT", "TagA || TagB"))
	}
	resp := tb.call(remoting.RequestGetConsumerConnectionList, nil, "consumerGroup", "CG")
	expect(t, resp, remoting.ResponseSuccess)
	var cc protocol.ConsumerConnection
	if err := json.Unmarshal(resp.Body, &cc); err != nil {
		t.Fatal(err)
	}
	if len(cc.ConnectionSet) != 2 || cc.ConnectionSet[0].ClientID != "10.0.0.1@a" || cc.ConnectionSet[1].ClientID != "10.0.0.2@b" {
		t.Fatalf("connections %+v", cc.ConnectionSet)
	}
	for _, c := range cc.ConnectionSet {
		// Our remoting client sends Language GO and version 401 in every header.
		if c.Language != "GO" || c.Version != remoting.DefaultVersion || c.ClientAddr == "" {
			t.Fatalf("connection %+v", c)
		}
	}
	sub, ok := cc.SubscriptionTable["CT"]
	if !ok || sub.SubString != "TagA || TagB" || len(sub.TagsSet) != 2 || sub.ExpressionType != "TAG" {
		t.Fatalf("subscriptions %+v", cc.SubscriptionTable)
	}
	if cc.ConsumeType != "CONSUME_PASSIVELY" || cc.MessageModel != "CLUSTERING" || cc.ConsumeFromWhere != "CONSUME_FROM_FIRST_OFFSET" {
		t.Fatalf("consumer info %+v", cc)
	}
	expect(t, tb.call(remoting.RequestGetConsumerConnectionList, nil), remoting.ResponseSystemError)
}
