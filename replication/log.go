package replication

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/internal/vfs"
	"github.com/mqstore/mqstore/message"
)

// Log errors.
var (
	// ErrBadEntry: a normal entry's data is not a run of whole RocketMQ records, or does not fit a
	// segment. The leader checks proposals with CheckEntry, so a follower meeting one stops.
	ErrBadEntry = errors.New("replication: entry is not a run of records")
	// ErrSegmentSize: the log on disk was created with another segment size.
	ErrSegmentSize = errors.New("replication: segment size differs from the log's")
	// ErrDamaged: the log lost or altered entries it had committed or acknowledged (damage
	// beyond a crash's: a truncated or corrupted replica), or an entry read to be applied or sent
	// does not match its checksum. It is refused at open, and a replica meeting it later stops
	// rather than spread the bytes; the operator re-seeds the replica from a healthy one.
	ErrDamaged = errors.New("replication: committed entries damaged")
	// ErrCompactCommitted: Compact was asked to drop entries that are not committed.
	ErrCompactCommitted = errors.New("replication: compaction beyond the commit index")
)

// LogOptions configure a Log. The zero value takes the documented defaults.
type LogOptions struct {
	// SegmentSize is the commitlog segment size (1 GiB). Every replica of a group must use the
	// same one: where a segment ends decides where an end-of-file blank record goes.
	SegmentSize int64
	// RowsPerFile is the number of raftidx rows per file (1 Mi: 32 MiB files), for a new log;
	// an existing log keeps the size it was created with (raftmeta).
	RowsPerFile int64
	// OneFlush makes Append write its raftidx rows out before the commitlog's msync, whose
	// device cache flush then covers them, instead of msyncing the raftidx after the commitlog:
	// one flush per append instead of two (see Log, Durability). Off by default: measured on a
	// shared 2-vCPU machine it halved the sync calls and shortened a single send's round, but
	// did not raise RF=3 throughput (docs/BENCHMARKS.md, "Session 5"). Only for file systems
	// whose fsync always flushes the device cache (ext4, XFS).
	OneFlush bool
	// FS is the file system of the commitlog and raftidx files (nil: the real one); tests pass
	// a vfs.PowerLossFS.
	FS vfs.FS
}

func (o LogOptions) withDefaults() LogOptions {
	if o.SegmentSize == 0 {
		o.SegmentSize = 1 << 30
	}
	if o.RowsPerFile == 0 {
		o.RowsPerFile = 1 << 20
	}
	return o
}

