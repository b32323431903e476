package grpcserver_test

import (
	"context"
	"testing"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
)

// A heartbeat of a client with no Settings on a live Telemetry stream (as after a broker
// restart) is UNRECOGNIZED_CLIENT_TYPE, which makes 5.x clients send their Settings again;
// once they are accepted it is OK, and when the stream ends it is refused again.
func TestHeartbeatWantsSettings(t *testing.T) {
	e := start(t, nil)
	c := rawClient(t, e)
	ctx, cancel := context.WithTimeout(withClientID(context.Background()), 10*time.Second)
	defer cancel()
	hb := func() v2.Code {
		t.Helper()
		r, err := c.Heartbeat(ctx, &v2.HeartbeatRequest{ClientType: v2.ClientType_PRODUCER})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetStatus().GetCode()
	}
	if got := hb(); got != v2.Code_UNRECOGNIZED_CLIENT_TYPE {
		t.Fatalf("heartbeat before settings: %v", got)
	}
	telCtx, telCancel := context.WithCancel(ctx)
	tel, err := c.Telemetry(telCtx)
	if err != nil {
		t.Fatal(err)
	}
	settings := &v2.Settings{ClientType: v2.ClientType_PRODUCER.Enum(), PubSub: &v2.Settings_Publishing{Publishing: &v2.Publishing{}}}
	if err := tel.Send(&v2.TelemetryCommand{Command: &v2.TelemetryCommand_Settings{Settings: settings}}); err != nil {
		t.Fatal(err)
	}
	if reply, err := tel.Recv(); err != nil || reply.GetStatus().GetCode() != v2.Code_OK {
		t.Fatalf("settings reply %v %v", reply, err)
	}
	if got := hb(); got != v2.Code_OK {
		t.Fatalf("heartbeat after settings: %v", got)
	}
	telCancel()
	deadline := time.Now().Add(5 * time.Second)
	for hb() != v2.Code_UNRECOGNIZED_CLIENT_TYPE {
		if time.Now().After(deadline) {
			t.Fatal("heartbeat still OK after the telemetry stream ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
