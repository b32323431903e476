package txn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
)

// crashAt arms the store to take a crash snapshot (store and dir) just
// before the first append that pick accepts. wait returns it.
type crashPoint struct {
	mu    sync.Mutex
	store *fakeStore
	dir   string
}

func (h *harness) crashAt(pick func(m *message.Message) bool) *crashPoint {
	cp := &crashPoint{}
	dir := h.opts.Dir
	t := h.t
	h.store.setBeforeAppend(func(m *message.Message) error {
		cp.mu.Lock()
		defer cp.mu.Unlock()
		if cp.store == nil && pick(m) {
			cp.store = h.store.snapshotLocked()
			cp.dir = copyDir(t, dir)
		}
		return nil
	})
	return cp
}

func (cp *crashPoint) taken() (*fakeStore, string, bool) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.store, cp.dir, cp.store != nil
}

// Crash between the restored append and the op marker: after the restart the
// transaction is closed, not checked, not delivered twice, and its op marker
// is written again.
func TestCrashBeforeCommitOpMarker(t *testing.T) {
	h := newHarness(t, Options{})
	r := h.prepare("orders", 0, "b1")
	h.prepare("orders", 0, "b2") // stays open
	cp := h.crashAt(func(m *message.Message) bool { return m.Topic == OpTopic })
	h.commit(r)
	h.flushOps()
	store, dir, ok := cp.taken()
	if !ok {
		t.Fatal("no op append")
	}
	if len(store.messages(OpTopic, 0)) != 0 || len(store.messages("orders", 0)) != 1 {
		t.Fatal("snapshot not between the restored append and the op marker")
	}
	h.crashTo(store, dir)
	if open := h.svc.Open(); len(open) != 1 || string(open[0].TransactionID) != "U-b2" {
		t.Fatalf("open after restart: %+v", open)
	}
	if _, err := h.svc.Commit(r.HalfOffset, testGroup, r.QueueOffset); !errors.Is(err, ErrAlreadyCommitted) {
		t.Fatalf("commit again: %v", err)
	}
	c := always(Commit)
	h.svc.Start(c)
	h.clock.Advance(time.Minute)
	h.round()
	if c.count(r.HalfOffset) != 0 {
		t.Fatal("committed transaction checked")
	}
	if got := h.bodies("orders", 0); len(got) != 2 || got[0] != "b1" || got[1] != "b2" {
		t.Fatalf("delivered %v", got)
	}
	h.flushOps()
	if ops := h.opOffsets(); len(ops[EndCommit]) != 2 {
		t.Fatalf("ops %v", ops)
	}
}

// Crash after prepare: the check resolves it after the restart.
func TestCrashAfterPrepare(t *testing.T) {
	for _, answer := range []Resolution{Commit, Rollback} {
		t.Run(answer.String(), func(t *testing.T) {
			h := newHarness(t, Options{})
			r := h.prepare("orders", 0, "b1")
			h.crashTo(h.store.snapshot(), copyDir(t, h.opts.Dir))
			c := always(answer)
			h.svc.Start(c)
			h.clock.Advance(DefaultTransactionTimeout)
			h.round()
			want := map[Resolution]int{Commit: 1, Rollback: 0}[answer]
			if c.count(r.HalfOffset) != 1 || len(h.bodies("orders", 0)) != want {
				t.Fatalf("checks %d delivered %v", c.count(r.HalfOffset), h.bodies("orders", 0))
			}
		})
	}
}

// A rollback whose op marker was lost reopens; the producer answers the
// check with rollback again and nothing is delivered.
func TestCrashBeforeRollbackOpMarker(t *testing.T) {
	h := newHarness(t, Options{})
	r := h.prepare("orders", 0, "b1")
	cp := h.crashAt(func(m *message.Message) bool { return m.Topic == OpTopic })
	h.rollback(r)
	h.flushOps()
	store, dir, _ := cp.taken()
	h.crashTo(store, dir)
	if len(h.svc.Open()) != 1 {
		t.Fatal("lost rollback not reopened")
	}
	h.svc.Start(always(Rollback))
	h.clock.Advance(DefaultTransactionTimeout)
	h.round()
	if len(h.bodies("orders", 0)) != 0 || len(h.svc.Open()) != 0 {
		t.Fatal("delivered or open")
	}
}

