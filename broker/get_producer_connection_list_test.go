package broker

import (
	"encoding/json"
	"testing"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

func TestGetProducerConnectionList(t *testing.T) {
	tb := startBroker(t, nil)
	resp := tb.call(remoting.RequestGetProducerConnectionList, nil, "producerGroup", "PG")
	expect(t, resp, remoting.ResponseSystemError)
	if resp.Remark != "the producer group[PG] not exist" {
		t.Fatalf("remark %q", resp.Remark)
	}
	newConsumerClient(t, "10.0.0.9@p").heartbeat(t, tb.Addr(), heartbeatBody("10.0.0.9@p", "", "", "", "PG", "Other"))
	resp = tb.call(remoting.RequestGetProducerConnectionList, nil, "producerGroup", "PG")
	expect(t, resp, remoting.ResponseSuccess)
	var pc protocol.ProducerConnection
	if err := json.Unmarshal(resp.Body, &pc); err != nil {
		t.Fatal(err)
	}
	if len(pc.ConnectionSet) != 1 || pc.ConnectionSet[0].ClientID != "10.0.0.9@p" || pc.ConnectionSet[0].Language != "GO" {
		t.Fatalf("connections %+v", pc.ConnectionSet)
	}
	expect(t, tb.call(remoting.RequestGetProducerConnectionList, nil), remoting.ResponseSystemError)
}
