package commitlog

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/internal/mapped"
)

// flusher makes appended records durable. Under AsyncFlush it msyncs every FlushInterval; under
// SyncFlush it runs group commit: an appender asks for a sync covering its end offset and waits
// for the round that covers it, and one msync serves every appender whose record it covered.
type flusher struct {
	log *CommitLog

	// err is the first flush error. It is sticky: after an msync failed the kernel may have
	// dropped the dirty pages and marked them clean, so a later msync that "succeeds" proves
	// nothing. Once set, no flush runs again, the flushed offset never moves, and appends are
	// refused (see CommitLog.Err). Atomic: every append loads it.
	err atomic.Pointer[error]

	// mu guards round and waiters.
	mu sync.Mutex
	// round is closed when the flush round in progress (or the next one) completes.
	round chan struct{}
	// waiters are AppendAsync callers waiting for a sync to cover their records.
	waiters []asyncWaiter

	// evictedTo is the log offset below which pages were evicted (ResidentBytes); flusher
	// goroutine only.
	evictedTo int64

	kick chan struct{}
	quit chan struct{}
	done chan struct{}
}

// asyncWaiter is an AppendAsync record waiting for durability.
type asyncWaiter struct {
	res      AppendResult
	deadline time.Time
	done     func(AppendResult, error)
}

func startFlusher(c *CommitLog) *flusher {
	f := &flusher{
		log:   c,
		round: make(chan struct{}),
		kick:  make(chan struct{}, 1),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go f.run()
	return f
}

func (f *flusher) run() {
	defer close(f.done)
	var tick <-chan time.Time
	if f.log.opts.FlushMode == AsyncFlush {
		// Nobody waits for an async flush: its write-back submission must not take the
		// appending thread's core.
		mapped.LowerPriority(f.log.opts.BackgroundNice)
		t := time.NewTicker(f.log.opts.FlushInterval)
		defer t.Stop()
		tick = t.C
	}
	// Under SyncFlush a slow sync must not hold AppendAsync callers past SyncFlushTimeout.
	var expire <-chan time.Time
	if f.log.opts.FlushMode == SyncFlush {
		t := time.NewTicker(max(time.Millisecond, f.log.opts.SyncFlushTimeout/10))
		defer t.Stop()
		expire = t.C
	}
	for {
		select {
		case <-f.quit:
			f.flushRound()
			f.completeWaiters(ErrClosed)
			return
		case <-tick:
		case <-expire:
			f.expireWaiters(time.Now())
			continue
		case <-f.kick:
		}
		f.flushRound()
	}
}

// notifyFlushed calls done once a sync covers res (see CommitLog.AppendAsync).
func (f *flusher) notifyFlushed(res AppendResult, done func(AppendResult, error)) {
	if f.log.queue.FlushedOffset() >= res.End() {
		done(res, nil)
		return
	}
	f.mu.Lock()
	f.waiters = append(f.waiters, asyncWaiter{res: res, deadline: time.Now().Add(f.log.opts.SyncFlushTimeout), done: done})
	f.mu.Unlock()
	f.request()
	select {
	case <-f.done:
		// The flusher stopped meanwhile (Close): nobody else will answer.
		f.completeWaiters(ErrClosed)
	default:
	}
}

// completeWaiters calls back the waiters a sync now covers; with a non-nil err (the flusher is
// stopping) every remaining waiter gets it.
func (f *flusher) completeWaiters(final error) {
	flushed := f.log.queue.FlushedOffset()
	flushErr := f.failed()
	f.mu.Lock()
	var ready []asyncWaiter
	keep := f.waiters[:0]
	for _, w := range f.waiters {
		if w.res.End() <= flushed || final != nil || flushErr != nil {
			ready = append(ready, w)
		} else {
			keep = append(keep, w)
		}
	}
	clear(f.waiters[len(keep):])
	f.waiters = keep
	f.mu.Unlock()
	now := time.Now()
	for _, w := range ready {
		switch {
		case w.res.End() <= flushed && now.After(w.deadline):
			// Durable, but later than promised: answered as RocketMQ's FlushDiskWatcher does.
			w.done(w.res, fmt.Errorf("%w: offset %d became durable after %v", ErrFlushTimeout, w.res.End(), f.log.opts.SyncFlushTimeout))
		case w.res.End() <= flushed:
			w.done(w.res, nil)
		case flushErr != nil:
			w.done(w.res, flushErr)
		default:
			w.done(w.res, final)
		}
	}
}

// expireWaiters fails the waiters whose SyncFlushTimeout passed.
func (f *flusher) expireWaiters(now time.Time) {
	f.mu.Lock()
	var late []asyncWaiter
	keep := f.waiters[:0]
	for _, w := range f.waiters {
		if now.After(w.deadline) {
			late = append(late, w)
		} else {
			keep = append(keep, w)
		}
	}
	clear(f.waiters[len(keep):])
	f.waiters = keep
	f.mu.Unlock()
	for _, w := range late {
		w.done(w.res, fmt.Errorf("%w: offset %d not durable after %v", ErrFlushTimeout, w.res.End(), f.log.opts.SyncFlushTimeout))
	}
}

// flushRound msyncs everything published so far and wakes the waiters of this round.
func (f *flusher) flushRound() {
	f.mu.Lock()
	round := f.round
	f.round = make(chan struct{})
	f.mu.Unlock()

	if f.failed() == nil {
		before := f.log.queue.FlushedOffset()
		_, err := f.log.queue.Flush()
		if err == nil && f.log.queue.FlushedOffset() > before {
			f.log.syncs.Add(1)
		}
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrFlush, err)
			f.err.CompareAndSwap(nil, &err)
		} else if w := f.log.opts.ResidentBytes; w > 0 {
			f.evictBelow(f.log.queue.FlushedOffset() - w)
		}
	}

	f.mu.Lock()
	hasWaiters := len(f.waiters) > 0
	f.mu.Unlock()
	close(round)
	if hasWaiters {
		f.completeWaiters(nil)
	}
}

