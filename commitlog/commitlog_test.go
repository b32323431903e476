package commitlog

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/message"
)

// configs is the shared suite's matrix: every test that takes a config runs in each.
var configs = []struct {
	name string
	opts Options
}{
	{"async", Options{SegmentSize: 64 << 10, MaxMessageSize: 16 << 10, FlushInterval: 5 * time.Millisecond}},
	{"sync", Options{SegmentSize: 64 << 10, MaxMessageSize: 16 << 10, FlushMode: SyncFlush}},
	{"async-noprealloc", Options{SegmentSize: 128 << 10, MaxMessageSize: 16 << 10, NoPreallocate: true}},
}

func forEachConfig(t *testing.T, fn func(t *testing.T, opts Options)) {
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) { fn(t, c.opts) })
	}
}

// openLog opens a commitlog and registers a cleanup that closes it and checks every record.
func openLog(t *testing.T, dir string, opts Options) *CommitLog {
	t.Helper()
	c, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.closed.Load() {
			return
		}
		checkConsistent(t, c)
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// checkConsistent walks the whole log and verifies every record and offset.
func checkConsistent(t *testing.T, c *CommitLog) {
	t.Helper()
	end, err := c.Scan(c.MinOffset(), true, func(off int64, raw []byte, r *message.Record) bool {
		if r.PhysicalOffset != off || int(r.TotalSize) != len(raw) {
			t.Errorf("record at %d: offset field %d, size %d/%d", off, r.PhysicalOffset, r.TotalSize, len(raw))
		}
		return true
	})
	if err != nil {
		t.Errorf("consistency scan: %v", err)
	}
	if end != c.MaxOffset() {
		t.Errorf("consistency scan ended at %d, log ends at %d", end, c.MaxOffset())
	}
}

func testMessage(topic string, queue int32, i int, bodySize int) *message.Message {
	body := bytes.Repeat([]byte{byte('a' + i%26)}, bodySize)
	copy(body, fmt.Sprintf("msg-%d-", i))
	m := message.New(topic, body)
	m.QueueID = queue
	m.BornTimestamp = 1700000000000 + int64(i)
	m.BornHost = netip.MustParseAddrPort("10.1.2.3:5555")
	m.SetTags("TagA")
	m.SetKeys(fmt.Sprintf("key-%d", i))
	return m
}

func TestAppendReadBack(t *testing.T) {
	forEachConfig(t, func(t *testing.T, opts Options) {
		c := openLog(t, t.TempDir(), opts)
		var results []AppendResult
		for i := range 50 {
			res, err := c.Append(testMessage("TopicA", int32(i%3), i, 100+i*37))
			if err != nil {
				t.Fatal(err)
			}
			results = append(results, res)
		}
		for i, res := range results {
			var r message.Record
			s, err := c.Read(res.PhysicalOffset, &r)
			if err != nil {
				t.Fatal(err)
			}
			want := testMessage("TopicA", int32(i%3), i, 100+i*37)
			if string(r.Topic) != "TopicA" || r.QueueID != int32(i%3) || !bytes.Equal(r.Body, want.Body) ||
				r.QueueOffset != int64(i/3) || r.StoreTimestamp != res.StoreTimestamp || r.TotalSize != res.Size {
				t.Fatalf("record %d differs: topic %q queue %d offset %d", i, r.Topic, r.QueueID, r.QueueOffset)
			}
			if k, _ := r.Properties.Get(message.PropertyKeys); k != fmt.Sprintf("key-%d", i) {
				t.Fatalf("record %d keys = %q", i, k)
			}
			s.Release()
			host, off, err := message.ParseOffsetMsgID(res.MsgID())
			if err != nil || off != res.PhysicalOffset || host != c.opts.StoreHost {
				t.Fatalf("msg id %s decodes to %v %d %v", res.MsgID(), host, off, err)
			}
		}
		if opts.FlushMode == SyncFlush && c.FlushedOffset() < results[len(results)-1].End() {
			t.Fatalf("sync flush: flushed %d < end %d", c.FlushedOffset(), results[len(results)-1].End())
		}
	})
}

func TestConcurrentAppends(t *testing.T) {
	forEachConfig(t, func(t *testing.T, opts Options) {
		c := openLog(t, t.TempDir(), opts)
		const goroutines, perG = 8, 300
		type item struct {
			res  AppendResult
			g, i int
		}
		out := make([][]item, goroutines)
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perG {
					m := testMessage(fmt.Sprintf("T%d", g%2), int32(g%4), g*perG+i, 64+(i*13)%900)
					res, err := c.Append(m)
					if err != nil {
						t.Error(err)
						return
					}
					out[g] = append(out[g], item{res, g, i})
				}
			}()
		}
		wg.Wait()
		seenPhys := map[int64]bool{}
		perQueue := map[string][]int64{}
		for g := range goroutines {
			last := int64(-1)
			for _, it := range out[g] {
				if seenPhys[it.res.PhysicalOffset] {
					t.Fatalf("physical offset %d handed out twice", it.res.PhysicalOffset)
				}
				seenPhys[it.res.PhysicalOffset] = true
				if it.res.QueueOffset <= last {
					t.Fatalf("goroutine %d: queue offsets not increasing: %d after %d", g, it.res.QueueOffset, last)
				}
				last = it.res.QueueOffset
				key := fmt.Sprintf("T%d/%d", g%2, g%4)
				perQueue[key] = append(perQueue[key], it.res.QueueOffset)
				var r message.Record
				s, err := c.Read(it.res.PhysicalOffset, &r)
				if err != nil {
					t.Fatal(err)
				}
				want := testMessage(fmt.Sprintf("T%d", g%2), int32(g%4), it.g*perG+it.i, 64+(it.i*13)%900)
				if !bytes.Equal(r.Body, want.Body) || r.QueueOffset != it.res.QueueOffset {
					t.Fatalf("record at %d does not read back", it.res.PhysicalOffset)
				}
				s.Release()
			}
		}
		for key, offs := range perQueue {
			sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
			for i, o := range offs {
				if o != int64(i) {
					t.Fatalf("queue %s: offsets are not 0..n-1 (position %d holds %d)", key, i, o)
				}
			}
		}
	})
}

