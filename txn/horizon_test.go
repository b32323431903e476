package txn

import (
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/mqstore/mqstore/message"
)

// TestHorizonUnderConcurrentCommits checks the invariant crash recovery
// relies on (see opWriter) with many goroutines preparing, committing and
// rolling back at once: when an op message with horizon H is appended,
// every restored message appended below H has its op marker in that op
// message or an earlier one. (A violation would let a crash lose a
// marker that recovery never looks for: the commit would be checked and
// delivered again.)
func TestHorizonUnderConcurrentCommits(t *testing.T) {
	h := newHarness(t, Options{})
	const goroutines, each = 16, 150
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r, err := h.svc.Prepare(testMessage("T", int32(i%4), fmt.Sprintf("%d-%d", g, i)), testGroup)
				if err != nil {
					errs <- err
					return
				}
				if i%5 == 4 {
					err = h.svc.Rollback(r.HalfOffset, testGroup, r.QueueOffset)
				} else {
					_, err = h.svc.Commit(r.HalfOffset, testGroup, r.QueueOffset)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := h.svc.Flush(); err != nil {
		t.Fatal(err)
	}

	h.store.mu.Lock()
	defer h.store.mu.Unlock()
	halfQueue := map[int64]int64{} // half physical offset → half-queue offset
	for _, p := range h.store.order {
		if r := h.store.recs[p]; string(r.rec.Topic) == HalfTopic {
			halfQueue[p] = r.rec.QueueOffset
		}
	}
	type restored struct{ offset, q int64 }
	var commits []restored     // restored messages appended so far, in order
	marked := map[int64]bool{} // half-queue offsets with a marker written
	ops, checked := 0, 0
	for _, p := range h.store.order {
		r := h.store.recs[p]
		switch {
		case message.TransactionType(r.rec.SysFlag) == message.TransactionCommitType:
			commits = append(commits, restored{p, halfQueue[r.rec.PreparedTransactionOffset]})
		case string(r.rec.Topic) == OpTopic:
			ops++
			if err := parseOpBody(r.msg.Body, func(q int64) { marked[q] = true }); err != nil {
				t.Fatal(err)
			}
			hs, _ := r.msg.Properties.Get(PropertyHorizon)
			horizon, err := strconv.ParseInt(hs, 10, 64)
			if err != nil {
				t.Fatalf("op message at %d: horizon %q", p, hs)
			}
			for _, c := range commits {
				if c.offset < horizon {
					checked++
					if !marked[c.q] {
						t.Fatalf("op message at %d has horizon %d, but the restored message at %d (half-queue offset %d) has no marker yet",
							p, horizon, c.offset, c.q)
					}
				}
			}
		}
	}
	if len(commits) != goroutines*each*4/5 || ops == 0 || checked == 0 {
		t.Fatalf("%d commits, %d op messages, %d checks", len(commits), ops, checked)
	}
}
