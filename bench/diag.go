package bench

import (
	"bufio"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/mqstore/mqstore/client"
)

// slowLog, when MQBENCH_SLOWLOG names a file, receives one line per e2e pull that
// returned a message older than 5 ms (issue 19 diagnostics): the receipt time, the
// queue, the pull's duration, and for its oldest message the send, store and receipt
// times, to tell a late store (producer side) from a late delivery (consumer side).
var (
	slowLog   *bufio.Writer
	slowMu    sync.Mutex
	slowStart = time.Now()
)

func init() {
	if path := os.Getenv("MQBENCH_SLOWLOG"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			slowLog = bufio.NewWriter(f)
			go func() { // flushed once a second; the tool exits without closing it
				for range time.Tick(time.Second) {
					slowMu.Lock()
					slowLog.Flush()
					slowMu.Unlock()
				}
			}()
		}
	}
}

func logSlowPull(queue int, t0, now time.Time, msgs []client.MessageExt) {
	var worst time.Duration
	wi := -1
	for i := range msgs {
		if a := bodyAge(msgs[i].Body, now); a > worst {
			worst, wi = a, i
		}
	}
	if wi < 0 || worst < 5*time.Millisecond {
		return
	}
	sent := now.Add(-worst)
	store := time.UnixMilli(msgs[wi].StoreTimestamp)
	slowMu.Lock()
	// recv_ms(since start) queue n pull_ms age_ms send->store_ms store->recv_ms
	fmt.Fprintf(slowLog, "%.1f q%d n%d pull %.1f age %.1f s2st %.1f st2r %.1f\n",
		float64(now.Sub(slowStart))/1e6, queue, len(msgs), float64(now.Sub(t0))/1e6,
		float64(worst)/1e6, float64(store.Sub(sent))/1e6, float64(now.Sub(store))/1e6)
	slowMu.Unlock()
}
