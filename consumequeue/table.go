package consumequeue

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/mqstore/mqstore/internal/vfs"
)

// Table holds every consume queue under one root (<root>/<topic>/<queueId>/): loaded and
// recovered at open, created on demand.
//
// Get is lock-free (an atomic snapshot of an immutable map, replaced on every create or delete),
// because every pull calls it; creating and deleting queues is rare and serialised by a mutex.
type Table struct {
	root string
	opts Options

	// mu serialises changes of queues (GetOrCreate, Delete, Close).
	mu sync.Mutex
	// queues is the current immutable map of queues.
	queues atomic.Pointer[map[queueKey]*ConsumeQueue]
	closed atomic.Bool
}

type queueKey struct {
	topic   string
	queueID int32
}

// OpenTable opens every queue directory under root (creating root if needed) and recovers each.
// Directories whose names are not a valid topic and a decimal queue id are ignored.
func OpenTable(root string, opts Options) (*Table, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	fs := vfs.Default(opts.FS)
	if err := vfs.MkdirAllSync(fs, root, 0o755); err != nil {
		return nil, fmt.Errorf("consumequeue: open table: %w", err)
	}
	t := &Table{root: root, opts: opts}
	queues := make(map[queueKey]*ConsumeQueue)
	topics, err := fs.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("consumequeue: open table: %w", err)
	}
	for _, topicEntry := range topics {
		topic := topicEntry.Name()
		if !topicEntry.IsDir() || ValidateTopic(topic) != nil {
			continue
		}
		ids, err := fs.ReadDir(filepath.Join(root, topic))
		if err != nil {
			closeQueues(queues)
			return nil, fmt.Errorf("consumequeue: open table: %w", err)
		}
		for _, idEntry := range ids {
			id, err := strconv.ParseInt(idEntry.Name(), 10, 32)
			if !idEntry.IsDir() || err != nil || id < 0 || strconv.FormatInt(id, 10) != idEntry.Name() {
				continue
			}
			q, err := Open(root, topic, int32(id), opts)
			if err != nil {
				closeQueues(queues)
				return nil, err
			}
			queues[queueKey{topic, int32(id)}] = q
		}
	}
	t.queues.Store(&queues)
	return t, nil
}

func closeQueues(queues map[queueKey]*ConsumeQueue) {
	for _, q := range queues {
		q.Close()
	}
}

// Root returns the table's root directory.
func (t *Table) Root() string { return t.root }

// Get returns the queue, or nil if it does not exist (or the table is closed). It does not lock
// or allocate.
func (t *Table) Get(topic string, queueID int32) *ConsumeQueue {
	return (*t.queues.Load())[queueKey{topic, queueID}]
}

// GetOrCreate returns the queue, creating its directory if it does not exist.
func (t *Table) GetOrCreate(topic string, queueID int32) (*ConsumeQueue, error) {
	if q := t.Get(topic, queueID); q != nil {
		return q, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return nil, ErrClosed
	}
	current := *t.queues.Load()
	if q := current[queueKey{topic, queueID}]; q != nil {
		return q, nil
	}
	q, err := Open(t.root, topic, queueID, t.opts)
	if err != nil {
		return nil, err
	}
	next := make(map[queueKey]*ConsumeQueue, len(current)+1)
	maps.Copy(next, current)
	next[queueKey{topic, queueID}] = q
	t.queues.Store(&next)
	return q, nil
}

