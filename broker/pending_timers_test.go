package broker

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

func TestPendingTimers(t *testing.T) {
	tb := startBroker(t, nil)
	due := time.Now().Add(time.Hour).UnixMilli()
	for i, m := range []struct {
		topic string
		props []string
	}{
		{"Later", []string{"TIMER_DELIVER_MS", strconv.FormatInt(due, 10)}},
		{"Later", []string{"TIMER_DELIVER_MS", strconv.FormatInt(due+60_000, 10)}},
		{"Other", []string{"TIMER_DELAY_SEC", "7200"}},
	} {
		if resp := tb.send(m.topic, 0, "x", props(m.props...)); resp.ResponseCode() != remoting.ResponseSuccess {
			t.Fatalf("send %d: %v", i, resp)
		}
	}
	tb.sync()
	var got protocol.PendingTimers
	waitUntil(t, "three timers in the wheel", func() bool {
		resp := tb.call(remoting.RequestPendingTimers, nil, protocol.FieldTopic, "Later")
		if resp.ResponseCode() != remoting.ResponseSuccess || json.Unmarshal(resp.Body, &got) != nil {
			t.Fatalf("pending timers: %v", resp)
		}
		return got.WheelPending == 3
	})
	// The store ticks at timerPrecisionMs: the due time is rounded to it.
	if got.Topic != "Later" || got.Count != 2 || got.NextDueMs < due-1000 || got.NextDueMs > due+1000 {
		t.Fatalf("pending timers of Later: %+v (due %d)", got, due)
	}
	expect(t, tb.call(remoting.RequestPendingTimers, nil), remoting.ResponseSystemError)
}
