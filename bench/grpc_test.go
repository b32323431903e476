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
