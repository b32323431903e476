package replication

import (
	"encoding/json"
	"fmt"
	"slices"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/mqstore/mqstore/message"
)

// Retention and snapshots.
//
// Compact(i) makes entries up to i unavailable and deletes the commitlog segments and raftidx
// files that hold nothing at or after entry i+1: retention of a replicated log. The caller
// compacts only what every replica has (the leader's slowest follower's match index), or
// accepts that a replica behind it is brought up by a snapshot.
//
// A snapshot is metadata, never the log's bytes: {the base (index, term, ConfState), the
// commitlog offset where the next entry goes, the queue table there, and the application's
// state (the Dispatcher's config table)}. A replica that installs one drops its whole log and
// starts an empty one at that offset: its first segment is named by the segment boundary below
// it, as RocketMQ's slaves that sync from the master's last file do, and holds zeros below
// the offset. History before it is absent on that replica, as if retention had removed it;
// everything after is byte-identical to the other replicas, because offsets and queue offsets
// continue from the snapshot's.

// snapshotData is the Data of a snapshot, JSON.
type snapshotData struct {
	StartPhys int64           `json:"startPhys"`
	Queues    []QueueNext     `json:"queues,omitempty"`
	Extra     json.RawMessage `json:"extra,omitempty"`
}

// SnapshotState is what a snapshot's Data carries (Options.Restore receives it encoded).
type SnapshotState struct {
	// StartPhys is the commitlog offset where the entry after the snapshot goes.
	StartPhys int64
	// Queues is the next queue offset of every topic queue there.
	Queues []QueueNext
	// Extra is the application's state (Log.SetSnapshotExtra), nil when none.
	Extra []byte
}

// DecodeSnapshot decodes a snapshot's Data.
func DecodeSnapshot(data []byte) (SnapshotState, error) {
	var d snapshotData
	if err := json.Unmarshal(data, &d); err != nil {
		return SnapshotState{}, fmt.Errorf("%w: snapshot data: %w", ErrCorruptEntry, err)
	}
	return SnapshotState{StartPhys: d.StartPhys, Queues: d.Queues, Extra: d.Extra}, nil
}

// SetSnapshotExtra makes f supply the application state sent with every snapshot (the
// Dispatcher's SnapshotExtra). f runs on the replica's goroutine.
func (l *Log) SetSnapshotExtra(f func() ([]byte, error)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.snapshotExtra = f
}

// Snapshot implements raft.Storage: the base of the log (raft asks for it when a follower needs
// entries below FirstIndex).
func (l *Log) Snapshot() (*pb.Snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	data := snapshotData{StartPhys: l.meta.StartPhys, Queues: l.meta.BaseQueues}
	if l.snapshotExtra != nil && l.meta.First > 1 {
		extra, err := l.snapshotExtra()
		if err != nil {
			return nil, fmt.Errorf("%w: snapshot: %w", ErrStorage, err)
		}
		data.Extra = extra
	}
	b, err := json.Marshal(&data)
	if err != nil {
		return nil, err
	}
	return &pb.Snapshot{Data: b, Metadata: &pb.SnapshotMetadata{Index: new(l.meta.First - 1),
		Term: new(l.meta.PrevTerm), ConfState: l.confStateLocked()}}, nil
}

// BaseQueues is the queue table at the log's base: the next queue offset of every topic queue
// where the first entry after the base (a snapshot's, or the last compacted entry's) goes.
func (l *Log) BaseQueues() []QueueNext {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.meta.BaseQueues)
}

