package store

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"unsafe"

	"github.com/mqstore/mqstore/commitlog"
	"github.com/mqstore/mqstore/consumequeue"
	"github.com/mqstore/mqstore/filter"
	"github.com/mqstore/mqstore/message"
)

// Filter selects the messages GetMessages returns; a nil Filter matches every message.
//
// MatchTagsCode is asked first, with the tags hash code in the message's queue unit (a broker
// also asks it whether an arriving message wakes a parked pull). Only when it returns true does
// the store read the record and ask MatchProperties, with a lookup of the record's properties;
// the strings that lookup returns alias the mapped record and are valid during the call only.
type Filter interface {
	MatchTagsCode(tagsCode int64) bool
	MatchProperties(props func(name string) (value string, ok bool)) bool
}

// TagFilter matches messages whose TAGS is one of tags ("*" or no tags: every message, a nil
// Filter).
func TagFilter(tags ...string) Filter {
	codes := make(tagFilter, len(tags))
	for _, t := range tags {
		if t == "*" || t == "" {
			return nil
		}
		codes[message.TagsHashCode(t)] = struct{}{}
	}
	if len(codes) == 0 {
		return nil
	}
	return codes
}

// tagFilter is a set of tags hash codes; it needs no properties.
type tagFilter map[int64]struct{}

func (f tagFilter) MatchTagsCode(code int64) bool {
	_, ok := f[code]
	return ok
}

func (tagFilter) MatchProperties(func(string) (string, bool)) bool { return true }

// SQLFilter matches messages whose properties a compiled SQL92 expression selects (nil: every
// message). Every unit passes MatchTagsCode, so every record in the scanned range is read.
func SQLFilter(e *filter.Expression) Filter {
	if e == nil {
		return nil
	}
	return sqlFilter{e}
}

type sqlFilter struct{ expr *filter.Expression }

func (sqlFilter) MatchTagsCode(int64) bool { return true }

func (f sqlFilter) MatchProperties(props func(string) (string, bool)) bool {
	return f.expr.Match(props)
}

// recordProperties looks properties up in the record last set by reset; one per GetMessages
// call, so that filtering allocates nothing per message.
type recordProperties struct {
	props  message.Properties
	lookup func(name string) (string, bool)
}

func newRecordProperties() *recordProperties {
	rp := new(recordProperties)
	rp.lookup = func(name string) (string, bool) {
		v, ok := rp.props.Lookup(name)
		if !ok || len(v) == 0 {
			return "", ok
		}
		return unsafe.String(unsafe.SliceData(v), len(v)), true
	}
	return rp
}

// reset points the lookup at a raw record; false when the record does not decode.
func (rp *recordProperties) reset(raw []byte) bool {
	var r message.Record
	if _, err := message.DecodeRecord(raw, &r, false); err != nil {
		rp.props = nil
		return false
	}
	rp.props = r.Properties
	return true
}

// GetResult holds the messages found by GetMessages. Messages are raw commitlog records (the
// PULL_MESSAGE body format), slices of the mapped commitlog: they stay valid, even if retention
// deletes their segment meanwhile, until Release. Never modify them.
type GetResult struct {
	Status GetStatus
	// NextBeginOffset is the queue offset to ask for next.
	NextBeginOffset int64
	// MinOffset and MaxOffset are the queue's bounds at the time of the read.
	MinOffset, MaxOffset int64
	// Messages are the raw records, in queue order.
	Messages [][]byte
	// QueueOffsets[i] is the queue offset of Messages[i].
	QueueOffsets []int64
	// Bytes is the total size of Messages.
	Bytes int

	slices []commitlog.Slice
}

var getResultPool = sync.Pool{New: func() any { return new(GetResult) }}

// Release lets go of the records' segments and recycles the result; the result and its Messages
// must not be used afterwards.
func (r *GetResult) Release() {
	if r == nil {
		return
	}
	for i := range r.slices {
		r.slices[i].Release()
	}
	clear(r.Messages)
	*r = GetResult{Messages: r.Messages[:0], QueueOffsets: r.QueueOffsets[:0], slices: r.slices[:0]}
	getResultPool.Put(r)
}

// scanUnitsMin is how many units one GetMessages call looks at at least (RocketMQ scans 16,000
// bytes of queue, 800 units), so a selective filter still makes progress.
const scanUnitsMin = 800

