package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mqstore/mqstore/commitlog"
	"github.com/mqstore/mqstore/consumequeue"
	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/internal/vfs"
	"github.com/mqstore/mqstore/message"
)

// Tests of the file-system seam: faults (ENOSPC, EIO, failed renames) and power loss at every
// step of the store's file operations. Each one reopens the store and checks every promise:
// an acknowledged put reads back at its queue offset with its bytes, and nothing is readable
// that was never written.

// seamOptions are small and synchronous: an acknowledgement means durable.
func seamOptions(fs vfs.FS) Options {
	o := testOptions()
	o.FS = fs
	o.FlushMode = commitlog.SyncFlush
	o.SyncFlushTimeout = 2 * time.Second
	o.CommitLogSegmentSize = 64 << 10 // the minimum: rolls every ~60 puts of seamBody
	o.MaxMessageSize = 4 << 10
	o.ConsumeQueueUnits = 100
	o.CheckpointInterval = time.Hour // tests write checkpoints themselves
	return o
}

// promise is an acknowledged put.
type promise struct {
	topic  string
	queue  int32
	offset int64
	body   string
}

// ledger records what a test put and what the store acknowledged.
type ledger struct {
	mu      sync.Mutex
	acked   []promise
	written map[string]bool // every body a put was tried with

	// Transactions, by transaction id (UNIQ_KEY).
	prepared      map[string]bool // Prepare acknowledged
	commitTried   map[string]bool
	committed     map[string]bool // Commit acknowledged
	rollbackTried map[string]bool
}

func newLedger() *ledger {
	return &ledger{written: map[string]bool{}, prepared: map[string]bool{}, commitTried: map[string]bool{},
		committed: map[string]bool{}, rollbackTried: map[string]bool{}}
}

func seamBody(topic string, queue int32, i int) string {
	return fmt.Sprintf("%s/%d/%d/%s", topic, queue, i, strings.Repeat("x", 900+i%100))
}

// put tries one message and records it.
func (l *ledger) put(s *Store, topic string, queue int32, i int) (PutResult, error) {
	body := seamBody(topic, queue, i)
	l.mu.Lock()
	l.written[body] = true
	l.mu.Unlock()
	m := message.New(topic, []byte(body))
	m.QueueID = queue
	res, err := s.Put(m)
	if err == nil {
		l.mu.Lock()
		l.acked = append(l.acked, promise{topic, queue, res.QueueOffset, body})
		l.mu.Unlock()
	}
	return res, err
}

// putMany puts n messages round-robin over 4 queues until one fails; it returns that error.
func (l *ledger) putMany(s *Store, topic string, n int) error {
	for i := range n {
		if _, err := l.put(s, topic, int32(i%4), i); err != nil {
			return err
		}
	}
	return nil
}

// verify checks every promise on a reopened store.
func (l *ledger) verify(t *testing.T, s *Store, topics ...string) {
	t.Helper()
	syncStore(t, s)
	for _, p := range l.acked {
		u, ok := s.QueueUnit(p.topic, p.queue, p.offset)
		if !ok {
			t.Fatalf("acknowledged %s/%d@%d is lost (queue max %d)", p.topic, p.queue, p.offset, s.MaxOffset(p.topic, p.queue))
		}
		m, err := s.ReadAt(u.CommitLogOffset)
		if err != nil {
			t.Fatalf("acknowledged %s/%d@%d: %v", p.topic, p.queue, p.offset, err)
		}
		if string(m.Body) != p.body {
			t.Fatalf("acknowledged %s/%d@%d reads back as %.40q, want %.40q", p.topic, p.queue, p.offset, m.Body, p.body)
		}
	}
	l.verifyTransactions(t, s)
	seen := map[string]bool{}
	for _, topic := range topics {
		for q := range int32(4) {
			s.ScanQueue(topic, q, s.MinOffset(topic, q), func(qo int64, u consumequeue.Unit) bool {
				m, err := s.ReadAt(u.CommitLogOffset)
				if err != nil {
					t.Errorf("%s/%d@%d: %v", topic, q, qo, err)
					return false
				}
				body := string(m.Body)
				if !l.written[body] {
					t.Errorf("%s/%d@%d holds %.40q, which was never written", topic, q, qo, body)
				}
				if seen[body] {
					t.Errorf("%s/%d@%d: %.40q is stored twice", topic, q, qo, body)
				}
				seen[body] = true
				return true
			})
		}
	}
	checkStoreConsistent(t, s)
}