// Log is the Raft log of a replica kept in a RocketMQ commitlog: the Storage of a replica.
//
// Layout under its directory:
//
//	commitlog/<20-digit offset>   segments in RocketMQ's format, nothing but records and blanks
//	raftidx/<20-digit offset>     one 32-byte row per entry (raftidx.go)
//	hardstate                     term, vote, commit (hardstate.go)
//	raftmeta                      base index, ConfState, configuration entries (meta.go)
//
// A normal entry's data is a run of whole encoded records (message.AppendRecord), as the leader
// proposed them. Every replica appends them at its own write position and patches each record's
// PHYSICALOFFSET (that position) and QUEUEOFFSET (the next offset of its topic queue in the
// table of the log's tail); both are functions of the log prefix, and every other byte was fixed
// by the leader (store timestamp and hosts included), so replicas holding the same entries hold
// byte-identical commitlogs, and a record's msgId, consume-queue unit and commitLogOffset are
// the same on every replica. An entry never spans segments: when it does not fit what is left of
// the current one, the segment is closed with a blank record, as the commitlog does.
//
// Durability: Append writes records then rows, then msyncs the commitlog, then the raftidx, and
// returns only then. With LogOptions.OneFlush it instead writes the new raftidx rows back to the
// device (sync_file_range, waiting for the writes: mapped.Queue.WriteOut), then msyncs the
// commitlog. One device cache flush per append: the commitlog's msync ends with a
// flush of the device's write cache, which makes every write completed before it durable, the
// rows included — so one round costs one flush, not two (the three replicas of a group on one
// disk wait for each other's flushes). This holds only where writing the rows back needs no
// metadata change, which only the raftidx's own fsync would commit: the raftidx files have a
// fixed size, and the rows must land in blocks that already hold durably written data, not in
// the fallocated (unwritten) extents of a new file, whose first write-back converts the extent.
// So the first append that writes into a raftidx page no earlier msync covered (a page of a new
// file, or the page a truncation zeroed: ZeroFrom makes zeroed extents unwritten again) msyncs
// the raftidx after the commitlog instead, as does an append that wrote no records (the commitlog
// has nothing to msync, so no flush would follow); with 128 rows a page that is one append in
// many. (Zero-filling each raftidx file when it is created would also give written extents, at
// the cost of writing every file twice and of a format flag for the files of older logs; the
// first-write msync needs neither.) The commitlog and raftidx directories must be on one file
// system (checked at open; otherwise Append msyncs both).
//
// A row may still reach the disk before its records (the kernel's own writeback, or a power loss
// between the write-out and the flush); recovery covers that by verifying the records of every
// entry past the commit index and truncating at the first entry that does not verify.
//
// Truncation: Raft only replaces uncommitted entries. Append given an entry at index i <= LastIndex
// truncates the commitlog to the end of entry i-1 (zeroing the tail, removing later segments and
// so also the blank record a rolled entry left), the raftidx to row i, and resets the queue table
// to the smallest queue offset each truncated record held (the table's value before it).
//
// Methods are safe for concurrent use; the replica calls them from its goroutine.
type Log struct {
	dir  string
	opts LogOptions

	commitlog *mapped.Queue
	raftidx   *mapped.Queue
	hard      *hardStateFile

	// compactMu serialises Compact calls (which hold mu in batches).
	compactMu sync.Mutex
	// appendMu serialises Append (which syncs with mu released) with Close.
	appendMu sync.Mutex
	// oneFlush: Append makes its rows durable with the commitlog's flush (Durability above).
	oneFlush bool

	// mu guards every field below and serialises writes.
	mu     sync.Mutex
	resets uint64 // snapshots installed (a Compact in progress gives up when it moves)
	meta   logMeta
	last   uint64 // last index (meta.First-1 when empty)
	end    int64  // commitlog offset one past the last entry's records
	hs     *pb.HardState
	queues map[queueKey]int64 // next queue offset of each topic queue at the log's tail
	closed bool

	// snapshotExtra, when set, supplies the application state sent with a snapshot.
	snapshotExtra func() ([]byte, error)
}

type queueKey struct {
	topic   string
	queueID int32
}

var _ Storage = (*Log)(nil)

