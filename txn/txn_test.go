package txn

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mqstore/mqstore/message"
)

const testGroup = "pg"

type harness struct {
	t     testing.TB
	clock *clock
	store *fakeStore
	opts  Options
	svc   *Service
}

func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	h := &harness{t: t, clock: newClock()}
	h.store = newFakeStore(h.clock)
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	opts.Now = h.clock.Now
	h.opts = opts
	h.open()
	t.Cleanup(func() {
		if h.svc != nil {
			h.svc.Close()
		}
	})
	return h
}

func (h *harness) open() {
	h.t.Helper()
	svc, err := New(h.store, h.opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.svc = svc
}

// restart closes the service cleanly and opens a new one on the same store.
func (h *harness) restart() {
	h.t.Helper()
	if err := h.svc.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.open()
}

// crashTo abandons the service (closed later, against the old store and
// dir) and opens a new one on a snapshot of the store and dir.
func (h *harness) crashTo(store *fakeStore, dir string) {
	h.t.Helper()
	old := h.svc
	h.t.Cleanup(func() { old.Close() })
	h.store = store
	h.opts.Dir = dir
	h.open()
}

func testMessage(topic string, qid int32, body string) *message.Message {
	m := message.New(topic, []byte(body))
	m.QueueID = qid
	m.BornTimestamp = 1
	m.SetTags("tagA")
	m.SetKeys("k-" + body)
	m.SetProperty(message.PropertyUniqKey, "U-"+body)
	return m
}

func (h *harness) prepare(topic string, qid int32, body string) PrepareResult {
	h.t.Helper()
	r, err := h.svc.Prepare(testMessage(topic, qid, body), testGroup)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) commit(r PrepareResult) {
	h.t.Helper()
	if _, err := h.svc.Commit(r.HalfOffset, testGroup, r.QueueOffset); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) rollback(r PrepareResult) {
	h.t.Helper()
	if err := h.svc.Rollback(r.HalfOffset, testGroup, r.QueueOffset); err != nil {
		h.t.Fatal(err)
	}
}

// bodies returns the bodies a consumer of topic/qid reads.
func (h *harness) bodies(topic string, qid int32) []string {
	var out []string
	for _, m := range h.store.messages(topic, qid) {
		out = append(out, string(m.Body))
	}
	return out
}

func (h *harness) flushOps() {
	h.t.Helper()
	if err := h.svc.ops.flush(); err != nil {
		h.t.Fatal(err)
	}
}

// opOffsets returns, per end kind, the half-queue offsets in the op queue.
func (h *harness) opOffsets() map[string][]int64 {
	out := map[string][]int64{}
	for _, m := range h.store.messages(OpTopic, 0) {
		if m.Tags() != OpTag {
			h.t.Fatalf("op tag %q", m.Tags())
		}
		end, _ := m.Property(PropertyEnd)
		if err := parseOpBody(m.Body, func(q int64) { out[end] = append(out[end], q) }); err != nil {
			h.t.Fatalf("op body %q: %v", m.Body, err)
		}
	}
	return out
}

// scripted is a Checker answering from a function and counting calls.
type scripted struct {
	mu    sync.Mutex
	calls map[int64]int // by half offset
	seen  []HalfMessage
	fn    func(h HalfMessage, n int) (Resolution, error)
}

func newScripted(fn func(h HalfMessage, n int) (Resolution, error)) *scripted {
	return &scripted{calls: map[int64]int{}, fn: fn}
}

func (c *scripted) Check(_ context.Context, h HalfMessage) (Resolution, error) {
	c.mu.Lock()
	c.calls[h.HalfOffset]++
	n := c.calls[h.HalfOffset]
	c.seen = append(c.seen, h)
	c.mu.Unlock()
	return c.fn(h, n)
}

func (c *scripted) count(halfOffset int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[halfOffset]
}

func (h *harness) round() RoundStats {
	h.t.Helper()
	st, err := h.svc.CheckNow(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

func TestPrepareStoresHalfMessage(t *testing.T) {
	h := newHarness(t, Options{})
	m := testMessage("orders", 3, "b1")
	m.SysFlag = message.TransactionPreparedType | message.SysFlagMultiTags
	before := append(message.Properties(nil), m.Properties...)
	r, err := h.svc.Prepare(m, testGroup)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Properties) != string(before) || m.Topic != "orders" {
		t.Fatal("Prepare modified the caller's message")
	}
	half, rec, err := h.store.Read(r.HalfOffset)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		message.PropertyRealTopic: "orders", message.PropertyRealQueueID: "3",
		message.PropertyTransactionPrepared: "true", message.PropertyProducerGroup: testGroup,
		message.PropertyTransactionID: "U-b1", message.PropertyUniqKey: "U-b1", message.PropertyTags: "tagA",
		message.PropertyKeys: "k-b1",
	}
	for k, v := range want {
		if got, _ := half.Property(k); got != v {
			t.Errorf("property %s = %q, want %q", k, got, v)
		}
	}
	if half.Topic != HalfTopic || half.QueueID != 0 || rec.QueueOffset != r.QueueOffset {
		t.Errorf("half at %s/%d q%d, result %+v", half.Topic, half.QueueID, rec.QueueOffset, r)
	}
	if message.TransactionType(half.SysFlag) != message.TransactionNotType || half.SysFlag&message.SysFlagMultiTags == 0 {
		t.Errorf("sysflag %#x", half.SysFlag)
	}
	if r.TransactionID != "U-b1" || r.MsgID == "" {
		t.Errorf("result %+v", r)
	}
	if got := h.bodies("orders", 3); len(got) != 0 {
		t.Errorf("real queue holds %v before commit", got)
	}
	open := h.svc.Open()
	if len(open) != 1 || open[0].HalfOffset != r.HalfOffset || open[0].Topic != "orders" || open[0].QueueID != 3 ||
		open[0].ProducerGroup != testGroup || open[0].TransactionID != "U-b1" || open[0].ResumedFrom != -1 {
		t.Errorf("Open() = %+v", open)
	}
}

func TestPrepareRejects(t *testing.T) {
	h := newHarness(t, Options{})
	delayed := testMessage("t", 0, "x")
	delayed.SetProperty(message.PropertyDelayLevel, "3")
	timer := testMessage("t", 0, "x")
	timer.SetProperty(message.PropertyTimerDelaySec, "10")
	noDelay := testMessage("t", 0, "x")
	noDelay.SetProperty(message.PropertyDelayLevel, "0")
	tests := []struct {
		name  string
		msg   *message.Message
		group string
		want  error
	}{
		{"nil", nil, testGroup, ErrInvalidMessage},
		{"no topic", testMessage("", 0, "x"), testGroup, ErrInvalidMessage},
		{"half topic", testMessage(HalfTopic, 0, "x"), testGroup, ErrInvalidMessage},
		{"op topic", testMessage(OpTopic, 0, "x"), testGroup, ErrInvalidMessage},
		{"discard topic", testMessage(DiscardTopic, 0, "x"), testGroup, ErrInvalidMessage},
		{"no group", testMessage("t", 0, "x"), "", ErrInvalidMessage},
		{"negative queue", testMessage("t", -1, "x"), testGroup, ErrInvalidMessage},
		{"delay", delayed, testGroup, ErrDelayedTransaction},
		{"timer", timer, testGroup, ErrDelayedTransaction},
		{"delay 0 is none", noDelay, testGroup, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.svc.Prepare(tt.msg, tt.group)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCommitRestoresOnce(t *testing.T) {
	h := newHarness(t, Options{})
	r := h.prepare("orders", 2, "b1")
	app, err := h.svc.Commit(r.HalfOffset, testGroup, r.QueueOffset)
	if err != nil {
		t.Fatal(err)
	}
	recs := h.store.records("orders", 2)
	if len(recs) != 1 {
		t.Fatalf("real queue holds %d records", len(recs))
	}
	rec := recs[0]
	if rec.PhysicalOffset != app.PhysicalOffset || string(rec.Body) != "b1" || rec.QueueID != 2 {
		t.Errorf("restored %+v", rec)
	}
	if message.TransactionType(rec.SysFlag) != message.TransactionCommitType || rec.PreparedTransactionOffset != r.HalfOffset {
		t.Errorf("sysflag %#x prepared offset %d", rec.SysFlag, rec.PreparedTransactionOffset)
	}
	// RocketMQ keeps REAL_TOPIC, REAL_QID, TRAN_MSG and PGROUP in the stored properties.
	for k, v := range map[string]string{message.PropertyRealTopic: "orders", message.PropertyRealQueueID: "2",
		message.PropertyTransactionPrepared: "true", message.PropertyProducerGroup: testGroup, message.PropertyKeys: "k-b1"} {
		if got, _ := rec.Properties.Get(k); got != v {
			t.Errorf("restored property %s = %q, want %q", k, got, v)
		}
	}
	if _, ok := rec.Properties.Get(message.PropertyTransactionCheckTimes); ok {
		t.Error("unchecked commit carries TRANSACTION_CHECK_TIMES")
	}
	h.flushOps()
	if got := h.opOffsets(); len(got[EndCommit]) != 1 || got[EndCommit][0] != r.QueueOffset {
		t.Errorf("op markers %v", got)
	}
	if len(h.svc.Open()) != 0 {
		t.Error("still open")
	}
}

func TestRollbackNeverDelivers(t *testing.T) {
	h := newHarness(t, Options{})
	r := h.prepare("orders", 0, "b1")
	h.rollback(r)
	h.flushOps()
	if got := h.bodies("orders", 0); len(got) != 0 {
		t.Fatalf("delivered %v", got)
	}
	if got := h.opOffsets(); len(got[EndRollback]) != 1 || got[EndRollback][0] != r.QueueOffset {
		t.Errorf("op markers %v", got)
	}
}

func TestEndValidation(t *testing.T) {
	h := newHarness(t, Options{})
	r := h.prepare("orders", 0, "b1")
	plain, err := h.store.Append(message.New("orders", []byte("plain")))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		offset      int64
		group       string
		queueOffset int64
		want        error
	}{
		{"no record", r.HalfOffset + 1, testGroup, r.QueueOffset, ErrNotFound},
		{"plain message", plain.PhysicalOffset, testGroup, AnyQueueOffset, ErrNotHalfMessage},
		{"group", r.HalfOffset, "other", r.QueueOffset, ErrGroupMismatch},
		{"queue offset", r.HalfOffset, testGroup, r.QueueOffset + 7, ErrQueueOffsetMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := h.svc.Commit(tt.offset, tt.group, tt.queueOffset); !errors.Is(err, tt.want) {
				t.Errorf("Commit: %v, want %v", err, tt.want)
			}
			if err := h.svc.Rollback(tt.offset, tt.group, tt.queueOffset); !errors.Is(err, tt.want) {
				t.Errorf("Rollback: %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := h.svc.Commit(r.HalfOffset, testGroup, AnyQueueOffset); err != nil {
		t.Fatalf("AnyQueueOffset: %v", err)
	}
}

func TestEndIdempotent(t *testing.T) {
	type end func(h *harness, r PrepareResult) error
	commit := func(h *harness, r PrepareResult) error {
		_, err := h.svc.Commit(r.HalfOffset, testGroup, r.QueueOffset)
		return err
	}
	rollback := func(h *harness, r PrepareResult) error { return h.svc.Rollback(r.HalfOffset, testGroup, r.QueueOffset) }
	tests := []struct {
		name          string
		first, second end
		want          error
		delivered     int
	}{
		{"commit twice", commit, commit, ErrAlreadyCommitted, 1},
		{"rollback after commit", commit, rollback, ErrAlreadyCommitted, 1},
		{"commit after rollback", rollback, commit, ErrAlreadyRolledBack, 0},
		{"rollback twice", rollback, rollback, ErrAlreadyRolledBack, 0},
	}
	for _, tt := range tests {
		for _, when := range []string{"live", "after restart", "below window"} {
			t.Run(tt.name+"/"+when, func(t *testing.T) {
				h := newHarness(t, Options{})
				r := h.prepare("orders", 0, "b1")
				if err := tt.first(h, r); err != nil {
					t.Fatal(err)
				}
				switch when {
				case "after restart":
					h.restart()
				case "below window":
					h.prepare("orders", 1, "later") // keeps something open above
					h.flushOps()
					h.svc.Start(newScripted(func(HalfMessage, int) (Resolution, error) { return Unknown, nil }))
					h.round() // trims the window past r
					if _, in := h.svc.states.get(r.QueueOffset); in {
						t.Fatal("window not trimmed")
					}
				}
				err := tt.second(h, r)
				if !errors.Is(err, tt.want) || !errors.Is(err, ErrAlreadyEnded) {
					t.Fatalf("second end: %v, want %v", err, tt.want)
				}
				if got := len(h.bodies("orders", 0)); got != tt.delivered {
					t.Fatalf("delivered %d, want %d", got, tt.delivered)
				}
			})
		}
	}
}

func TestConcurrentDuplicateEnds(t *testing.T) {
	h := newHarness(t, Options{})
	const n = 200
	rs := make([]PrepareResult, n)
	for i := range rs {
		rs[i] = h.prepare("orders", 0, fmt.Sprint(i))
	}
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := range rs {
		for k := 0; k < 4; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if k%2 == 0 {
					_, err = h.svc.Commit(rs[i].HalfOffset, testGroup, rs[i].QueueOffset)
				} else {
					err = h.svc.Rollback(rs[i].HalfOffset, testGroup, rs[i].QueueOffset)
				}
				switch {
				case err == nil:
					ok.Add(1)
				case !errors.Is(err, ErrAlreadyEnded):
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	if ok.Load() != n {
		t.Fatalf("%d ends succeeded, want %d", ok.Load(), n)
	}
	h.flushOps()
	ops := h.opOffsets()
	if got := len(ops[EndCommit]) + len(ops[EndRollback]); got != n {
		t.Fatalf("%d op markers", got)
	}
	if got := len(h.bodies("orders", 0)); got != len(ops[EndCommit]) {
		t.Fatalf("delivered %d, committed %d", got, len(ops[EndCommit]))
	}
}

// TestRandomOutcomes: 10,000 concurrent transactions with random outcomes;
// the consumer sees exactly the committed set.
func TestRandomOutcomes(t *testing.T) {
	h := newHarness(t, Options{})
	const n = 10_000
	var committed sync.Map
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			body := fmt.Sprint(i)
			r, err := h.svc.Prepare(testMessage("orders", int32(i%4), body), testGroup)
			if err != nil {
				t.Error(err)
				return
			}
			switch rand.IntN(3) {
			case 0:
				if _, err := h.svc.Commit(r.HalfOffset, testGroup, r.QueueOffset); err != nil {
					t.Error(err)
				}
				committed.Store(body, true)
			case 1:
				if err := h.svc.Rollback(r.HalfOffset, testGroup, r.QueueOffset); err != nil {
					t.Error(err)
				}
			default: // left open: the checker resolves it below
			}
		}()
	}
	wg.Wait()
	// The open ones are answered by the checker at random.
	h.clock.Advance(DefaultTransactionTimeout)
	checker := newScripted(func(hm HalfMessage, _ int) (Resolution, error) {
		if rand.IntN(2) == 0 {
			committed.Store(string(hm.Message.Body), true)
			return Commit, nil
		}
		return Rollback, nil
	})
	if err := h.svc.Start(checker); err != nil {
		t.Fatal(err)
	}
	h.round()
	if open := h.svc.Open(); len(open) != 0 {
		t.Fatalf("%d still open", len(open))
	}
	seen := map[string]bool{}
	for q := int32(0); q < 4; q++ {
		for _, b := range h.bodies("orders", q) {
			if seen[b] {
				t.Fatalf("duplicate %s", b)
			}
			seen[b] = true
			if _, ok := committed.Load(b); !ok {
				t.Fatalf("delivered %s, not committed", b)
			}
		}
	}
	committed.Range(func(k, _ any) bool {
		if !seen[k.(string)] {
			t.Errorf("committed %s not delivered", k)
		}
		return true
	})
	h.flushOps()
	if ops := h.store.messages(OpTopic, 0); len(ops) >= n {
		t.Errorf("%d op messages for %d transactions: not batched", len(ops), n)
	}
}
