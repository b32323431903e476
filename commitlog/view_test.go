package commitlog

import (
	"errors"
	"testing"
	"time"

	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/message"
)

// TestView: a view over segments written elsewhere shows the records in [floor, visible) only:
// Scan, Read and Slice stop at the bound (the bytes past it, here the zeros of a segment loaded
// as full, are never decoded), Advance and SetBounds move it, appends are refused, and Close
// leaves the queue to its owner.
func TestView(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 64 << 10, MaxMessageSize: 16 << 10}
	c, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	var results []AppendResult
	for i := range 200 {
		res, err := c.Append(testMessage("View", 0, i, 900))
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	q, err := mapped.OpenQueue(dir, mapped.QueueOptions{FileSize: opts.SegmentSize})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	half := results[100].PhysicalOffset
	v, err := OpenView(q, 0, half, opts)
	if err != nil {
		t.Fatal(err)
	}
	count := func() (int, int64) {
		n := 0
		end, err := v.Scan(v.MinOffset(), true, func(int64, []byte, *message.Record) bool { n++; return true })
		if err != nil {
			t.Fatal(err)
		}
		return n, end
	}
	if n, end := count(); n != 100 || end != half || v.MaxOffset() != half || v.FlushedOffset() != half {
		t.Fatalf("view to record 100: scanned %d records to %d, MaxOffset %d, FlushedOffset %d", n, end, v.MaxOffset(), v.FlushedOffset())
	}
	var r message.Record
	if _, err := v.Read(half, &r); !errors.Is(err, ErrOffset) {
		t.Fatalf("read at the bound: %v, want ErrOffset", err)
	}
	if _, err := v.Slice(results[99].PhysicalOffset, int(results[99].Size)+1); !errors.Is(err, ErrOffset) {
		t.Fatalf("slice across the bound: %v, want ErrOffset", err)
	}
	if s, err := v.Read(results[99].PhysicalOffset, &r); err != nil || r.QueueOffset != 99 {
		t.Fatalf("read below the bound: %v, queue offset %d", err, r.QueueOffset)
	} else {
		s.Release()
	}
	if _, err := v.Append(testMessage("View", 0, 0, 10)); !errors.Is(err, ErrView) {
		t.Fatalf("append to a view: %v, want ErrView", err)
	}
	if _, err := v.AppendEncoded(make([]byte, 64)); !errors.Is(err, ErrView) {
		t.Fatalf("AppendEncoded to a view: %v, want ErrView", err)
	}
	select {
	case <-v.Notify():
		t.Fatal("a token before any Advance")
	default:
	}
	last := results[len(results)-1].End()
	v.Advance(last)
	v.Advance(half) // never back
	<-v.Notify()
	if n, end := count(); n != 200 || end != last {
		t.Fatalf("view to the end: scanned %d records to %d, want 200 to %d", n, end, last)
	}
	// A log restarted at an offset: nothing below it is read.
	floor := results[150].PhysicalOffset
	v.SetBounds(floor, last)
	if v.MinOffset() != floor {
		t.Fatalf("MinOffset %d after SetBounds, want %d", v.MinOffset(), floor)
	}
	if _, err := v.Read(results[10].PhysicalOffset, &r); !errors.Is(err, ErrOffset) {
		t.Fatalf("read below the floor: %v, want ErrOffset", err)
	}
	if n, _ := count(); n != 50 {
		t.Fatalf("scanned %d records from the floor, want 50", n)
	}
	// Retention: with force every segment but the newest, bounded by what is visible.
	segs := q.Files()
	if got := v.ExpiredBelow(time.Hour, 0, true); got != segs[len(segs)-1].FromOffset() {
		t.Fatalf("ExpiredBelow(force) = %d, want the newest segment's start %d", got, segs[len(segs)-1].FromOffset())
	}
	if got := v.ExpiredBelow(time.Hour, 0, false); got != v.MinOffset() {
		t.Fatalf("ExpiredBelow of fresh segments = %d, want MinOffset %d", got, v.MinOffset())
	}
	if got := v.ExpiredBelow(time.Hour, 1, true); got != segs[0].FromOffset()+opts.SegmentSize {
		t.Fatalf("ExpiredBelow(force, max 1) = %d, want %d", got, segs[0].FromOffset()+opts.SegmentSize)
	}
	if n, err := v.DeleteExpired(0, 0); n != 0 || err != nil {
		t.Fatalf("a view deleted %d segments itself (%v)", n, err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if len(q.Files()) != len(segs) {
		t.Fatal("closing the view closed its owner's queue")
	}
}

// TestResultsOf: results read back from records in place match what the append returned.
func TestResultsOf(t *testing.T) {
	c := openLog(t, t.TempDir(), configs[0].opts)
	msgs := []*message.Message{testMessage("R", 1, 0, 10), testMessage("R", 1, 1, 20)}
	want, err := c.AppendBatch(msgs)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Slice(want[0].PhysicalOffset, int(want[1].End()-want[0].PhysicalOffset))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	got, err := ResultsOf(s.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("ResultsOf = %+v, want %+v", got, want)
	}
	if _, err := ResultsOf(nil); !errors.Is(err, ErrEmptyBatch) {
		t.Fatalf("ResultsOf(nil) = %v", err)
	}
}
