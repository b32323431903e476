package broker

import (
	"strconv"
	"testing"
	"time"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

func TestSearchOffsetByTimestamp(t *testing.T) {
	tb := startBroker(t, nil)
	tb.fill("SearchT", 2)
	time.Sleep(20 * time.Millisecond)
	mid := time.Now().UnixMilli()
	time.Sleep(20 * time.Millisecond)
	tb.fill("SearchT", 2)
	tests := []struct {
		ts   int64
		want int64
	}{
		{0, 0},
		{mid, 2},
		{time.Now().Add(time.Hour).UnixMilli(), 4},
	}
	for _, tt := range tests {
		resp := tb.call(remoting.RequestSearchOffsetByTimestamp, nil,
			"topic", "SearchT", "queueId", "0", "timestamp", strconv.FormatInt(tt.ts, 10))
		expect(t, resp, remoting.ResponseSuccess)
		if got := extInt(t, resp, protocol.FieldOffset); got != tt.want {
			t.Fatalf("timestamp %d: offset %d, want %d", tt.ts, got, tt.want)
		}
	}
	resp := tb.call(remoting.RequestSearchOffsetByTimestamp, nil, "topic", "Nope", "queueId", "0", "timestamp", "1")
	expect(t, resp, remoting.ResponseSuccess)
	expect(t, tb.call(remoting.RequestSearchOffsetByTimestamp, nil, "topic", "SearchT", "queueId", "0"), remoting.ResponseSystemError)
}
