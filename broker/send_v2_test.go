package broker

import (
	"strconv"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// v2Args are SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE header fields.
func v2Args(topic string, queueID int, props message.Properties, batch bool) []string {
	return []string{
		"a", "pg", "b", topic, "c", "TBW102", "d", "4", "e", strconv.Itoa(queueID), "f", "0",
		"g", strconv.FormatInt(time.Now().UnixMilli(), 10), "h", "0", "i", string(props),
		"j", "0", "k", "false", "l", "16", "m", strconv.FormatBool(batch),
	}
}

func TestSendMessageV2(t *testing.T) {
	tb := startBroker(t, nil)
	p := props("TAGS", "T2", "KEYS", "v2key")
	for i := range 3 {
		resp := tb.call(remoting.RequestSendMessageV2, []byte("v2 body"), v2Args("V2Topic", 1, p, false)...)
		expect(t, resp, remoting.ResponseSuccess)
		if got := extInt(t, resp, protocol.FieldQueueOffset); got != int64(i) {
			t.Fatalf("queueOffset %d, want %d", got, i)
		}
		_, phys, err := message.ParseOffsetMsgID(resp.Ext(protocol.FieldMsgID))
		if err != nil {
			t.Fatal(err)
		}
		m, err := tb.Store().ReadAt(phys)
		if err != nil {
			t.Fatal(err)
		}
		if m.Topic != "V2Topic" || m.QueueID != 1 || m.Tags() != "T2" || string(m.Body) != "v2 body" {
			t.Fatalf("stored %+v", m.Message)
		}
	}
	// V1 names are not V2 names: a V2 request with V1 fields lacks its topic.
	resp := tb.call(remoting.RequestSendMessageV2, []byte("x"), sendArgs("V2Topic", 0, nil)...)
	expect(t, resp, remoting.ResponseSystemError)
}
