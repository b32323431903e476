package consumequeue

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentReadersOneWriter runs the dispatcher's Put, a retention goroutine
// (SetMinPhysicalOffset, deleting files under the readers), a flusher and readers (Get, Units,
// OffsetByTime) at once; run it with -race.
func TestConcurrentReadersOneWriter(t *testing.T) {
	const total = 3000
	q := openTest(t, t.TempDir(), Options{UnitsPerFile: testUnitsPerFile, Preallocate: true})
	var done atomic.Bool
	var calls, moved atomic.Int64
	var wg sync.WaitGroup
	storeTime := func(off int64, size int32) (int64, error) { return off, nil } // time = commitlog offset

	reader := func(seed uint64) {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(seed, 1))
		for !done.Load() {
			minOffset, maxOffset := q.MinOffset(), q.MaxOffset()
			if minOffset > maxOffset {
				t.Errorf("min %d > max %d", minOffset, maxOffset)
				return
			}
			if maxOffset == minOffset {
				continue
			}
			i := minOffset + rng.Int64N(maxOffset-minOffset)
			if u, ok := q.Get(i); ok && u != unitFor(i) {
				t.Errorf("Get(%d) = %+v", i, u)
				return
			}
			next := int64(-1)
			count := 0
			q.Units(i, func(off int64, u Unit) bool {
				if (next >= 0 && off != next) || u != unitFor(off) {
					t.Errorf("Units(%d): %d %+v after %d", i, off, u, next)
					return false
				}
				next = off + 1
				count++
				return count < 250
			})
			ts := unitFor(i).CommitLogOffset
			got, err := q.OffsetByTime(ts, storeTime)
			if err != nil {
				t.Error(err)
				return
			}
			// Retention may delete the file of i during the search: the answer is then a later
			// offset. It is never an earlier one.
			calls.Add(1)
			if got != i {
				moved.Add(1)
			}
			if got < i {
				t.Errorf("OffsetByTime(%d) = %d, want %d", ts, got, i)
				return
			}
		}
	}
	for g := range 4 {
		wg.Add(1)
		go reader(uint64(g))
	}
	wg.Add(1)
	go func() { // retention and flushing
		defer wg.Done()
		for !done.Load() {
			if maxOffset := q.MaxOffset(); maxOffset > 500 {
				if _, err := q.SetMinPhysicalOffset(unitFor(maxOffset - 500).CommitLogOffset); err != nil {
					t.Error(err)
					return
				}
			}
			if err := q.Flush(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := int64(0); i < total; i++ {
		if err := q.Put(i, unitFor(i)); err != nil {
			t.Fatal(err)
		}
	}
	done.Store(true)
	wg.Wait()
	if moved.Load()*4 > calls.Load() {
		t.Errorf("OffsetByTime missed its unit in %d of %d calls", moved.Load(), calls.Load())
	}
	if _, err := q.SetMinPhysicalOffset(unitFor(total - 500).CommitLogOffset); err != nil {
		t.Fatal(err)
	}
	if q.MaxOffset() != total || q.MinOffset() != total-500 {
		t.Fatalf("min %d max %d", q.MinOffset(), q.MaxOffset())
	}
}
