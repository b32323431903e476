package store

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/replication"
)

// waitTimers waits until the timer service shows pending timers and skipped ones.
func waitTimers(t *testing.T, st *Store, pending, skipped int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ts := st.TimerStats()
		if ts.Pending == pending && ts.Skipped == skipped {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timers: %d pending, %d skipped; want %d, %d", ts.Pending, ts.Skipped, pending, skipped)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRestartAtRebuildsTimers: timers whose records a snapshot dropped leave the wheel when the
// store restarts at the snapshot (counted as skipped, not pending until their due time), the
// timer queue continues from the snapshot's queue offset, and timers stored after it are
// scheduled, also across a reopen.
func TestRestartAtRebuildsTimers(t *testing.T) {
	root := t.TempDir()
	const segment = 64 << 10
	l, err := replication.OpenLog(filepath.Join(root, "raft"), replication.LogOptions{SegmentSize: segment, RowsPerFile: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	owner := &logOwner{log: l}
	opts := testOptions()
	opts.CommitLogSegmentSize = segment
	opts.MaxMessageSize = 16 << 10
	opts.Replicator = owner
	open := func() *Store {
		st := openStore(t, filepath.Join(root, "replica"), opts)
		owner.mu.Lock()
		owner.st = st
		owner.mu.Unlock()
		return st
	}
	st := open()
	putTimer := func(body string) {
		t.Helper()
		m := &message.Message{Topic: "T", QueueID: 0, Body: []byte(body)}
		m.SetProperty(message.PropertyTimerDelaySec, "3600")
		if res, err := st.Put(m); err != nil || res.Status != PutOK {
			t.Fatalf("put a timer: %+v %v", res, err)
		}
	}
	putTimer("before-1")
	putTimer("before-2")
	waitTimers(t, st, 2, 0)
	timerNext := st.MaxOffset(TimerTopic, 0)

	// A snapshot past everything this store holds (its timer queue went on to 40 meanwhile).
	base := l.End() + 2*segment
	installSnapshot(t, owner, st, base, []replication.QueueNext{{Topic: TimerTopic, QueueID: 0, Next: timerNext + 38}})
	waitTimers(t, st, 0, 2)
	if st.MinOffset(TimerTopic, 0) != timerNext+38 || st.MaxOffset(TimerTopic, 0) != timerNext+38 {
		t.Fatalf("timer queue [%d, %d) after the snapshot, want it to start at %d", st.MinOffset(TimerTopic, 0),
			st.MaxOffset(TimerTopic, 0), timerNext+38)
	}
	putTimer("after")
	waitTimers(t, st, 1, 2)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = open()
	waitTimers(t, st, 1, 0)
	if st.MinOffset(TimerTopic, 0) != timerNext+38 || st.MaxOffset(TimerTopic, 0) != timerNext+39 {
		t.Fatalf("timer queue [%d, %d) after a reopen", st.MinOffset(TimerTopic, 0), st.MaxOffset(TimerTopic, 0))
	}
}
