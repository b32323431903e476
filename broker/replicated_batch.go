package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/mqstore/mqstore/commitlog"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/replication"
	"github.com/mqstore/mqstore/store"
)

// Proposal batching. Concurrent Replicate calls (one per SEND in flight) are coalesced into
// one Raft entry: an entry is a run of whole records, so the concatenation of the callers' runs
// is one too, and its apply results are the callers' results in order. One entry instead of
// one per SEND means one proposal, one raftidx row, one apply and one wait per batch.
//
// There is no batching goroutine: the replica pulls. A caller queues its run and kicks the
// replica (replication.Group.Kick); whenever the replica has no append in flight, its goroutine
// takes batches from the head of the queue (pullBatch) and proposes them, so everything that
// queued while the previous append synced goes into the next Ready at once (group commit, one
// entry per Ready and class), with no hand-over to a proposing caller in between.
//
// What a batch may hold is fixed by what the apply side derives from a whole entry
// (replicated_state.go: the dedupe table keys an entry by its records, or a transaction's commit
// entry as a whole): only runs of the same class go together, in arrival order:
//   - keyed: every record has a dedupe key and the run is not a commit entry: the concatenation
//     is keyed record by record, exactly as the runs would be one by one;
//   - unkeyed: some record has no key: the concatenation is not keyed, as neither run would be;
//   - alone: a transaction's commit entry (restored message + op marker, keyed as a whole),
//     and any run too large to share an entry: proposed as it was handed over.
//
// A failed entry fails every caller in it the same way (proposeWait's mapping): a retry is safe
// after SERVICE_NOT_AVAILABLE for all of them, and the outcome is unknown for all of them
// otherwise.
type proposalBatcher struct {
	// maxBytes bounds a batch (one run larger than it is proposed alone).
	maxBytes int

	mu    sync.Mutex // guards queue
	queue []*batchCall
}

// maxBatchBytes bounds a batched entry: one MsgApp (replication.Options.MaxSizePerMsg, 1 MiB)
// carries it, and a quarter segment keeps the blank tail it may leave at a segment's end small.
const maxBatchBytes = 1 << 20

func newProposalBatcher(segmentSize int64) *proposalBatcher {
	return &proposalBatcher{maxBytes: int(min(maxBatchBytes, segmentSize/4))}
}

// runClass is which runs may share an entry (see proposalBatcher).
type runClass uint8

const (
	runAlone runClass = iota
	runKeyed
	runUnkeyed
)

// batchCall is one Replicate call's run on its way through a batch.
type batchCall struct {
	run     []byte
	class   runClass
	records int // records in run (0 for an alone run: it gets every result of its entry)

	ready  chan struct{} // closed when batch and first are set
	batch  *entryBatch
	first  int  // index of this run's first record in the entry
	picked bool // taken into a batch (under the batcher's mu)
}

// entryBatch is one proposed entry shared by its callers.
type entryBatch struct {
	err     error // the proposal failed (every caller fails with it)
	index   uint64
	applied <-chan error // the entry's outcome, one value: the caller that receives it finishes

	done    chan struct{} // closed by finish
	res     []commitlog.AppendResult
	records int // records in the entry (0: one alone run)
	waitErr error
}

// classify returns the class of run and its record count; whole and keyed are what entryKeys
// returned for run.
func classify(run []byte, maxBytes int, whole, keyed bool) (runClass, int) {
	if len(run) > maxBytes {
		return runAlone, 0
	}
	n := 0
	for pos := 0; pos < len(run); n++ {
		if len(run)-pos < 4 {
			return runAlone, 0
		}
		size := int(int32(binary.BigEndian.Uint32(run[pos:])))
		if size < message.BlankRecordMinSize || size > len(run)-pos {
			return runAlone, 0 // not whole records: proposed as is, the log judges it
		}
		pos += size
	}
	switch {
	case whole:
		return runAlone, 0
	case keyed:
		return runKeyed, n
	default:
		return runUnkeyed, n
	}
}

