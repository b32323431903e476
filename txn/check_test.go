package txn

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
)

func always(r Resolution) *scripted {
	return newScripted(func(HalfMessage, int) (Resolution, error) { return r, nil })
}

func TestCheckAfterTimeout(t *testing.T) {
	for _, answer := range []Resolution{Commit, Rollback} {
		t.Run(answer.String(), func(t *testing.T) {
			h := newHarness(t, Options{})
			c := always(answer)
			h.svc.Start(c)
			r := h.prepare("orders", 0, "b1")
			h.clock.Advance(DefaultTransactionTimeout - time.Millisecond)
			if st := h.round(); st.Checked != 0 || c.count(r.HalfOffset) != 0 {
				t.Fatalf("checked before the timeout: %+v", st)
			}
			h.clock.Advance(time.Millisecond)
			st := h.round()
			if st.Checked != 1 || c.count(r.HalfOffset) != 1 {
				t.Fatalf("round %+v, calls %d", st, c.count(r.HalfOffset))
			}
			want := 0
			if answer == Commit {
				want = 1
			}
			if got := h.bodies("orders", 0); len(got) != want {
				t.Fatalf("delivered %v", got)
			}
			if len(h.svc.Open()) != 0 {
				t.Fatal("still open")
			}
			h.clock.Advance(time.Hour)
			h.round()
			if c.count(r.HalfOffset) != 1 {
				t.Fatal("checked after it was resolved")
			}
			// The half message the checker saw.
			hm := c.seen[0]
			if v, _ := hm.Message.Property(message.PropertyTransactionCheckTimes); v != "1" {
				t.Errorf("TRANSACTION_CHECK_TIMES %q", v)
			}
			if hm.Record.PhysicalOffset != r.HalfOffset || hm.QueueOffset != r.QueueOffset || hm.Topic != "orders" || hm.ProducerGroup != testGroup {
				t.Errorf("half message %+v", hm.OpenTransaction)
			}
		})
	}
}

func TestUnknownThenCommit(t *testing.T) {
	h := newHarness(t, Options{})
	const unknowns = 4
	c := newScripted(func(_ HalfMessage, n int) (Resolution, error) {
		if n <= unknowns {
			return Unknown, nil
		}
		return Commit, nil
	})
	h.svc.Start(c)
	r := h.prepare("orders", 1, "b1")
	for i := 0; i < unknowns; i++ {
		h.clock.Advance(DefaultCheckInterval)
		h.round()
		open := h.svc.Open()
		if len(open) != 1 || open[0].CheckTimes != i+1 || open[0].LastResult != CheckUnknown || open[0].LastCheck != h.clock.Now() {
			t.Fatalf("after check %d: %+v", i+1, open)
		}
		if i == 1 {
			h.restart() // counts survive a restart
			h.svc.Start(c)
		}
	}
	h.clock.Advance(DefaultCheckInterval)
	h.round()
	recs := h.store.records("orders", 1)
	if len(recs) != 1 || c.count(r.HalfOffset) != unknowns+1 {
		t.Fatalf("delivered %d, checks %d", len(recs), c.count(r.HalfOffset))
	}
	if v, _ := recs[0].Properties.Get(message.PropertyTransactionCheckTimes); v != "5" {
		t.Errorf("committed TRANSACTION_CHECK_TIMES %q, want 5", v)
	}
	// Only one half message: checks do not re-append it.
	if n := len(h.store.records(HalfTopic, 0)); n != 1 {
		t.Errorf("%d half records", n)
	}
}

