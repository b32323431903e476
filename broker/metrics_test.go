package broker

import (
	"context"
	"testing"
	"time"

	"github.com/mqstore/mqstore/remoting"
)

// TestMetricsSnapshotTimers: a timer message accepted by SEND shows in the snapshot's timer
// gauges (rocketmq_timing_messages) until it fires.
func TestMetricsSnapshotTimers(t *testing.T) {
	tb := startBroker(t, nil)
	if resp := tb.send("Later", 0, "in an hour", props("TIMER_DELAY_SEC", "3600")); resp.ResponseCode() != remoting.ResponseSuccess {
		t.Fatalf("send: %v", resp)
	}
	tb.sync()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		snap := tb.MetricsSnapshot()
		if snap.Timer.Pending == 1 && snap.Timer.Enqueued >= 1 && snap.Timer.Fired == 0 {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("timer gauges: %+v, want one pending, none fired", snap.Timer)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
