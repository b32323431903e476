package store

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/mqstore/mqstore/commitlog"
	"github.com/mqstore/mqstore/consumequeue"
	"github.com/mqstore/mqstore/index"
	"github.com/mqstore/mqstore/internal/vfs"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/txn"
)

// Store is the embeddable message store. All methods are safe for concurrent use.
type Store struct {
	dir  string
	opts Options

	lock      *os.File
	commitLog *commitlog.CommitLog
	queues    *consumequeue.Table
	index     *index.Index                // nil when DisableIndex
	txn       atomic.Pointer[txn.Service] // replaced by ReopenTransactions (replicated.go)
	txnOpts   txn.Options
	txnGen    int           // ReopenTransactions calls (serialised by its caller)
	timer     *timerService // timer messages and delay levels (timer.go)

	// dispatched is the commitlog offset up to which records have queue units and index entries.
	dispatched atomic.Int64
	// checkpointed is the dispatched offset the last checkpoint recorded.
	checkpointed atomic.Int64
	// dispatchRunMu serialises dispatch passes with RestartAt (replicated.go).
	dispatchRunMu sync.Mutex
	// lastDispatchedTimestamp is the store time of the last dispatched record.
	lastDispatchedTimestamp atomic.Int64
	// dispatchMu guards dispatchRound, closed after each dispatch pass to wake WaitDispatched.
	dispatchMu    sync.Mutex
	dispatchRound chan struct{}
	// dispatchErr holds the first dispatch error (a queue refused a unit): the store then stops
	// accepting puts, since its queues no longer match its log.
	dispatchErr atomic.Pointer[error]
	// checkpointMu serialises writeCheckpoint (its loop, Close and tests share checkpoint.tmp).
	checkpointMu sync.Mutex
	// flushErr holds the first failed flush of the queues or the index (wrapping
	// ErrFlushFailed); sticky like the commitlog's (see Err).
	flushErr atomic.Pointer[error]

	// diskFull is set by the clean service when usage is above DiskFullRatio.
	diskFull  atomic.Bool
	diskRatio atomic.Uint64 // math.Float64bits of the last measured usage

	recovered RecoveryInfo

	quit chan struct{}
	wg   sync.WaitGroup
	// closing is won by the one Close that does the work; closed is set once puts are refused.
	closing atomic.Bool
	closed  atomic.Bool
	// closeMu makes Close wait for puts in progress.
	closeMu sync.RWMutex
	// replicating counts the goroutines of replicated PutAsync calls (replicated.go).
	replicating sync.WaitGroup
	// replicateSlot is the deadline the replicated puts of the current slot share
	// (replicateContext in replicated.go).
	replicateSlot atomic.Pointer[deadlineSlot]
}

// RecoveryInfo says what Open found and did.
type RecoveryInfo struct {
	// Crashed: the abort file was present (the previous run did not close the store).
	Crashed bool
	// CheckpointValid: the checkpoint was readable.
	CheckpointValid bool
	// CommitLogEnd is the end of the valid commitlog after recovery.
	CommitLogEnd int64
	// Redispatched is the number of bytes of commitlog re-dispatched into queues and the index.
	Redispatched int64
	// IndexRebuilt: the index was damaged, set aside (index.corrupt-<ms>) and rebuilt.
	IndexRebuilt bool
	// DispatchedFrom is the commitlog offset re-dispatch started from: every record below it
	// had its queue units and index entries durable (the checkpoint's), or the log's minimum.
	DispatchedFrom int64
}