func TestDiscardAfterCheckMax(t *testing.T) {
	h := newHarness(t, Options{CheckMax: 3})
	c := always(Unknown)
	h.svc.Start(c)
	r := h.prepare("orders", 0, "b1")
	for i := 0; i < 10; i++ {
		h.clock.Advance(DefaultCheckInterval)
		h.round()
	}
	if got := c.count(r.HalfOffset); got != 3 {
		t.Fatalf("checked %d times, want 3", got)
	}
	if len(h.svc.Open()) != 0 {
		t.Fatal("still open")
	}
	copies := h.store.messages(DiscardTopic, 0)
	if len(copies) != 1 || string(copies[0].Body) != "b1" {
		t.Fatalf("discarded copies %v", copies)
	}
	if v, _ := copies[0].Property(message.PropertyTransactionCheckTimes); v != "3" {
		t.Errorf("copy TRANSACTION_CHECK_TIMES %q", v)
	}
	if len(h.bodies("orders", 0)) != 0 {
		t.Fatal("delivered")
	}
	if _, err := h.svc.Commit(r.HalfOffset, testGroup, r.QueueOffset); !errors.Is(err, ErrDiscarded) {
		t.Fatalf("commit after discard: %v", err)
	}
	h.flushOps()
	if ops := h.opOffsets(); len(ops[EndDiscard]) != 1 {
		t.Fatalf("ops %v", ops)
	}
}

func TestDiscardAfterFileReservedTime(t *testing.T) {
	h := newHarness(t, Options{FileReservedTime: time.Hour})
	c := newScripted(func(HalfMessage, int) (Resolution, error) { return Unknown, ErrNoProducerOnline })
	h.svc.Start(c)
	r := h.prepare("orders", 0, "b1")
	h.clock.Advance(time.Hour + time.Millisecond)
	if st := h.round(); st.Discarded != 1 || c.count(r.HalfOffset) != 0 {
		t.Fatalf("round %+v", st)
	}
}

func TestImmunityTime(t *testing.T) {
	h := newHarness(t, Options{})
	c := always(Commit)
	h.svc.Start(c)
	m := testMessage("orders", 0, "b1")
	m.SetProperty(message.PropertyCheckImmunityTime, "30")
	r, err := h.svc.Prepare(m, testGroup)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []time.Duration{6 * time.Second, 10 * time.Second, 13*time.Second + 999*time.Millisecond} {
		h.clock.Advance(step)
		h.round()
		if c.count(r.HalfOffset) != 0 {
			t.Fatalf("checked inside the immunity time")
		}
	}
	h.clock.Advance(time.Millisecond)
	h.round()
	if c.count(r.HalfOffset) != 1 || len(h.bodies("orders", 0)) != 1 {
		t.Fatalf("not checked at the immunity time")
	}
}

// A long immunity does not use up checks (apache/rocketmq#8311).
func TestImmunityDoesNotBurnChecks(t *testing.T) {
	h := newHarness(t, Options{CheckMax: 2})
	c := always(Unknown)
	h.svc.Start(c)
	m := testMessage("orders", 0, "b1")
	m.SetProperty(message.PropertyCheckImmunityTime, "600")
	r, _ := h.svc.Prepare(m, testGroup)
	for i := 0; i < 9; i++ {
		h.clock.Advance(time.Minute)
		h.round()
	}
	if open := h.svc.Open(); len(open) != 1 || open[0].CheckTimes != 0 || c.count(r.HalfOffset) != 0 {
		t.Fatalf("open %+v", open)
	}
}

func TestCheckErrorNotCounted(t *testing.T) {
	h := newHarness(t, Options{CheckMax: 2})
	online := false
	c := newScripted(func(HalfMessage, int) (Resolution, error) {
		if !online {
			return Unknown, ErrNoProducerOnline
		}
		return Commit, nil
	})
	h.svc.Start(c)
	h.prepare("orders", 0, "b1")
	for i := 0; i < 5; i++ {
		h.clock.Advance(DefaultCheckInterval)
		if st := h.round(); st.Failed != 1 {
			t.Fatalf("round %+v", st)
		}
	}
	open := h.svc.Open()
	if len(open) != 1 || open[0].CheckTimes != 0 || open[0].LastResult != CheckFailed {
		t.Fatalf("open %+v", open)
	}
	online = true
	h.clock.Advance(DefaultCheckInterval)
	h.round()
	if len(h.bodies("orders", 0)) != 1 {
		t.Fatal("not delivered once the producer came online")
	}
}

