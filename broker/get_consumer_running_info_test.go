package broker

import (
	"sync"
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

func TestGetConsumerRunningInfo(t *testing.T) {
	tb := startBroker(t, nil)
	c := newConsumerClient(t, "10.0.0.1@run")
	var mu sync.Mutex
	var asked []string
	c.RegisterHandler(remoting.RequestGetConsumerRunningInfo, func(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
		mu.Lock()
		asked = append(asked, req.Ext("consumerGroup")+"/"+req.Ext("clientId")+"/"+req.Ext("jstackEnable"))
		mu.Unlock()
		resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
		resp.Body = []byte(`{"properties":{"consumeType":"CONSUME_PASSIVELY"}}`)
		return resp
	})
	c.heartbeat(t, tb.Addr(), heartbeatBody(c.id, "RunG", "T", "*"))

	resp := tb.call(remoting.RequestGetConsumerRunningInfo, nil, "consumerGroup", "RunG", "clientId", c.id, "jstackEnable", "true")
	expect(t, resp, remoting.ResponseSuccess)
	if string(resp.Body) != `{"properties":{"consumeType":"CONSUME_PASSIVELY"}}` {
		t.Fatalf("body %s", resp.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 || asked[0] != "RunG/10.0.0.1@run/true" {
		t.Fatalf("client asked %v", asked)
	}

	// A client's error answer is relayed as it is.
	c.RegisterHandler(remoting.RequestGetConsumerRunningInfo, func(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
		return remoting.NewResponse(req, remoting.ResponseSystemError, "Can't find specified client instance")
	})
	resp = tb.call(remoting.RequestGetConsumerRunningInfo, nil, "consumerGroup", "RunG", "clientId", c.id)
	expect(t, resp, remoting.ResponseSystemError)
	if resp.Remark != "Can't find specified client instance" {
		t.Fatalf("remark %q", resp.Remark)
	}

	resp = tb.call(remoting.RequestGetConsumerRunningInfo, nil, "consumerGroup", "RunG", "clientId", "10.0.0.9@gone")
	expect(t, resp, remoting.ResponseSystemError)
	if resp.Remark != "The Consumer <RunG> <10.0.0.9@gone> not online" {
		t.Fatalf("remark %q", resp.Remark)
	}
}