// Open opens (creating if needed) the store in dir, recovers it and starts its services.
func Open(dir string, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := vfs.MkdirAllSync(opts.FS, filepath.Join(dir, "config"), 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s := &Store{
		dir:           dir,
		opts:          opts,
		dispatchRound: make(chan struct{}),
		quit:          make(chan struct{}),
	}
	if err := s.takeLock(); err != nil {
		return nil, err
	}
	if err := s.recover(); err != nil {
		s.closeParts()
		return nil, err
	}
	// Transactions rebuild their open table from the half and op queues, which recovery has
	// just brought up to date.
	txnOpts := opts.Transactions
	if txnOpts.Dir == "" {
		txnOpts.Dir = filepath.Join(dir, "transaction")
	}
	if txnOpts.Now == nil {
		txnOpts.Now = opts.Now
	}
	if txnOpts.FS == nil {
		txnOpts.FS = opts.FS
	}
	// A replicated group commits a transaction in one entry: restored message and op marker.
	txnOpts.AtomicCommit = txnOpts.AtomicCommit || opts.Replicator != nil
	s.txnOpts = txnOpts
	tx, err := txn.New(txnBackend{s}, txnOpts)
	if err != nil {
		s.closeParts()
		return nil, fmt.Errorf("store: transactions: %w", err)
	}
	s.txn.Store(tx)
	// The abort file marks the store as open: found at the next Open, it means a crash.
	if err := s.createAbortFile(); err != nil {
		s.closeParts()
		return nil, err
	}
	if err := s.openTimer(); err != nil {
		s.closeParts()
		return nil, err
	}
	s.prepareFiles()
	s.measureDisk()
	s.wg.Add(4)
	go s.timer.run()
	go s.dispatchLoop()
	go s.checkpointLoop()
	go s.cleanLoop()
	return s, nil
}

// prepareFiles creates, before the first put, the files a fresh store's first messages would
// otherwise create on their way: the commitlog's first segment (with its successor preallocated
// and its first window warmed in the background) and the first index file. A read-only store
// creates nothing. A failure goes to EventListener.BackgroundError and does not fail Open: the
// put or dispatch that needs the file tries again and reports its own error (a store on a full
// disk still opens, as before).
func (s *Store) prepareFiles() {
	if s.opts.ReadOnly {
		return
	}
	s.backgroundError(s.commitLog.Prepare())
	if s.index != nil {
		if err := s.index.Prepare(); err != nil {
			s.backgroundError(fmt.Errorf("store: prepare the index: %w", err))
		}
	}
}

// PrepareTopic creates the consume queues 0..queues-1 of topic with their first files, so that
// the topic's first messages are dispatched into mapped files instead of creating a directory
// and a file each on the dispatcher, in line with every other record. A broker calls it when it
// creates or updates a topic. Queues that exist are left alone, and a read-only store creates nothing; the files are durable when it
// returns (an empty queue file is recovered as an empty queue).
func (s *Store) PrepareTopic(topic string, queues int32) error {
	if s.closed.Load() {
		return fmt.Errorf("%w: %w", ErrServiceNotAvailable, ErrClosed)
	}
	if err := ValidateTopic(topic, s.opts.MaxTopicLength); err != nil {
		return err
	}
	if queues < 0 {
		return fmt.Errorf("%w: %d queues", ErrMessageIllegal, queues)
	}
	if s.opts.ReadOnly {
		return nil
	}
	if err := s.queues.Prepare(topic, queues); err != nil {
		return fmt.Errorf("store: prepare topic %s: %w", topic, err)
	}
	return nil
}

func (s *Store) abortPath() string { return filepath.Join(s.dir, "abort") }

func (s *Store) checkpointPath() string { return filepath.Join(s.dir, "checkpoint") }

// createAbortFile creates the abort file durably (file and directory entry).
func (s *Store) createAbortFile() error {
	f, err := s.opts.FS.OpenFile(s.abortPath(), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err == nil {
		err = f.Close()
	}
	if err == nil {
		err = s.opts.FS.SyncDir(s.dir)
	}
	if err != nil {
		return fmt.Errorf("store: create abort file: %w", err)
	}
	return nil
}

// removeAbortFile marks a clean shutdown durably.
func (s *Store) removeAbortFile() error {
	err := s.opts.FS.Remove(s.abortPath())
	if err == nil {
		err = s.opts.FS.SyncDir(s.dir)
	}
	if err != nil {
		return fmt.Errorf("store: remove abort file: %w", err)
	}
	return nil
}

// takeLock locks <dir>/lock so a second process cannot open the same store.
func (s *Store) takeLock() error {
	f, err := os.OpenFile(filepath.Join(s.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("store: lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("%w: %s", ErrLocked, s.dir)
		}
		return fmt.Errorf("store: lock %s: %w", s.dir, err)
	}
	f.WriteAt([]byte("lock"), 0)
	s.lock = f
	return nil
}

// recover opens the parts and brings queues and index in line with the commitlog (see
// docs/FORMAT.md, "Recovery").
func (s *Store) recover() error {
	_, statErr := s.opts.FS.Stat(s.abortPath())
	s.recovered.Crashed = statErr == nil

	cp, cpOK, err := readCheckpoint(s.opts.FS, s.checkpointPath())
	if err != nil {
		return err
	}
	s.recovered.CheckpointValid = cpOK

	restart := false // the consume queues restart at the log's base (a replicated store)
	clOpts := s.opts.commitLogOptions()
	clOpts.RecoverFrom = -1
	if cpOK {
		clOpts.RecoverFrom = cp.commitlogFlushed
	}
	if owner, ok := s.opts.Replicator.(LogOwner); ok {
		// Replicated mode over the Raft log's own segments: nothing to recover here (the log
		// did). Visible are the committed entries up to the checkpoint's
		// dispatched, which the owner resumes applying from (what it derived from the entries
		// before is durable: BeforeCheckpoint); without a checkpoint, from the log's base.
		floor, committed := owner.CommitLogBounds()
		if cpOK && cp.dispatchedFlushed < floor {
			// The log starts after what the store dispatched (a replica re-seeded with a
			// compacted log): its queues cannot continue, they restart at the log's base.
			restart = true
			cpOK = false
		}
		visible := floor
		if cpOK {
			visible = min(committed, max(cp.dispatchedFlushed, floor))
		}
		s.commitLog, err = commitlog.OpenView(owner.CommitLogSegments(), floor, visible, clOpts)
	} else {
		s.commitLog, err = commitlog.Open(filepath.Join(s.dir, "commitlog"), clOpts)
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	end := s.commitLog.MaxOffset()
	s.recovered.CommitLogEnd = end

	s.queues, err = consumequeue.OpenTable(filepath.Join(s.dir, "consumequeue"), consumequeue.Options{UnitsPerFile: s.opts.ConsumeQueueUnits, FS: s.opts.FS})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if restart {
		if err := s.restartQueues(s.opts.Replicator.(LogOwner).BaseQueues()); err != nil {
			return fmt.Errorf("store: restart the consume queues at the log's base: %w", err)
		}
	}
	// Units that point past the end of the log describe records lost in the crash.
	if err := s.queues.TruncateAbove(end); err != nil {
		return fmt.Errorf("store: truncate consume queues: %w", err)
	}
	if err := s.queues.SetMinPhysicalOffset(s.commitLog.MinOffset()); err != nil {
		return fmt.Errorf("store: consume queue minimum: %w", err)
	}

	from := s.commitLog.MinOffset()
	if cpOK {
		from = max(from, min(cp.dispatchedFlushed, end))
	}
	if !s.opts.DisableIndex {
		indexDir := filepath.Join(s.dir, "index")
		indexOpts := index.Options{HashSlots: s.opts.IndexHashSlots, MaxEntries: s.opts.IndexMaxEntries, Now: s.opts.Now, FS: s.opts.FS}
		s.index, err = index.Open(indexDir, indexOpts)
		if errors.Is(err, index.ErrCorrupt) {
			// The index is derived data: set the damaged files aside and rebuild it from the
			// commitlog rather than refuse to open the store.
			aside := fmt.Sprintf("%s.corrupt-%d", indexDir, s.opts.Now().UnixMilli())
			rerr := s.opts.FS.Rename(indexDir, aside)
			if rerr == nil {
				rerr = s.opts.FS.SyncDir(s.dir)
			}
			if rerr != nil {
				return fmt.Errorf("store: %w (and moving it aside failed: %w)", err, rerr)
			}
			s.recovered.IndexRebuilt = true
			from = s.commitLog.MinOffset()
			s.index, err = index.Open(indexDir, indexOpts)
		}
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if s.index.MaxPhysicalOffset() > end {
			// Index entries for records the crash took: unlink them (cost proportional to the
			// entries removed) and rebuild the index from where it now ends.
			if err := s.index.TruncateFrom(end); err != nil {
				return fmt.Errorf("store: truncate index: %w", err)
			}
		}
		// The checkpoint's dispatched offset covers the index too: it is flushed before the
		// checkpoint is written. Re-indexing what it already holds is skipped by the index.
	}

	// Re-dispatch what the queues and the index may lack. Both skip what they already hold.
	s.dispatched.Store(from)
	if err := s.dispatchAvailable(); err != nil {
		return err
	}
	s.recovered.Redispatched = end - from
	s.recovered.DispatchedFrom = from
	s.checkpointed.Store(from)

	// Rebuild the queue-offset table from the queues.
	s.queues.Range(func(q *consumequeue.ConsumeQueue) bool {
		s.commitLog.SetQueueOffset(q.Topic(), q.QueueID(), q.MaxOffset())
		return true
	})
	return nil
}

// Recovery reports what Open found and did.
func (s *Store) Recovery() RecoveryInfo { return s.recovered }

// Dir returns the store's root directory.
func (s *Store) Dir() string { return s.dir }

// Options returns the effective options.
func (s *Store) Options() Options { return s.opts }

// PutResult describes a stored message.
type PutResult struct {
	Status         PutStatus
	MsgID          string // offset message id: store host + physical offset (empty from PutWithoutMsgID)
	QueueID        int32
	QueueOffset    int64
	PhysicalOffset int64
	Size           int32
	StoreTimestamp int64

	storeHost netip.AddrPort // the record's store host, for AppendMsgID
}

// AppendMsgID appends the offset message id (MsgID's text) to dst without allocating. Only for
// a result with a stored record (Status PutOK or PutFlushDiskTimeout).
func (r PutResult) AppendMsgID(dst []byte) []byte {
	return message.AppendOffsetMsgID(dst, r.storeHost, r.PhysicalOffset)
}

// Put stores m in its topic queue (m.Topic, m.QueueID). The store stamps StoreHost (when unset)
// and the store time. A non-nil error comes with the matching Status; with ErrFlushTimeout the
// message is stored and the other fields are set.
func (s *Store) Put(m *message.Message) (PutResult, error) { return s.put(m, true) }

// PutWithoutMsgID is Put without formatting the result's MsgID, which stays empty (one string
// allocation less per message): a caller that needs the id appends it with
// PutResult.AppendMsgID. (A replicated store's results have MsgID all the same.)
func (s *Store) PutWithoutMsgID(m *message.Message) (PutResult, error) { return s.put(m, false) }

func (s *Store) put(m *message.Message, withID bool) (PutResult, error) {
	queueID := m.QueueID // a timer record goes to queue 0 of TimerTopic; answer the queue asked for
	if status, err := s.checkPut(m); err != nil {
		return PutResult{Status: status}, err
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed.Load() {
		return PutResult{Status: PutServiceNotAvailable}, fmt.Errorf("%w: %w", ErrServiceNotAvailable, ErrClosed)
	}
	if s.opts.Replicator != nil {
		out, err := s.putReplicated([]*message.Message{m}, []int32{queueID})
		return out[0], err
	}
	res, err := s.commitLog.Append(m)
	if !withID {
		return s.putResultNoID(queueID, res, err)
	}
	return s.putResult(queueID, res, err)
}

// PutAsync stores m like Put without waiting for durability. If m cannot be stored it returns
// the error (with its Status) and never calls done. Otherwise done is called exactly once with
// Put's result: under ASYNC_FLUSH before PutAsync returns, under SYNC_FLUSH once a group commit
// covers the message (or with ErrFlushTimeout), from the flusher's goroutine — done must not block.
func (s *Store) PutAsync(m *message.Message, done func(PutResult, error)) (PutStatus, error) {
	queueID := m.QueueID
	if status, err := s.checkPut(m); err != nil {
		return status, err
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed.Load() {
		return PutServiceNotAvailable, fmt.Errorf("%w: %w", ErrServiceNotAvailable, ErrClosed)
	}
	if s.opts.Replicator != nil {
		s.putAsyncReplicated(m, queueID, done)
		return PutOK, nil
	}
	err := s.commitLog.AppendAsync(m, func(res commitlog.AppendResult, err error) {
		done(s.putResult(queueID, res, err))
	})
	if err != nil {
		out, perr := s.putResult(queueID, commitlog.AppendResult{}, err)
		return out.Status, perr
	}
	return PutOK, nil
}

func (s *Store) putResult(queueID int32, res commitlog.AppendResult, err error) (PutResult, error) {
	out, err := s.putResultNoID(queueID, res, err)
	if out.Status == PutOK || out.Status == PutFlushDiskTimeout {
		out.MsgID = res.MsgID()
	}
	return out, err
}

// putResultNoID is putResult without MsgID.
func (s *Store) putResultNoID(queueID int32, res commitlog.AppendResult, err error) (PutResult, error) {
	out := PutResult{
		QueueID:        queueID,
		QueueOffset:    res.QueueOffset,
		PhysicalOffset: res.PhysicalOffset,
		Size:           res.Size,
		StoreTimestamp: res.StoreTimestamp,
		storeHost:      res.StoreHost,
	}
	switch {
	case err == nil:
	case errors.Is(err, commitlog.ErrFlushTimeout):
		out.Status = PutFlushDiskTimeout
		return out, fmt.Errorf("%w: %w", ErrFlushTimeout, err)
	case errors.Is(err, commitlog.ErrFlush):
		return PutResult{Status: PutUnknownError}, fmt.Errorf("%w: %w", ErrFlushFailed, err)
	case errors.Is(err, commitlog.ErrMessageTooLarge), errors.Is(err, message.ErrTopicTooLong), errors.Is(err, message.ErrRecordTooLarge):
		return PutResult{Status: PutMessageIllegal}, fmt.Errorf("%w: %w", ErrMessageIllegal, err)
	case errors.Is(err, message.ErrPropertiesTooLong):
		return PutResult{Status: PutPropertiesSizeExceeded}, fmt.Errorf("%w: %w", ErrMessageIllegal, err)
	case errors.Is(err, commitlog.ErrClosed):
		return PutResult{Status: PutServiceNotAvailable}, fmt.Errorf("%w: %w", ErrServiceNotAvailable, err)
	default:
		return PutResult{Status: PutUnknownError}, fmt.Errorf("%w: %w", ErrServiceNotAvailable, err)
	}
	return out, nil
}

// PutBatch stores the messages contiguously with one acquisition of the append lock. They may
// go to different queues. Either all are stored or none.
func (s *Store) PutBatch(msgs []*message.Message) ([]PutResult, error) {
	queueIDs := make([]int32, len(msgs))
	for i, m := range msgs {
		queueIDs[i] = m.QueueID
		if status, err := s.checkPut(m); err != nil {
			return []PutResult{{Status: status}}, err
		}
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed.Load() {
		return nil, fmt.Errorf("%w: %w", ErrServiceNotAvailable, ErrClosed)
	}
	if s.opts.Replicator != nil {
		return s.putReplicated(msgs, queueIDs)
	}
	results, err := s.commitLog.AppendBatch(msgs)
	if err != nil && !errors.Is(err, commitlog.ErrFlushTimeout) {
		_, perr := s.putResult(0, commitlog.AppendResult{}, err)
		return nil, perr
	}
	out := make([]PutResult, len(results))
	var firstErr error
	for i, r := range results {
		out[i], firstErr = s.putResult(queueIDs[i], r, err)
	}
	return out, firstErr
}

// checkPut validates a message before it is stored.
func (s *Store) checkPut(m *message.Message) (PutStatus, error) {
	switch {
	case s.closed.Load():
		return PutServiceNotAvailable, fmt.Errorf("%w: %w", ErrServiceNotAvailable, ErrClosed)
	case s.opts.ReadOnly:
		return PutServiceNotAvailable, fmt.Errorf("%w: the store is read-only", ErrServiceNotAvailable)
	case s.diskFull.Load():
		return PutServiceNotAvailable, fmt.Errorf("%w: disk usage %.0f%% is above %.0f%%", ErrServiceNotAvailable, s.DiskUsage()*100, s.opts.DiskFullRatio*100)
	}
	if errp := s.dispatchErr.Load(); errp != nil {
		return PutServiceNotAvailable, fmt.Errorf("%w: dispatch failed: %w", ErrServiceNotAvailable, *errp)
	}
	if errp := s.flushErr.Load(); errp != nil {
		return PutUnknownError, *errp
	}
	if err := s.commitLog.Err(); err != nil {
		return PutUnknownError, fmt.Errorf("%w: %w", ErrFlushFailed, err)
	}
	if err := ValidateTopic(m.Topic, s.opts.MaxTopicLength); err != nil {
		return PutMessageIllegal, err
	}
	if m.QueueID < 0 {
		return PutMessageIllegal, fmt.Errorf("%w: negative queue id %d", ErrMessageIllegal, m.QueueID)
	}
	if len(m.Body) > s.opts.MaxMessageSize {
		return PutMessageIllegal, fmt.Errorf("%w: body of %d bytes exceeds the maximum %d", ErrMessageIllegal, len(m.Body), s.opts.MaxMessageSize)
	}
	if len(m.Properties) > message.MaxPropertiesLength {
		return PutPropertiesSizeExceeded, fmt.Errorf("%w: properties of %d bytes exceed %d", ErrMessageIllegal, len(m.Properties), message.MaxPropertiesLength)
	}
	if status, err := s.prepareTimer(m); err != nil {
		return status, err
	}
	if !m.StoreHost.IsValid() {
		m.StoreHost = s.opts.StoreHost
	}
	return PutOK, nil
}

// ValidateTopic checks a topic name against RocketMQ's rules (TopicValidator): not empty, at most
// maxLength characters, only letters, digits, '%', '|', '-' and '_'.
func ValidateTopic(topic string, maxLength int) error {
	if topic == "" {
		return fmt.Errorf("%w: empty topic", ErrMessageIllegal)
	}
	if len(topic) > maxLength {
		return fmt.Errorf("%w: topic %q is longer than %d characters", ErrMessageIllegal, topic, maxLength)
	}
	for i := 0; i < len(topic); i++ {
		c := topic[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '%' || c == '|' || c == '-' || c == '_') {
			return fmt.Errorf("%w: topic %q has an illegal character %q (allowed: letters, digits, %%, |, -, _)", ErrMessageIllegal, topic, c)
		}
	}
	return nil
}

// Err reports why the store refuses writes, or nil while it is healthy: a failed flush of the
// commitlog, the consume queues or the index (wrapping ErrFlushFailed and the first error, see
// ErrFlushFailed), or a failed dispatch. Such a failure is sticky until the store is reopened;
// the broker reports it in /readyz, a metric and the remark of SYSTEM_ERROR answers.
func (s *Store) Err() error {
	if err := s.commitLog.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrFlushFailed, err)
	}
	if errp := s.flushErr.Load(); errp != nil {
		return *errp
	}
	if errp := s.dispatchErr.Load(); errp != nil {
		return fmt.Errorf("store: dispatch failed: %w", *errp)
	}
	return nil
}

// CommitLog gives embedders and tests direct access to the commitlog (read-only use).
func (s *Store) CommitLog() *commitlog.CommitLog { return s.commitLog }

// Close stops the services, waits for dispatch to catch up, flushes everything, writes the
// checkpoint and removes the abort file, so the next Open is fast. Later calls return ErrClosed.
func (s *Store) Close() error {
	if !s.closing.CompareAndSwap(false, true) {
		return ErrClosed
	}
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	// Transactions first, while puts are still accepted: their op-marker writer appends its
	// last markers on close.
	if tx := s.txn.Load(); tx != nil {
		if err := tx.Close(); !errors.Is(err, txn.ErrClosed) {
			keep(err)
		}
	}
	s.closeMu.Lock()
	s.closed.Store(true)
	s.closeMu.Unlock()
	s.replicating.Wait()
	close(s.quit)
	s.wg.Wait()
	// Final dispatch of anything appended after the dispatcher stopped.
	keep(s.dispatchAvailable())
	keep(s.writeCheckpoint())
	keep(s.timer.close())
	clean := firstErr == nil && s.dispatched.Load() == s.commitLog.MaxOffset()
	keep(s.closeParts())
	if clean {
		keep(s.removeAbortFile())
	}
	return firstErr
}

// closeParts closes what Open opened.
func (s *Store) closeParts() error {
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if s.queues != nil {
		keep(s.queues.Close())
	}
	if s.index != nil {
		keep(s.index.Close())
	}
	if s.commitLog != nil {
		keep(s.commitLog.Close())
	}
	if s.lock != nil {
		keep(s.lock.Close())
	}
	return firstErr
}