// Prepare opens (creating them if needed) the queues 0..queues-1 of topic and gives each one that
// has no file its first file (ConsumeQueue.Prepare), so the topic's first messages are dispatched
// into files that exist. The directories are created first, all of them, then the files, so a
// dispatcher that meets one of these queues early finds it and is held up at most by the one
// file being created. It returns the errors joined; queues prepared before an error stay.
func (t *Table) Prepare(topic string, queues int32) error {
	if queues < 0 {
		return fmt.Errorf("%w: %d queues for topic %q", ErrInvalidName, queues, topic)
	}
	opened := make([]*ConsumeQueue, 0, queues)
	var errs []error
	for id := range queues {
		q, err := t.GetOrCreate(topic, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		opened = append(opened, q)
	}
	for _, q := range opened {
		if err := q.Prepare(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Range calls fn for every queue, ordered by topic and queue id, while fn returns true.
func (t *Table) Range(fn func(q *ConsumeQueue) bool) {
	for _, q := range t.sorted() {
		if !fn(q) {
			return
		}
	}
}

func (t *Table) sorted() []*ConsumeQueue {
	queues := slices.Collect(maps.Values(*t.queues.Load()))
	slices.SortFunc(queues, func(a, b *ConsumeQueue) int {
		if a.topic != b.topic {
			if a.topic < b.topic {
				return -1
			}
			return 1
		}
		return int(a.queueID) - int(b.queueID)
	})
	return queues
}

// Len returns the number of queues.
func (t *Table) Len() int { return len(*t.queues.Load()) }

// MaxPhysicalOffset is the maximum MaxPhysicalOffset over all queues: the commitlog offset from
// which dispatch restarts (0 when no queue has a unit).
func (t *Table) MaxPhysicalOffset() int64 {
	var m int64
	for _, q := range *t.queues.Load() {
		m = max(m, q.MaxPhysicalOffset())
	}
	return m
}

// TruncateAbove calls TruncateAbove(phyOffset) on every queue and returns the errors joined.
func (t *Table) TruncateAbove(phyOffset int64) error {
	var errs []error
	for _, q := range t.sorted() {
		if err := q.TruncateAbove(phyOffset); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SetMinPhysicalOffset calls SetMinPhysicalOffset(phyOffset) on every queue (deleting their files
// wholly below it) and returns the errors joined.
func (t *Table) SetMinPhysicalOffset(phyOffset int64) error {
	_, err := t.SetMinPhysicalOffsetCount(phyOffset)
	return err
}

// SetMinPhysicalOffsetCount is SetMinPhysicalOffset that also returns the number of files deleted.
func (t *Table) SetMinPhysicalOffsetCount(phyOffset int64) (deletedFiles int, err error) {
	var errs []error
	for _, q := range t.sorted() {
		n, err := q.SetMinPhysicalOffset(phyOffset)
		deletedFiles += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return deletedFiles, errors.Join(errs...)
}

// Flush flushes every queue and returns the errors joined.
func (t *Table) Flush() error {
	if t.closed.Load() {
		return ErrClosed
	}
	var errs []error
	for _, q := range t.sorted() {
		if err := q.Flush(); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Delete removes every queue of topic: each is closed and its files deleted (once no reader holds
// them), then the topic's directory is removed.
func (t *Table) Delete(topic string) error {
	if err := ValidateTopic(topic); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return ErrClosed
	}
	current := *t.queues.Load()
	next := make(map[queueKey]*ConsumeQueue, len(current))
	var doomed []*ConsumeQueue
	for k, q := range current {
		if k.topic == topic {
			doomed = append(doomed, q)
		} else {
			next[k] = q
		}
	}
	t.queues.Store(&next)
	var errs []error
	for _, q := range doomed {
		if err := q.Destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	fs := vfs.Default(t.opts.FS)
	if err := fs.RemoveAll(filepath.Join(t.root, topic)); err != nil {
		errs = append(errs, fmt.Errorf("consumequeue: delete topic %s: %w", topic, err))
	} else if err := fs.SyncDir(t.root); err != nil {
		errs = append(errs, fmt.Errorf("consumequeue: delete topic %s: %w", topic, err))
	}
	return errors.Join(errs...)
}

// Close closes every queue; later calls return ErrClosed, and Get returns nil.
func (t *Table) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	current := *t.queues.Load()
	empty := map[queueKey]*ConsumeQueue{}
	t.queues.Store(&empty)
	var errs []error
	for _, q := range current {
		if err := q.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
