package txn

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/message"
)

// opRetryDelay is how long the op writer waits after a failed append.
const opRetryDelay = 100 * time.Millisecond

// opBatchDelay is how long the op writer lets markers gather after the
// first one arrives (RocketMQ 5.x waits up to 3 s). Delaying markers is
// safe: a crash loses at most this much, and New finds those commits above
// the horizon.
const opBatchDelay = time.Millisecond

// opItem is one half message waiting for its op marker.
type opItem struct {
	queueOffset int64
	end         string // one of the End* values
	// bound is a lower bound of the commitlog offset of the restored
	// message for a commit (exactly its offset once ready); math.MaxInt64
	// for the other ends, which have no restored message. It only grows, so
	// a horizon computed from an older value is still a valid (lower) one.
	bound atomic.Int64
	// ready is set once the end is decided (for a commit: the restored
	// message is appended), after bound holds its final value. bound and
	// ready are atomics so that commit does not take the writer's lock: under
	// concurrent transactions that lock was half the waiting.
	ready atomic.Bool
	next  *opItem // the next older item in opWriter.incoming
}

// opWriter batches op markers: Commit, Rollback and the check round hand it
// items, and its goroutine appends every ready item in as few op messages
// as possible (one per end kind and MaxOpBody bytes), like RocketMQ 5.x's
// TransactionalOpBatchService but without a timer: while one op message is
// being appended, the next batch gathers (group commit).
//
// Each op message carries PropertyHorizon, a commitlog offset below which
// every restored message of a commit has its op marker written: the
// smallest bound of the items not yet written, or lastSeen when there are
// none. A commit registers its item (begin) with bound = lastSeen before it
// appends the restored message, so the restored message lands above every
// horizon computed after that. Registration takes no lock: begin reads
// lastSeen, then publishes the item on incoming; a horizon reads lastSeen,
// then drains incoming. An item the drain misses was published after that
// read, so its restored message (appended after begin) lands above every
// offset lastSeen held then, hence above the horizon.
type opWriter struct {
	store    Store
	now      func() time.Time
	lastSeen *atomic.Int64 // max commitlog offset returned by txn's appends
	next     atomic.Int64  // op-queue offset of the next op message
	// incoming holds the items begun or added since the last drain, newest
	// first (a lock-free stack, drained whole under mu): begin takes no
	// lock, where every concurrent commit used to take mu (a fifth of the
	// blocked time with 16 committing goroutines).
	incoming atomic.Pointer[opItem]

	mu      sync.Mutex // guards the fields below
	cond    *sync.Cond // signalled when a batch was written or failed
	pending []*opItem  // items drained from incoming, oldest first
	writing bool       // a batch is being appended
	err     error      // error of the last failed batch, nil after a success

	wake  chan struct{} // buffered 1
	quit  chan struct{}
	done  chan struct{}
	buf   []byte    // op body under construction (writer goroutine only)
	batch []*opItem // the batch being written (writer goroutine only)
}

func newOpWriter(store Store, now func() time.Time, lastSeen *atomic.Int64, next int64) *opWriter {
	w := &opWriter{
		store:    store,
		now:      now,
		lastSeen: lastSeen,
		wake:     make(chan struct{}, 1),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	w.cond = sync.NewCond(&w.mu)
	w.next.Store(next)
	return w
}

func (w *opWriter) start() { go w.loop() }

func (w *opWriter) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// begin registers it as the commit of the half message at queueOffset,
// before its restored message is appended. it must not be pending (a
// cancelled item may be begun again).
func (w *opWriter) begin(it *opItem, queueOffset int64) {
	it.queueOffset, it.end = queueOffset, EndCommit
	it.ready.Store(false)
	it.bound.Store(w.lastSeen.Load()) // before the item is published: see opWriter
	w.push(it)
}

// push publishes it on incoming.
func (w *opWriter) push(it *opItem) {
	for {
		head := w.incoming.Load()
		it.next = head
		if w.incoming.CompareAndSwap(head, it) {
			return
		}
	}
}

// drainLocked moves the items of incoming to pending, oldest first. Every
// reader of pending calls it first; w.mu is held.
func (w *opWriter) drainLocked() {
	it := w.incoming.Swap(nil)
	if it == nil {
		return
	}
	n := len(w.pending)
	for it != nil {
		next := it.next
		it.next = nil
		w.pending = append(w.pending, it)
		it = next
	}
	slices.Reverse(w.pending[n:])
}

// commit marks a begun commit ready: its restored message is at
// physicalOffset.
func (w *opWriter) commit(it *opItem, physicalOffset int64) {
	it.bound.Store(physicalOffset)
	it.ready.Store(true)
	w.signal()
}

// cancel forgets a begun commit whose restored message was not appended.
func (w *opWriter) cancel(it *opItem) {
	w.mu.Lock()
	w.drainLocked()
	for i, p := range w.pending {
		if p == it {
			w.pending = append(w.pending[:i], w.pending[i+1:]...)
			break
		}
	}
	w.mu.Unlock()
	w.cond.Broadcast()
}

// add queues a ready op marker. bound is the restored message's offset for
// a commit found by recovery, math.MaxInt64 otherwise.
func (w *opWriter) add(queueOffset int64, end string, bound int64) {
	it := &opItem{queueOffset: queueOffset, end: end}
	it.bound.Store(bound)
	it.ready.Store(true)
	w.push(it)
	w.signal()
}

// horizon returns the current horizon: the smallest bound of the items not
// yet written, at most lastSeen.
func (w *opWriter) horizon() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.horizonLocked(nil)
}