// OpenLog opens (creating) the replicated log in dir and recovers its tail.
func OpenLog(dir string, opts LogOptions) (*Log, error) {
	opts = opts.withDefaults()
	if opts.SegmentSize < 64<<10 || opts.RowsPerFile <= 0 {
		return nil, fmt.Errorf("replication: invalid LogOptions %+v", opts)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	meta, ok, err := readMeta(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if !ok {
		meta = logMeta{First: 1, SegmentSize: opts.SegmentSize, RowsPerFile: opts.RowsPerFile}
		if err := writeMeta(dir, &meta); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStorage, err)
		}
	}
	// The raftidx files keep the size they were created with.
	opts.RowsPerFile = meta.RowsPerFile
	if opts.RowsPerFile == 0 {
		opts.RowsPerFile = 1 << 20
	}
	if meta.SegmentSize != opts.SegmentSize {
		return nil, fmt.Errorf("%w: %s has %d, options say %d", ErrSegmentSize, dir, meta.SegmentSize, opts.SegmentSize)
	}
	l := &Log{dir: dir, opts: opts, meta: meta, queues: map[queueKey]int64{}}
	if l.commitlog, err = mapped.OpenQueue(filepath.Join(dir, "commitlog"), mapped.QueueOptions{FileSize: opts.SegmentSize, Preallocate: true, FS: opts.FS}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if l.raftidx, err = mapped.OpenQueue(filepath.Join(dir, "raftidx"), mapped.QueueOptions{FileSize: opts.RowsPerFile * RowSize, FS: opts.FS}); err != nil {
		l.commitlog.Close()
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	l.oneFlush = opts.OneFlush && sameDevice(l.commitlog.Dir(), l.raftidx.Dir())
	if l.hard, l.hs, err = openHardState(filepath.Join(dir, "hardstate")); err == nil {
		err = syncDir(dir)
	}
	if err == nil {
		err = l.recover()
	}
	if err != nil {
		l.closeFiles()
		return nil, fmt.Errorf("%w: open %s: %w", ErrStorage, dir, err)
	}
	return l, nil
}

// recover finds the last entry whose row and data are intact, truncates both files after
// it and rebuilds the queue table. It refuses (ErrDamaged) a log that would lose an entry it
// had committed or acknowledged.
func (l *Log) recover() error {
	l.last = l.meta.First - 1
	l.end = l.meta.StartPhys
	// Every row is checked (CRC) and every entry's data against its row's DATACRC (the queue
	// table rebuild below reads every record anyway; CRC32-C is hardware-accelerated). Records
	// are also decoded (magic, sizes, body CRC, own offset) past the commit index, where the
	// kernel may have written a row back without its records, and in the two newest segments,
	// where a damaged tail of a stopped replica shows (as RocketMQ's recovery checks the newest
	// files).
	segs := l.commitlog.Files()
	verifyPhys := int64(0)
	if len(segs) >= 2 {
		verifyPhys = segs[len(segs)-2].FromOffset()
	}
	commit := l.hs.GetCommit()
	// why says where and why the intact log ends: the evidence a refusal reports.
	var why string
	for i := l.meta.First; ; i++ {
		r, ok := l.readRowLocked(i)
		switch {
		case !ok:
			why = fmt.Sprintf("raftidx row %d is unwritten or torn", i)
		case r.phys < l.end:
			why = fmt.Sprintf("raftidx row %d puts its records at %d, before the end %d of entry %d", i, r.phys, l.end, i-1)
		case r.size > 0 && r.end() > l.commitlog.MaxOffset():
			why = fmt.Sprintf("entry %d's records [%d, %d) run past the commitlog's files (%d)", i, r.phys, r.end(), l.commitlog.MaxOffset())
		}
		if why != "" {
			break
		}
		if _, err := l.entryDataLocked(i, r); err != nil {
			why = err.Error()
			break
		}
		if r.size > 0 && (i >= commit || r.phys >= verifyPhys) {
			if err := l.scanRecordsLocked(r, true, nil); err != nil {
				why = fmt.Sprintf("entry %d: %v", i, err)
				break
			}
		}
		l.last, l.end = i, r.end()
	}
	if commit > l.last {
		// Committed entries were damaged (a truncated or bit-flipped minority). The leader still
		// counts them as this replica's (its match index), and etcd raft stops a follower told
		// to commit what it lacks; truncating here would also destroy the evidence. Refuse.
		return fmt.Errorf("%w: entries up to %d are committed but the log is intact only up to %d (commitlog offset %d; %s): "+
			"re-seed this replica from a healthy one (its commitlog, raftidx and raftmeta; keep its own hardstate)",
			ErrDamaged, commit, l.last, l.end, why)
	}
	if acked, ackTerm := l.hard.acked, l.hard.ackTerm; acked > l.last && l.lastTermLocked() <= ackTerm {
		// This replica told a leader it holds entries up to acked: the leader counts them
		// (its match index) and will tell it to commit them, which etcd raft cannot survive
		// (tocommit out of range). A log whose last entry is of a later term than the
		// acknowledgement was replaced since (re-seeded from a newer leader): the
		// acknowledgement is void.
		return fmt.Errorf("%w: entries up to %d were acknowledged to the leader of term %d but the log is intact only up to %d "+
			"(commitlog offset %d; %s): re-seed this replica from a healthy one (its commitlog, raftidx and raftmeta; keep its own hardstate)",
			ErrDamaged, acked, ackTerm, l.last, l.end, why)
	}
	if err := l.commitlog.Truncate(l.end); err != nil {
		return err
	}
	if err := l.raftidx.Truncate(int64(l.last+1) * RowSize); err != nil {
		return err
	}
	for idx := range l.meta.Conf {
		if idx > l.last {
			delete(l.meta.Conf, idx)
		}
	}
	// The queue table: the base's (the table at entry First-1), then a scan of every retained
	// record.
	for _, q := range l.meta.BaseQueues {
		l.queues[queueKey{q.Topic, q.QueueID}] = q.Next
	}
	for i := l.meta.First; i <= l.last; i++ {
		r, _ := l.readRowLocked(i)
		if r.size == 0 {
			continue
		}
		if err := l.scanRecordsLocked(r, false, func(rec *message.Record) {
			if getsQueueOffset(rec.SysFlag) {
				l.queues[queueKey{string(rec.Topic), rec.QueueID}] = rec.QueueOffset + 1
			}
		}); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
	}
	return nil
}

// lastTermLocked is the term of the last entry (of the base when the log is empty).
func (l *Log) lastTermLocked() uint64 {
	if l.last < l.meta.First {
		return l.meta.PrevTerm
	}
	r, _ := l.readRowLocked(l.last)
	return r.term
}

// entryDataLocked returns entry i's data as stored (records from the mapping, valid until the
// log changes; a configuration entry's data from raftmeta) after checking it against the row's
// DATACRC. A mismatch is ErrDamaged: the bytes must be neither applied nor sent.
func (l *Log) entryDataLocked(i uint64, r row) ([]byte, error) {
	var b []byte
	switch {
	case r.typ != pb.EntryType_EntryNormal:
		b = l.meta.Conf[i]
	case r.size > 0:
		var err error
		if b, err = l.recordsLocked(r); err != nil {
			return nil, err
		}
	}
	if got := dataCRC(b); got != r.crc {
		return nil, fmt.Errorf("%w: entry %d (term %d, %d bytes at commitlog offset %d) has data CRC %08x, its raftidx row says %08x: "+
			"this replica's log is damaged; re-seed it from a healthy one", ErrDamaged, i, r.term, len(b), r.phys, got, r.crc)
	}
	return b, nil
}

// getsQueueOffset reports whether a record gets a queue offset: normal and committed
// transaction records do; prepared and rollback records get 0 (commitlog's rule).
func getsQueueOffset(sysFlag int32) bool {
	t := message.TransactionType(sysFlag)
	return t == message.TransactionNotType || t == message.TransactionCommitType
}

// readRowLocked reads row i; ok is false when it is absent or invalid.
func (l *Log) readRowLocked(i uint64) (row, bool) {
	off := int64(i) * RowSize
	f := l.raftidx.Find(off)
	if f == nil {
		return row{}, false
	}
	pos := off - f.FromOffset()
	if pos+RowSize > f.WrotePosition() {
		return row{}, false
	}
	return getRow(f.Bytes()[pos : pos+RowSize])
}

// recordsLocked returns the mapped bytes of an entry's records (valid until the log changes).
func (l *Log) recordsLocked(r row) ([]byte, error) {
	f := l.commitlog.Find(r.phys)
	if f == nil {
		return nil, fmt.Errorf("%w: records at %d are not in the commitlog", ErrStorage, r.phys)
	}
	pos := r.phys - f.FromOffset()
	if pos+int64(r.size) > f.WrotePosition() {
		return nil, fmt.Errorf("%w: records at %d+%d run past the commitlog end", ErrStorage, r.phys, r.size)
	}
	return f.Bytes()[pos : pos+int64(r.size)], nil
}

// scanRecordsLocked decodes every record of an entry, checking that each starts where the
// previous ended and holds its own PHYSICALOFFSET.
func (l *Log) scanRecordsLocked(r row, verifyCRC bool, fn func(*message.Record)) error {
	b, err := l.recordsLocked(r)
	if err != nil {
		return err
	}
	var rec message.Record
	for pos := 0; pos < len(b); {
		n, err := message.DecodeRecord(b[pos:], &rec, verifyCRC)
		if err != nil {
			return fmt.Errorf("%w: record at %d: %w", ErrBadEntry, r.phys+int64(pos), err)
		}
		if rec.PhysicalOffset != r.phys+int64(pos) {
			return fmt.Errorf("%w: record at %d says %d", ErrBadEntry, r.phys+int64(pos), rec.PhysicalOffset)
		}
		if fn != nil {
			fn(&rec)
		}
		pos += n
	}
	return nil
}

// MaxEntrySize caps a normal entry's data (a SEND batch is far below it: RocketMQ's
// maxMessageSize is 4 MiB).
const MaxEntrySize = 32 << 20

// CheckEntry reports whether data can be a normal entry of a log with this segment size: a
// non-empty run of whole records, at most MaxEntrySize bytes, that fits a segment with room for
// the blank record.
func CheckEntry(data []byte, segmentSize int64) error {
	if len(data) > MaxEntrySize {
		return fmt.Errorf("%w: %d bytes exceed %d", ErrBadEntry, len(data), MaxEntrySize)
	}
	if int64(len(data))+message.BlankRecordMinSize > segmentSize {
		return fmt.Errorf("%w: %d bytes do not fit a segment of %d", ErrBadEntry, len(data), segmentSize)
	}
	var rec message.Record
	for pos := 0; pos < len(data); {
		n, err := message.DecodeRecord(data[pos:], &rec, false)
		if err != nil {
			return fmt.Errorf("%w: at %d: %w", ErrBadEntry, pos, err)
		}
		pos += n
	}
	return nil
}

// CheckEntry checks proposal data against this log's segment size (see the function
// CheckEntry). A replica refuses a proposal this refuses: once in the log, an entry the storage
// cannot store would stop every replica.
func (l *Log) CheckEntry(data []byte) error { return CheckEntry(data, l.opts.SegmentSize) }

// InitialState implements raft.Storage.
func (l *Log) InitialState() (*pb.HardState, *pb.ConfState, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	hs := &pb.HardState{Term: new(l.hs.GetTerm()), Vote: new(l.hs.GetVote()), Commit: new(l.hs.GetCommit())}
	if l.hs.Term == nil {
		hs = &pb.HardState{}
	}
	// The base is committed (a snapshot's, or compacted: committed entries only). A crash
	// after ApplySnapshot moved it and before the Ready's HardState was written leaves an older
	// commit index, below the first index, which raft refuses to start from.
	if base := l.meta.First - 1; hs.GetCommit() < base {
		hs.Commit = new(base)
	}
	return hs, l.confStateLocked(), nil
}

func (l *Log) confStateLocked() *pb.ConfState {
	return &pb.ConfState{Voters: append([]uint64(nil), l.meta.Voters...), Learners: append([]uint64(nil), l.meta.Learners...)}
}

// Entries implements raft.Storage: entries [lo, hi), at least one, at most about maxSize bytes.
// Data is copied out of the mapping.
func (l *Log) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lo < l.meta.First {
		return nil, raft.ErrCompacted
	}
	if hi > l.last+1 || lo > hi {
		return nil, fmt.Errorf("%w: entries [%d, %d) beyond last index %d", raft.ErrUnavailable, lo, hi, l.last)
	}
	var out []*pb.Entry
	var size uint64
	for i := lo; i < hi; i++ {
		r, ok := l.readRowLocked(i)
		if !ok {
			return nil, fmt.Errorf("%w: raftidx row %d unreadable", ErrStorage, i)
		}
		e := &pb.Entry{Term: new(r.term), Index: new(i), Type: r.typ.Enum()}
		// Checked on every read: these bytes go to followers (and to Apply); a leader whose
		// log was altered must stop, not spread it. etcd raft panics on the error; the Group
		// turns that into a stop with this error (group.go).
		b, err := l.entryDataLocked(i, r)
		if err != nil {
			return nil, err
		}
		switch {
		case r.typ != pb.EntryType_EntryNormal:
			e.Data = b
		case r.size > 0:
			e.Data = append([]byte(nil), b...)
		}
		size += uint64(len(e.Data)) + 24
		if len(out) > 0 && size > maxSize {
			break
		}
		out = append(out, e)
	}
	return out, nil
}

// Term implements raft.Storage.
func (l *Log) Term(i uint64) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case i == l.meta.First-1:
		return l.meta.PrevTerm, nil
	case i < l.meta.First:
		return 0, raft.ErrCompacted
	case i > l.last:
		return 0, raft.ErrUnavailable
	}
	r, ok := l.readRowLocked(i)
	if !ok {
		return 0, fmt.Errorf("%w: raftidx row %d unreadable", ErrStorage, i)
	}
	return r.term, nil
}

