package broker

import (
	"strconv"
	"testing"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

func TestViewMessageByID(t *testing.T) {
	tb := startBroker(t, nil)
	tb.fill("ViewT", 1)
	resp := tb.send("ViewT", 0, "look at me", props("TAGS", "V"))
	_, phys, err := message.ParseOffsetMsgID(resp.Ext(protocol.FieldMsgID))
	if err != nil {
		t.Fatal(err)
	}
	resp = tb.call(remoting.RequestViewMessageByID, nil, "offset", strconv.FormatInt(phys, 10))
	expect(t, resp, remoting.ResponseSuccess)
	recs := records(t, resp.Body)
	if len(recs) != 1 || string(recs[0].Body) != "look at me" || recs[0].PhysicalOffset != phys || recs[0].QueueOffset != 1 {
		t.Fatalf("records %+v", recs)
	}
	expect(t, tb.call(remoting.RequestViewMessageByID, nil, "offset", "999999999"), remoting.ResponseSystemError)
	expect(t, tb.call(remoting.RequestViewMessageByID, nil), remoting.ResponseSystemError)
}
