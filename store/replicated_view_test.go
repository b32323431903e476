package store

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/mqstore/mqstore/commitlog"
	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/replication"
)

// logOwner is a one-replica group whose Raft log (replication.Log) is the store's commitlog: a
// proposal is appended, committed and applied at once.
type logOwner struct {
	log *replication.Log
	st  *Store

	mu          sync.Mutex // guards index, checkpoints
	index       uint64
	checkpoints int
}

var _ LogOwner = (*logOwner)(nil)

func (o *logOwner) Replicate(_ context.Context, records []byte) ([]commitlog.AppendResult, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.append(records); err != nil {
		return nil, err
	}
	return o.apply(o.index)
}

// append stores records as the next entry, committed, without applying it.
func (o *logOwner) append(records []byte) error {
	o.index++
	e := &pb.Entry{Index: new(o.index), Term: new(uint64(1)), Type: pb.EntryType_EntryNormal.Enum(), Data: records}
	if err := o.log.Append([]*pb.Entry{e}); err != nil {
		return err
	}
	return o.log.SetHardState(&pb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(o.index)})
}

func (o *logOwner) apply(i uint64) ([]commitlog.AppendResult, error) {
	var res []commitlog.AppendResult
	var err error
	if e := o.log.EntryRecords(i, func(_ int64, stored []byte) { res, err = o.st.ApplyEncoded(stored) }); e != nil {
		return nil, e
	}
	return res, err
}

func (o *logOwner) CommitLogSegments() *mapped.Queue { return o.log.Segments() }

func (o *logOwner) CommitLogBounds() (int64, int64) { return o.log.Base(), o.log.CommittedEnd() }

func (o *logOwner) ReleaseSegments(below int64, _ bool) error {
	return o.log.Compact(o.log.IndexAt(below))
}

func (o *logOwner) BaseQueues() []QueueStart {
	var out []QueueStart
	for _, q := range o.log.BaseQueues() {
		out = append(out, QueueStart{Topic: q.Topic, QueueID: q.QueueID, Next: q.Next})
	}
	return out
}

func (o *logOwner) BeforeCheckpoint() error {
	o.mu.Lock()
	o.checkpoints++
	o.mu.Unlock()
	return nil
}

// queueBodies reads every message of T/0 from offset on.
func queueBodies(t *testing.T, s *Store, from int64) (bodies []string, status GetStatus, next int64) {
	t.Helper()
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	for off := from; ; {
		res, err := s.GetMessages("T", 0, off, 64, 1<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		if off == from {
			status, next = res.Status, res.NextBeginOffset
		}
		for _, raw := range res.Messages {
			var r message.Record
			if _, err := message.DecodeRecord(raw, &r, true); err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, string(r.Body[:4]))
		}
		n, moved := len(res.Messages), res.NextBeginOffset != off
		off = res.NextBeginOffset
		res.Release()
		if n == 0 && !moved {
			return bodies, status, next
		}
	}
}

