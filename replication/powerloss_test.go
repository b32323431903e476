package replication

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/mqstore/mqstore/internal/vfs"
)

// powerLossRounds is the append sequence of TestLogPowerLoss: rounds of one to eight entries
// with 500-byte bodies (the raftidx crosses pages and files, the commitlog segments), every
// seventh round a lone empty entry (no records: the commitlog has nothing to msync), and at
// round truncateRound a new term replacing the last six entries, back across a raftidx page
// boundary (the truncation zeroes a page already written: its extent is unwritten again).
func powerLossRounds() [][]*pb.Entry {
	var rounds [][]*pb.Entry
	next, term := uint64(1), uint64(1)
	for r := range 95 {
		var es []*pbEntry
		n := 1 + r%4
		if r > truncateRound {
			n = 1 + r%8
		}
		switch {
		case r == truncateRound:
			next -= 6
			term = 2
			fallthrough
		case r%7 != 6:
			for range n {
				body := fmt.Sprintf("entry-%04d-%d-", next, term) + strings.Repeat("x", 480)
				es = append(es, &pbEntry{index: next, term: term, data: record(int(next%4), body)})
				next++
			}
		default:
			es = append(es, &pbEntry{index: next, term: term})
			next++
		}
		rounds = append(rounds, toEntries(es))
	}
	return rounds
}

// truncateRound replaces entries 126-131 (rows across the first raftidx page boundary, 128).
const truncateRound = 58

// appendRounds appends rounds to l as a replica does (Append, then raise the acknowledged
// watermark) until one fails; it returns the last index whose Append returned.
func appendRounds(l *Log, rounds [][]*pb.Entry) (acked uint64, err error) {
	for _, es := range rounds {
		// Entries replaced by a new leader's were acknowledged to an older one: void.
		acked = min(acked, es[0].GetIndex()-1)
		if err := l.Append(es); err != nil {
			return acked, err
		}
		last := es[len(es)-1]
		acked = last.GetIndex()
		if err := l.SetAcked(acked, last.GetTerm()); err != nil {
			return acked, err
		}
	}
	return acked, nil
}

// TestLogPowerLoss loses power after every msync, fsync and write-out that appending the rounds
// performs (the worst moments: rows written out but no flush yet; the commitlog's flush done;
// a new raftidx page or file; a truncation), restores what a machine would find, and checks
// recovery: the log opens (it refuses, ErrDamaged, one that lost an entry it acknowledged),
// keeps every entry whose Append returned, and every entry it keeps is the one appended (its
// records byte-identical to a log that never lost power).
func TestLogPowerLoss(t *testing.T) {
	opts := LogOptions{SegmentSize: testSegment, RowsPerFile: 256}
	rounds := powerLossRounds()
	ref, err := OpenLog(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if _, err := appendRounds(ref, rounds); err != nil {
		t.Fatal(err)
	}
	refLast, _ := ref.LastIndex()
	want, err := ref.Entries(1, refLast+1, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	// The entries of term 1 that truncateRound replaces, as a log stores them.
	refOld, err := OpenLog(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer refOld.Close()
	if _, err := appendRounds(refOld, rounds[:truncateRound]); err != nil {
		t.Fatal(err)
	}
	oldLast, _ := refOld.LastIndex()
	old, err := refOld.Entries(1, oldLast+1, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	for _, oneFlush := range []bool{true, false} {
		t.Run(fmt.Sprintf("OneFlush=%v", oneFlush), func(t *testing.T) {
			o := opts
			o.OneFlush = oneFlush
			powerLossAt(t, o, rounds, want, old)
		})
	}
}

// powerLossAt runs TestLogPowerLoss for one setting of opts.
func powerLossAt(t *testing.T, opts LogOptions, rounds [][]*pb.Entry, want, old []*pb.Entry) {
	// crashAt loses power after the k-th sync or write-out (0: never) and returns the number of
	// them the run made.
	crashAt := func(t *testing.T, k int) int {
		dir := fastDir(t)
		pl := vfs.NewPowerLoss(dir)
		fs := vfs.NewFaultFS(pl)
		// Counted atomically: the commitlog's allocator creates (and syncs) segments on its own
		// goroutine, so the steps interleave differently from run to run.
		var steps atomic.Int64
		step := func() {
			if int(steps.Add(1)) == k {
				pl.Crash()
			}
		}
		for _, op := range []vfs.Op{vfs.OpMsync, vfs.OpSync, vfs.OpWriteOut} {
			fs.Inject(vfs.Rule{Op: op, Then: step})
		}
		o := opts
		o.FS = fs
		l, err := OpenLog(dir, o)
		if err != nil {
			t.Fatal(err)
		}
		if l.oneFlush != opts.OneFlush {
			t.Fatalf("one flush per append: %v, asked %v", l.oneFlush, opts.OneFlush)
		}
		acked, err := appendRounds(l, rounds)
		if k == 0 {
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			return int(steps.Load())
		}
		if err != nil && !errors.Is(err, vfs.ErrCrashed) {
			t.Fatalf("append after losing power at step %d: %v", k, err)
		}
		pl.Crash()
		l.Close()
		if err := pl.Restore(); err != nil {
			t.Fatal(err)
		}
		l, err = OpenLog(dir, opts)
		if err != nil {
			t.Fatalf("power lost after step %d (of appends up to %d): %v", k, acked, err)
		}
		defer l.Close()
		last, _ := l.LastIndex()
		if last < acked {
			t.Fatalf("power lost after step %d: the log ends at %d, entries up to %d were acknowledged", k, last, acked)
		}
		got, err := l.Entries(1, last+1, 1<<40)
		if err != nil {
			t.Fatalf("power lost after step %d: %v", k, err)
		}
		// Past the truncation the kept tail may be the replaced term's entries, appended
		// before it: compare against what was appended at that point.
		for i, e := range got {
			var w *pb.Entry
			if i < len(want) && want[i].GetTerm() == e.GetTerm() {
				w = want[i]
			} else if i < len(old) && old[i].GetTerm() == e.GetTerm() {
				w = old[i]
			}
			if w == nil || !bytes.Equal(e.Data, w.Data) {
				t.Fatalf("power lost after step %d: entry %d (term %d) is not the one appended", k, e.GetIndex(), e.GetTerm())
			}
		}
		return int(steps.Load())
	}
	n := crashAt(t, 0)
	t.Logf("%d syncs and write-outs", n)
	for k := 1; k <= n; k++ {
		t.Run(fmt.Sprint(k), func(t *testing.T) { crashAt(t, k) })
	}
}

// fastDir is a temporary directory on tmpfs when there is one (the model, not the disk, decides
// what survives; real syncs there cost nothing), else t.TempDir().
func fastDir(t *testing.T) string {
	dir, err := os.MkdirTemp("/dev/shm", "mqstore-powerloss-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
