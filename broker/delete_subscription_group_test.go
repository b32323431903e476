package broker

import (
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

func TestDeleteSubscriptionGroup(t *testing.T) {
	tb := startBroker(t, nil)
	for _, g := range []string{"Keep", "Drop"} {
		expect(t, tb.call(remoting.RequestUpdateAndCreateSubscriptionGroup, []byte(`{"groupName":"`+g+`"}`)), remoting.ResponseSuccess)
		expect(t, tb.call(remoting.RequestUpdateConsumerOffset, nil, "consumerGroup", g, "topic", "DT", "queueId", "0", "commitOffset", "7"),
			remoting.ResponseSuccess)
	}
	// Without removeOffset the offsets stay.
	resp := tb.call(remoting.RequestDeleteSubscriptionGroup, nil, "groupName", "Keep")
	expect(t, resp, remoting.ResponseSuccess)
	if resp.Remark != "" {
		t.Fatalf("remark %q for an existing group", resp.Remark)
	}
	if _, ok := tb.offsets.query("Keep", "DT", 0); !ok {
		t.Fatal("offsets removed without removeOffset")
	}
	expect(t, tb.call(remoting.RequestDeleteSubscriptionGroup, nil, "groupName", "Drop", "removeOffset", "true"), remoting.ResponseSuccess)
	if _, ok := tb.offsets.query("Drop", "DT", 0); ok {
		t.Fatal("offsets kept with removeOffset=true")
	}
	for _, g := range []string{"Keep", "Drop"} {
		if _, ok := groupConfigs(t, tb)[g]; ok {
			t.Fatalf("group %s still listed", g)
		}
		if _, ok := groupsOnDisk(t, tb)[g]; ok {
			t.Fatalf("group %s still in subscriptionGroup.json after the reply", g)
		}
	}
	// Unknown groups succeed, as in RocketMQ, and say so.
	resp = tb.call(remoting.RequestDeleteSubscriptionGroup, nil, "groupName", "Nobody")
	expect(t, resp, remoting.ResponseSuccess)
	if resp.Remark != "subscription group Nobody did not exist" {
		t.Fatalf("remark %q", resp.Remark)
	}
	expect(t, tb.call(remoting.RequestDeleteSubscriptionGroup, nil), remoting.ResponseSystemError)
}