func TestRollAndScanAcrossSegments(t *testing.T) {
	forEachConfig(t, func(t *testing.T, opts Options) {
		c := openLog(t, t.TempDir(), opts)
		var offsets []int64
		for i := range 400 {
			res, err := c.Append(testMessage("Roll", 0, i, 700))
			if err != nil {
				t.Fatal(err)
			}
			offsets = append(offsets, res.PhysicalOffset)
		}
		if c.Segments() < 3 || c.Stats().Rolls < 2 {
			t.Fatalf("expected several segments, got %d (%d rolls)", c.Segments(), c.Stats().Rolls)
		}
		// Every segment but the last ends with a blank record.
		files := c.queue.Files()
		for _, f := range files[:len(files)-1] {
			var r message.Record
			data := f.Bytes()
			pos := int64(0)
			for {
				n, err := message.DecodeRecord(data[pos:], &r, true)
				if errors.Is(err, message.ErrBlank) {
					if pos+int64(n) != f.Size() {
						t.Fatalf("blank record at %d has size %d, segment size %d", pos, n, f.Size())
					}
					break
				}
				if err != nil {
					t.Fatalf("segment %d at %d: %v", f.FromOffset(), pos, err)
				}
				pos += int64(n)
			}
		}
		var scanned []int64
		end, err := c.Scan(0, true, func(off int64, _ []byte, r *message.Record) bool {
			scanned = append(scanned, off)
			return true
		})
		if err != nil || end != c.MaxOffset() {
			t.Fatalf("Scan end %d err %v, max %d", end, err, c.MaxOffset())
		}
		if fmt.Sprint(scanned) != fmt.Sprint(offsets) {
			t.Fatal("Scan did not return every record in order")
		}
		// Scan from the middle stops when fn refuses.
		n := 0
		stop, err := c.Scan(offsets[100], false, func(int64, []byte, *message.Record) bool { n++; return n < 5 })
		if err != nil || stop != offsets[104] {
			t.Fatalf("Scan stop at %d (%v), want %d", stop, err, offsets[104])
		}
	})
}

func TestMessageTooLarge(t *testing.T) {
	c := openLog(t, t.TempDir(), configs[0].opts)
	_, err := c.Append(message.New("Big", make([]byte, 16<<10+1)))
	if !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("err = %v, want ErrMessageTooLarge", err)
	}
	if _, err := c.AppendBatch(nil); !errors.Is(err, ErrEmptyBatch) {
		t.Fatalf("empty batch: %v", err)
	}
}