// replicateBatched proposes run in a batch and waits until its entry is applied here.
// whole and keyed are what entryKeys returned for run.
func (rg *replicaGroup) replicateBatched(ctx context.Context, run []byte, whole, keyed bool) ([]commitlog.AppendResult, error) {
	q := rg.batcher
	c := &batchCall{run: run, ready: make(chan struct{})}
	c.class, c.records = classify(run, q.maxBytes, whole, keyed)
	q.mu.Lock()
	q.queue = append(q.queue, c)
	q.mu.Unlock()
	rg.group.Kick()
	var stopped error
	select {
	case <-c.ready:
		return rg.batchResult(ctx, c)
	case <-ctx.Done():
		stopped = ctx.Err()
	case <-rg.group.Done():
		stopped = rg.groupStopped()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if !c.picked {
		for i, o := range q.queue {
			if o == c {
				q.queue = append(q.queue[:i], q.queue[i+1:]...)
				break
			}
		}
	}
	// Never proposed, or taken into an entry that may still be stored and commit: the outcome
	// is unknown.
	return nil, stopped
}

// pullBatch takes a batch from the head of the queue for the replica to propose (on its
// goroutine: replication.Group.SetPull).
func (rg *replicaGroup) pullBatch() (replication.Pulled, bool) {
	q := rg.batcher
	q.mu.Lock()
	if len(q.queue) == 0 {
		q.mu.Unlock()
		return replication.Pulled{}, false
	}
	head := q.queue[0]
	n, size := 1, len(head.run)
	if head.class != runAlone {
		for n < len(q.queue) && q.queue[n].class == head.class && size+len(q.queue[n].run) <= q.maxBytes {
			size += len(q.queue[n].run)
			n++
		}
	}
	calls := append([]*batchCall(nil), q.queue[:n]...)
	q.queue = append(q.queue[:0], q.queue[n:]...)
	for _, c := range calls {
		c.picked = true
	}
	q.mu.Unlock()

	data := head.run
	b := &entryBatch{done: make(chan struct{})}
	if n > 1 {
		data = make([]byte, 0, size)
		for _, c := range calls {
			b.records += c.records
			data = append(data, c.run...)
		}
	}
	return replication.Pulled{Data: data, Done: func(p replication.Proposal, applied <-chan error, err error) {
		b.err, b.index, b.applied = proposeError(err), p.Index, applied
		first := 0
		for _, c := range calls {
			c.batch, c.first = b, first
			first += c.records
			close(c.ready)
		}
	}}, true
}

// batchResult waits for c's entry and returns c's results.
func (rg *replicaGroup) batchResult(ctx context.Context, c *batchCall) ([]commitlog.AppendResult, error) {
	b := c.batch
	if b.err != nil {
		return nil, b.err
	}
	select {
	case err := <-b.applied: // the one caller that receives it finishes for all
		rg.finishBatch(b, err)
	case <-b.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-rg.group.Done():
		return nil, rg.groupStopped()
	}
	if b.waitErr != nil {
		return nil, b.waitErr
	}
	if b.records == 0 {
		return b.res, nil
	}
	return b.res[c.first : c.first+c.records : c.first+c.records], nil
}

// finishBatch records the outcome of b's entry (err from the replica's notification) and its
// apply results, and releases its other callers.
func (rg *replicaGroup) finishBatch(b *entryBatch, err error) {
	defer close(b.done)
	if err != nil {
		b.waitErr = waitError(err)
		return
	}
	res, ok := rg.takeResults(b.index)
	switch {
	case !ok:
		b.waitErr = fmt.Errorf("broker: entry %d committed but its results were pruned", b.index)
	case b.records > 0 && len(res) != b.records:
		b.waitErr = fmt.Errorf("broker: entry %d of %d records applied with %d results", b.index, b.records, len(res))
	default:
		b.res = res
	}
}

// waitError maps the outcome of waiting for a stored entry: superseded means it was never
// committed (a retry is safe); anything else leaves the outcome unknown.
func waitError(err error) error {
	if errors.Is(err, replication.ErrSuperseded) {
		return fmt.Errorf("%w: %w", store.ErrServiceNotAvailable, err)
	}
	return err
}

// groupStopped is the error of a wait cut short by the replica stopping.
func (rg *replicaGroup) groupStopped() error {
	if err := rg.group.Err(); err != nil {
		return err
	}
	return replication.ErrClosed
}
