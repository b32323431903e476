package txn

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type queueKey struct {
	topic string
	id    int32
}

type fakeRecord struct {
	msg *message.Message
	rec message.Record
}

type fakeQueue struct {
	min   int64
	units []int64 // physical offsets, units[i] at queue offset min+i
}

// fakeStore is an in-memory Store: records by physical offset, consume
// queues dispatched synchronously.
type fakeStore struct {
	clock *clock
	host  netip.AddrPort

	mu     sync.Mutex // guards the fields below
	recs   map[int64]fakeRecord
	order  []int64 // physical offsets in append order
	queues map[queueKey]*fakeQueue
	next   int64
	// beforeAppend, when set, runs (under mu) before each append; an error
	// fails the append.
	beforeAppend func(m *message.Message) error
}

var errFakeAppend = errors.New("fake store: append refused")

func newFakeStore(c *clock) *fakeStore {
	return &fakeStore{
		clock:  c,
		host:   netip.MustParseAddrPort("10.0.0.1:10911"),
		recs:   make(map[int64]fakeRecord),
		queues: make(map[queueKey]*fakeQueue),
		next:   0,
	}
}

var _ Store = (*fakeStore)(nil)

func (s *fakeStore) Append(m *message.Message) (Appended, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.beforeAppend != nil {
		if err := s.beforeAppend(m); err != nil {
			return Appended{}, err
		}
	}
	m = m.Clone()
	phys := s.next
	size := message.RecordSize(m)
	s.next += int64(size)
	var qo int64
	switch message.TransactionType(m.SysFlag) {
	case message.TransactionNotType, message.TransactionCommitType:
		k := queueKey{m.Topic, m.QueueID}
		q := s.queues[k]
		if q == nil {
			q = &fakeQueue{}
			s.queues[k] = q
		}
		qo = q.min + int64(len(q.units))
		q.units = append(q.units, phys)
	}
	ts := s.clock.Now().UnixMilli()
	s.recs[phys] = fakeRecord{msg: m, rec: message.Record{
		TotalSize: int32(size), Magic: message.MagicV1, BodyCRC: message.CRC32(m.Body),
		QueueID: m.QueueID, Flag: m.Flag, QueueOffset: qo, PhysicalOffset: phys, SysFlag: m.SysFlag,
		BornTimestamp: m.BornTimestamp, BornHost: m.BornHost, StoreTimestamp: ts, StoreHost: s.host,
		ReconsumeTimes: m.ReconsumeTimes, PreparedTransactionOffset: m.PreparedTransactionOffset,
		Body: m.Body, Topic: []byte(m.Topic), Properties: m.Properties,
	}}
	s.order = append(s.order, phys)
	return Appended{PhysicalOffset: phys, QueueOffset: qo, MsgID: message.OffsetMsgID(s.host, phys), StoreTimestamp: ts}, nil
}

func (s *fakeStore) setBeforeAppend(fn func(m *message.Message) error) {
	s.mu.Lock()
	s.beforeAppend = fn
	s.mu.Unlock()
}

func (s *fakeStore) Read(physicalOffset int64) (*message.Message, message.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[physicalOffset]
	if !ok {
		return nil, message.Record{}, errors.New("fake store: no record")
	}
	rec := r.rec
	rec.Body = append([]byte(nil), rec.Body...)
	rec.Topic = append([]byte(nil), rec.Topic...)
	rec.Properties = rec.Properties.Clone()
	return r.msg.Clone(), rec, nil
}

func (s *fakeStore) ScanQueue(topic string, queueID int32, from int64, fn func(queueOffset, physicalOffset int64, size int32) bool) error {
	s.mu.Lock()
	q := s.queues[queueKey{topic, queueID}]
	var units []int64
	var base int64
	if q != nil {
		base = max(from, q.min)
		if i := base - q.min; i < int64(len(q.units)) {
			units = append(units, q.units[i:]...)
		}
	}
	s.mu.Unlock()
	for i, p := range units {
		if !fn(base+int64(i), p, 0) {
			break
		}
	}
	return nil
}

func (s *fakeStore) MinQueueOffset(topic string, queueID int32) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[queueKey{topic, queueID}]; q != nil {
		return q.min
	}
	return 0
}

func (s *fakeStore) MaxQueueOffset(topic string, queueID int32) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[queueKey{topic, queueID}]; q != nil {
		return q.min + int64(len(q.units))
	}
	return 0
}

// snapshotLocked deep-copies the store: the state a crash at this instant
// leaves (mu held).
func (s *fakeStore) snapshotLocked() *fakeStore {
	c := newFakeStore(s.clock)
	c.next = s.next
	for k, v := range s.recs {
		c.recs[k] = v // records are never mutated
	}
	c.order = append([]int64(nil), s.order...)
	for k, q := range s.queues {
		c.queues[k] = &fakeQueue{min: q.min, units: append([]int64(nil), q.units...)}
	}
	return c
}

func (s *fakeStore) snapshot() *fakeStore {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshotLocked()
}

// messages returns the messages of a queue in order.
func (s *fakeStore) messages(topic string, queueID int32) []*message.Message {
	var out []*message.Message
	_ = s.ScanQueue(topic, queueID, 0, func(_, p int64, _ int32) bool {
		m, _, err := s.Read(p)
		if err == nil {
			out = append(out, m)
		}
		return true
	})
	return out
}

// records returns the records of a queue in order.
func (s *fakeStore) records(topic string, queueID int32) []message.Record {
	var out []message.Record
	_ = s.ScanQueue(topic, queueID, 0, func(_, p int64, _ int32) bool {
		_, r, err := s.Read(p)
		if err == nil {
			out = append(out, r)
		}
		return true
	})
	return out
}

// copyDir copies the regular files of src into a new temp dir (a crash
// snapshot of Options.Dir).
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Error(err)
		return dst
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // renamed over meanwhile (a .tmp file)
		}
		if err != nil {
			t.Error(err) // may run outside the test goroutine: no Fatal
			continue
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Error(err)
		}
	}
	return dst
}
