package bench

import (
	"context"
	"io"
	"testing"
)

// mqbench grpc runs end to end on a small workload: every message is produced (by the 5.x client
// and the bare stubs), received and acked.
func TestGRPCMode(t *testing.T) {
	if grpcClientRaces {
		t.Skip("the v5.1.2 Go client has data races of its own (metric.go); run without -race")
	}
	cfg := DefaultGRPC()
	cfg.Messages, cfg.Producers, cfg.Window, cfg.Consumers, cfg.Remoting = 200, 1, 4, 1, false
	cfg.Dir = t.TempDir()
	res, err := RunGRPC(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[0].Messages != 200 || res[1].Messages != 200 || res[2].Messages != 400 {
		t.Fatalf("results %+v", res)
	}
}

// The bare-stub modes (no client library, so they also run under -race): batched sends (the
// last request short: 203 is not a multiple of 4), received and acked with one AckMessage per
// batch; each phase reports its CPU per message.
func TestGRPCRawModes(t *testing.T) {
	cfg := DefaultGRPC()
	cfg.Messages, cfg.Producers, cfg.Window, cfg.Consumers, cfg.Remoting = 203, 1, 3, 1, false
	cfg.Client, cfg.RawBatch, cfg.RawReceive = false, 4, true
	cfg.Dir = t.TempDir()
	res, err := RunGRPC(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Messages != 203 || res[0].Errors != 0 || res[1].Messages != 203 || res[1].Errors != 0 {
		t.Fatalf("results %+v", res)
	}
	if res[0].Phase != "gRPC produce (bare×4)" || res[1].Phase != "gRPC receive+ack (bare)" || res[0].CPUPerMsg <= 0 {
		t.Fatalf("results %+v", res)
	}
}