// horizonLocked is horizon, also counting the items in extra (being written
// later in the current batch).
func (w *opWriter) horizonLocked(extra []*opItem) int64 {
	h := w.lastSeen.Load() // before the drain: see opWriter
	w.drainLocked()
	for _, it := range w.pending {
		h = min(h, it.bound.Load())
	}
	for _, it := range extra {
		h = min(h, it.bound.Load())
	}
	return max(h, 0)
}

// minPending returns the smallest queue offset with an op marker not yet
// written (math.MaxInt64 when none).
func (w *opWriter) minPending() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.drainLocked()
	m := int64(math.MaxInt64)
	for _, it := range w.pending {
		m = min(m, it.queueOffset)
	}
	return m
}

// flush waits until no ready item is waiting or being written, or until a
// batch fails (then it returns that error).
func (w *opWriter) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		if w.err != nil {
			return w.err
		}
		if !w.writing && !w.anyReadyLocked() {
			return nil
		}
		w.cond.Wait()
	}
}

func (w *opWriter) anyReadyLocked() bool {
	w.drainLocked()
	for _, it := range w.pending {
		if it.ready.Load() {
			return true
		}
	}
	return false
}

// close stops the goroutine after a last attempt to write every ready item.
// Items still begun (never ready) are dropped: their Commit failed or never
// returned.
func (w *opWriter) close() error {
	close(w.quit)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.anyReadyLocked() {
		return w.err
	}
	return nil
}

func (w *opWriter) loop() {
	defer close(w.done)
	for {
		select {
		case <-w.wake:
		case <-w.quit:
			w.writeAll()
			return
		}
		// Let a batch gather: without the pause a lone producer's every
		// commit would get its own op message.
		select {
		case <-time.After(opBatchDelay):
		case <-w.quit:
		}
		if !w.writeAll() {
			select { // back off, then try again
			case <-time.After(opRetryDelay):
				w.signal()
			case <-w.quit:
				w.writeAll()
				return
			}
		}
	}
}

// writeAll writes batches until nothing is ready; false when one failed.
func (w *opWriter) writeAll() bool {
	for {
		wrote, err := w.writeBatch()
		if err != nil {
			return false
		}
		if !wrote {
			return true
		}
	}
}

// writeBatch appends one batch: every ready item, grouped by end.
func (w *opWriter) writeBatch() (bool, error) {
	w.mu.Lock()
	w.drainLocked()
	batch := w.batch[:0]
	kept := w.pending[:0]
	for _, it := range w.pending {
		if it.ready.Load() {
			batch = append(batch, it)
		} else {
			kept = append(kept, it)
		}
	}
	clear(w.pending[len(kept):])
	w.pending = kept
	if len(batch) == 0 {
		w.mu.Unlock()
		return false, nil
	}
	w.writing = true
	w.mu.Unlock()

	// Split into messages: per end kind (sorted, stable), at most MaxOpBody
	// bytes each. Each message's horizon counts every item not written in it
	// or an earlier one. A batch is mostly of one kind (all commits): then
	// there is nothing to sort.
	byEnd := func(a, b *opItem) int { return strings.Compare(a.end, b.end) }
	if !slices.IsSortedFunc(batch, byEnd) {
		slices.SortStableFunc(batch, byEnd)
	}
	var err error
	i := 0
	for i < len(batch) {
		end := batch[i].end
		w.buf = appendOpOffset(w.buf[:0], batch[i].queueOffset)
		j := i + 1
		for j < len(batch) && batch[j].end == end && len(w.buf)+21 <= MaxOpBody {
			w.buf = appendOpOffset(w.buf, batch[j].queueOffset)
			j++
		}
		w.mu.Lock()
		h := w.horizonLocked(batch[j:])
		w.mu.Unlock()
		if err = w.appendOp(w.buf, end, h); err != nil {
			break
		}
		i = j
	}

	w.mu.Lock()
	w.writing = false
	w.err = err
	if i < len(batch) {
		w.pending = append(slices.Clone(batch[i:]), w.pending...)
	}
	w.mu.Unlock()
	clear(batch) // drop the items: they may be begun again
	w.batch = batch[:0]
	w.cond.Broadcast()
	return true, err
}

// appendOp appends one op message.
func (w *opWriter) appendOp(body []byte, end string, horizon int64) error {
	app, err := w.store.Append(w.opMessage(body, end, horizon))
	if err != nil {
		return err
	}
	w.appended(app)
	return nil
}

// appended notes an op message stored at app.
func (w *opWriter) appended(app Appended) {
	storeMax(w.lastSeen, app.PhysicalOffset)
	storeMax(&w.next, app.QueueOffset+1)
}

// opMessage returns an op message (body copied).
func (w *opWriter) opMessage(body []byte, end string, horizon int64) *message.Message {
	var props message.Properties
	props = props.Set(message.PropertyTags, OpTag)
	props = props.Set(message.PropertyWait, "true")
	props = props.Set(PropertyEnd, end)
	props = props.Set(PropertyHorizon, strconv.FormatInt(horizon, 10))
	m := &message.Message{
		Topic:         OpTopic,
		QueueID:       0,
		Body:          append([]byte(nil), body...),
		BornTimestamp: w.now().UnixMilli(),
		Properties:    props,
	}
	return m
}

// storeMax raises v to x if x is larger.
func storeMax(v *atomic.Int64, x int64) {
	for {
		old := v.Load()
		if x <= old || v.CompareAndSwap(old, x) {
			return
		}
	}
}