// Crash during a check round, at each append of the round in turn.
func TestCrashDuringCheckRound(t *testing.T) {
	const n = 12
	for crashAfter := 0; crashAfter < 2*n; crashAfter += 3 {
		t.Run(fmt.Sprint(crashAfter), func(t *testing.T) {
			h := newHarness(t, Options{CheckMax: 1})
			decision := map[string]Resolution{}
			for i := 0; i < n; i++ {
				b := fmt.Sprint(i)
				h.prepare("orders", 0, b)
				decision[b] = []Resolution{Commit, Rollback, Unknown}[i%3]
			}
			checker := newScripted(func(hm HalfMessage, _ int) (Resolution, error) { return decision[string(hm.Message.Body)], nil })
			h.svc.Start(checker)
			h.clock.Advance(DefaultCheckInterval)
			appends := 0
			cp := h.crashAt(func(*message.Message) bool { appends++; return appends > crashAfter })
			h.round()
			h.flushOps()
			store, dir, ok := cp.taken()
			if !ok {
				store, dir = h.store.snapshot(), copyDir(t, h.opts.Dir)
			}
			h.crashTo(store, dir)
			h.svc.Start(checker)
			for i := 0; i < 3; i++ {
				h.clock.Advance(DefaultCheckInterval)
				h.round()
			}
			seen := map[string]bool{}
			for _, b := range h.bodies("orders", 0) {
				if seen[b] || decision[b] != Commit {
					t.Fatalf("delivered %s (decision %v, seen %v)", b, decision[b], seen[b])
				}
				seen[b] = true
			}
			if len(seen) != n/3 {
				t.Fatalf("delivered %d, want %d", len(seen), n/3)
			}
			if len(h.svc.Open()) != 0 {
				t.Fatalf("open %+v", h.svc.Open())
			}
		})
	}
}

func openTable(s *Service) []OpenTransaction { return s.Open() }

// TestRebuildProperty runs random histories of prepares, ends, check rounds,
// discards, resumes, clean restarts and crashes. After every clean restart
// and every crash with the op markers written, the open-transaction table
// equals the one before. Crashes at random appends lose op markers; at the
// end, with every discarded transaction resumed and every producer
// answering, each committed message is delivered exactly once and no
// rolled-back one at all.
func TestRebuildProperty(t *testing.T) {
	// MQSTORE_TXN_LONG=1 runs 200 seeds. Found with it (and fixed): a resumed copy that ended
	// before a crash lost its origin's EndResume marker, so the origin could be resumed twice; and
	// the progress file could pass a transaction discarded in the previous round before its op
	// marker was appended.
	seeds := 40
	if testing.Short() {
		seeds = 10
	}
	if os.Getenv("MQSTORE_TXN_LONG") != "" {
		seeds = 200
	}
	for seed := 0; seed < seeds; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { rebuildHistory(t, uint64(seed)) })
	}
}

