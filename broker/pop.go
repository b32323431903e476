package broker

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/filter"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/store"
)

// POP-style consumption (RocketMQ 5's receive / ack / change-invisible-duration), for the gRPC
// front end. State per (group, topic, queue):
//
//   - committed: every queue offset below it is done (acked, filtered out or dead-lettered);
//     mirrored into the consumer offset table so consumer progress shows it;
//   - cursor: the next offset never read for the group;
//   - inflight: offsets handed out and not acked, with their attempt and the time they become
//     visible again (the deadline); an expired one is redelivered with attempt + 1, or, once
//     its attempts reached the group's max delivery attempts, stored in %DLQ%<group> and done;
//   - deferred (FIFO, groups with consumeMessageOrderly only): offsets read but held because an earlier message of the same message
//     group (PropertyMessageGroup) is in flight; a message group's next message is delivered
//     only after the previous one is done;
//   - acked: offsets above committed acked out of order (only those the pop log replays:
//     between committed and cursor, an offset that is neither in flight nor deferred is done).
//
// Every delivery, change and ack is appended to the pop log (pop_log.go) before the caller
// answers the client. Costs: an ack is O(1) (a map delete, a log append, an amortized advance
// of committed); a receive is O(in-flight of the queue) for the expiry scan plus the messages
// it reads — neither grows with the backlog.

// Errors of POP consumption.
var (
	// ErrInvalidReceipt: a receipt handle that does not decode, or names another delivery of
	// the message (it was redelivered since, or is not in flight).
	ErrInvalidReceipt = errors.New("broker: invalid receipt handle")
	// ErrPopClosed: the pop service is closed.
	ErrPopClosed = errors.New("broker: pop service closed")
)

const (
	// popMaxInflight caps a queue's in-flight messages per group; beyond, it serves none new.
	popMaxInflight = 20000
	// popMaxDeferred caps a queue's held FIFO messages per group; beyond, reading stops.
	popMaxDeferred = 10000
	// popCompactSize is the pop log size that triggers a compaction.
	popCompactSize = 64 << 20
	// popSyncInterval is how often the pop log is fsynced (power-loss window).
	popSyncInterval = time.Second
)

// Receipt identifies one delivery of a message to a group.
type Receipt struct {
	Topic          string
	QueueID        int32
	QueueOffset    int64
	PhysicalOffset int64
	Attempt        int32
}

const receiptVersion = 1

