package replication

import (
	"encoding/json"
	"strings"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

// TestLogAsStoreCommitlog: what a store reading the log's segments relies on. IndexAt maps a
// dispatched offset back to the last entry it covers; CommittedEnd follows the commit index;
// Compact deletes the segment that holds only compacted records and a blank; a snapshot empties
// the same segment queue in place and moves the base; the raftidx file size the log was created
// with outlives other options.
func TestLogAsStoreCommitlog(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenLog(dir, LogOptions{SegmentSize: testSegment, RowsPerFile: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { l.Close() }()
	q := l.Segments()
	big := strings.Repeat("x", 1000)
	var entries []*pbEntry
	for i := range 150 {
		entries = append(entries, &pbEntry{index: uint64(i + 1), term: 1, data: record(i%4, big+string(rune('a'+i%26)))})
	}
	if err := l.Append(toEntries(entries)); err != nil {
		t.Fatal(err)
	}
	if err := l.SetHardState(hardState(1, 1, 100)); err != nil {
		t.Fatal(err)
	}
	end100, _ := l.EntryEnd(100)
	if got := l.CommittedEnd(); got != end100 {
		t.Fatalf("CommittedEnd = %d, want entry 100's end %d", got, end100)
	}
	phys := func(i uint64) int64 {
		var p int64
		if err := l.EntryRecords(i, func(at int64, _ []byte) { p = at }); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, i := range []uint64{1, 7, 64, 150} {
		end, _ := l.EntryEnd(i)
		if got := l.IndexAt(end); got != i {
			t.Fatalf("IndexAt(end of %d) = %d", i, got)
		}
		if got := l.IndexAt(end - 1); got != i-1 {
			t.Fatalf("IndexAt(end of %d - 1) = %d", i, got)
		}
	}
	if got := l.IndexAt(0); got != 0 {
		t.Fatalf("IndexAt(0) = %d", got)
	}
	// The first entry that starts a segment after the first one: compacting to the entry
	// before it deletes the first segment (compacted records and the blank after them).
	var rolled uint64
	for i := uint64(2); i <= 100; i++ {
		if phys(i)%testSegment == 0 {
			rolled = i
			break
		}
	}
	if rolled == 0 {
		t.Fatal("no entry starts a segment")
	}
	if err := l.SetHardState(hardState(1, 1, 150)); err != nil {
		t.Fatal(err)
	}
	if err := l.Compact(rolled - 1); err != nil {
		t.Fatal(err)
	}
	if got := q.First().FromOffset(); got != phys(rolled) {
		t.Fatalf("after Compact(%d) the first segment starts at %d, want %d (where entry %d starts)", rolled-1, got, phys(rolled), rolled)
	}
	if first, _ := l.FirstIndex(); first != rolled || l.IndexAt(0) != rolled-1 {
		t.Fatalf("FirstIndex %d, IndexAt(0) %d after Compact(%d)", first, l.IndexAt(0), rolled-1)
	}
	if err := l.Compact(149); err != nil {
		t.Fatal(err)
	}
	if f, _ := l.raftidx.Acquire(0); f != nil {
		f.Release()
		t.Fatal("the first raftidx file survived a compaction past its rows")
	}
	// A snapshot: the same queue, emptied, and the base at its offset.
	base := l.End() + 5000
	data, _ := json.Marshal(snapshotData{StartPhys: base, Queues: []QueueNext{{Topic: "T", QueueID: 0, Next: 500}}})
	snap := &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{Index: new(uint64(400)), Term: new(uint64(2)),
		ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}}}}
	if err := l.ApplySnapshot(snap); err != nil {
		t.Fatal(err)
	}
	if l.Segments() != q || len(q.Files()) != 0 || l.Base() != base || l.IndexAt(base+1<<20) != 400 {
		t.Fatalf("after a snapshot: same queue %v, %d files, base %d (want %d), IndexAt %d", l.Segments() == q, len(q.Files()), l.Base(), base, l.IndexAt(base))
	}
	st, err := DecodeSnapshot(data)
	if err != nil || st.StartPhys != base || len(st.Queues) != 1 || st.Queues[0].Next != 500 {
		t.Fatalf("DecodeSnapshot = %+v, %v", st, err)
	}
	if err := l.Append([]*pb.Entry{{Index: new(uint64(401)), Term: new(uint64(2)), Type: pb.EntryType_EntryNormal.Enum(), Data: record(0, "after")}}); err != nil {
		t.Fatal(err)
	}
	if p := phys(401); p != base || q.First().FromOffset() != base-base%testSegment {
		t.Fatalf("entry 401 at %d (want %d), first segment %d", p, base, q.First().FromOffset())
	}
	// Reopened with other options, the raftidx keeps its file size.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l, err = OpenLog(dir, LogOptions{SegmentSize: testSegment, RowsPerFile: 1024}); err != nil {
		t.Fatal(err)
	}
	if l.opts.RowsPerFile != 64 {
		t.Fatalf("reopened with %d rows per raftidx file, created with 64", l.opts.RowsPerFile)
	}
	if last, _ := l.LastIndex(); last != 401 {
		t.Fatalf("reopened log ends at %d, want 401", last)
	}
}