// GetMessages reads up to maxMsgs messages (and about maxBytes bytes; at least one message) of a
// topic queue from queue offset, keeping those the filter matches (TagFilter, SQLFilter or the
// caller's own). See GetStatus for the outcomes.
// The caller must Release the result.
func (s *Store) GetMessages(topic string, queueID int32, offset int64, maxMsgs, maxBytes int, filter Filter) (*GetResult, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	res := getResultPool.Get().(*GetResult)
	q := s.queues.Get(topic, queueID)
	if q == nil {
		res.Status = NoMatchedLogicQueue
		return res, nil
	}
	minOff, maxOff := q.MinOffset(), q.MaxOffset()
	res.MinOffset, res.MaxOffset = minOff, maxOff
	switch {
	case maxOff == 0:
		res.Status, res.NextBeginOffset = NoMessageInQueue, 0
		return res, nil
	case offset < minOff:
		res.Status, res.NextBeginOffset = OffsetTooSmall, minOff
		return res, nil
	case offset == maxOff:
		res.Status, res.NextBeginOffset = OffsetOverflowOne, offset
		return res, nil
	case offset > maxOff:
		res.Status, res.NextBeginOffset = OffsetOverflowBadly, maxOff
		return res, nil
	}
	maxMsgs = max(1, maxMsgs)
	scanLimit := offset + int64(max(scanUnitsMin, maxMsgs))
	next := offset
	status := NoMatchedMessage
	var props *recordProperties // made on the first record a filter looks at
	_, tagsOnly := filter.(tagFilter)
	needProps := filter != nil && !tagsOnly // a tag filter never reads the record
	minPhysical := s.commitLog.MinOffset()
	q.Units(offset, func(qo int64, u consumequeue.Unit) bool {
		if qo >= scanLimit || len(res.Messages) >= maxMsgs {
			return false
		}
		if len(res.Messages) > 0 && res.Bytes+int(u.Size) > maxBytes {
			return false
		}
		next = qo + 1
		if u.IsBlank() {
			return true
		}
		if u.CommitLogOffset < minPhysical {
			status = MessageWasRemoving
			return true
		}
		if filter != nil && !filter.MatchTagsCode(u.TagsCode) {
			return true
		}
		sl, err := s.commitLog.Slice(u.CommitLogOffset, int(u.Size))
		if err != nil {
			if len(res.Messages) == 0 {
				status = OffsetFoundNull
			}
			return true
		}
		if needProps {
			if props == nil {
				props = newRecordProperties()
			}
			// A record that does not decode is returned, not hidden: the consumer reports it.
			if props.reset(sl.Bytes) && !filter.MatchProperties(props.lookup) {
				sl.Release()
				return true
			}
		}
		res.slices = append(res.slices, sl)
		res.Messages = append(res.Messages, sl.Bytes)
		res.QueueOffsets = append(res.QueueOffsets, qo)
		res.Bytes += len(sl.Bytes)
		status = Found
		return true
	})
	res.Status = status
	res.NextBeginOffset = next
	return res, nil
}

// MinOffset returns a queue's min offset (0 if the queue does not exist).
func (s *Store) MinOffset(topic string, queueID int32) int64 {
	if q := s.queues.Get(topic, queueID); q != nil {
		return q.MinOffset()
	}
	return 0
}

// MaxOffset returns a queue's max offset: one past its last message (0 if it does not exist).
func (s *Store) MaxOffset(topic string, queueID int32) int64 {
	if q := s.queues.Get(topic, queueID); q != nil {
		return q.MaxOffset()
	}
	return 0
}

// OffsetByTime returns the first queue offset whose message was stored at or after ts (ms).
func (s *Store) OffsetByTime(topic string, queueID int32, ts int64) (int64, error) {
	q := s.queues.Get(topic, queueID)
	if q == nil {
		return 0, nil
	}
	return q.OffsetByTime(ts, func(offset int64, _ int32) (int64, error) {
		return s.commitLog.StoreTimestamp(offset)
	})
}

// QueueUnit returns the unit at a queue offset: the commitlog offset and size of the message.
func (s *Store) QueueUnit(topic string, queueID int32, offset int64) (consumequeue.Unit, bool) {
	q := s.queues.Get(topic, queueID)
	if q == nil {
		return consumequeue.Unit{}, false
	}
	return q.Get(offset)
}

// ScanQueue calls fn for the units of a queue from offset while fn returns true.
func (s *Store) ScanQueue(topic string, queueID int32, from int64, fn func(queueOffset int64, u consumequeue.Unit) bool) {
	if q := s.queues.Get(topic, queueID); q != nil {
		q.Units(max(from, q.MinOffset()), fn)
	}
}

// StoredMessage is a message read back with the fields the store assigned.
type StoredMessage struct {
	*message.Message
	QueueOffset    int64
	PhysicalOffset int64
	Size           int32
	StoreTimestamp int64
	MsgID          string
}