// String encodes the receipt handle (URL-safe base64 of version u8, queueId i32, queueOffset
// i64, physicalOffset i64, attempt i32, topic).
func (r Receipt) String() string {
	b := make([]byte, 0, 25+len(r.Topic))
	b = append(b, receiptVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(r.QueueID))
	b = binary.BigEndian.AppendUint64(b, uint64(r.QueueOffset))
	b = binary.BigEndian.AppendUint64(b, uint64(r.PhysicalOffset))
	b = binary.BigEndian.AppendUint32(b, uint32(r.Attempt))
	b = append(b, r.Topic...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseReceipt decodes a receipt handle.
func ParseReceipt(s string) (Receipt, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 26 || b[0] != receiptVersion || len(b) > 25+255 {
		return Receipt{}, fmt.Errorf("%w: %q", ErrInvalidReceipt, s)
	}
	r := Receipt{
		QueueID:        int32(binary.BigEndian.Uint32(b[1:])),
		QueueOffset:    int64(binary.BigEndian.Uint64(b[5:])),
		PhysicalOffset: int64(binary.BigEndian.Uint64(b[13:])),
		Attempt:        int32(binary.BigEndian.Uint32(b[21:])),
		Topic:          string(b[25:]),
	}
	if r.QueueID < 0 || r.QueueOffset < 0 || r.Attempt < 1 {
		return Receipt{}, fmt.Errorf("%w: %q", ErrInvalidReceipt, s)
	}
	return r, nil
}

// PopRequest is one receive.
type PopRequest struct {
	Group   string
	Topic   string
	QueueID int32 // < 0: every read queue of the topic
	// Tags selects messages by TAGS ("*" or empty: all).
	Tags []string
	// SQL, if set, selects messages by their properties (a compiled SQL92 expression) in place
	// of Tags. Messages it does not select are done for the group, as tag-filtered ones are.
	SQL *filter.Expression
	// MaxMessages is the batch size (at least 1).
	MaxMessages int
	// Invisible is how long a delivered message stays invisible (at least 1 s is sensible;
	// anything positive is accepted).
	Invisible time.Duration
	// Wait is how long to wait for a message when none is ready (long polling).
	Wait time.Duration
}

// Popped is one delivered message.
type Popped struct {
	Message        *message.Message // a copy, body as stored (SysFlag tells its compression)
	Receipt        Receipt
	StoreTimestamp int64
	VisibleAt      time.Time // when it is redelivered unless acked
	MsgID          string    // offset message id
}

type popKey struct {
	group, topic string
	queueID      int32
}

type popEntry struct {
	physicalOffset int64
	attempt        int32
	deadline       int64 // ms
	messageGroup   string
}

type popQueue struct {
	mu        sync.Mutex // guards the fields below
	loaded    bool
	committed int64
	cursor    int64
	inflight  map[int64]*popEntry
	deferred  []deferredEntry // ascending offsets
	busy      map[string]int  // message group → in-flight count
	acked     map[int64]struct{}
	// nextExpiry is at most the earliest in-flight deadline (ms; 0: unknown): a receive before
	// it skips the expiry scan, so a receive costs O(in-flight) only when something expired.
	nextExpiry int64
}

type deferredEntry struct {
	offset, physicalOffset int64
	messageGroup           string
}

// Pop is the POP consumption service of a broker; see OpenPop.
type Pop struct {
	b *Broker

	logMu sync.Mutex // guards log; taken inside a queue's mu, never the other way
	log   *popLog

	mu      sync.Mutex // guards queues, waiters, closed
	queues  map[popKey]*popQueue
	waiters map[string]chan struct{} // topic → closed on arrival
	closed  bool

	rr atomic.Uint32 // rotating first queue of receives

	removeArrival func()
	quit          chan struct{}
	wg            sync.WaitGroup
}

// OpenPop replays the pop log under <storePathRootDir>/config and starts the service. Close
// it before the broker.
func (b *Broker) OpenPop() (*Pop, error) {
	p := &Pop{b: b, queues: make(map[popKey]*popQueue), waiters: make(map[string]chan struct{}), quit: make(chan struct{})}
	log, err := openPopLog(b.fs, filepath.Join(b.cfg.configDir(), "pop.log"), p.replay)
	if err != nil {
		return nil, err
	}
	p.log = log
	for k, q := range p.queues {
		q.cursor = q.committed
		for off := range q.acked {
			if off < q.committed {
				delete(q.acked, off)
			}
		}
		for off, e := range q.inflight {
			if off < q.committed {
				delete(q.inflight, off)
				continue
			}
			if e.messageGroup != "" {
				q.busy[e.messageGroup]++
			}
		}
		b.offsets.commit(k.group, k.topic, k.queueID, q.committed)
	}
	if err := p.compact(); err != nil {
		log.close()
		return nil, err
	}
	p.removeArrival = b.OnArrival(p.arrived)
	p.wg.Add(1)
	go p.syncLoop()
	return p, nil
}

func newPopQueue() *popQueue {
	return &popQueue{inflight: make(map[int64]*popEntry), busy: make(map[string]int), acked: make(map[int64]struct{})}
}

// replay applies one log record at open.
func (p *Pop) replay(r *popRecord) {
	k := popKey{r.group, r.topic, r.queueID}
	q := p.queues[k]
	if q == nil {
		q = newPopQueue()
		q.loaded = true
		q.committed = -1
		p.queues[k] = q
	}
	switch r.kind {
	case popKindBase:
		q.committed = r.queueOffset
	case popKindPop:
		q.inflight[r.queueOffset] = &popEntry{physicalOffset: r.physicalOffset, attempt: r.attempt, deadline: r.deadline, messageGroup: r.messageGroup}
		delete(q.acked, r.queueOffset)
	case popKindAck:
		delete(q.inflight, r.queueOffset)
		q.acked[r.queueOffset] = struct{}{}
	}
	if q.committed < 0 && r.kind != popKindBase {
		q.committed = r.queueOffset // a queue first seen after a compaction: no BASE yet
	}
}

// compact rewrites the log as the live state.
func (p *Pop) compact() error {
	p.mu.Lock()
	keys := make([]popKey, 0, len(p.queues))
	for k := range p.queues {
		keys = append(keys, k)
	}
	p.mu.Unlock()
	var recs []*popRecord
	var locked []*popQueue
	// Hold every queue's lock so no record is appended to the old log meanwhile.
	for _, k := range keys {
		p.mu.Lock()
		q := p.queues[k]
		p.mu.Unlock()
		q.mu.Lock()
		locked = append(locked, q)
		if !q.loaded {
			continue
		}
		recs = append(recs, &popRecord{kind: popKindBase, group: k.group, topic: k.topic, queueID: k.queueID, queueOffset: q.committed})
		for off, e := range q.inflight {
			recs = append(recs, &popRecord{kind: popKindPop, group: k.group, topic: k.topic, queueID: k.queueID, queueOffset: off,
				physicalOffset: e.physicalOffset, attempt: e.attempt, deadline: e.deadline, messageGroup: e.messageGroup})
		}
		for off := range q.acked {
			recs = append(recs, &popRecord{kind: popKindAck, group: k.group, topic: k.topic, queueID: k.queueID, queueOffset: off})
		}
	}
	p.logMu.Lock()
	err := p.log.rewrite(recs)
	p.logMu.Unlock()
	for _, q := range locked {
		q.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("broker: compact the pop log: %w", err)
	}
	return nil
}

func (p *Pop) syncLoop() {
	defer p.wg.Done()
	t := time.NewTicker(popSyncInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			p.logMu.Lock()
			size := p.log.size
			err := p.log.sync()
			p.logMu.Unlock()
			if err != nil {
				p.b.log.Error("broker: pop log sync failed", "err", err)
			}
			if size > popCompactSize {
				if err := p.compact(); err != nil {
					p.b.log.Error("broker: pop log compaction failed", "err", err)
				}
			}
		case <-p.quit:
			return
		}
	}
}

// Close wakes the waiting receives, stops the sync loop, and syncs and closes the log.
func (p *Pop) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrPopClosed
	}
	p.closed = true
	for t, ch := range p.waiters {
		close(ch)
		delete(p.waiters, t)
	}
	p.mu.Unlock()
	p.removeArrival()
	close(p.quit)
	p.wg.Wait()
	p.logMu.Lock()
	defer p.logMu.Unlock()
	return p.log.close()
}