func rebuildHistory(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	h := newHarness(t, Options{CheckMax: 3})
	decisions := map[string]Resolution{} // producer's local state, Unknown = undecided
	var prepared []PrepareResult
	var bodies []string
	checker := newScripted(func(hm HalfMessage, _ int) (Resolution, error) {
		b := string(hm.Message.Body)
		defer func() { t.Logf("check %s q%d -> %v", b, hm.QueueOffset, decisions[b]) }()
		if decisions[b] == Unknown {
			switch rng.IntN(5) {
			case 0:
				decisions[b] = Commit
			case 1:
				decisions[b] = Rollback
			case 2:
				return Unknown, ErrNoProducerOnline
			}
		}
		return decisions[b], nil
	})
	h.svc.Start(checker)
	var pending *crashPoint
	check := func(what string, before []OpenTransaction) {
		t.Helper()
		if after := openTable(h.svc); !reflect.DeepEqual(before, after) {
			t.Fatalf("seed %d: table after %s differs:\nbefore %+v\nafter  %+v", seed, what, before, after)
		}
	}
	for step := 0; step < 80; step++ {
		if pending != nil {
			if store, dir, ok := pending.taken(); ok {
				h.flushOps()
				t.Logf("%d crashed", step)
				h.crashTo(store, dir)
				h.svc.Start(checker)
				pending = nil
				// Prepares after the crash point never happened.
				keep := 0
				for i, r := range prepared {
					if m, _, err := store.Read(r.HalfOffset); err == nil && m.Topic == HalfTopic && string(m.Body) == bodies[i] {
						prepared[keep], bodies[keep] = r, bodies[i]
						keep++
					}
				}
				prepared, bodies = prepared[:keep], bodies[:keep]
			}
		}
		switch k := rng.IntN(20); {
		case k < 7:
			b := fmt.Sprintf("s%d-%d", seed, len(bodies))
			m := testMessage(fmt.Sprint("t", rng.IntN(3)), int32(rng.IntN(2)), b)
			if rng.IntN(6) == 0 {
				m.SetProperty(message.PropertyCheckImmunityTime, fmt.Sprint(rng.IntN(20)))
			}
			r, err := h.svc.Prepare(m, testGroup)
			if err != nil {
				t.Fatal(err)
			}
			prepared = append(prepared, r)
			bodies = append(bodies, b)
			t.Logf("%d prepare %s q%d", step, b, r.QueueOffset)
		case k < 12 && len(prepared) > 0:
			i := rng.IntN(len(prepared))
			b, r := bodies[i], prepared[i]
			if decisions[b] == Unknown {
				decisions[b] = []Resolution{Commit, Rollback}[rng.IntN(2)]
			}
			var err error
			if decisions[b] == Commit {
				_, err = h.svc.Commit(r.HalfOffset, testGroup, r.QueueOffset)
			} else {
				err = h.svc.Rollback(r.HalfOffset, testGroup, r.QueueOffset)
			}
			t.Logf("%d end %s %v: %v", step, b, decisions[b], err)
			if err != nil && !errors.Is(err, ErrAlreadyEnded) {
				t.Fatal(err)
			}
			if decisions[b] == Rollback && errors.Is(err, ErrAlreadyCommitted) ||
				decisions[b] == Commit && errors.Is(err, ErrAlreadyRolledBack) {
				t.Fatalf("%s: decision %v answered %v", b, decisions[b], err)
			}
		case k < 15:
			h.clock.Advance(time.Duration(rng.IntN(20)) * time.Second)
			st := h.round()
			t.Logf("%d round %+v", step, st)
		case k == 15:
			copies := h.store.records(DiscardTopic, 0)
			if len(copies) > 0 {
				o, err := h.svc.Resume(copies[rng.IntN(len(copies))].PhysicalOffset)
				t.Logf("%d resume %+v %v", step, o, err)
				if err != nil && !errors.Is(err, ErrNotDiscarded) {
					t.Fatal(err)
				}
			}
		case k == 16:
			before := openTable(h.svc)
			t.Logf("%d restart", step)
			h.restart()
			h.svc.Start(checker)
			check("restart", before)
		case k == 17:
			h.flushOps()
			before := openTable(h.svc)
			h.crashTo(h.store.snapshot(), copyDir(t, h.opts.Dir))
			h.svc.Start(checker)
			t.Logf("%d quiescent crash", step)
			check("crash", before)
		case k == 18 && pending == nil:
			n := 1 + rng.IntN(4)
			pending = h.crashAt(func(*message.Message) bool { n--; return n < 0 })
			t.Logf("%d crash armed", step)
		}
	}
	if pending != nil {
		h.store.setBeforeAppend(nil)
	}
	// Resolve everything: resume every discarded one, producers decide.
	for i := 0; i < 40 && (len(h.svc.Open()) > 0 || i < 2); i++ {
		for _, c := range h.store.records(DiscardTopic, 0) {
			if _, err := h.svc.Resume(c.PhysicalOffset); err != nil && !errors.Is(err, ErrNotDiscarded) {
				t.Fatal(err)
			}
		}
		for b, d := range decisions {
			if d == Unknown {
				decisions[b] = Commit
			}
		}
		for _, b := range bodies {
			if decisions[b] == Unknown {
				decisions[b] = Commit
			}
		}
		h.clock.Advance(time.Minute)
		h.round()
	}
	if open := h.svc.Open(); len(open) != 0 {
		t.Fatalf("still open: %+v", open)
	}
	delivered := map[string]int{}
	for ti := 0; ti < 3; ti++ {
		for q := int32(0); q < 2; q++ {
			for _, b := range h.bodies(fmt.Sprint("t", ti), q) {
				delivered[b]++
			}
		}
	}
	for _, b := range bodies {
		want := 0
		if decisions[b] == Commit {
			want = 1
		}
		if delivered[b] != want {
			for i, bb := range bodies {
				if bb == b {
					t.Logf("prepared %s half %d q %d", b, prepared[i].HalfOffset, prepared[i].QueueOffset)
				}
			}
			for _, m := range h.store.messages(DiscardTopic, 0) {
				o, _ := m.Properties.Get(PropertyOrigin)
				t.Logf("discard copy body %s origin %s", m.Body, o)
			}
			recs := h.store.records(HalfTopic, 0)
			for i, m := range h.store.messages(HalfTopic, 0) {
				if string(m.Body) == b {
					o, _ := m.Properties.Get(PropertyOrigin)
					t.Logf("half %s at %d q %d origin %q", m.Body, recs[i].PhysicalOffset, recs[i].QueueOffset, o)
				}
			}
			for _, m := range h.store.messages(OpTopic, 0) {
				t.Logf("op %s tags %s", m.Body, m.Tags())
			}
			t.Fatalf("seed %d: %s (decision %v) delivered %d times", seed, b, decisions[b], delivered[b])
		}
	}
}

