package replication

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/message"
)

const testSegment = 64 << 10

// logNet is a simnet whose replicas keep their log in a commitlog (Log) under dir/<id>.
func logNet(t *testing.T, size int) (*simnet, string) {
	dir := t.TempDir()
	var n *simnet
	n = newSimnetWith(t, size, func(id uint64) Storage {
		l, err := OpenLog(filepath.Join(dir, fmt.Sprint(id)), LogOptions{SegmentSize: testSegment, RowsPerFile: 256})
		if err != nil {
			t.Fatalf("open log %d: %v", id, err)
		}
		return l
	})
	t.Cleanup(func() {
		for _, s := range n.stores {
			s.(*Log).Close()
		}
	})
	return n, dir
}

// restart closes replica id's log and starts it again from disk (as after kill -9: the files
// keep what was written to the mapping).
func (n *simnet) restart(id uint64) {
	n.t.Helper()
	if err := n.stores[id].(io.Closer).Close(); err != nil {
		n.t.Fatal(err)
	}
	n.start(id)
}

// commitlogBytes returns replica id's commitlog bytes [0, End) read from its segment files.
func commitlogBytes(t testing.TB, l *Log) []byte {
	t.Helper()
	end := l.End()
	var out []byte
	for off := int64(0); off < end; off += testSegment {
		b, err := os.ReadFile(filepath.Join(l.CommitlogDir(), mapped.FileName(off)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b[:min(int64(len(b)), end-off)]...)
	}
	return out
}

// sameCommitlogs fails unless every replica's commitlog is byte-identical, and checks it is a
// valid RocketMQ commitlog: records at their own PHYSICALOFFSET, queue offsets dense from 0 per
// queue, blank records only at segment ends. It returns the bodies in log order.
func sameCommitlogs(t testing.TB, n *simnet, ids ...uint64) []string {
	t.Helper()
	ref := commitlogBytes(t, n.stores[ids[0]].(*Log))
	for _, id := range ids[1:] {
		got := commitlogBytes(t, n.stores[id].(*Log))
		if !bytes.Equal(got, ref) {
			i := 0
			for i < min(len(got), len(ref)) && got[i] == ref[i] {
				i++
			}
			t.Fatalf("commitlogs of %d (%d bytes) and %d (%d bytes) differ at byte %d", id, len(got), ids[0], len(ref), i)
		}
	}
	var bodies []string
	next := map[queueKey]int64{}
	var rec message.Record
	for pos := 0; pos < len(ref); {
		size, err := message.DecodeRecord(ref[pos:], &rec, true)
		if errors.Is(err, message.ErrBlank) {
			if (pos+size)%testSegment != 0 {
				t.Fatalf("blank record at %d does not end a segment", pos)
			}
			pos += size
			continue
		}
		if err != nil {
			t.Fatalf("record at %d: %v", pos, err)
		}
		if rec.PhysicalOffset != int64(pos) {
			t.Fatalf("record at %d says PHYSICALOFFSET %d", pos, rec.PhysicalOffset)
		}
		key := queueKey{string(rec.Topic), rec.QueueID}
		if rec.QueueOffset != next[key] {
			t.Fatalf("record at %d: queue %v offset %d, want %d", pos, key, rec.QueueOffset, next[key])
		}
		next[key]++
		if key.topic != ConfigTopic {
			bodies = append(bodies, string(rec.Body))
		}
		pos += size
	}
	for q, want := range next {
		if got := n.stores[ids[0]].(*Log).QueueOffset(q.topic, q.queueID); got != want {
			t.Fatalf("queue table says %d for queue %v, the log holds %d", got, q, want)
		}
	}
	return bodies
}

// TestLogReplication: the simnet tests over commitlog storage: proposals commit, the three
// commitlogs are byte-identical valid RocketMQ commitlogs.
func TestLogReplication(t *testing.T) {
	n, _ := logNet(t, 3)
	testReplication(t, n)
	got := sameCommitlogs(t, n, n.ids...)
	if len(got) != 200 {
		t.Fatalf("%d records in the commitlog, want 200", len(got))
	}
}

// TestLogRefusesBadProposal: data that is not a run of records is refused at the leader with
// ErrBadEntry and never enters the log; the group goes on.
func TestLogRefusesBadProposal(t *testing.T) {
	n, _ := logNet(t, 3)
	l := n.electLeader(n.ids...)
	if _, err := n.propose(l, []byte("not a record")); !errors.Is(err, ErrBadEntry) {
		t.Fatalf("garbage proposal: %v, want ErrBadEntry", err)
	}
	if _, err := n.propose(l, payload(1)); err != nil {
		t.Fatal(err)
	}
	n.ticks(2)
	n.sameLogs(n.ids...)
	if got := sameCommitlogs(t, n, n.ids...); len(got) != 1 {
		t.Fatalf("%d records, want 1", len(got))
	}
}

// TestLogSegmentRoll: entries that do not fit the rest of a segment close it with a blank
// record, identically on every replica; multi-record entries stay contiguous.
func TestLogSegmentRoll(t *testing.T) {
	n, _ := logNet(t, 3)
	l := n.electLeader(n.ids...)
	big := strings.Repeat("x", 3000)
	var want []string
	for i := range 100 {
		var data []byte
		for j := range 1 + i%3 {
			body := fmt.Sprintf("%03d-%d-%s", i, j, big[:i*29%3000])
			data = append(data, record(j, body)...)
			want = append(want, body)
		}
		if _, err := n.propose(l, data); err != nil {
			t.Fatal(err)
		}
		n.settle()
	}
	n.ticks(2)
	n.sameLogs(n.ids...)
	got := sameCommitlogs(t, n, n.ids...)
	if !slices.Equal(got, want) {
		t.Fatalf("commitlog holds %d bodies, want %d", len(got), len(want))
	}
	if segs := len(n.stores[l].(*Log).commitlog.Files()); segs < 3 {
		t.Fatalf("%d segments: the test should roll", segs)
	}
}

// TestLogTruncation: an isolated leader's uncommitted entries (records already patched with
// queue offsets) are truncated when it rejoins, and it re-patches the new leader's entries
// at the same offsets: commitlogs byte-identical, queue offsets dense.
func TestLogTruncation(t *testing.T) {
	n, _ := logNet(t, 3)
	old := n.electLeader(n.ids...)
	for i := range 10 {
		n.propose(old, payload(i))
	}
	n.ticks(2)
	n.partition(old)
	big := strings.Repeat("y", 20000) // enough to roll a segment on the old leader only
	for i := range 8 {
		if _, err := n.propose(old, record(i%4, fmt.Sprintf("lost-%d-%s", i, big))); err != nil {
			t.Fatal(err)
		}
	}
	n.settle()
	var majority []uint64
	for _, id := range n.ids {
		if id != old {
			majority = append(majority, id)
		}
	}
	n.ticks(25)
	nl := n.electLeader(majority...)
	for i := 10; i < 30; i++ {
		if _, err := n.propose(nl, payload(i)); err != nil {
			t.Fatal(err)
		}
	}
	n.settle()
	n.heal()
	n.ticks(5)
	n.sameLogs(n.ids...)
	got := sameCommitlogs(t, n, n.ids...)
	if len(got) != 30 {
		t.Fatalf("%d records, want 30: %v", len(got), got)
	}
	for _, b := range got {
		if strings.HasPrefix(b, "lost-") {
			t.Fatalf("uncommitted record %.10s survived", b)
		}
	}
}

// TestLogRestart: a follower stopped while the others commit, restarted from its files,
// catches up; a restarted leader keeps every committed entry; every replica reapplies the
// same committed entries from its own log after a restart.
func TestLogRestart(t *testing.T) {
	n, _ := logNet(t, 3)
	l := n.electLeader(n.ids...)
	var follower uint64
	for _, id := range n.ids {
		if id != l {
			follower = id
		}
	}
	for i := range 20 {
		n.propose(l, payload(i))
	}
	n.ticks(2)
	n.down[follower] = true
	for i := 20; i < 60; i++ {
		n.propose(l, payload(i))
	}
	n.ticks(2)
	n.restart(follower)
	n.ticks(5)
	n.sameLogs(n.ids...)
	if got := len(n.appliedBodies(follower)); got != 60 {
		t.Fatalf("restarted follower applied %d, want 60", got)
	}
	// Restart the leader: a new one is elected, nothing committed is lost.
	n.down[l] = true
	n.ticks(30)
	n.restart(l)
	nl := n.electLeader(n.ids...)
	for i := 60; i < 70; i++ {
		if _, err := n.propose(nl, payload(i)); err != nil {
			t.Fatal(err)
		}
	}
	n.ticks(3)
	n.sameLogs(n.ids...)
	got := sameCommitlogs(t, n, n.ids...)
	if len(got) != 70 {
		t.Fatalf("%d records after restarts, want 70", len(got))
	}
	for i, b := range got {
		if b != fmt.Sprintf("record-%04d", i) {
			t.Fatalf("record %d is %s", i, b)
		}
	}
}

// TestLogRecoverTornTail: entries past the commit index whose records did not reach the disk
// (the raftidx row did) and a torn row are dropped at open; the log before them is intact.
func TestLogRecoverTornTail(t *testing.T) {
	dir := t.TempDir()
	opts := LogOptions{SegmentSize: testSegment, RowsPerFile: 256}
	l, err := OpenLog(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	var entries []*pbEntry
	for i := range 10 {
		entries = append(entries, &pbEntry{index: uint64(i + 1), term: 1, data: payload(i)})
	}
	if err := l.Append(toEntries(entries)); err != nil {
		t.Fatal(err)
	}
	if err := l.SetHardState(hardState(1, 1, 6)); err != nil {
		t.Fatal(err)
	}
	// Entry 8's records lose a byte of body (not written back), entry 10's row is torn.
	var phys8 int64
	l.EntryRecords(8, func(phys int64, records []byte) { phys8 = phys; records[90] ^= 0xFF }) // in BODY (from 88)
	l.mu.Lock()
	f := l.raftidx.Find(10 * RowSize)
	f.Bytes()[10*RowSize-f.FromOffset()+3] ^= 0xFF
	l.mu.Unlock()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l, err = OpenLog(dir, opts); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if last, _ := l.LastIndex(); last != 7 {
		t.Fatalf("last index %d after recovery, want 7", last)
	}
	if l.End() != phys8 {
		t.Fatalf("end %d, want %d (where entry 8 began)", l.End(), phys8)
	}
	if got := l.QueueOffset("T", 0); got != 2 { // entries 1, 5 (payload 0, 4) on queue 0
		t.Fatalf("queue 0 next offset %d, want 2", got)
	}
	ents, err := l.Entries(1, 8, 1<<30)
	if err != nil || len(ents) != 7 {
		t.Fatalf("entries: %d, %v", len(ents), err)
	}
	// Appending again continues where the intact log ends.
	if err := l.Append(toEntries([]*pbEntry{{index: 8, term: 2, data: payload(7)}})); err != nil {
		t.Fatal(err)
	}
	var rec message.Record
	l.EntryRecords(8, func(phys int64, records []byte) {
		if _, err := message.DecodeRecord(records, &rec, true); err != nil || rec.PhysicalOffset != phys8 || rec.QueueOffset != 1 {
			t.Fatalf("re-appended record: %v, phys %d queue offset %d", err, rec.PhysicalOffset, rec.QueueOffset)
		}
	})
}

// TestLogRejectsOtherSegmentSize: a log opened with another segment size is refused.
func TestLogRejectsOtherSegmentSize(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenLog(dir, LogOptions{SegmentSize: testSegment})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := OpenLog(dir, LogOptions{SegmentSize: 2 * testSegment}); !errors.Is(err, ErrSegmentSize) {
		t.Fatalf("reopen with another segment size: %v", err)
	}
}

func TestCheckEntry(t *testing.T) {
	good := append(payload(1), payload(2)...)
	if err := CheckEntry(good, testSegment); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"torn":     good[:len(good)-1],
		"garbage":  []byte("not a record at all, not at all"),
		"too big":  record(0, strings.Repeat("z", testSegment)),
		"trailing": append(slices.Clone(good), 0, 0, 0),
	} {
		if err := CheckEntry(data, testSegment); !errors.Is(err, ErrBadEntry) {
			t.Errorf("%s: %v, want ErrBadEntry", name, err)
		}
	}
}

type pbEntry struct {
	index, term uint64
	data        []byte
}

func toEntries(es []*pbEntry) []*pb.Entry {
	out := make([]*pb.Entry, len(es))
	for i, e := range es {
		out[i] = &pb.Entry{Index: new(e.index), Term: new(e.term), Type: pb.EntryType_EntryNormal.Enum(), Data: e.data}
	}
	return out
}

func hardState(term, vote, commit uint64) *pb.HardState {
	return &pb.HardState{Term: new(term), Vote: new(vote), Commit: new(commit)}
}

// TestLogDamagedMinority: a stopped follower's commitlog loses committed bytes (zeroed in its
// newest segment). It refuses to open (ErrDamaged) rather than rejoin without entries the
// leader counts as its own; re-seeded from a healthy follower's log files (its own HardState
// kept), it rejoins and ends byte-identical, its consume queues re-dispatched to the same units.
func TestLogDamagedMinority(t *testing.T) {
	n, dir := logNet(t, 3)
	dispatchers := map[uint64]*Dispatcher{}
	n.onStart = func(id uint64) (func(uint64, []byte) error, uint64) {
		d, err := OpenDispatcher(filepath.Join(dir, fmt.Sprint(id)), DispatcherOptions{})
		if err != nil {
			t.Fatal(err)
		}
		dispatchers[id] = d
		return d.Apply, d.Applied()
	}
	for _, id := range n.ids {
		n.restart(id)
	}
	t.Cleanup(func() {
		for _, d := range dispatchers {
			d.Close()
		}
	})
	l := n.electLeader(n.ids...)
	var victim, healthy uint64
	for _, id := range n.ids {
		if id != l {
			if victim == 0 {
				victim = id
			} else {
				healthy = id
			}
		}
	}
	big := strings.Repeat("d", 1500)
	for i := range 100 {
		n.propose(l, record(i%4, fmt.Sprintf("%03d-%s", i, big)))
		if i%10 == 9 {
			n.ticks(1)
		}
	}
	n.ticks(2)
	vl := n.stores[victim].(*Log)
	n.down[victim] = true
	dispatchers[victim].Close()
	end := vl.End()
	vl.Close()
	seg := filepath.Join(vl.CommitlogDir(), mapped.FileName(end-end%testSegment))
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 3000), (end%testSegment)/2); err != nil {
		t.Fatal(err)
	}
	f.Close()
	vdir := filepath.Join(dir, fmt.Sprint(victim))
	if _, err := OpenLog(vdir, LogOptions{SegmentSize: testSegment, RowsPerFile: 256}); !errors.Is(err, ErrDamaged) {
		t.Fatalf("open of the damaged log: %v, want ErrDamaged", err)
	}
	// Re-seed: the healthy follower's commitlog, raftidx and raftmeta (its files are
	// consistent between simnet steps: every write was msynced), the victim's own hardstate.
	hdir := filepath.Join(dir, fmt.Sprint(healthy))
	for _, name := range []string{"commitlog", "raftidx"} {
		os.RemoveAll(filepath.Join(vdir, name))
		if err := os.CopyFS(filepath.Join(vdir, name), os.DirFS(filepath.Join(hdir, name))); err != nil {
			t.Fatal(err)
		}
	}
	meta, err := os.ReadFile(filepath.Join(hdir, metaName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vdir, metaName), meta, 0o644); err != nil {
		t.Fatal(err)
	}
	n.stores[victim] = nil
	n.start(victim)
	n.ticks(5)
	n.propose(l, payload(100))
	n.ticks(3)
	// (Applied lists differ: the victim restarted from its dispatch checkpoint.)
	if a, b := n.nodes[victim].status().GetCommit(), n.nodes[l].status().GetCommit(); a != b {
		t.Fatalf("commit %d on the re-seeded replica, %d on the leader", a, b)
	}
	sameCommitlogs(t, n, n.ids...)
	if a, b := queueUnits(t, dispatchers[victim]), queueUnits(t, dispatchers[l]); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("consume queues differ: %d and %d units", len(a), len(b))
	}
	checkUnits(t, dispatchers[victim], n.stores[victim].(*Log))
}