// reopenVerify opens dir on the real file system, checks the ledger and closes the store.
func reopenVerify(t *testing.T, dir string, l *ledger, topics ...string) {
	t.Helper()
	s, err := Open(dir, seamOptions(nil))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("close after reopen: %v", err)
		}
	}()
	l.verify(t, s, topics...)
}

// TestENOSPCAtFallocate: no space for the first segment (store creation) nor for the next one
// (segment roll). Puts fail with an error naming ENOSPC, reads keep working, nothing
// acknowledged is lost, and puts work again once space is back.
func TestENOSPCAtFallocate(t *testing.T) {
	dir := t.TempDir()
	fs := vfs.NewFaultFS(nil)
	fs.Inject(vfs.Rule{Op: vfs.OpFallocate, Path: "commitlog", Err: unix.ENOSPC})
	opts := seamOptions(fs)
	var (
		reportedMu sync.Mutex
		reported   []error
	)
	opts.EventListener.BackgroundError = func(err error) {
		reportedMu.Lock()
		reported = append(reported, err)
		reportedMu.Unlock()
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Open could not make the first segment ahead: it says so and goes on.
	reportedMu.Lock()
	if len(reported) == 0 || !errors.Is(reported[0], unix.ENOSPC) {
		t.Fatalf("background errors of Open: %v", reported)
	}
	reportedMu.Unlock()
	l := newLedger()
	if _, err := l.put(s, "Full", 0, 0); !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("put without space for the first segment: %v", err)
	}
	fs.Clear()
	// Space for one segment only: the roll to the second one fails.
	fs.Inject(vfs.Rule{Op: vfs.OpFallocate, Path: "commitlog", After: 1, Err: unix.ENOSPC})
	err = l.putMany(s, "Full", 200)
	if !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("put at the roll without space: %v", err)
	}
	if n := len(l.acked); n < 40 {
		t.Fatalf("only %d puts before the roll", n)
	}
	if s.commitLog.Segments() != 1 {
		t.Fatalf("%d segments after a failed roll", s.commitLog.Segments())
	}
	if err := s.Err(); err != nil {
		t.Fatalf("a failed allocation is not a flush failure: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "commitlog"))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), mapped.TempSuffix) {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
	}
	l.verify(t, s, "Full") // reads still work
	fs.Clear()
	if err := l.putMany(s, "Again", 20); err != nil {
		t.Fatalf("put once space is back: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	reopenVerify(t, dir, l, "Full", "Again")
}

// TestEIOAtMsyncIsSticky: one failed msync of the commitlog stops the flushed offset for good
// and refuses every later put, even though later msyncs would succeed.
func TestEIOAtMsyncIsSticky(t *testing.T) {
	dir := t.TempDir()
	fs := vfs.NewFaultFS(nil)
	var background []error
	var bgMu sync.Mutex
	opts := seamOptions(fs)
	opts.EventListener.BackgroundError = func(err error) {
		bgMu.Lock()
		background = append(background, err)
		bgMu.Unlock()
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	l := newLedger()
	if err := l.putMany(s, "Eio", 10); err != nil {
		t.Fatal(err)
	}
	fs.Inject(vfs.Rule{Op: vfs.OpMsync, Path: "commitlog", Count: 1, Err: unix.EIO})
	_, err = l.put(s, "Eio", 0, 100)
	if !errors.Is(err, ErrFlushFailed) || !errors.Is(err, unix.EIO) || !errors.Is(err, commitlog.ErrFlush) {
		t.Fatalf("put whose msync failed: %v", err)
	}
	flushed := s.commitLog.FlushedOffset()
	for i := range 3 {
		res, err := l.put(s, "Eio", 1, 200+i)
		if !errors.Is(err, ErrFlushFailed) || !errors.Is(err, unix.EIO) || res.Status != PutUnknownError {
			t.Fatalf("put after the failed msync: %v (status %v)", err, res.Status)
		}
	}
	if _, err := s.commitLog.Flush(); !errors.Is(err, unix.EIO) {
		t.Fatalf("flush after the failure: %v", err)
	}
	if got := s.commitLog.FlushedOffset(); got != flushed {
		t.Fatalf("flushed offset moved from %d to %d after the failure", flushed, got)
	}
	if err := s.Err(); !errors.Is(err, ErrFlushFailed) || !errors.Is(err, unix.EIO) {
		t.Fatalf("Err: %v", err)
	}
	if err := s.writeCheckpoint(); err == nil {
		t.Fatal("checkpoint written after a flush failure")
	}
	if err := s.Close(); !errors.Is(err, unix.EIO) {
		t.Fatalf("Close after a flush failure: %v", err)
	}
	reopenVerify(t, dir, l, "Eio")
}

// TestEIOAtQueueMsyncIsSticky: a failed msync of a consume queue stops checkpoints and puts.
func TestEIOAtQueueMsyncIsSticky(t *testing.T) {
	dir := t.TempDir()
	fs := vfs.NewFaultFS(nil)
	s, err := Open(dir, seamOptions(fs))
	if err != nil {
		t.Fatal(err)
	}
	l := newLedger()
	if err := l.putMany(s, "Cq", 8); err != nil {
		t.Fatal(err)
	}
	syncStore(t, s)
	fs.Inject(vfs.Rule{Op: vfs.OpMsync, Path: "consumequeue", Count: 1, Err: unix.EIO})
	if err := s.writeCheckpoint(); !errors.Is(err, ErrFlushFailed) || !errors.Is(err, unix.EIO) {
		t.Fatalf("checkpoint with a failing queue msync: %v", err)
	}
	if err := s.writeCheckpoint(); !errors.Is(err, unix.EIO) {
		t.Fatalf("second checkpoint: %v (the failure must be sticky)", err)
	}
	if _, err := l.put(s, "Cq", 0, 50); !errors.Is(err, ErrFlushFailed) {
		t.Fatalf("put after the failure: %v", err)
	}
	if err := s.Err(); !errors.Is(err, unix.EIO) {
		t.Fatalf("Err: %v", err)
	}
	s.Close()
	reopenVerify(t, dir, l, "Cq")
}

// TestFailedRenameAtSegmentCreation: the rename that puts a new segment in place fails; the put
// fails with the cause, no temporary file stays, and the store recovers once renames work.
func TestFailedRenameAtSegmentCreation(t *testing.T) {
	dir := t.TempDir()
	fs := vfs.NewFaultFS(nil)
	s, err := Open(dir, seamOptions(fs))
	if err != nil {
		t.Fatal(err)
	}
	l := newLedger()
	fs.Inject(vfs.Rule{Op: vfs.OpRename, Path: "commitlog", After: 1, Err: unix.EIO})
	if err := l.putMany(s, "Ren", 200); !errors.Is(err, unix.EIO) {
		t.Fatalf("put at a roll whose rename fails: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "commitlog"))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), mapped.TempSuffix) {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
	}
	fs.Clear()
	if err := l.putMany(s, "Ren2", 100); err != nil {
		t.Fatalf("put once renames work: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	reopenVerify(t, dir, l, "Ren", "Ren2")
}

// TestFailedRenameAtCheckpoint: the checkpoint cannot be replaced; the old one stays valid, the
// background error reaches the event listener, and recovery stays correct.
func TestFailedRenameAtCheckpoint(t *testing.T) {
	dir := t.TempDir()
	fs := vfs.NewFaultFS(nil)
	errs := make(chan error, 100)
	opts := seamOptions(fs)
	opts.CheckpointInterval = 5 * time.Millisecond
	opts.EventListener.BackgroundError = func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	l := newLedger()
	if err := l.putMany(s, "Cp", 20); err != nil {
		t.Fatal(err)
	}
	syncStore(t, s)
	if err := s.writeCheckpoint(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	fs.Inject(vfs.Rule{Op: vfs.OpRename, Path: "checkpoint", Err: unix.EIO})
	if err := l.putMany(s, "Cp2", 20); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !errors.Is(err, unix.EIO) {
			t.Fatalf("background error %v does not name the cause", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the failed checkpoint write was not reported")
	}
	after, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil || string(after) != string(before) {
		t.Fatalf("checkpoint changed by a failed write (%v)", err)
	}
	if err := s.Close(); !errors.Is(err, unix.EIO) {
		t.Fatalf("Close with a failing checkpoint: %v", err)
	}
	reopenVerify(t, dir, l, "Cp", "Cp2")
}

// TestStatfsErrorIsReported: a failing statfs reaches the event listener.
func TestStatfsErrorIsReported(t *testing.T) {
	fs := vfs.NewFaultFS(nil)
	fs.Inject(vfs.Rule{Op: vfs.OpStatfs, Err: unix.EIO})
	var got []error
	opts := seamOptions(fs)
	opts.DiskUsage = nil // statfs through FS
	opts.EventListener.BackgroundError = func(err error) { got = append(got, err) }
	s, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(got) != 1 || !errors.Is(got[0], unix.EIO) {
		t.Fatalf("background errors %v, want the statfs EIO", got)
	}
}

// TestConcurrentClose: exactly one Close does the work; the other returns ErrClosed.
func TestConcurrentClose(t *testing.T) {
	for range 20 {
		s, err := Open(t.TempDir(), testOptions())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		results := make([]error, 2)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = s.Close()
			}()
		}
		wg.Wait()
		closed := 0
		for _, err := range results {
			switch {
			case err == nil:
			case errors.Is(err, ErrClosed):
				closed++
			default:
				t.Fatalf("Close: %v", err)
			}
		}
		if closed != 1 {
			t.Fatalf("concurrent Close results %v: want one nil and one ErrClosed", results)
		}
	}
}

// powerLoss runs work on a store whose file system loses power when rule matches (rule.Then is
// set to the crash; a rule that never matches loses power after work). The abandoned store is
// closed, the durable image restored, and the store reopened and verified. It reports whether
// the rule matched.
func powerLoss(t *testing.T, rule vfs.Rule, work func(s *Store, l *ledger), topics ...string) bool {
	t.Helper()
	dir := t.TempDir()
	pl := vfs.NewPowerLoss(dir)
	fs := vfs.NewFaultFS(pl)
	rule.Then = pl.Crash
	if rule.Count == 0 {
		rule.Count = 1
	}
	fs.Inject(rule)
	l := newLedger()
	s, err := Open(dir, seamOptions(fs))
	if err == nil {
		work(s, l)
		pl.Crash()
		s.Close() // fails: nothing it does reaches the durable image
	} else if fs.Failed() == 0 {
		t.Fatalf("open: %v", err)
	}
	pl.Crash()
	if err := pl.Restore(); err != nil {
		t.Fatal(err)
	}
	reopenVerify(t, dir, l, topics...)
	return fs.Failed() > 0
}

// crashEverywhere runs powerLoss once for each of the first max calls of each op on path, and
// once after the whole work.
func crashEverywhere(t *testing.T, path string, ops []vfs.Op, max int, work func(s *Store, l *ledger), topics ...string) {
	t.Run("end", func(t *testing.T) {
		if powerLoss(t, vfs.Rule{Op: vfs.OpRemove, Path: "no such path"}, work, topics...) {
			t.Fatal("the never-matching rule matched")
		}
	})
	for _, op := range ops {
		for k := range max {
			name := fmt.Sprintf("%v-%d", op, k)
			matched := true
			t.Run(name, func(t *testing.T) {
				matched = powerLoss(t, vfs.Rule{Op: op, Path: path, After: k}, work, topics...)
			})
			if !matched || t.Failed() {
				break
			}
		}
	}
}

var fileOps = []vfs.Op{vfs.OpMkdir, vfs.OpCreate, vfs.OpFallocate, vfs.OpSync, vfs.OpRename, vfs.OpSyncDir}

// TestPowerLossSegmentRoll loses power after each step of segment creation (temporary file,
// fallocate, fsync, rename, directory fsync) and after each of the first syncs into the new
// segments.
func TestPowerLossSegmentRoll(t *testing.T) {
	work := func(s *Store, l *ledger) { l.putMany(s, "Roll", 150) }
	crashEverywhere(t, "commitlog", fileOps, 4, work, "Roll")
	for _, seg := range []int64{64 << 10, 128 << 10} {
		crashEverywhere(t, mapped.FileName(seg), []vfs.Op{vfs.OpMsync}, 3, work, "Roll")
	}
}

// TestPowerLossCheckpoint loses power after each step of checkpoint writes, and right after
// a checkpoint was written.
func TestPowerLossCheckpoint(t *testing.T) {
	work := func(s *Store, l *ledger) {
		for round := range 3 {
			if l.putMany(s, fmt.Sprintf("Cp%d", round), 30) != nil {
				return
			}
			if s.Sync(t.Context()) != nil || s.writeCheckpoint() != nil {
				return
			}
		}
	}
	crashEverywhere(t, "checkpoint", []vfs.Op{vfs.OpCreate, vfs.OpWrite, vfs.OpSync, vfs.OpRename}, 3, work, "Cp0", "Cp1", "Cp2")
}

// TestPowerLossNewTopic loses power after each step of creating the consume-queue directories
// and files of a topic that did not exist, and after a checkpoint covering its messages: the
// checkpoint says they are dispatched, so recovery re-dispatches nothing before it and the
// queue directories must have been durable.
func TestPowerLossNewTopic(t *testing.T) {
	work := func(s *Store, l *ledger) {
		if l.putMany(s, "Old", 8) != nil || s.Sync(t.Context()) != nil || s.writeCheckpoint() != nil {
			return
		}
		if l.putMany(s, "Fresh", 8) != nil || s.Sync(t.Context()) != nil {
			return
		}
		s.writeCheckpoint()
	}
	crashEverywhere(t, "consumequeue/Fresh", append(fileOps, vfs.OpMsync), 4, work, "Old", "Fresh")
}

const txTopic = "TxReal"

// transact prepares n transactions, commits every third, rolls back the next, leaves the
// third open, and writes the op markers; it stops at the first error.
func (l *ledger) transact(s *Store, n int) error {
	tx := s.Transactions()
	type half struct {
		key        string
		offset, qo int64
	}
	var halves []half
	for i := range n {
		key := fmt.Sprintf("TX%04d", i)
		body := seamBody(txTopic, int32(i%2), i)
		l.written[body] = true
		m := message.New(txTopic, []byte(body))
		m.QueueID = int32(i % 2)
		m.SetProperty(message.PropertyUniqKey, key)
		pr, err := tx.Prepare(m, "seam-group")
		if err != nil {
			return err
		}
		l.prepared[key] = true
		halves = append(halves, half{key, pr.HalfOffset, pr.QueueOffset})
	}
	for i, h := range halves {
		switch i % 3 {
		case 0:
			l.commitTried[h.key] = true
			if _, err := tx.Commit(h.offset, "seam-group", h.qo); err != nil {
				return err
			}
			l.committed[h.key] = true
		case 1:
			l.rollbackTried[h.key] = true
			if err := tx.Rollback(h.offset, "seam-group", h.qo); err != nil {
				return err
			}
		}
	}
	return tx.Flush()
}

// verifyTransactions answers the checks a recovered store would send as the producer would
// (commit what it committed, roll back what it rolled back), then counts deliveries: an
// acknowledged commit is delivered exactly once, a rollback never, an open one not yet.
func (l *ledger) verifyTransactions(t *testing.T, s *Store) {
	t.Helper()
	if len(l.prepared) == 0 && len(l.commitTried) == 0 {
		return
	}
	tx := s.Transactions()
	for _, o := range tx.Open() {
		var err error
		switch {
		case l.commitTried[o.TransactionID]:
			_, err = tx.Commit(o.HalfOffset, o.ProducerGroup, o.QueueOffset)
		case l.rollbackTried[o.TransactionID]:
			err = tx.Rollback(o.HalfOffset, o.ProducerGroup, o.QueueOffset)
		}
		if err != nil {
			t.Fatalf("ending %s after recovery: %v", o.TransactionID, err)
		}
	}
	if err := tx.Flush(); err != nil {
		t.Fatal(err)
	}
	syncStore(t, s)
	delivered := map[string]int{}
	for q := range int32(2) {
		s.ScanQueue(txTopic, q, s.MinOffset(txTopic, q), func(qo int64, u consumequeue.Unit) bool {
			m, err := s.ReadAt(u.CommitLogOffset)
			if err != nil {
				t.Fatalf("%s/%d@%d: %v", txTopic, q, qo, err)
			}
			delivered[m.UniqKey()]++
			return true
		})
	}
	for key, n := range delivered {
		switch {
		case !l.commitTried[key]:
			t.Errorf("transaction %s was never committed but is delivered %d times", key, n)
		case n > 1:
			t.Errorf("transaction %s is delivered %d times", key, n)
		}
	}
	for key := range l.committed {
		if delivered[key] != 1 {
			t.Errorf("acknowledged commit of %s is delivered %d times, want once", key, delivered[key])
		}
	}
}

// TestPowerLossTransactions loses power after each sync of the commitlog while transactions are
// prepared, committed (the restored message), rolled back and their op markers written.
func TestPowerLossTransactions(t *testing.T) {
	work := func(s *Store, l *ledger) {
		if l.transact(s, 6) != nil || s.Sync(t.Context()) != nil {
			return
		}
		s.writeCheckpoint()
	}
	crashEverywhere(t, "commitlog", []vfs.Op{vfs.OpMsync}, 16, work, txTopic)
}
