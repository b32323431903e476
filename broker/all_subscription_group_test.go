package broker

import (
	"encoding/json"
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

func TestGetAllSubscriptionGroupConfig(t *testing.T) {
	tb := startBroker(t, nil)
	c := newConsumerClient(t, "10.0.0.1@c")
	c.heartbeat(t, tb.Addr(), heartbeatBody(c.id, "listed-group", "T", "*"))
	resp := tb.call(remoting.RequestGetAllSubscriptionGroupConfig, nil)
	expect(t, resp, remoting.ResponseSuccess)
	// Decoded as the Go admin client does (encoding/json, strict).
	var body struct {
		SubscriptionGroupTable map[string]struct {
			GroupName      string
			ConsumeEnable  bool
			RetryMaxTimes  int
			RetryQueueNums int
		}
		DataVersion struct {
			Timestamp int64
			Counter   int32
		}
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		t.Fatal(err)
	}
	g := body.SubscriptionGroupTable["listed-group"]
	if g.GroupName != "listed-group" || !g.ConsumeEnable || g.RetryMaxTimes != 16 || g.RetryQueueNums != 1 {
		t.Fatalf("group %+v", g)
	}
}
