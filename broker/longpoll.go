package broker

import (
	"sync"
	"sync/atomic"
	"time"
)

// Long polling (RocketMQ's PullRequestHoldService). A pull that finds nothing is parked under
// its queue (topic, queueId) with a timer for its suspend timeout. The store's dispatcher calls
// arrive after writing each message's queue unit; every call parked on that queue whose offset
// is now below the queue's max offset, and whose filter matches the message's tags code, is
// taken off and executed again on a resume worker (never on the dispatcher). A timer that
// fires first executes its call again the same way, and the answer (usually PULL_NOT_FOUND with
// the same nextBeginOffset) goes back with the original opaque. A call is taken off exactly
// once, by whichever of arrival, timeout or close gets it under mu.
//
// Parking races a message that arrives between the read and the park: after parking, park
// re-reads the queue's max offset and wakes the call itself if it moved.

// queueKey names one queue.
type queueKey struct {
	topic   string
	queueID int32
}

// resumeWorkers execute woken calls.
const resumeWorkers = 2

type pullHolds struct {
	b *Broker

	parkedCount atomic.Int64 // number of parked calls: arrive's lock-free fast path

	mu sync.Mutex // guards waiting, closing
	// stopping is closing, readable without mu by the pull path.
	stopping atomic.Bool
	waiting  map[queueKey][]*pullCall
	closing  bool

	ready chan *pullCall
	quit  chan struct{}
	wg    sync.WaitGroup
}

func newPullHolds(b *Broker) *pullHolds {
	h := &pullHolds{
		b:       b,
		waiting: make(map[queueKey][]*pullCall),
		ready:   make(chan *pullCall, 4096),
		quit:    make(chan struct{}),
	}
	h.wg.Add(resumeWorkers)
	for range resumeWorkers {
		go h.worker()
	}
	return h
}

func (h *pullHolds) worker() {
	defer h.wg.Done()
	for {
		select {
		case call := <-h.ready:
			h.b.resumePull(call)
		case <-h.quit:
			return
		}
	}
}

// park holds call for up to hold. It returns false when the broker is closing (the caller
// answers at once).
func (h *pullHolds) park(call *pullCall, hold time.Duration) bool {
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		return false
	}
	call.parked = true
	h.waiting[call.key] = append(h.waiting[call.key], call)
	h.parkedCount.Add(1)
	call.timer = time.AfterFunc(hold, func() {
		if h.take(call) {
			h.resume(call)
		}
	})
	h.mu.Unlock()
	// A message dispatched between the read and the park did not see the call: check now.
	if h.b.store.MaxOffset(call.header.topic, call.header.queueID) > call.header.queueOffset && h.take(call) {
		call.timer.Stop()
		h.resume(call)
	}
	return true
}

// take removes call from the waiting list and reports whether this caller got it.
func (h *pullHolds) take(call *pullCall) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !call.parked {
		return false
	}
	h.removeLocked(call)
	return true
}

func (h *pullHolds) removeLocked(call *pullCall) {
	call.parked = false
	h.parkedCount.Add(-1)
	list := h.waiting[call.key]
	for i, c := range list {
		if c == call {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			list = list[:len(list)-1]
			break
		}
	}
	if len(list) == 0 {
		delete(h.waiting, call.key)
	} else {
		h.waiting[call.key] = list
	}
}

// resume hands a taken call to a worker without blocking.
func (h *pullHolds) resume(call *pullCall) {
	select {
	case h.ready <- call:
	default:
		// More woken calls than the queue holds: answer this one on a goroutine of its own
		// (joined by close; the worker count keeps wg above zero while calls can be woken).
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.b.resumePull(call)
		}()
	}
}

// arrive is the store's OnArrival: a message with tagsCode made the queue's max offset maxOffset.
// It runs on the dispatcher and does not block.
func (h *pullHolds) arrive(topic string, queueID int32, maxOffset, tagsCode int64) {
	if h.parkedCount.Load() == 0 {
		return
	}
	key := queueKey{topic, queueID}
	var woken []*pullCall
	h.mu.Lock()
	for _, call := range h.waiting[key] {
		if call.header.queueOffset < maxOffset && (call.filter == nil || call.filter.MatchTagsCode(tagsCode)) {
			woken = append(woken, call)
		}
	}
	for _, call := range woken {
		h.removeLocked(call)
	}
	h.mu.Unlock()
	for _, call := range woken {
		call.timer.Stop()
		h.resume(call)
	}
}

// close answers every parked call now and stops the workers; later parks are refused.
func (h *pullHolds) close() {
	h.mu.Lock()
	h.closing = true
	h.stopping.Store(true)
	var all []*pullCall
	for _, list := range h.waiting {
		all = append(all, list...)
	}
	for _, call := range all {
		h.removeLocked(call)
	}
	h.mu.Unlock()
	for _, call := range all {
		call.timer.Stop()
		h.b.resumePull(call)
	}
	close(h.quit)
	h.wg.Wait()
	// Calls queued for the workers but not taken: answer them here.
	for {
		select {
		case call := <-h.ready:
			h.b.resumePull(call)
		default:
			return
		}
	}
}

// parked returns the number of parked calls.
func (h *pullHolds) parked() int { return int(h.parkedCount.Load()) }