func TestAppendBatch(t *testing.T) {
	forEachConfig(t, func(t *testing.T, opts Options) {
		c := openLog(t, t.TempDir(), opts)
		for round := range 30 {
			var msgs []*message.Message
			for i := range 10 {
				msgs = append(msgs, testMessage("Batch", int32(i%2), round*10+i, 300))
			}
			results, err := c.AppendBatch(msgs)
			if err != nil {
				t.Fatal(err)
			}
			for i, res := range results {
				if res.QueueOffset != int64(round*5+i/2) {
					t.Fatalf("round %d msg %d queue offset %d", round, i, res.QueueOffset)
				}
				if i > 0 && res.PhysicalOffset != results[i-1].End() {
					t.Fatal("batch records are not contiguous")
				}
				var r message.Record
				s, err := c.Read(res.PhysicalOffset, &r)
				if err != nil || !bytes.Equal(r.Body, msgs[i].Body) {
					t.Fatalf("batch record %d does not read back: %v", i, err)
				}
				s.Release()
			}
		}
	})
}

func TestTransactionRecordsGetNoQueueOffset(t *testing.T) {
	c := openLog(t, t.TempDir(), configs[0].opts)
	m := testMessage("Q", 0, 0, 10)
	m.SysFlag = message.SetTransactionType(0, message.TransactionPreparedType)
	res, err := c.Append(m)
	if err != nil || res.QueueOffset != 0 {
		t.Fatalf("prepared: %v %d", err, res.QueueOffset)
	}
	if c.QueueOffset("Q", 0) != 0 {
		t.Fatal("prepared record advanced the queue offset")
	}
	m.SysFlag = message.SetTransactionType(0, message.TransactionCommitType)
	c.Append(m)
	if c.QueueOffset("Q", 0) != 1 {
		t.Fatal("commit record did not advance the queue offset")
	}
}

func TestSyncFlushGroupCommit(t *testing.T) {
	opts := Options{SegmentSize: 1 << 20, FlushMode: SyncFlush}
	c := openLog(t, t.TempDir(), opts)
	const goroutines, perG = 32, 40
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				res, err := c.Append(testMessage("Sync", int32(g%4), i, 200))
				if err != nil {
					t.Error(err)
					return
				}
				if c.FlushedOffset() < res.End() {
					t.Errorf("Append returned before its record was flushed: %d < %d", c.FlushedOffset(), res.End())
					return
				}
			}
		}()
	}
	wg.Wait()
	st := c.Stats()
	if st.Appends != goroutines*perG {
		t.Fatalf("appends = %d", st.Appends)
	}
	if st.Syncs >= st.Appends {
		t.Fatalf("no group commit: %d syncs for %d appends", st.Syncs, st.Appends)
	}
	t.Logf("%d appends shared %d syncs", st.Appends, st.Syncs)
}

func TestAsyncFlushEventuallyFlushes(t *testing.T) {
	c := openLog(t, t.TempDir(), configs[0].opts)
	res, err := c.Append(testMessage("A", 0, 0, 100))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitFlushed(res.End()); err != nil {
		t.Fatal(err)
	}
	if c.FlushedOffset() < res.End() {
		t.Fatal("WaitFlushed returned early")
	}
	off, err := c.Flush()
	if err != nil || off != c.MaxOffset() {
		t.Fatalf("Flush = %d, %v", off, err)
	}
}