// LastIndex implements raft.Storage.
func (l *Log) LastIndex() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last, nil
}

// FirstIndex implements raft.Storage.
func (l *Log) FirstIndex() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.meta.First, nil
}

// SetHardState implements Storage.
func (l *Log) SetHardState(st *pb.HardState) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if err := l.hard.set(st); err != nil {
		return err
	}
	l.hs = &pb.HardState{Term: new(st.GetTerm()), Vote: new(st.GetVote()), Commit: new(st.GetCommit())}
	return nil
}

// SetConfState stores the configuration that applying a configuration change produced.
func (l *Log) SetConfState(cs *pb.ConfState) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.meta.Voters = append([]uint64(nil), cs.GetVoters()...)
	l.meta.Learners = append([]uint64(nil), cs.GetLearners()...)
	return writeMeta(l.dir, &l.meta)
}

// Append implements Storage: it truncates a conflicting suffix, appends and patches the
// entries' records and rows, and returns once both files are synced.
//
// The syncs run with the log unlocked (appends are serialised by appendMu), so the replica's
// goroutine reads the log (Term, Entries, EntryRecords) while its append goroutine waits for
// the disk: a row and its records are readable once written, before they are durable; the
// replica acknowledges them only after Append returns.
func (l *Log) Append(entries []*pb.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	confChanged, err := l.writeEntries(entries)
	if err != nil {
		return err
	}
	if err := l.syncAppended(); err != nil {
		return err
	}
	if confChanged {
		l.mu.Lock()
		defer l.mu.Unlock()
		return writeMeta(l.dir, &l.meta)
	}
	return nil
}

