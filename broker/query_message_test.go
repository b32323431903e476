package broker

import (
	"strconv"
	"testing"
	"time"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

func TestQueryMessage(t *testing.T) {
	tb := startBroker(t, nil)
	for i := range 3 {
		expect(t, tb.send("QueryT", 0, "body"+strconv.Itoa(i), props("KEYS", "shared k"+strconv.Itoa(i))), remoting.ResponseSuccess)
	}
	expect(t, tb.send("OtherT", 0, "other", props("KEYS", "shared")), remoting.ResponseSuccess)
	tb.sync()
	end := strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)
	tests := []struct {
		key, maxNum string
		code        remoting.ResponseCode
		n           int
	}{
		{"shared", "32", remoting.ResponseSuccess, 3},
		{"shared", "2", remoting.ResponseSuccess, 2},
		{"k1", "32", remoting.ResponseSuccess, 1},
		{"missing", "32", remoting.ResponseQueryNotFound, 0},
	}
	for _, tt := range tests {
		resp := tb.call(remoting.RequestQueryMessage, nil, "topic", "QueryT", "key", tt.key, "maxNum", tt.maxNum,
			"beginTimestamp", "0", "endTimestamp", end)
		expect(t, resp, tt.code)
		if tt.code != remoting.ResponseSuccess {
			continue
		}
		recs := records(t, resp.Body)
		if len(recs) != tt.n {
			t.Fatalf("key %q: %d records, want %d", tt.key, len(recs), tt.n)
		}
		for _, r := range recs {
			if string(r.Topic) != "QueryT" {
				t.Fatalf("key %q: record of topic %s", tt.key, r.Topic)
			}
		}
		if extInt(t, resp, protocol.FieldIndexLastUpdateTimestamp) <= 0 {
			t.Fatalf("indexLastUpdateTimestamp %s", resp.Ext(protocol.FieldIndexLastUpdateTimestamp))
		}
	}
	expect(t, tb.call(remoting.RequestQueryMessage, nil, "topic", "QueryT"), remoting.ResponseSystemError)
}
