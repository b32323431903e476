package replication

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkTCPGroup measures committed proposals per second through a 3-replica group over TCP on
// loopback aliases with commitlog storage (each replica msyncs every append), one 1 KiB record per
// proposal, with concurrent proposers waiting for the commit as SENDs would.
func BenchmarkTCPGroup(b *testing.B) {
	for _, proposers := range []int{1, 64} {
		b.Run(fmt.Sprintf("proposers=%d", proposers), func(b *testing.B) {
			c := newTCPCluster(b, 3)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			body := string(make([]byte, 1024))
			data := record(0, body)
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			var wg sync.WaitGroup
			var mu sync.Mutex
			left := b.N
			for range proposers {
				wg.Go(func() {
					for {
						mu.Lock()
						if left == 0 {
							mu.Unlock()
							return
						}
						left--
						mu.Unlock()
						for {
							n := c.node(c.leader(ctx))
							p, err := n.group.Propose(ctx, data)
							if err == nil {
								err = n.group.Wait(ctx, p)
							}
							if err == nil {
								break
							}
						}
					}
				})
			}
			wg.Wait()
		})
	}
}
