package txn

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestGate: close waits for every admitted call, and after it returns no
// call is admitted, however enter and close interleave.
func TestGate(t *testing.T) {
	for round := 0; round < 50; round++ {
		g := gate{drained: make(chan struct{})}
		var inside atomic.Int64
		var closed atomic.Bool
		var bad atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if !g.enter() {
						return
					}
					inside.Add(1)
					if closed.Load() {
						bad.Add(1) // admitted after close returned
					}
					time.Sleep(time.Duration(round%3) * time.Microsecond)
					inside.Add(-1)
					g.exit()
				}
			}()
		}
		time.Sleep(time.Duration(round%5) * 100 * time.Microsecond)
		g.close()
		if n := inside.Load(); n != 0 {
			t.Fatalf("round %d: close returned with %d calls inside", round, n)
		}
		closed.Store(true)
		wg.Wait()
		if bad.Load() != 0 {
			t.Fatalf("round %d: %d calls admitted after close", round, bad.Load())
		}
		if g.enter() {
			t.Fatal("a closed gate admitted a call")
		}
	}
	// Closing a gate nobody entered does not wait.
	g := gate{drained: make(chan struct{})}
	g.close()
}