// arrived wakes the receives waiting on a topic.
func (p *Pop) arrived(topic string, _ int32) {
	p.mu.Lock()
	if ch, ok := p.waiters[topic]; ok {
		close(ch)
		delete(p.waiters, topic)
	}
	p.mu.Unlock()
}

// waiter returns the channel closed at the next arrival on topic.
func (p *Pop) waiter(topic string) (chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrPopClosed
	}
	ch, ok := p.waiters[topic]
	if !ok {
		ch = make(chan struct{})
		p.waiters[topic] = ch
	}
	return ch, nil
}

// queue returns the state of a group's queue, loading its committed offset on first use: the
// consumer offset table's (a group that consumed with 4.x clients continues there), else the
// queue's min offset.
func (p *Pop) queue(k popKey) (*popQueue, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrPopClosed
	}
	q := p.queues[k]
	if q == nil {
		q = newPopQueue()
		p.queues[k] = q
	}
	p.mu.Unlock()
	q.mu.Lock()
	if !q.loaded {
		off, ok := p.b.offsets.query(k.group, k.topic, k.queueID)
		if !ok || off < 0 {
			off = p.b.store.MinOffset(k.topic, k.queueID)
		}
		q.committed, q.cursor, q.loaded = off, off, true
	}
	q.mu.Unlock()
	return q, nil
}