// TestStoreOverRaftLog: a replicated store whose commitlog is its group's Raft log keeps no
// commitlog of its own, shows only applied entries (an uncommitted tail, even one a new leader
// replaces, is never read or dispatched), reopens from its checkpoint without re-dispatching,
// compacts the log through its owner no further than its checkpoint, and restarts its queues at
// a snapshot's offset.
func TestStoreOverRaftLog(t *testing.T) {
	root := t.TempDir()
	const segment = 64 << 10
	l, err := replication.OpenLog(filepath.Join(root, "raft"), replication.LogOptions{SegmentSize: segment, RowsPerFile: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() }) // after the store's cleanup, which reads the log
	owner := &logOwner{log: l}
	opts := testOptions()
	opts.CommitLogSegmentSize = segment
	opts.MaxMessageSize = 16 << 10
	opts.Replicator = owner
	opts.CleanInterval = time.Hour // Clean is called by the test
	opts.FileReservedTime = time.Nanosecond
	open := func() *Store {
		st := openStore(t, filepath.Join(root, "replica"), opts)
		owner.mu.Lock()
		owner.st = st
		owner.mu.Unlock()
		return st
	}
	st := open()
	body := strings.Repeat("s", 900)
	var want []string
	put := func(i int) {
		t.Helper()
		b := []byte{byte('A' + i/1000%26), byte('0' + i/100%10), byte('0' + i/10%10), byte('0' + i%10)}
		if res, err := st.Put(&message.Message{Topic: "T", QueueID: 0, Body: append(b, body...)}); err != nil || res.Status != PutOK {
			t.Fatalf("put %d: %+v %v", i, res, err)
		}
		want = append(want, string(b))
	}
	for i := range 200 {
		put(i)
	}
	if _, err := os.Stat(filepath.Join(root, "replica", "commitlog")); !os.IsNotExist(err) {
		t.Fatalf("the store made a commitlog of its own (%v)", err)
	}
	if st.MaxPhysicalOffset() != l.End() {
		t.Fatalf("MaxPhysicalOffset %d, the log ends at %d", st.MaxPhysicalOffset(), l.End())
	}
	// A committed entry not applied yet, then an uncommitted one replaced by a new leader's:
	// neither is visible until applied.
	rec := func(s string) []byte {
		b, err := message.AppendRecord(nil, &message.Message{Topic: "T", QueueID: 0, Body: []byte(s + body)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	end := st.MaxPhysicalOffset()
	owner.mu.Lock()
	if err := owner.append(rec("gone")); err != nil {
		t.Fatal(err)
	}
	if err := l.SetHardState(&pb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(owner.index - 1)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond) // a dispatch round
	if st.MaxPhysicalOffset() != end || st.MaxOffset("T", 0) != 200 {
		t.Fatalf("an unapplied entry is visible: MaxPhysicalOffset %d (want %d), queue max %d", st.MaxPhysicalOffset(), end, st.MaxOffset("T", 0))
	}
	e := &pb.Entry{Index: new(owner.index), Term: new(uint64(2)), Type: pb.EntryType_EntryNormal.Enum(), Data: rec("kept")}
	if err := l.Append([]*pb.Entry{e}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetHardState(&pb.HardState{Term: new(uint64(2)), Vote: new(uint64(1)), Commit: new(owner.index)}); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.apply(owner.index); err != nil {
		t.Fatal(err)
	}
	owner.mu.Unlock()
	want = append(want, "kept")
	if got, _, _ := queueBodies(t, st, 0); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("the store serves %v", got)
	}

	// A clean reopen resumes at its checkpoint: nothing re-dispatched.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = open()
	if info := st.Recovery(); info.Redispatched != 0 || info.DispatchedFrom != l.End() {
		t.Fatalf("reopen: %+v, the log ends at %d", info, l.End())
	}
	if owner.checkpoints == 0 {
		t.Fatal("the owner was never told of a checkpoint")
	}
	// Retention through the owner: compacted up to the checkpoint, the queue corrected.
	before := st.CommitLog().Segments()
	if n := st.Clean(); n == 0 || st.CommitLog().Segments() != before-n {
		t.Fatalf("Clean deleted %d of %d segments", n, before)
	}
	if first, _ := l.FirstIndex(); first <= 1 {
		t.Fatal("the log was not compacted")
	}
	got, status, next := queueBodies(t, st, 0)
	if status != OffsetTooSmall || next != st.MinOffset("T", 0) || next <= 0 || strings.Join(got, ",") != strings.Join(want[next:], ",") {
		t.Fatalf("read from 0 after retention: %v next %d (queue minimum %d), %d messages", status, next, st.MinOffset("T", 0), len(got))
	}

	// A snapshot: the log restarts empty at an offset, the store's queues with it.
	base := l.End() + 3*segment + 100
	installSnapshot(t, owner, st, base, []replication.QueueNext{{Topic: "T", QueueID: 0, Next: 1000}, {Topic: "U", QueueID: 2, Next: 7}})
	// The snapshot's queues start at its queue offsets at once, before their next record.
	checkQueue := func(when, topic string, queueID int32, lo, hi int64) {
		t.Helper()
		if st.MinOffset(topic, queueID) != lo || st.MaxOffset(topic, queueID) != hi {
			t.Fatalf("%s: queue %s-%d [%d, %d), want [%d, %d)", when, topic, queueID,
				st.MinOffset(topic, queueID), st.MaxOffset(topic, queueID), lo, hi)
		}
	}
	if st.MinPhysicalOffset() != base {
		t.Fatalf("after RestartAt: min offset %d (want %d)", st.MinPhysicalOffset(), base)
	}
	checkQueue("after RestartAt", "T", 0, 1000, 1000)
	checkQueue("after RestartAt", "U", 2, 7, 7)
	if got, status, next := queueBodies(t, st, 0); status != OffsetTooSmall || next != 1000 || len(got) != 0 {
		t.Fatalf("read from 0 after the snapshot, before a put: %v next %d, %v", status, next, got)
	}
	if res, err := st.Put(&message.Message{Topic: "T", QueueID: 0, Body: []byte("snap" + body)}); err != nil || res.QueueOffset != 1000 || res.PhysicalOffset != base {
		t.Fatalf("put after the snapshot: %+v %v", res, err)
	}
	if got, status, next := queueBodies(t, st, 0); status != OffsetTooSmall || next != 1000 || strings.Join(got, ",") != "snap" {
		t.Fatalf("read from 0 after the snapshot: %v next %d, %v", status, next, got)
	}
	// And it reopens there.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = open()
	if got, _, _ := queueBodies(t, st, 1000); strings.Join(got, ",") != "snap" {
		t.Fatalf("after reopening at the snapshot: %v", got)
	}
	checkQueue("reopened", "T", 0, 1000, 1001)
	checkQueue("reopened", "U", 2, 7, 7)
}

// installSnapshot has owner's log install a snapshot whose log restarts empty at base with the
// given queue table (50 entries past the owner's index, term 2), then restarts st there.
func installSnapshot(t *testing.T, owner *logOwner, st *Store, base int64, queues []replication.QueueNext) {
	t.Helper()
	data, err := json.Marshal(map[string]any{"startPhys": base, "queues": queues})
	if err != nil {
		t.Fatal(err)
	}
	owner.mu.Lock()
	snap := &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{Index: new(owner.index + 50), Term: new(uint64(2)), ConfState: &pb.ConfState{Voters: []uint64{1}}}}
	if err := owner.log.ApplySnapshot(snap); err != nil {
		owner.mu.Unlock()
		t.Fatal(err)
	}
	owner.index += 50
	owner.mu.Unlock()
	if err := st.RestartAt(base); err != nil {
		t.Fatal(err)
	}
}
