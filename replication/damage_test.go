package replication

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/message"
)

// closedLog writes entries 1..10 (one record each) of term 1 with commit index commit and
// acknowledged watermark acked (0: none), closes the log and returns its directory and each
// entry's commitlog offset and size.
func closedLog(t *testing.T, commit, acked uint64) (dir string, phys map[uint64]int64, size map[uint64]int) {
	t.Helper()
	dir = t.TempDir()
	l, err := OpenLog(dir, LogOptions{SegmentSize: testSegment, RowsPerFile: 256})
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
	if err := l.SetHardState(hardState(1, 1, commit)); err != nil {
		t.Fatal(err)
	}
	if acked > 0 {
		if err := l.SetAcked(acked, 1); err != nil {
			t.Fatal(err)
		}
	}
	phys, size = map[uint64]int64{}, map[uint64]int{}
	for i := uint64(1); i <= 10; i++ {
		if err := l.EntryRecords(i, func(p int64, records []byte) { phys[i], size[i] = p, len(records) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, phys, size
}

// flipOnDisk flips bit 0 of the byte at commitlog offset off of a closed log, and checks that
// the record still decodes with a valid body CRC: the damage lies where RocketMQ's format
// checksums nothing.
func flipOnDisk(t *testing.T, dir string, off, recordStart int64) {
	t.Helper()
	path := filepath.Join(dir, "commitlog", mapped.FileName(off-off%testSegment))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off%testSegment] ^= 1
	var rec message.Record
	if _, err := message.DecodeRecord(b[recordStart%testSegment:], &rec, true); err != nil {
		t.Fatalf("the altered record does not decode (%v): the test must damage bytes outside the body CRC", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLogRecoveryChecksEntryData: a flipped bit in a record's QUEUEID or in its properties
// (outside the body CRC) is found at open: below the commit index the log is refused, above it
// the entry and those after it are dropped, unless the replica had acknowledged them.
func TestLogRecoveryChecksEntryData(t *testing.T) {
	const queueIDAt = 12 // TOTALSIZE, MAGICCODE, BODYCRC, QUEUEID
	for _, tc := range []struct {
		name          string
		commit, acked uint64
		entry         uint64
		inProperties  bool
		wantLast      uint64 // 0: ErrDamaged
	}{
		{"queueId below the commit index", 6, 0, 3, false, 0},
		{"property below the commit index", 6, 0, 3, true, 0},
		{"queueId past the commit index", 6, 0, 8, false, 7},
		{"property past the commit index", 6, 0, 8, true, 7},
		{"property past the commit index, acknowledged", 6, 10, 8, true, 0},
		{"last entry, acknowledged", 6, 10, 10, true, 0},
		{"last entry, not acknowledged", 6, 9, 10, true, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, phys, size := closedLog(t, tc.commit, tc.acked)
			at := phys[tc.entry] + queueIDAt
			if tc.inProperties {
				at = phys[tc.entry] + int64(size[tc.entry]) - 2 // a character of the KEYS value
			}
			flipOnDisk(t, dir, at, phys[tc.entry])
			l, err := OpenLog(dir, LogOptions{SegmentSize: testSegment, RowsPerFile: 256})
			if tc.wantLast == 0 {
				if !errors.Is(err, ErrDamaged) {
					t.Fatalf("open: %v, want ErrDamaged", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if last, _ := l.LastIndex(); last != tc.wantLast {
				t.Fatalf("last index %d, want %d", last, tc.wantLast)
			}
			if l.End() != phys[tc.wantLast+1] {
				t.Fatalf("end %d, want %d", l.End(), phys[tc.wantLast+1])
			}
			if _, err := l.Entries(1, tc.wantLast+1, 1<<30); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLogRefusesAckedTruncation: a raftidx whose tail rows were zeroed (a truncated file) loses
// entries; those the replica had acknowledged make the open fail, a lower watermark does not,
// and a log replaced by a newer leader's (re-seeded: its last entry of a later term than the
// acknowledgement) opens.
func TestLogRefusesAckedTruncation(t *testing.T) {
	opts := LogOptions{SegmentSize: testSegment, RowsPerFile: 256}
	zeroRows := func(t *testing.T, dir string, from uint64) {
		path := filepath.Join(dir, "raftidx", mapped.FileName(0))
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(make([]byte, (11-from)*RowSize), int64(from)*RowSize); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("acknowledged", func(t *testing.T) {
		dir, _, _ := closedLog(t, 6, 10)
		zeroRows(t, dir, 9)
		_, err := OpenLog(dir, opts)
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "acknowledged") || !strings.Contains(err.Error(), "raftidx row 9 is unwritten or torn") {
			t.Fatalf("open: %v, want ErrDamaged naming the acknowledgement and row 9", err)
		}
	})
	t.Run("not acknowledged", func(t *testing.T) {
		dir, _, _ := closedLog(t, 6, 8)
		zeroRows(t, dir, 9)
		l, err := OpenLog(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if last, _ := l.LastIndex(); last != 8 {
			t.Fatalf("last %d, want 8", last)
		}
	})
	t.Run("re-seeded from a newer leader", func(t *testing.T) {
		dir, _, _ := closedLog(t, 6, 10)
		zeroRows(t, dir, 9)
		// The newer leader's log: entries 1..8 as here, then its own term-2 entry at 9.
		l, err := OpenLog(t.TempDir(), opts)
		if err != nil {
			t.Fatal(err)
		}
		var entries []*pbEntry
		for i := range 8 {
			entries = append(entries, &pbEntry{index: uint64(i + 1), term: 1, data: payload(i)})
		}
		entries = append(entries, &pbEntry{index: 9, term: 2})
		if err := l.Append(toEntries(entries)); err != nil {
			t.Fatal(err)
		}
		src := filepath.Dir(l.CommitlogDir())
		l.Close()
		for _, name := range []string{"commitlog", "raftidx"} {
			os.RemoveAll(filepath.Join(dir, name))
			if err := os.CopyFS(filepath.Join(dir, name), os.DirFS(filepath.Join(src, name))); err != nil {
				t.Fatal(err)
			}
		}
		if l, err = OpenLog(dir, opts); err != nil {
			t.Fatalf("open of the re-seeded log: %v", err)
		}
		l.Close()
	})
}

// TestLogReadsCheckEntryData: an entry altered in place (outside the body CRC) is never handed
// out: Entries (what a leader sends to followers) and EntryRecords (what is applied) fail with
// ErrDamaged.
func TestLogReadsCheckEntryData(t *testing.T) {
	l, err := OpenLog(t.TempDir(), LogOptions{SegmentSize: testSegment, RowsPerFile: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var entries []*pbEntry
	for i := range 5 {
		entries = append(entries, &pbEntry{index: uint64(i + 1), term: 1, data: payload(i)})
	}
	if err := l.Append(toEntries(entries)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Entries(1, 6, 1<<30); err != nil {
		t.Fatal(err)
	}
	l.EntryRecords(4, func(_ int64, records []byte) { records[12] ^= 4 }) // QUEUEID
	if _, err := l.Entries(2, 6, 1<<30); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Entries over the altered entry: %v, want ErrDamaged", err)
	}
	if err := l.EntryRecords(4, func(int64, []byte) { t.Fatal("altered records handed out") }); !errors.Is(err, ErrDamaged) {
		t.Fatalf("EntryRecords of the altered entry: %v, want ErrDamaged", err)
	}
	if ents, err := l.Entries(1, 4, 1<<30); err != nil || len(ents) != 3 {
		t.Fatalf("entries before it: %d, %v", len(ents), err)
	}
}

// TestLeaderNeverSendsDamagedEntry: a leader whose log was altered under it, catching up a
// follower that lacks the altered entry, stops (etcd raft panics on the storage error) before
// any append carrying it leaves.
func TestLeaderNeverSendsDamagedEntry(t *testing.T) {
	n, _ := logNet(t, 3)
	l := n.electLeader(n.ids...)
	var lagging uint64
	for _, id := range n.ids {
		if id != l {
			lagging = id
			break
		}
	}
	n.down[lagging] = true
	for i := range 5 {
		if _, err := n.propose(l, payload(i)); err != nil {
			t.Fatal(err)
		}
		n.settle()
	}
	ll := n.stores[l].(*Log)
	last, _ := ll.LastIndex()
	if err := ll.EntryRecords(last-2, func(_ int64, records []byte) { records[len(records)-2] ^= 1 }); err != nil {
		t.Fatal(err)
	}
	sent := 0
	n.drop = func(m *pb.Message) bool {
		if m.GetType() == pb.MessageType_MsgApp && m.GetTo() == lagging {
			for _, e := range m.GetEntries() {
				if e.GetIndex() >= last-2 {
					sent++
				}
			}
		}
		return false
	}
	n.down[lagging] = false
	var panicked any
	func() {
		defer func() { panicked = recover() }()
		n.ticks(5)
	}()
	err, _ := panicked.(error)
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("leader went on (panic value %v), want a stop with ErrDamaged", panicked)
	}
	if sent > 0 {
		t.Fatalf("%d entries from the altered one on were sent to the lagging follower", sent)
	}
}

// damagedStorage is a MemoryStorage whose Entries fails with ErrDamaged once damaged is set.
type damagedStorage struct {
	*raft.MemoryStorage
	damaged atomic.Bool
}

func (s *damagedStorage) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	if s.damaged.Load() {
		return nil, fmt.Errorf("%w: entries [%d, %d)", ErrDamaged, lo, hi)
	}
	return s.MemoryStorage.Entries(lo, hi, maxSize)
}

// TestGroupStopsOnDamagedRead: the library's panic on a damaged read stops the Group's replica
// (Close returns ErrDamaged), not the process, and the others elect a new leader.
func TestGroupStopsOnDamagedRead(t *testing.T) {
	peers := []uint64{1, 2, 3}
	stores := map[uint64]*damagedStorage{}
	var blocked atomic.Uint64 // a replica cut off from every message
	var mu sync.Mutex
	groups := map[uint64]*Group{}
	for _, id := range peers {
		stores[id] = &damagedStorage{MemoryStorage: raft.NewMemoryStorage()}
		g, err := Start(Options{ID: id, Peers: peers, Storage: stores[id], Logger: quiet, TickInterval: 10 * time.Millisecond,
			Transport: transportFunc(func(msgs []*pb.Message) {
				for _, m := range msgs {
					if m.GetTo() == blocked.Load() || m.GetFrom() == blocked.Load() {
						continue
					}
					wire, _ := proto.Marshal(m)
					var out pb.Message
					proto.Unmarshal(wire, &out)
					mu.Lock()
					g := groups[m.GetTo()]
					mu.Unlock()
					if g != nil {
						g.Receive(&out)
					}
				}
			})})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		groups[id] = g
		mu.Unlock()
	}
	defer func() {
		for _, g := range groups {
			g.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lead := waitLeader(ctx, t, groups)
	var lagging uint64
	for _, id := range peers {
		if id != lead {
			lagging = id
			break
		}
	}
	blocked.Store(lagging)
	for i := 0; i < 5; i++ {
		p, err := groups[lead].Propose(ctx, fmt.Appendf(nil, "p%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if err := groups[lead].Wait(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	stores[lead].damaged.Store(true)
	blocked.Store(0) // the leader must now read entries to send them to the lagging follower
	select {
	case <-groups[lead].Done():
	case <-ctx.Done():
		t.Fatal("the leader did not stop")
	}
	if err := groups[lead].Err(); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Err: %v, want ErrDamaged", err)
	}
	if err := groups[lead].Close(); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Close: %v, want ErrDamaged", err)
	}
	mu.Lock()
	delete(groups, lead)
	mu.Unlock()
	if next := waitLeader(ctx, t, groups); next == lead {
		t.Fatal("no new leader")
	}
}

// waitLeader waits until a group of groups leads and returns its id.
func waitLeader(ctx context.Context, t *testing.T, groups map[uint64]*Group) uint64 {
	t.Helper()
	for ctx.Err() == nil {
		for id, g := range groups {
			if st, err := g.Status(ctx); err == nil && st.RaftState == raft.StateLeader {
				return id
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no leader")
	return 0
}
