package broker

import (
	"encoding/json"
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

func TestGetBrokerRuntimeInfo(t *testing.T) {
	tb := startBroker(t, nil)
	tb.fill("InfoT", 3)
	resp := tb.call(remoting.RequestGetBrokerRuntimeInfo, nil)
	expect(t, resp, remoting.ResponseSuccess)
	var body struct {
		Table map[string]string `json:"table"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"msgPutTotalTodayNow": "3", "brokerName": "broker-a", "brokerAddr": tb.Addr()} {
		if body.Table[key] != want {
			t.Fatalf("%s = %q, want %q (table %v)", key, body.Table[key], want, body.Table)
		}
	}
	if body.Table["commitLogMaxOffset"] == "0" || body.Table["bootTimestamp"] == "" {
		t.Fatalf("table %v", body.Table)
	}
}