// syncAppended makes what writeEntries wrote durable: the rows written out, then the commitlog's
// msync, whose device cache flush covers them; or two msyncs (Durability above).
func (l *Log) syncAppended() error {
	if l.oneFlush {
		rows, ok, err := l.raftidx.WriteOut()
		if err != nil {
			return err
		}
		if ok {
			_, msyncs, err := l.commitlog.FlushCount()
			if err != nil {
				return err
			}
			if msyncs > 0 {
				// The flush began after the rows' writes completed.
				l.raftidx.MarkFlushed(rows)
				return nil
			}
		}
	}
	if _, err := l.commitlog.Flush(); err != nil {
		return err
	}
	_, err := l.raftidx.Flush()
	return err
}

// sameDevice reports whether two directories are on one file system (one device's flush covers
// both).
func sameDevice(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA != nil || errB != nil {
		return false
	}
	da, okA := sa.Sys().(*syscall.Stat_t)
	db, okB := sb.Sys().(*syscall.Stat_t)
	return okA && okB && da.Dev == db.Dev
}

// writeEntries is Append's part under the lock: truncation, records, rows.
func (l *Log) writeEntries(entries []*pb.Entry) (confChanged bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false, ErrClosed
	}
	first := entries[0].GetIndex()
	if first < l.meta.First {
		return false, fmt.Errorf("%w: append at %d below the first index %d", ErrStorage, first, l.meta.First)
	}
	if first > l.last+1 {
		return false, fmt.Errorf("%w: append at %d leaves a gap after %d", ErrStorage, first, l.last)
	}
	if first <= l.last {
		if err := l.truncateLocked(first); err != nil {
			return false, err
		}
	}
	for _, e := range entries {
		r := row{phys: l.end, term: e.GetTerm(), typ: e.GetType()}
		switch {
		case e.GetType() != pb.EntryType_EntryNormal:
			if l.meta.Conf == nil {
				l.meta.Conf = map[uint64][]byte{}
			}
			l.meta.Conf[e.GetIndex()] = append([]byte(nil), e.Data...)
			r.crc = dataCRC(e.Data)
			confChanged = true
		case len(e.Data) > 0:
			var err error
			if r, err = l.appendRecordsLocked(e); err != nil {
				return false, err
			}
		}
		if err := l.putRowLocked(e.GetIndex(), r); err != nil {
			return false, err
		}
		l.last, l.end = e.GetIndex(), r.end()
	}
	return confChanged, nil
}