// ReadAt returns an owned copy of the message stored at a commitlog offset.
func (s *Store) ReadAt(physicalOffset int64) (*StoredMessage, error) {
	m, rec, err := s.commitLog.Message(physicalOffset)
	if err != nil {
		if errors.Is(err, commitlog.ErrOffset) {
			return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return nil, err
	}
	return &StoredMessage{
		Message:        m,
		QueueOffset:    rec.QueueOffset,
		PhysicalOffset: physicalOffset,
		Size:           rec.TotalSize,
		StoreTimestamp: rec.StoreTimestamp,
		MsgID:          message.OffsetMsgID(rec.StoreHost, physicalOffset),
	}, nil
}

// ReadRaw returns the raw record at a commitlog offset as a slice of the mapping; the caller
// must Release it.
func (s *Store) ReadRaw(physicalOffset int64) (commitlog.Slice, error) {
	var r message.Record
	return s.commitLog.Read(physicalOffset, &r)
}

// LookupByMsgID reads the message an offset message id names (store host + physical offset).
func (s *Store) LookupByMsgID(msgID string) (*StoredMessage, error) {
	_, offset, err := message.ParseOffsetMsgID(msgID)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrBadMsgID, msgID, err)
	}
	return s.ReadAt(offset)
}

// QueryByKey returns up to maxNum messages of topic whose KEYS contain key or whose UNIQ_KEY is
// key, stored in [begin, end] (ms; end 0 means now), newest first. Index hash collisions are
// filtered out by checking the key on each message.
func (s *Store) QueryByKey(topic, key string, maxNum int, begin, end int64) ([]*StoredMessage, error) {
	if s.index == nil {
		return nil, fmt.Errorf("store: the index is disabled")
	}
	if end == 0 {
		end = s.opts.Now().UnixMilli()
	}
	offsets, err := s.index.Query(topic, key, maxNum, begin, end)
	if err != nil {
		return nil, err
	}
	var out []*StoredMessage
	for _, off := range offsets {
		m, err := s.ReadAt(off)
		if err != nil {
			continue // deleted by retention, or an entry beyond a crash-truncated end
		}
		if m.Topic != topic || !(m.UniqKey() == key || slices.Contains(m.Keys(), key)) {
			continue // a hash collision
		}
		if m.StoreTimestamp < begin || m.StoreTimestamp > end {
			continue // the index keeps times in seconds; the range is in milliseconds
		}
		out = append(out, m)
	}
	return out, nil
}

// QueueStat describes one queue.
type QueueStat struct {
	Topic          string
	QueueID        int32
	MinOffset      int64
	MaxOffset      int64
	LastUpdateTime int64 // store time of the last message, ms (0 for an empty queue)
}

// Queues returns the stats of every queue, sorted by topic and queue id.
func (s *Store) Queues() []QueueStat {
	var out []QueueStat
	s.queues.Range(func(q *consumequeue.ConsumeQueue) bool {
		out = append(out, s.queueStat(q))
		return true
	})
	return out
}

// QueueStat returns one queue's stats (ok=false when it does not exist).
func (s *Store) QueueStat(topic string, queueID int32) (QueueStat, bool) {
	q := s.queues.Get(topic, queueID)
	if q == nil {
		return QueueStat{}, false
	}
	return s.queueStat(q), true
}

func (s *Store) queueStat(q *consumequeue.ConsumeQueue) QueueStat {
	st := QueueStat{Topic: q.Topic(), QueueID: q.QueueID(), MinOffset: q.MinOffset(), MaxOffset: q.MaxOffset()}
	if st.MaxOffset > st.MinOffset {
		if u, ok := q.Get(st.MaxOffset - 1); ok && !u.IsBlank() {
			st.LastUpdateTime, _ = s.commitLog.StoreTimestamp(u.CommitLogOffset)
		}
	}
	return st
}

// EarliestStoreTime returns the store time of a queue's oldest message (ms).
func (s *Store) EarliestStoreTime(topic string, queueID int32) (int64, error) {
	q := s.queues.Get(topic, queueID)
	if q == nil {
		return 0, fmt.Errorf("%w: no queue %s/%d", ErrNotFound, topic, queueID)
	}
	u, ok := q.Get(q.MinOffset())
	if !ok || u.IsBlank() {
		return 0, fmt.Errorf("%w: queue %s/%d is empty", ErrNotFound, topic, queueID)
	}
	return s.commitLog.StoreTimestamp(u.CommitLogOffset)
}

// EarliestMessageTime returns the store time of the oldest message in the commitlog (ms).
func (s *Store) EarliestMessageTime() (int64, error) {
	var ts int64
	found := false
	_, err := s.commitLog.Scan(s.commitLog.MinOffset(), false, func(_ int64, _ []byte, r *message.Record) bool {
		ts, found = r.StoreTimestamp, true
		return false
	})
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("%w: the store is empty", ErrNotFound)
	}
	return ts, nil
}

// DeleteTopic removes a topic's queues (its records stay in the commitlog until retention).
func (s *Store) DeleteTopic(topic string) error {
	if err := s.queues.Delete(topic); err != nil {
		return err
	}
	s.commitLog.RemoveQueueOffsets(topic)
	return nil
}
