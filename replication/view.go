package replication

import (
	"sort"

	"github.com/mqstore/mqstore/internal/mapped"
)

// The Log's commitlog is a replicated store's commitlog (store.LogOwner): the store reads the
// segments through a view bounded by what is committed and applied, so each record is stored
// once per replica. These methods are what the store and the broker need of the log for that.

// Segments is the log's commitlog segment queue. It is the same object for the Log's life: a
// suffix truncation cuts it, Compact deletes its oldest files and a snapshot empties it, all in
// place, so a reader holding it never keeps a mapping of a deleted file.
func (l *Log) Segments() *mapped.Queue { return l.commitlog }

// Base is the commitlog offset where the log's records start (entry First's offset; 0 for a
// log never compacted; a snapshot's offset for a replica that installed one).
func (l *Log) Base() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.meta.StartPhys
}

// CommittedEnd is the commitlog offset one past the records of the last committed entry the log
// holds.
func (l *Log) CommittedEnd() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := min(l.hs.GetCommit(), l.last)
	if i < l.meta.First {
		return l.meta.StartPhys
	}
	r, ok := l.readRowLocked(i)
	if !ok {
		return l.meta.StartPhys
	}
	return r.end()
}

// IndexAt is the last index whose records all end at or before offset (First-1 when none does):
// a replica whose store dispatched the log up to offset resumes applying after it.
func (l *Log) IndexAt(offset int64) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last < l.meta.First {
		return l.meta.First - 1
	}
	n := int(l.last - l.meta.First + 1)
	// The first entry (from First) whose end is past offset; rows' ends never decrease.
	k := sort.Search(n, func(k int) bool {
		r, ok := l.readRowLocked(l.meta.First + uint64(k))
		return !ok || r.end() > offset
	})
	return l.meta.First + uint64(k) - 1
}

// EntryEnd is the commitlog offset one past entry i's records (ok false when i is not held).
func (l *Log) EntryEnd(i uint64) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i == l.meta.First-1 {
		return l.meta.StartPhys, true
	}
	if i < l.meta.First || i > l.last {
		return 0, false
	}
	r, ok := l.readRowLocked(i)
	return r.end(), ok
}
