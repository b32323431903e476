package broker

import (
	"encoding/json"
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

// TestGetAllDelayOffset: a broker without delayed messages reports an empty table, as JSON
// RocketMQ's tools read (the positions after deliveries are checked in TestDelayedSend).
func TestGetAllDelayOffset(t *testing.T) {
	tb := startBroker(t, nil)
	resp := tb.call(remoting.RequestGetAllDelayOffset, nil)
	expect(t, resp, remoting.ResponseSuccess)
	var f delayFileContent
	if err := json.Unmarshal(resp.Body, &f); err != nil || f.OffsetTable == nil || len(f.OffsetTable) != 0 {
		t.Fatalf("body %s: %v", resp.Body, err)
	}
}