// evictBelow evicts the pages of the log below target (rounded down to 2 MiB, the huge-page
// size), from where the last call stopped. Only flushed bytes are passed (target is below the
// flushed offset), so nothing is lost: reads fault them back in from disk.
func (f *flusher) evictBelow(target int64) {
	const unit = 2 << 20
	target &^= unit - 1
	q := f.log.queue
	if low := q.MinOffset(); f.evictedTo < low {
		f.evictedTo = max(low, 0)
	}
	if target <= f.evictedTo {
		return
	}
	for _, file := range q.Files() {
		from, size := file.FromOffset(), file.Size()
		start, end := max(f.evictedTo, from), min(target, from+size)
		if end <= start || !file.Retain() {
			continue
		}
		_ = file.Evict(start-from, end-start) // a hint: a failure only leaves the pages resident
		file.Release()
	}
	f.evictedTo = target
}

func (f *flusher) request() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// waitFlushed blocks until the flushed offset reaches offset.
func (f *flusher) waitFlushed(offset int64) error {
	if f.log.queue.FlushedOffset() >= offset {
		return nil
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		f.mu.Lock()
		round := f.round
		f.mu.Unlock()
		f.request()
		if timer == nil {
			timer = time.NewTimer(f.log.opts.SyncFlushTimeout)
		}
		select {
		case <-round:
		case <-timer.C:
			return fmt.Errorf("%w: offset %d not durable after %v", ErrFlushTimeout, offset, f.log.opts.SyncFlushTimeout)
		case <-f.done:
			if f.log.queue.FlushedOffset() >= offset {
				return nil
			}
			return ErrClosed
		}
		if f.log.queue.FlushedOffset() >= offset {
			return nil
		}
		if err := f.failed(); err != nil {
			return err
		}
	}
}

// failed returns the sticky flush error, or nil.
func (f *flusher) failed() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

// flushNow runs a sync of everything appended so far.
func (f *flusher) flushNow() (int64, error) {
	target := f.log.MaxOffset()
	if err := f.waitFlushed(target); err != nil {
		return f.log.queue.FlushedOffset(), err
	}
	return f.log.queue.FlushedOffset(), nil
}

func (f *flusher) close() error {
	close(f.quit)
	<-f.done
	return f.failed()
}