// appendRecordsLocked copies e's records at the write position (rolling to a new segment
// first when they do not fit) and patches each one's offsets.
func (l *Log) appendRecordsLocked(e *pb.Entry) (row, error) {
	n := len(e.Data)
	if err := CheckEntry(e.Data, l.opts.SegmentSize); err != nil {
		return row{}, fmt.Errorf("entry %d: %w", e.GetIndex(), err)
	}
	f, err := l.commitlog.LastOrCreate(l.end)
	if err != nil {
		return row{}, err
	}
	if at := f.FromOffset() + f.WrotePosition(); at < l.end && l.end < f.FromOffset()+f.Size() {
		// The first segment of a log that starts at a snapshot's offset: nothing below it.
		f.SetWrotePosition(l.end - f.FromOffset())
	}
	if f.Remaining() < int64(n)+message.BlankRecordMinSize {
		if rest := f.Remaining(); rest > 0 {
			message.AppendBlankRecord(f.Reserve(int(rest))[:0], int(rest))
			f.Publish(int(rest))
		}
		if f, err = l.commitlog.Roll(0); err != nil {
			return row{}, err
		}
	}
	phys := f.FromOffset() + f.WrotePosition()
	dst := f.Reserve(n)
	copy(dst, e.Data)
	var rec message.Record
	for pos := 0; pos < n; {
		size, err := message.DecodeRecord(dst[pos:], &rec, false)
		if err != nil {
			return row{}, fmt.Errorf("%w: entry %d: %w", ErrBadEntry, e.GetIndex(), err)
		}
		var queueOffset int64
		if getsQueueOffset(rec.SysFlag) {
			key := queueKey{string(rec.Topic), rec.QueueID}
			queueOffset = l.queues[key]
			l.queues[key] = queueOffset + 1
		}
		message.PatchRecord(dst[pos:pos+size], queueOffset, phys+int64(pos), rec.StoreTimestamp)
		pos += size
	}
	f.Publish(n)
	return row{phys: phys, term: e.GetTerm(), size: int32(n), typ: pb.EntryType_EntryNormal, crc: dataCRC(dst)}, nil
}