// writeLog appends n records and closes the log; it returns their results.
func writeLog(t *testing.T, dir string, opts Options, n int) []AppendResult {
	t.Helper()
	c, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	var results []AppendResult
	for i := range n {
		res, err := c.Append(testMessage("Rec", int32(i%2), i, 50+i*7))
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return results
}

func segmentPath(dir string, offset, segSize int64) string {
	return filepath.Join(dir, mapped.FileName(offset-offset%segSize))
}

// damage rewrites bytes of the segment holding offset.
func damage(t *testing.T, path string, fn func(data []byte)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fn(data)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRecoveryTornTailAtEveryByte(t *testing.T) {
	t.Run("with-properties", func(t *testing.T) { testTornTail(t, false) })
	t.Run("no-properties", func(t *testing.T) { testTornTail(t, true) })
}

func testTornTail(t *testing.T, bare bool) {
	opts := Options{SegmentSize: 64 << 10, NoPreallocate: true}
	base := t.TempDir()
	var results []AppendResult
	if bare {
		c, err := Open(base, opts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			m := message.New("Rec", []byte(fmt.Sprintf("body %d", i)))
			m.QueueID = int32(i % 2)
			res, err := c.Append(m)
			if err != nil {
				t.Fatal(err)
			}
			results = append(results, res)
		}
		c.Close()
	} else {
		results = writeLog(t, base, opts, 20)
	}
	last := results[len(results)-1]
	pristine, err := os.ReadFile(segmentPath(base, last.PhysicalOffset, opts.SegmentSize))
	if err != nil {
		t.Fatal(err)
	}
	for cut := int64(0); cut <= int64(last.Size); cut++ {
		dir := t.TempDir()
		path := segmentPath(dir, last.PhysicalOffset, opts.SegmentSize)
		data := bytes.Clone(pristine)
		clear(data[last.PhysicalOffset+cut:])
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Open(dir, opts)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		want := last.PhysicalOffset
		if cut == int64(last.Size) || bare && cut >= int64(last.Size)-2 {
			// Whole, or (no properties) only the zero PROPLEN bytes were cut: the bytes are
			// exactly the intact record's.
			want = last.End()
		}
		if c.MaxOffset() != want {
			t.Fatalf("cut %d: recovered end %d, want %d", cut, c.MaxOffset(), want)
		}
		if err := c.RebuildQueueOffsets(); err != nil {
			t.Fatal(err)
		}
		res, err := c.Append(testMessage("Rec", 1, 99, 10))
		if err != nil || res.PhysicalOffset != want {
			t.Fatalf("cut %d: append after recovery at %d (%v), want %d", cut, res.PhysicalOffset, err, want)
		}
		wantQueue := int64(9) // record 19 was queue 1's tenth message; cut, it is gone
		if want == last.End() {
			wantQueue = 10
		}
		if res.QueueOffset != wantQueue {
			t.Fatalf("cut %d: queue offset after recovery %d, want %d", cut, res.QueueOffset, wantQueue)
		}
		checkConsistent(t, c)
		c.Close()
	}
}

func TestRecoveryFlippedByte(t *testing.T) {
	opts := Options{SegmentSize: 64 << 10, NoPreallocate: true}
	for _, victim := range []int{0, 7, 19} {
		dir := t.TempDir()
		results := writeLog(t, dir, opts, 20)
		bad := results[victim]
		damage(t, segmentPath(dir, bad.PhysicalOffset, opts.SegmentSize), func(data []byte) {
			data[bad.PhysicalOffset+int64(bad.Size)/2+40] ^= 0x5A // inside the body
		})
		c := openLog(t, dir, opts)
		if c.MaxOffset() != bad.PhysicalOffset {
			t.Fatalf("victim %d: recovered end %d, want %d", victim, c.MaxOffset(), bad.PhysicalOffset)
		}
		// The damaged record and everything after it are gone and zeroed.
		seg := c.queue.Find(bad.PhysicalOffset)
		rest := seg.Bytes()[bad.PhysicalOffset-seg.FromOffset():]
		if !bytes.Equal(rest, make([]byte, len(rest))) {
			t.Fatalf("victim %d: tail not zeroed", victim)
		}
		if _, err := c.Append(testMessage("Rec", 0, 1, 10)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRecoveryAcrossSegmentsAndRecoverFrom(t *testing.T) {
	opts := Options{SegmentSize: 64 << 10}
	dir := t.TempDir()
	var results []AppendResult
	c, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 600 {
		res, err := c.Append(testMessage("X", 0, i, 500))
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	c.Close()
	// Tear the last record; recover from a checkpointed offset in an older segment.
	last := results[len(results)-1]
	damage(t, segmentPath(dir, last.PhysicalOffset, opts.SegmentSize), func(data []byte) {
		clear(data[last.PhysicalOffset%opts.SegmentSize+10:])
	})
	for _, from := range []int64{-1, results[100].PhysicalOffset, results[599].PhysicalOffset} {
		o := opts
		o.RecoverFrom = from
		c := openLog(t, dir, o)
		if c.MaxOffset() != last.PhysicalOffset {
			t.Fatalf("RecoverFrom %d: end %d, want %d", from, c.MaxOffset(), last.PhysicalOffset)
		}
		c.Close()
	}
}

func TestRetention(t *testing.T) {
	now := time.Now()
	opts := Options{SegmentSize: 64 << 10, NoPreallocate: true, Now: func() time.Time { return now }}
	c := openLog(t, t.TempDir(), opts)
	for i := range 300 {
		if _, err := c.Append(testMessage("R", 0, i, 600)); err != nil {
			t.Fatal(err)
		}
	}
	segs := c.Segments()
	if n, _ := c.DeleteExpired(time.Hour, 0); n != 0 {
		t.Fatalf("deleted %d young segments", n)
	}
	held, err := c.Slice(0, 8)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	n, err := c.DeleteExpired(time.Hour, 0)
	if err != nil || n != segs-1 {
		t.Fatalf("DeleteExpired = %d, %v; want %d", n, err, segs-1)
	}
	if c.MinOffset() == 0 {
		t.Fatal("MinOffset did not move")
	}
	if !bytes.Equal(held.Bytes[4:8], []byte{0xDA, 0xA3, 0x20, 0xA7}) {
		t.Fatal("held slice lost its bytes")
	}
	held.Release()
	var r message.Record
	if _, err := c.Read(0, &r); !errors.Is(err, ErrOffset) {
		t.Fatalf("read of a deleted offset: %v", err)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, cfg := range configs {
		c, err := Open(t.TempDir(), cfg.opts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			c.Append(testMessage("C", 0, i, 900))
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); !errors.Is(err, ErrClosed) {
			t.Fatalf("second Close = %v", err)
		}
		if _, err := c.Append(testMessage("C", 0, 0, 1)); !errors.Is(err, ErrClosed) {
			t.Fatalf("Append after Close = %v", err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("goroutines leaked: %d before, %d after", before, n)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{
		{SegmentSize: 1000},
		{FlushMode: 7},
		{FlushInterval: -1},
	} {
		if o.Validate() == nil {
			t.Errorf("%+v: Validate accepted it", o)
		}
	}
	if (Options{}).Validate() != nil {
		t.Error("the zero Options must be valid")
	}
	if m, err := ParseFlushMode("SYNC_FLUSH"); err != nil || m != SyncFlush {
		t.Error("ParseFlushMode SYNC_FLUSH")
	}
	if _, err := ParseFlushMode("sometimes"); err == nil {
		t.Error("ParseFlushMode accepted junk")
	}
}

func TestAppendAsync(t *testing.T) {
	forEachConfig(t, func(t *testing.T, opts Options) {
		c := openLog(t, t.TempDir(), opts)
		const goroutines, perG = 16, 100
		var mu sync.Mutex
		calls := map[int64]int{}
		var wg sync.WaitGroup
		wg.Add(goroutines * perG)
		for g := range goroutines {
			go func() {
				for i := range perG {
					err := c.AppendAsync(testMessage("Async", int32(g%4), g*perG+i, 300), func(res AppendResult, err error) {
						defer wg.Done()
						if err != nil {
							t.Error(err)
						}
						if opts.FlushMode == SyncFlush && c.FlushedOffset() < res.End() {
							t.Errorf("callback before the sync: flushed %d < end %d", c.FlushedOffset(), res.End())
						}
						mu.Lock()
						calls[res.PhysicalOffset]++
						mu.Unlock()
					})
					if err != nil {
						t.Error(err)
						wg.Done()
					}
				}
			}()
		}
		wg.Wait()
		if len(calls) != goroutines*perG {
			t.Fatalf("%d distinct callbacks, want %d", len(calls), goroutines*perG)
		}
		for off, n := range calls {
			if n != 1 {
				t.Fatalf("record %d called back %d times", off, n)
			}
		}
		if st := c.Stats(); opts.FlushMode == SyncFlush && st.Syncs >= st.Appends {
			t.Fatalf("no group commit: %d syncs for %d appends", st.Syncs, st.Appends)
		}
		// A record that cannot be stored fails at once and is never called back.
		err := c.AppendAsync(message.New("Big", make([]byte, 1<<20)), func(AppendResult, error) { t.Error("called back") })
		if !errors.Is(err, ErrMessageTooLarge) {
			t.Fatalf("oversize: %v", err)
		}
	})
}

func TestAppendAsyncTimeout(t *testing.T) {
	c := openLog(t, t.TempDir(), Options{SegmentSize: 1 << 20, FlushMode: SyncFlush, SyncFlushTimeout: 20 * time.Millisecond})
	// A waiter whose sync has not come by its deadline is failed with ErrFlushTimeout, once.
	got := make(chan error, 2)
	c.flusher.mu.Lock()
	c.flusher.waiters = append(c.flusher.waiters, asyncWaiter{
		res:      AppendResult{PhysicalOffset: 1 << 40, Size: 10},
		deadline: time.Now().Add(-time.Millisecond),
		done:     func(_ AppendResult, err error) { got <- err },
	})
	c.flusher.mu.Unlock()
	select {
	case err := <-got:
		if !errors.Is(err, ErrFlushTimeout) {
			t.Fatalf("got %v, want ErrFlushTimeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter was never failed")
	}
	select {
	case err := <-got:
		t.Fatalf("called back twice (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
}