// Receive delivers up to MaxMessages ready messages of the request's queues, waiting up to
// Wait (or ctx) for one when none is ready.
func (p *Pop) Receive(ctx context.Context, req PopRequest) ([]Popped, error) {
	if req.MaxMessages <= 0 {
		req.MaxMessages = 1
	}
	if req.Invisible <= 0 {
		return nil, fmt.Errorf("%w: invisible duration must be positive", ErrBadRequest)
	}
	gc, err := p.b.Group(req.Group)
	if err != nil {
		return nil, err
	}
	if !gc.ConsumeEnable {
		return nil, fmt.Errorf("%w: the consumer group[%s] is not allowed to consume", ErrNoPermission, req.Group)
	}
	tc, ok, err := p.b.topics.getDurable(req.Topic)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: topic[%s] not exist", ErrTopicNotExist, req.Topic)
	}
	queues := []int32{req.QueueID}
	if req.QueueID < 0 || int(req.QueueID) >= tc.ReadQueueNums {
		// Every read queue, starting at a rotating one so a busy queue does not starve the rest.
		queues = queues[:0]
		first := int(p.rr.Add(1) % uint32(max(tc.ReadQueueNums, 1)))
		for i := 0; i < tc.ReadQueueNums; i++ {
			queues = append(queues, int32((first+i)%tc.ReadQueueNums))
		}
	}
	filter := store.TagFilter(req.Tags...)
	tags := make(map[string]bool, len(req.Tags))
	for _, t := range req.Tags {
		tags[t] = true
	}
	if req.SQL != nil {
		filter, tags = store.SQLFilter(req.SQL), nil
	}
	deadline := time.Now().Add(req.Wait)
	for {
		// Wait channel first, so an arrival between the scan and the wait is not missed.
		ch, err := p.waiter(req.Topic)
		if err != nil {
			return nil, err
		}
		var out []Popped
		next := deadline
		for _, qid := range queues {
			got, wake, err := p.receiveQueue(popKey{req.Group, req.Topic, qid}, gc, filter, tags, req.MaxMessages-len(out), req.Invisible)
			out = append(out, got...)
			if err != nil {
				return out, err
			}
			if !wake.IsZero() && wake.Before(next) {
				next = wake
			}
			if len(out) >= req.MaxMessages {
				break
			}
		}
		if len(out) > 0 {
			if mt := p.b.opts.Metrics; mt != nil {
				mt.MessagesOut(req.Topic, req.Group, len(out), 0)
			}
			return out, nil
		}
		wait := time.Until(next)
		if wait <= 0 && !time.Now().Before(deadline) {
			return nil, nil
		}
		if wait < 10*time.Millisecond {
			wait = 10 * time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, nil
		}
		t.Stop()
	}
}

