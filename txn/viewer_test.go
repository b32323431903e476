package txn

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/mqstore/mqstore/message"
)

// viewStore is fakeStore with Viewer: it lends a copy of the record and
// poisons that copy once Visit returned, so anything txn kept of the lent
// memory would show as 0xEE bytes.
type viewStore struct {
	*fakeStore
	views int
}

var _ Viewer = (*viewStore)(nil)

func (s *viewStore) View(physicalOffset int64, r *message.Record, v Visitor) error {
	s.mu.Lock()
	fr, ok := s.recs[physicalOffset]
	s.mu.Unlock()
	if !ok {
		return errors.New("fake store: no record")
	}
	s.views++
	*r = fr.rec
	lent := make([]byte, 0, len(fr.rec.Body)+len(fr.rec.Topic)+len(fr.rec.Properties))
	lent = append(append(append(lent, fr.rec.Body...), fr.rec.Topic...), fr.rec.Properties...)
	nb, nt := len(fr.rec.Body), len(fr.rec.Topic)
	r.Body = lent[:nb:nb]
	r.Topic = lent[nb : nb+nt : nb+nt]
	r.Properties = message.Properties(lent[nb+nt : len(lent) : len(lent)])
	err := v.Visit(r)
	for i := range lent {
		lent[i] = 0xEE
	}
	return err
}

// TestViewerPathMatchesCopyPath runs the same transactions through a store
// with Viewer (zero-copy commit) and one without (the half message read as a
// copy): the records appended, the answers and the errors are the same, and
// nothing of the lent memory is kept.
func TestViewerPathMatchesCopyPath(t *testing.T) {
	type outcome struct {
		errs    []error
		records []*message.Message // every record appended but op messages, in order
		markers []string           // the op markers written, "end:queue offset", sorted
	}
	run := func(view bool) outcome {
		h := newHarness(t, Options{})
		var vs *viewStore
		if view {
			vs = &viewStore{fakeStore: h.store}
			h.svc.Close()
			svc, err := New(vs, h.opts)
			if err != nil {
				t.Fatal(err)
			}
			h.svc = svc
		}
		var out outcome
		note := func(err error) { out.errs = append(out.errs, err) }
		var prepared []PrepareResult
		for i, body := range []string{"a", "b", "c", "d"} {
			m := testMessage("T", int32(i%2), body)
			m.Flag = int32(i + 1)
			m.ReconsumeTimes = int32(i)
			if i == 3 {
				m.SetProperty(message.PropertyCheckImmunityTime, "30")
			}
			r, err := h.svc.Prepare(m, "G")
			if err != nil {
				t.Fatal(err)
			}
			prepared = append(prepared, r)
		}
		a, b, c, d := prepared[0], prepared[1], prepared[2], prepared[3]
		_, err := h.svc.Commit(a.HalfOffset, "G", a.QueueOffset)
		note(err)
		note(h.svc.Rollback(b.HalfOffset, "G", b.QueueOffset))
		_, err = h.svc.Commit(c.HalfOffset, "G", AnyQueueOffset)
		note(err)
		// Refusals: ended, wrong group, wrong queue offset, not a half
		// message (the committed record), no record.
		_, err = h.svc.Commit(a.HalfOffset, "G", a.QueueOffset)
		note(err)
		note(h.svc.Rollback(b.HalfOffset, "G", b.QueueOffset))
		_, err = h.svc.Commit(d.HalfOffset, "other", d.QueueOffset)
		note(err)
		note(h.svc.Rollback(d.HalfOffset, "G", d.QueueOffset+7))
		// The last restored record (the op writer may have appended an op
		// message after it).
		var committed int64
		h.store.mu.Lock()
		for _, p := range h.store.order {
			if message.TransactionType(h.store.recs[p].rec.SysFlag) == message.TransactionCommitType {
				committed = p
			}
		}
		h.store.mu.Unlock()
		_, err = h.svc.Commit(committed, "G", AnyQueueOffset)
		note(err)
		note(h.svc.Rollback(1<<40, "G", AnyQueueOffset))
		_, err = h.svc.Commit(d.HalfOffset, "G", d.QueueOffset)
		note(err)
		if err := h.svc.Flush(); err != nil {
			t.Fatal(err)
		}
		// Op messages are compared by the markers they carry: how the
		// writer batches them depends on timing.
		for _, p := range h.store.order {
			m := h.store.recs[p].msg
			if m.Topic != OpTopic {
				out.records = append(out.records, m.Clone())
				continue
			}
			end, _ := m.Properties.Get(PropertyEnd)
			if err := parseOpBody(m.Body, func(q int64) { out.markers = append(out.markers, fmt.Sprintf("%s:%d", end, q)) }); err != nil {
				t.Fatal(err)
			}
		}
		slices.Sort(out.markers)
		if view && vs.views < 9 {
			t.Errorf("Viewer used %d times", vs.views)
		}
		return out
	}
	copied, viewed := run(false), run(true)
	wantErrs := []error{nil, nil, nil, ErrAlreadyCommitted, ErrAlreadyRolledBack, ErrGroupMismatch,
		ErrQueueOffsetMismatch, ErrNotHalfMessage, ErrNotFound, nil}
	for i, want := range wantErrs {
		for name, got := range map[string][]error{"copy": copied.errs, "view": viewed.errs} {
			if want == nil && got[i] != nil || want != nil && !errors.Is(got[i], want) {
				t.Errorf("%s path, call %d: %v, want %v", name, i, got[i], want)
			}
		}
		if (copied.errs[i] == nil) != (viewed.errs[i] == nil) || copied.errs[i] != nil && copied.errs[i].Error() != viewed.errs[i].Error() {
			t.Errorf("call %d: copy path %v, view path %v", i, copied.errs[i], viewed.errs[i])
		}
	}
	if !slices.Equal(copied.markers, viewed.markers) || len(copied.markers) != 4 {
		t.Errorf("op markers: copy path %v, view path %v (want 4 each)", copied.markers, viewed.markers)
	}
	if len(copied.records) != len(viewed.records) {
		t.Fatalf("%d records appended on the copy path, %d on the view path", len(copied.records), len(viewed.records))
	}
	// StoreHost is left out: the fake's Read returns the message as appended
	// (no store host) while its record, which View lends, has one; the real
	// store's copy (Record.Message) takes the record's, as the view path does.
	for i := range copied.records {
		x, y := copied.records[i], viewed.records[i]
		if x.Topic != y.Topic || x.QueueID != y.QueueID || x.SysFlag != y.SysFlag || x.Flag != y.Flag ||
			x.PreparedTransactionOffset != y.PreparedTransactionOffset || x.BornTimestamp != y.BornTimestamp ||
			x.ReconsumeTimes != y.ReconsumeTimes || x.BornHost != y.BornHost ||
			!bytes.Equal(x.Body, y.Body) || !bytes.Equal(x.Properties, y.Properties) {
			t.Errorf("record %d differs:\ncopy %+v\nview %+v", i, x, y)
		}
		if bytes.Contains(y.Body, []byte{0xEE}) || bytes.Contains(y.Properties, []byte{0xEE}) {
			t.Errorf("record %d holds poisoned lent bytes", i)
		}
	}
}
