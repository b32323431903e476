package txn_test

import (
	"github.com/mqstore/mqstore/bench/report"

	"bytes"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/txn"
)

// nullStore is a Store and Viewer that keeps only the last records it was
// given, encoded, in reused buffers: it costs one record encoding per
// Append and one decoding per View, and allocates nothing, so a benchmark
// over it measures txn's own work per transaction.
type nullStore struct {
	mu    sync.Mutex
	seq   int64
	queue map[string]int64 // next queue offset by topic
	slots [64]struct {
		seq int64
		buf []byte
	}
}

const nullStride = 1 << 20 // physical offset of record seq: seq*nullStride

var (
	_ txn.Store  = (*nullStore)(nil)
	_ txn.Viewer = (*nullStore)(nil)
)

func (s *nullStore) Append(m *message.Message) (txn.Appended, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queue == nil {
		s.queue = map[string]int64{}
	}
	seq := s.seq
	s.seq++
	slot := &s.slots[seq%int64(len(s.slots))]
	buf, err := message.AppendRecord(slot.buf[:0], m)
	if err != nil {
		return txn.Appended{}, err
	}
	var q int64
	if message.TransactionType(m.SysFlag) == message.TransactionNotType || message.TransactionType(m.SysFlag) == message.TransactionCommitType {
		q = s.queue[m.Topic]
		s.queue[m.Topic] = q + 1
	}
	message.PatchRecord(buf, q, seq*nullStride, 1_700_000_000_000)
	slot.seq, slot.buf = seq, buf
	return txn.Appended{PhysicalOffset: seq * nullStride, QueueOffset: q, StoreTimestamp: 1_700_000_000_000}, nil
}

// record returns the encoded record at physicalOffset; s.mu is held.
func (s *nullStore) record(physicalOffset int64) ([]byte, error) {
	seq := physicalOffset / nullStride
	slot := &s.slots[seq%int64(len(s.slots))]
	if physicalOffset%nullStride != 0 || slot.seq != seq || slot.buf == nil {
		return nil, errors.New("null store: record gone")
	}
	return slot.buf, nil
}

func (s *nullStore) View(physicalOffset int64, r *message.Record, v txn.Visitor) error {
	s.mu.Lock()
	b, err := s.record(physicalOffset)
	if err == nil {
		_, err = message.DecodeRecord(b, r, false)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return v.Visit(r) // Visit appends: s.mu is not held
}

func (s *nullStore) Read(physicalOffset int64) (*message.Message, message.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r message.Record
	b, err := s.record(physicalOffset)
	if err == nil {
		_, err = message.DecodeRecord(b, &r, false)
	}
	if err != nil {
		return nil, r, err
	}
	return r.Message(), r, nil
}

func (s *nullStore) ScanQueue(string, int32, int64, func(int64, int64, int32) bool) error { return nil }
func (s *nullStore) MinQueueOffset(string, int32) int64                                   { return 0 }
func (s *nullStore) MaxQueueOffset(string, int32) int64                                   { return 0 }

// BenchmarkServiceOverhead is prepare+commit of 1 KiB messages over
// nullStore: txn's own work per transaction (Prepare's property pass and
// half message, the open-transaction bookkeeping, Commit's verification
// and restore, the op writer) plus nullStore's two encodings and one
// decoding, which BenchmarkNullStore measures alone.
func BenchmarkServiceOverhead(b *testing.B) {
	st := &nullStore{}
	svc, err := txn.New(st, txn.Options{TransactionTimeout: time.Hour, CheckInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	m := overheadMessage()
	b.ReportAllocs()
	cpu0 := report.ProcessCPU()
	for b.Loop() {
		r, err := svc.Prepare(m, "G")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Commit(r.HalfOffset, "G", r.QueueOffset); err != nil {
			b.Fatal(err)
		}
	}
	if err := svc.Flush(); err != nil { // the op writer's work is txn's too
		b.Fatal(err)
	}
	b.ReportMetric(float64(report.ProcessCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkNullStore is what BenchmarkServiceOverhead spends in nullStore:
// a half message and a restored message encoded, the half decoded.
func BenchmarkNullStore(b *testing.B) {
	st := &nullStore{}
	m := overheadMessage()
	half := *m
	half.Topic, half.Properties = txn.HalfTopic, m.Properties.Set(message.PropertyRealTopic, m.Topic).
		Set(message.PropertyRealQueueID, "0").Set(message.PropertyTransactionPrepared, "true").
		Set(message.PropertyProducerGroup, "G")
	var v nopVisitor
	b.ReportAllocs()
	cpu0 := report.ProcessCPU()
	for b.Loop() {
		app, err := st.Append(&half)
		if err != nil {
			b.Fatal(err)
		}
		var r message.Record
		if err := st.View(app.PhysicalOffset, &r, v); err != nil {
			b.Fatal(err)
		}
		half.SysFlag = message.SetTransactionType(0, message.TransactionCommitType)
		if _, err := st.Append(&half); err != nil {
			b.Fatal(err)
		}
		half.SysFlag = 0
	}
	b.ReportMetric(float64(report.ProcessCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

type nopVisitor struct{}

func (nopVisitor) Visit(*message.Record) error { return nil }

func overheadMessage() *message.Message {
	m := message.New("T", bytes.Repeat([]byte("x"), 1024))
	m.BornHost = netip.MustParseAddrPort("10.0.0.1:5000")
	m.SetTags("t")
	m.SetProperty(message.PropertyUniqKey, "7F0000010001000000000000000A")
	return m
}
