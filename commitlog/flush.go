package commitlog

import (
	"fmt"
	"sync"
	"time"
)

// flusher makes appended records durable. Under AsyncFlush it msyncs every FlushInterval; under
// SyncFlush it runs group commit: an appender asks for a sync covering its end offset and waits
// for the round that covers it, and one msync serves every appender whose record it covered.
type flusher struct {
	log *CommitLog

	// mu guards round and err.
	mu sync.Mutex
	// round is closed when the flush round in progress (or the next one) completes.
	round chan struct{}
	// err is the last flush error, reported to waiters.
	err error

	kick chan struct{}
	quit chan struct{}
	done chan struct{}
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
		t := time.NewTicker(f.log.opts.FlushInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-f.quit:
			f.flushRound()
			return
		case <-tick:
		case <-f.kick:
		}
		f.flushRound()
	}
}

// flushRound msyncs everything published so far and wakes the waiters of this round.
func (f *flusher) flushRound() {
	f.mu.Lock()
	round := f.round
	f.round = make(chan struct{})
	f.mu.Unlock()

	before := f.log.queue.FlushedOffset()
	_, err := f.log.queue.Flush()
	if err == nil && f.log.queue.FlushedOffset() > before {
		f.log.syncs.Add(1)
	}

	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
	close(round)
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
		f.mu.Lock()
		err := f.err
		f.mu.Unlock()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrFlush, err)
		}
	}
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
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