// receiveQueue delivers up to n messages of one queue; wake is when its earliest in-flight
// message expires (zero: none in flight).
func (p *Pop) receiveQueue(k popKey, gc GroupConfig, filter store.Filter, tags map[string]bool, n int, invisible time.Duration) ([]Popped, time.Time, error) {
	q, err := p.queue(k)
	if err != nil {
		return nil, time.Time{}, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	nowMs := now.UnixMilli()
	visibleAt := now.Add(invisible)
	var out []Popped
	var recs []*popRecord
	var wake int64

	// 1. Expired in-flight messages, in queue order: redeliver, or dead-letter.
	var expired []int64
	if q.nextExpiry <= nowMs {
		for off, e := range q.inflight {
			if e.deadline <= nowMs {
				expired = append(expired, off)
			} else if wake == 0 || e.deadline < wake {
				wake = e.deadline
			}
		}
		slices.Sort(expired)
		q.nextExpiry = wake
		if len(expired) > 0 {
			q.nextExpiry = nowMs // not all may be handled in this call
		} else if wake == 0 {
			q.nextExpiry = 1<<63 - 1 // nothing in flight
		}
	} else if q.nextExpiry < 1<<63-1 {
		wake = q.nextExpiry
	}
	for _, off := range expired {
		if len(out) >= n {
			break
		}
		e := q.inflight[off]
		sm, err := p.b.store.ReadAt(e.physicalOffset)
		if err != nil {
			// The message is gone (retention): it is done.
			p.b.log.Warn("broker: pop: in-flight message unreadable; dropped", "group", k.group, "topic", k.topic, "queue", k.queueID, "offset", off, "err", err)
			recs = append(recs, p.doneLocked(q, k, off))
			continue
		}
		if e.attempt >= gc.MaxDeliveryAttempts() {
			m := sm.Message
			m.ReconsumeTimes = e.attempt
			if err := p.b.DeadLetter(k.group, m); err != nil {
				p.flushLocked(recs)
				return out, time.Time{}, err
			}
			recs = append(recs, p.doneLocked(q, k, off))
			continue
		}
		e.attempt++
		e.deadline = visibleAt.UnixMilli()
		q.nextExpiry = min(q.nextExpiry, e.deadline)
		recs = append(recs, p.popRecordLocked(k, off, e))
		out = append(out, popped(sm, k, off, e, visibleAt))
	}

	// 2. Held FIFO messages whose message group is free again.
	for i := 0; i < len(q.deferred) && len(out) < n; {
		d := q.deferred[i]
		if q.busy[d.messageGroup] > 0 {
			i++
			continue
		}
		q.deferred = slices.Delete(q.deferred, i, i+1)
		sm, err := p.b.store.ReadAt(d.physicalOffset)
		if err != nil {
			recs = append(recs, p.doneLocked(q, k, d.offset))
			continue
		}
		e := &popEntry{physicalOffset: d.physicalOffset, attempt: 1, deadline: visibleAt.UnixMilli(), messageGroup: d.messageGroup}
		q.inflight[d.offset] = e
		q.nextExpiry = min(q.nextExpiry, e.deadline)
		q.busy[d.messageGroup]++
		recs = append(recs, p.popRecordLocked(k, d.offset, e))
		out = append(out, popped(sm, k, d.offset, e, visibleAt))
	}

	// 3. New messages from the cursor.
	for len(out) < n && len(q.inflight) < popMaxInflight && len(q.deferred) < popMaxDeferred {
		res, err := p.b.store.GetMessages(k.topic, k.queueID, q.cursor, n-len(out), 4<<20, filter)
		if err != nil {
			p.flushLocked(recs)
			return out, time.Time{}, err
		}
		next := res.NextBeginOffset
		progressed := next > q.cursor
		for i, raw := range res.Messages {
			off := res.QueueOffsets[i]
			if _, done := q.acked[off]; done {
				continue
			}
			if _, busy := q.inflight[off]; busy {
				continue
			}
			var r message.Record
			if _, err := message.DecodeRecord(raw, &r, false); err != nil {
				continue
			}
			m := r.Message().Clone()
			if len(tags) > 0 && !tags["*"] && !tags[m.Tags()] {
				continue // a tags hash collision
			}
			var group string
			if gc.ConsumeMessageOrderly { // FIFO only for orderly groups, as RocketMQ 5
				group, _ = m.Properties.Get(PropertyMessageGroup)
			}
			if group != "" && q.busy[group] > 0 {
				q.deferred = append(q.deferred, deferredEntry{offset: off, physicalOffset: r.PhysicalOffset, messageGroup: group})
				continue
			}
			e := &popEntry{physicalOffset: r.PhysicalOffset, attempt: 1, deadline: visibleAt.UnixMilli(), messageGroup: group}
			q.inflight[off] = e
			q.nextExpiry = min(q.nextExpiry, e.deadline)
			if group != "" {
				q.busy[group]++
			}
			recs = append(recs, p.popRecordLocked(k, off, e))
			out = append(out, Popped{Message: m, StoreTimestamp: r.StoreTimestamp, VisibleAt: visibleAt,
				MsgID:   message.OffsetMsgID(r.StoreHost, r.PhysicalOffset),
				Receipt: Receipt{Topic: k.topic, QueueID: k.queueID, QueueOffset: off, PhysicalOffset: r.PhysicalOffset, Attempt: 1}})
		}
		res.Release()
		if !progressed {
			break
		}
		q.cursor = next
	}
	if q.cursor < q.committed {
		q.cursor = q.committed
	}
	if min := p.b.store.MinOffset(k.topic, k.queueID); q.cursor < min {
		q.cursor = min
	}
	p.advanceLocked(q, k)
	if err := p.flushLocked(recs); err != nil {
		return nil, time.Time{}, err
	}
	var w time.Time
	if wake > 0 {
		w = time.UnixMilli(wake)
	}
	return out, w, nil
}

func popped(sm *store.StoredMessage, k popKey, off int64, e *popEntry, visibleAt time.Time) Popped {
	return Popped{Message: sm.Message, StoreTimestamp: sm.StoreTimestamp, VisibleAt: visibleAt, MsgID: sm.MsgID,
		Receipt: Receipt{Topic: k.topic, QueueID: k.queueID, QueueOffset: off, PhysicalOffset: e.physicalOffset, Attempt: e.attempt}}
}

func (p *Pop) popRecordLocked(k popKey, off int64, e *popEntry) *popRecord {
	return &popRecord{kind: popKindPop, group: k.group, topic: k.topic, queueID: k.queueID, queueOffset: off,
		physicalOffset: e.physicalOffset, attempt: e.attempt, deadline: e.deadline, messageGroup: e.messageGroup}
}

// doneLocked marks an offset done and returns its ACK record.
func (p *Pop) doneLocked(q *popQueue, k popKey, off int64) *popRecord {
	if e, ok := q.inflight[off]; ok {
		if e.messageGroup != "" {
			if q.busy[e.messageGroup]--; q.busy[e.messageGroup] <= 0 {
				delete(q.busy, e.messageGroup)
			}
		}
		delete(q.inflight, off)
	}
	if off >= q.committed {
		q.acked[off] = struct{}{}
	}
	return &popRecord{kind: popKindAck, group: k.group, topic: k.topic, queueID: k.queueID, queueOffset: off}
}

// advanceLocked moves committed over done offsets.
func (p *Pop) advanceLocked(q *popQueue, k popKey) {
	old := q.committed
	for q.committed < q.cursor {
		if _, ok := q.inflight[q.committed]; ok {
			break
		}
		if len(q.deferred) > 0 && q.deferred[0].offset == q.committed {
			break
		}
		delete(q.acked, q.committed)
		q.committed++
	}
	if q.committed != old {
		p.b.offsets.commit(k.group, k.topic, k.queueID, q.committed)
	}
}

// flushLocked appends records to the pop log.
func (p *Pop) flushLocked(recs []*popRecord) error {
	if len(recs) == 0 {
		return nil
	}
	p.logMu.Lock()
	defer p.logMu.Unlock()
	return p.log.append(recs...)
}

// entry returns the state of the queue a receipt names.
func (p *Pop) entry(group string, r Receipt) (*popQueue, popKey, error) {
	k := popKey{group, r.Topic, r.QueueID}
	q, err := p.queue(k)
	return q, k, err
}

// Ack marks a delivery done. Acking a message already done succeeds; a receipt of an earlier
// delivery of a message redelivered since fails with ErrInvalidReceipt.
func (p *Pop) Ack(group string, r Receipt) error {
	q, k, err := p.entry(group, r)
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.inflight[r.QueueOffset]
	if !ok {
		if _, done := q.acked[r.QueueOffset]; done || r.QueueOffset < q.committed {
			return nil
		}
		return fmt.Errorf("%w: offset %d of %s/%d is not in flight", ErrInvalidReceipt, r.QueueOffset, r.Topic, r.QueueID)
	}
	if e.attempt != r.Attempt {
		return fmt.Errorf("%w: delivery %d of offset %d was redelivered (attempt %d)", ErrInvalidReceipt, r.Attempt, r.QueueOffset, e.attempt)
	}
	rec := p.doneLocked(q, k, r.QueueOffset)
	if err := p.flushLocked([]*popRecord{rec}); err != nil {
		return err
	}
	p.advanceLocked(q, k)
	return nil
}

// ChangeInvisible makes a delivered message visible again after d from now; the receipt
// stays valid.
func (p *Pop) ChangeInvisible(group string, r Receipt, d time.Duration) (Receipt, time.Time, error) {
	q, k, err := p.entry(group, r)
	if err != nil {
		return r, time.Time{}, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.inflight[r.QueueOffset]
	if !ok || e.attempt != r.Attempt {
		return r, time.Time{}, fmt.Errorf("%w: offset %d of %s/%d is not in flight with attempt %d", ErrInvalidReceipt, r.QueueOffset, r.Topic, r.QueueID, r.Attempt)
	}
	at := time.Now().Add(d)
	old := e.deadline
	e.deadline = at.UnixMilli()
	q.nextExpiry = min(q.nextExpiry, e.deadline)
	if err := p.flushLocked([]*popRecord{p.popRecordLocked(k, r.QueueOffset, e)}); err != nil {
		e.deadline = old
		return r, time.Time{}, err
	}
	return r, at, nil
}

// DeadLetterNow sends a delivered message to the group's DLQ at once and marks it done (the
// client gave up: ForwardMessageToDeadLetterQueue).
func (p *Pop) DeadLetterNow(group string, r Receipt) error {
	q, k, err := p.entry(group, r)
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.inflight[r.QueueOffset]
	if !ok || e.attempt != r.Attempt {
		return fmt.Errorf("%w: offset %d is not in flight with attempt %d", ErrInvalidReceipt, r.QueueOffset, r.Attempt)
	}
	sm, err := p.b.store.ReadAt(e.physicalOffset)
	if err != nil {
		return err
	}
	sm.Message.ReconsumeTimes = e.attempt
	if err := p.b.DeadLetter(group, sm.Message); err != nil {
		return err
	}
	rec := p.doneLocked(q, k, r.QueueOffset)
	if err := p.flushLocked([]*popRecord{rec}); err != nil {
		return err
	}
	p.advanceLocked(q, k)
	return nil
}