func TestProgressFile(t *testing.T) {
	h := newHarness(t, Options{})
	h.svc.Start(always(Unknown))
	var rs []PrepareResult
	for i := 0; i < 10; i++ {
		rs = append(rs, h.prepare("orders", 0, fmt.Sprint(i)))
	}
	for _, r := range rs[:5] {
		h.commit(r)
	}
	h.flushOps()
	h.round() // captures
	h.round() // writes the capture of the previous round
	p, ok, err := readProgress(nil, h.opts.Dir)
	if err != nil || !ok {
		t.Fatalf("progress %v %v", ok, err)
	}
	if p.halfWatermark != rs[5].QueueOffset {
		t.Fatalf("half watermark %d, want %d", p.halfWatermark, rs[5].QueueOffset)
	}
	before := h.svc.Open()
	h.restart()
	if after := h.svc.Open(); !reflect.DeepEqual(before, after) {
		t.Fatalf("table differs:\n%+v\n%+v", before, after)
	}
	// Below the watermark the answers come from the op queue.
	if _, err := h.svc.Commit(rs[0].HalfOffset, testGroup, rs[0].QueueOffset); !errors.Is(err, ErrAlreadyCommitted) {
		t.Fatalf("commit below the watermark: %v", err)
	}
	// A corrupt progress file means a full rebuild, with the same table.
	if err := os.WriteFile(filepath.Join(h.opts.Dir, progressFileName), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.svc.Close()
	h.open()
	if after := h.svc.Open(); !reflect.DeepEqual(before, after) {
		t.Fatalf("table after a corrupt progress differs")
	}
}

func TestNoDir(t *testing.T) {
	c := newClock()
	store := newFakeStore(c)
	svc, err := New(store, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	r, err := svc.Prepare(testMessage("orders", 0, "b1"), testGroup)
	if err != nil {
		t.Fatal(err)
	}
	svc.Start(always(Unknown))
	c.Advance(DefaultCheckInterval)
	if _, err := svc.CheckNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	svc, err = New(store, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if open := svc.Open(); len(open) != 1 || open[0].HalfOffset != r.HalfOffset {
		t.Fatalf("open %+v", open)
	}
}