func (l *Log) putRowLocked(i uint64, r row) error {
	off := int64(i) * RowSize
	f, err := l.raftidx.LastOrCreate(off)
	if err != nil {
		return err
	}
	if f.FromOffset()+f.WrotePosition() != off {
		// A new log's first file starts at the file boundary below First's row.
		if f.WrotePosition() == 0 && off > f.FromOffset() && off < f.FromOffset()+f.Size() {
			clear(f.Reserve(int(off - f.FromOffset())))
			f.Publish(int(off - f.FromOffset()))
		} else {
			return fmt.Errorf("%w: raftidx row %d at %d, file end at %d", ErrStorage, i, off, f.FromOffset()+f.WrotePosition())
		}
	}
	putRow(f.Reserve(RowSize), r)
	f.Publish(RowSize)
	return nil
}

// truncateLocked drops entries i.. (uncommitted: Raft never replaces committed entries).
func (l *Log) truncateLocked(i uint64) error {
	if i <= l.hs.GetCommit() {
		return fmt.Errorf("%w: truncation at %d below the commit index %d", ErrStorage, i, l.hs.GetCommit())
	}
	if l.hard.acked >= i {
		// The acknowledgements of the replaced entries went to an older leader and are void
		// (had they committed anything, the new leader would not replace it). Synced before
		// the cut: the watermark never claims more than the log holds.
		if err := l.hard.setAcked(i-1, l.hs.GetTerm(), true); err != nil {
			return err
		}
	}
	end := l.meta.StartPhys
	if i > l.meta.First {
		prev, ok := l.readRowLocked(i - 1)
		if !ok {
			return fmt.Errorf("%w: raftidx row %d unreadable", ErrStorage, i-1)
		}
		end = prev.end()
	}
	// The queue table goes back to what it was before entry i: each truncated record held the
	// next queue offset of its queue at its time, so the smallest one per queue is the value.
	for j := i; j <= l.last; j++ {
		r, ok := l.readRowLocked(j)
		if !ok {
			return fmt.Errorf("%w: raftidx row %d unreadable", ErrStorage, j)
		}
		if r.size == 0 {
			continue
		}
		if err := l.scanRecordsLocked(r, false, func(rec *message.Record) {
			if !getsQueueOffset(rec.SysFlag) {
				return
			}
			key := queueKey{string(rec.Topic), rec.QueueID}
			if cur, ok := l.queues[key]; !ok || rec.QueueOffset < cur {
				l.queues[key] = rec.QueueOffset
			}
		}); err != nil {
			return err
		}
	}
	for k, v := range l.queues {
		if v == 0 {
			delete(l.queues, k)
		}
	}
	if err := l.commitlog.Truncate(end); err != nil {
		return err
	}
	if err := l.raftidx.Truncate(int64(i) * RowSize); err != nil {
		return err
	}
	for idx := range l.meta.Conf {
		if idx >= i {
			delete(l.meta.Conf, idx)
		}
	}
	l.last, l.end = i-1, end
	return nil
}