// A checker may answer through Commit itself (an embedder), or later (the
// broker's oneway check): either way one delivery.
func TestCheckerCommitsItself(t *testing.T) {
	h := newHarness(t, Options{})
	var svc *Service
	c := newScripted(func(hm HalfMessage, _ int) (Resolution, error) {
		if _, err := svc.Commit(hm.HalfOffset, hm.ProducerGroup, hm.QueueOffset); err != nil {
			t.Error(err)
		}
		return Commit, nil // and says so too
	})
	svc = h.svc
	h.svc.Start(c)
	h.prepare("orders", 0, "b1")
	h.clock.Advance(DefaultTransactionTimeout)
	h.round()
	if got := h.bodies("orders", 0); len(got) != 1 {
		t.Fatalf("delivered %v", got)
	}
}

func TestCheckLoop(t *testing.T) {
	rounds := make(chan RoundStats, 100)
	h := newHarness(t, Options{CheckInterval: 10 * time.Millisecond, OnRound: func(st RoundStats) {
		select {
		case rounds <- st:
		default:
		}
	}})
	c := always(Commit)
	r := h.prepare("orders", 0, "b1")
	h.clock.Advance(DefaultTransactionTimeout)
	if _, err := h.svc.CheckNow(context.Background()); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("CheckNow before Start: %v", err)
	}
	if err := h.svc.Start(c); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Start(c); !errors.Is(err, ErrAlreadyStarted) {
		t.Fatalf("second Start: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.count(r.HalfOffset) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the loop never checked")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := h.svc.Close(); err != nil {
		t.Fatal(err)
	}
	// The loop reported its rounds; one of them checked and committed the transaction.
	close(rounds)
	committed := 0
	for st := range rounds {
		committed += st.Committed
	}
	if committed != 1 {
		t.Fatalf("OnRound saw %d commits, want 1", committed)
	}
	if err := h.svc.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := h.svc.Prepare(testMessage("t", 0, "x"), testGroup); !errors.Is(err, ErrClosed) {
		t.Fatalf("Prepare after Close: %v", err)
	}
	h.svc = nil
}

func TestResume(t *testing.T) {
	for _, via := range []string{"original", "discarded copy", "after restart"} {
		t.Run(via, func(t *testing.T) {
			h := newHarness(t, Options{CheckMax: 1})
			answer := Unknown
			c := newScripted(func(HalfMessage, int) (Resolution, error) { return answer, nil })
			h.svc.Start(c)
			r := h.prepare("orders", 0, "b1")
			if _, err := h.svc.Resume(r.HalfOffset); !errors.Is(err, ErrNotDiscarded) {
				t.Fatalf("Resume of an open one: %v", err)
			}
			for i := 0; i < 2; i++ {
				h.clock.Advance(DefaultCheckInterval)
				h.round()
			}
			copies := h.store.records(DiscardTopic, 0)
			if len(copies) != 1 {
				t.Fatalf("%d discarded copies", len(copies))
			}
			offset := r.HalfOffset
			switch via {
			case "discarded copy":
				offset = copies[0].PhysicalOffset
			case "after restart":
				h.restart()
				h.svc.Start(c)
			}
			o, err := h.svc.Resume(offset)
			if err != nil {
				t.Fatal(err)
			}
			if o.ResumedFrom != r.HalfOffset || o.CheckTimes != 0 || o.Topic != "orders" || o.HalfOffset == r.HalfOffset {
				t.Fatalf("resumed %+v", o)
			}
			if _, err := h.svc.Resume(offset); !errors.Is(err, ErrNotDiscarded) {
				t.Fatalf("second Resume: %v", err)
			}
			if _, err := h.svc.Commit(r.HalfOffset, testGroup, r.QueueOffset); !errors.Is(err, ErrResumed) {
				t.Fatalf("commit of the original: %v", err)
			}
			h.restart() // the resumed one survives a restart, the original stays resumed
			h.svc.Start(c)
			if open := h.svc.Open(); len(open) != 1 || open[0].HalfOffset != o.HalfOffset || open[0].ResumedFrom != r.HalfOffset {
				t.Fatalf("open after restart %+v", open)
			}
			if _, err := h.svc.Resume(r.HalfOffset); !errors.Is(err, ErrNotDiscarded) {
				t.Fatalf("Resume after restart: %v", err)
			}
			answer = Commit
			h.clock.Advance(DefaultCheckInterval)
			h.round()
			if got := h.bodies("orders", 0); len(got) != 1 {
				t.Fatalf("delivered %v", got)
			}
		})
	}
}