// Compact drops entries up to index (which must be committed) and deletes the files that hold
// only them.
//
// The queue table at index is the base's carried forward over the compacted entries' records:
// a pass over what is deleted, not over what is kept, and in batches of compactBatch entries
// between which the log is unlocked, so appends do not wait for it (the compacted entries are
// committed: nothing but a snapshot, which makes the compaction moot, changes them meanwhile).
func (l *Log) Compact(index uint64) error {
	l.compactMu.Lock()
	defer l.compactMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if index < l.meta.First {
		l.mu.Unlock()
		return nil
	}
	if index > l.hs.GetCommit() || index > l.last {
		l.mu.Unlock()
		return fmt.Errorf("%w: %d, commit %d", ErrCompactCommitted, index, l.hs.GetCommit())
	}
	base := map[queueKey]int64{}
	for _, q := range l.meta.BaseQueues {
		base[queueKey{q.Topic, q.QueueID}] = q.Next
	}
	first, resets := l.meta.First, l.resets
	l.mu.Unlock()
	for j := first; j <= index; {
		l.mu.Lock()
		if l.closed || l.resets != resets {
			l.mu.Unlock()
			return nil
		}
		for n := 0; n < compactBatch && j <= index; n, j = n+1, j+1 {
			rj, ok := l.readRowLocked(j)
			if !ok {
				l.mu.Unlock()
				return fmt.Errorf("%w: raftidx row %d unreadable", ErrStorage, j)
			}
			if rj.size == 0 {
				continue
			}
			if err := l.scanRecordsLocked(rj, false, func(rec *message.Record) {
				if getsQueueOffset(rec.SysFlag) {
					base[queueKey{string(rec.Topic), rec.QueueID}] = rec.QueueOffset + 1
				}
			}); err != nil {
				l.mu.Unlock()
				return err
			}
		}
		l.mu.Unlock()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.resets != resets {
		return nil
	}
	r, ok := l.readRowLocked(index)
	if !ok {
		return fmt.Errorf("%w: raftidx row %d unreadable", ErrStorage, index)
	}
	meta := l.meta
	meta.First, meta.PrevTerm, meta.StartPhys = index+1, r.term, r.end()
	meta.BaseQueues = tableRows(base)
	meta.SnapshotExtra = nil // the base is no longer the snapshot's
	meta.Conf = map[uint64][]byte{}
	for i, d := range l.meta.Conf {
		if i > index {
			meta.Conf[i] = d
		}
	}
	if err := writeMeta(l.dir, &meta); err != nil {
		return err
	}
	l.meta = meta
	// Segments end where the records kept begin: the first entry after index that has records
	// (an entry that did not fit the end of a segment starts the next one, and the segment it
	// left, holding only compacted records and a blank, goes too).
	keep := r.end()
	for j := index + 1; j <= l.last; j++ {
		if rj, ok := l.readRowLocked(j); ok && rj.size > 0 {
			keep = rj.phys
			break
		}
	}
	seg := l.opts.SegmentSize
	if _, err := l.commitlog.DeleteBelow(keep-keep%seg, 0); err != nil {
		return err
	}
	rowFile := l.opts.RowsPerFile * RowSize
	firstRow := int64(meta.First) * RowSize
	_, err := l.raftidx.DeleteBelow(firstRow-firstRow%rowFile, 0)
	return err
}

// compactBatch is how many entries Compact reads per hold of the log's lock.
const compactBatch = 1024

func tableRows(t map[queueKey]int64) []QueueNext {
	rows := make([]QueueNext, 0, len(t))
	for k, v := range t {
		if v > 0 {
			rows = append(rows, QueueNext{Topic: k.topic, QueueID: k.queueID, Next: v})
		}
	}
	slices.SortFunc(rows, func(a, b QueueNext) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.QueueID - b.QueueID)
	})
	return rows
}

// ApplySnapshot implements Storage: it drops the whole log and starts an empty one at the
// snapshot's base.
func (l *Log) ApplySnapshot(snap *pb.Snapshot) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	md := snap.GetMetadata()
	var data snapshotData
	if err := json.Unmarshal(snap.GetData(), &data); err != nil {
		return fmt.Errorf("%w: snapshot data: %w", ErrCorruptEntry, err)
	}
	if md.GetIndex() < l.meta.First && md.GetIndex() <= l.last {
		return raft.ErrSnapOutOfDate
	}
	meta := l.meta
	meta.First, meta.PrevTerm, meta.StartPhys = md.GetIndex()+1, md.GetTerm(), data.StartPhys
	meta.BaseQueues = data.Queues
	meta.SnapshotExtra = data.Extra
	meta.Voters = slices.Clone(md.GetConfState().GetVoters())
	meta.Learners = slices.Clone(md.GetConfState().GetLearners())
	meta.Conf = nil
	// The watermark down to the base (synced: the old log's acknowledgements went to an older
	// leader, or are covered by the snapshot), then the new base with the snapshot's
	// application state (one atomic write): a crash from here on reopens an empty log at it, and
	// the application restores that state at its next start (InstalledSnapshot).
	if l.hard.acked > md.GetIndex() {
		if err := l.hard.setAcked(md.GetIndex(), md.GetTerm(), true); err != nil {
			return err
		}
	}
	if err := writeMeta(l.dir, &meta); err != nil {
		return err
	}
	l.meta = meta
	l.resets++
	if err := l.resetFilesLocked(); err != nil {
		return err
	}
	l.last, l.end = meta.First-1, meta.StartPhys
	l.queues = map[queueKey]int64{}
	for _, q := range meta.BaseQueues {
		l.queues[queueKey{q.Topic, q.QueueID}] = q.Next
	}
	return nil
}

// InstalledSnapshot returns the snapshot the log's base was installed from (its index and state,
// Extra included), ok false when the base is a new log's or a compaction's. Options.Restore
// runs after the log accepted a snapshot: an application that finds, at its next start, that it
// did not finish restoring one (its own state is older than the base) restores it from here.
func (l *Log) InstalledSnapshot() (index uint64, state SnapshotState, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.meta.SnapshotExtra == nil {
		return 0, SnapshotState{}, false
	}
	return l.meta.First - 1, SnapshotState{StartPhys: l.meta.StartPhys, Queues: slices.Clone(l.meta.BaseQueues),
		Extra: slices.Clone([]byte(l.meta.SnapshotExtra))}, true
}

// resetFilesLocked deletes every commitlog segment and raftidx file, keeping both queues (a
// store reads the commitlog queue: Segments).
func (l *Log) resetFilesLocked() error {
	if err := l.commitlog.Reset(); err != nil {
		return err
	}
	return l.raftidx.Reset()
}