// Acked is the acknowledged watermark: the highest index this replica has told a leader it
// holds, and the term it did so in (hardstate.go).
func (l *Log) Acked() (index, term uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hard.acked, l.hard.ackTerm
}

// SetAcked raises the acknowledged watermark to index (acknowledged in term): the replica calls
// it after the entries are stored and before the response that acknowledges them leaves.
// Acknowledging an index the log does not hold is refused: it would be a promise broken.
func (l *Log) SetAcked(index, term uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if index <= l.hard.acked {
		return nil
	}
	if index > l.last {
		return fmt.Errorf("%w: acknowledging index %d, the log ends at %d", ErrStorage, index, l.last)
	}
	return l.hard.setAcked(index, term, false)
}

// CommitlogDir is the directory of the log's commitlog segments.
func (l *Log) CommitlogDir() string { return l.commitlog.Dir() }

// End is the commitlog offset one past the last entry's records.
func (l *Log) End() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.end
}

// QueueOffset is the next queue offset of a topic queue at the log's tail.
func (l *Log) QueueOffset(topic string, queueID int32) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.queues[queueKey{topic, queueID}]
}

// EntryRecords calls fn with the records of entry i as stored (patched), while the log cannot
// change; fn must not keep the slice. It reports the entry's commitlog offset.
func (l *Log) EntryRecords(i uint64, fn func(phys int64, records []byte)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i < l.meta.First || i > l.last {
		return fmt.Errorf("%w: entry %d not in [%d, %d]", raft.ErrUnavailable, i, l.meta.First, l.last)
	}
	r, ok := l.readRowLocked(i)
	if !ok {
		return fmt.Errorf("%w: raftidx row %d unreadable", ErrStorage, i)
	}
	var b []byte
	if r.size > 0 {
		var err error
		if b, err = l.entryDataLocked(i, r); err != nil {
			return err
		}
	}
	fn(r.phys, b)
	return nil
}

// EntryInfo reports entry i's term and type from its row, without reading its data.
func (l *Log) EntryInfo(i uint64) (uint64, pb.EntryType, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i < l.meta.First || i > l.last {
		return 0, 0, fmt.Errorf("%w: entry %d not in [%d, %d]", raft.ErrUnavailable, i, l.meta.First, l.last)
	}
	r, ok := l.readRowLocked(i)
	if !ok {
		return 0, 0, fmt.Errorf("%w: raftidx row %d unreadable", ErrStorage, i)
	}
	return r.term, r.typ, nil
}

// Close closes the files. Later calls return ErrClosed.
func (l *Log) Close() error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	return l.closeFiles()
}

func (l *Log) closeFiles() error {
	err := l.commitlog.Close()
	if e := l.raftidx.Close(); err == nil {
		err = e
	}
	if l.hard != nil {
		if e := l.hard.close(); err == nil {
			err = e
		}
	}
	return err
}
