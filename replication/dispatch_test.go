package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqstore/mqstore/consumequeue"
	"github.com/mqstore/mqstore/message"
)

// queueUnits lists every unit of topic T's queues: "q/offset/phys/size/tags".
func queueUnits(t testing.TB, d *Dispatcher) []string {
	t.Helper()
	var out []string
	d.Table().Range(func(q *consumequeue.ConsumeQueue) bool {
		q.Units(0, func(off int64, u consumequeue.Unit) bool {
			if !u.IsBlank() {
				out = append(out, fmt.Sprintf("%s/%d/%d/%d/%d/%d", q.Topic(), q.QueueID(), off, u.CommitLogOffset, u.Size, u.TagsCode))
			}
			return true
		})
		return true
	})
	slices.Sort(out)
	return out
}

// checkUnits fails unless every unit points to a record of its queue at its queue offset in l.
func checkUnits(t testing.TB, d *Dispatcher, l *Log) {
	t.Helper()
	cl := commitlogBytes(t, l)
	d.Table().Range(func(q *consumequeue.ConsumeQueue) bool {
		next := int64(0)
		q.Units(0, func(off int64, u consumequeue.Unit) bool {
			if off != next {
				t.Fatalf("queue %d: unit at %d after %d", q.QueueID(), off, next-1)
			}
			next++
			var rec message.Record
			if _, err := message.DecodeRecord(cl[u.CommitLogOffset:], &rec, true); err != nil {
				t.Fatalf("unit %d of queue %d: %v", off, q.QueueID(), err)
			}
			if rec.QueueOffset != off || rec.QueueID != q.QueueID() || rec.TotalSize != u.Size || rec.TagsCode() != u.TagsCode {
				t.Fatalf("unit %d of queue %d points to a record of queue %d offset %d", off, q.QueueID(), rec.QueueID, rec.QueueOffset)
			}
			return true
		})
		return true
	})
}

// TestDispatchOnlyCommitted: an isolated leader appends and patches records its followers never
// get; none reaches its consume queues. After the heal the uncommitted records are truncated,
// and every replica's queues hold the same units, pointing at the same records.
func TestDispatchOnlyCommitted(t *testing.T) {
	n, dir := logNet(t, 3)
	dispatchers := map[uint64]*Dispatcher{}
	n.onStart = func(id uint64) (func(uint64, []byte) error, uint64) {
		d, err := OpenDispatcher(filepath.Join(dir, fmt.Sprint(id)), DispatcherOptions{CheckpointEvery: 7})
		if err != nil {
			t.Fatal(err)
		}
		dispatchers[id] = d
		return d.Apply, d.Applied()
	}
	for _, id := range n.ids { // restart once so the dispatchers are in place
		n.restart(id)
	}
	t.Cleanup(func() {
		for _, d := range dispatchers {
			d.Close()
		}
	})
	old := n.electLeader(n.ids...)
	for i := range 12 {
		n.propose(old, payload(i))
	}
	n.ticks(2)
	committed := queueUnits(t, dispatchers[old])
	if len(committed) != 12 {
		t.Fatalf("%d units after 12 committed records", len(committed))
	}
	n.partition(old)
	for i := range 6 {
		n.propose(old, record(i%4, fmt.Sprintf("lost-%d", i)))
	}
	n.ticks(25)
	if got := queueUnits(t, dispatchers[old]); !slices.Equal(got, committed) {
		t.Fatalf("the isolated leader dispatched uncommitted records: %d units, want %d", len(got), len(committed))
	}
	var majority []uint64
	for _, id := range n.ids {
		if id != old {
			majority = append(majority, id)
		}
	}
	nl := n.electLeader(majority...)
	for i := 12; i < 40; i++ {
		n.propose(nl, payload(i))
	}
	n.ticks(2)
	// A follower restarts from its dispatch checkpoint: re-dispatching is idempotent.
	follower := majority[0]
	if follower == nl {
		follower = majority[1]
	}
	dispatchers[follower].Close()
	n.restart(follower)
	n.heal()
	n.ticks(5)
	ref := queueUnits(t, dispatchers[nl])
	if len(ref) != 40 {
		t.Fatalf("%d units, want 40", len(ref))
	}
	for _, id := range n.ids {
		if got := queueUnits(t, dispatchers[id]); !slices.Equal(got, ref) {
			t.Fatalf("replica %d's queues differ from the leader's", id)
		}
		checkUnits(t, dispatchers[id], n.stores[id].(*Log))
		for _, u := range ref {
			if strings.Contains(u, "lost") {
				t.Fatal(u)
			}
		}
	}
	sameCommitlogs(t, n, n.ids...)
}

// TestDispatchWaitApplied: WaitApplied returns once the entry is dispatched, or with the context.
func TestDispatchWaitApplied(t *testing.T) {
	d, err := OpenDispatcher(t.TempDir(), DispatcherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := d.WaitApplied(ctx, 1); err == nil {
		t.Fatal("WaitApplied returned before anything was dispatched")
	}
	done := make(chan error, 1)
	go func() { done <- d.WaitApplied(context.Background(), 1) }()
	rec := record(0, "x")
	if err := d.Apply(1, rec); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d.DispatchedOffset() != int64(len(rec)) {
		t.Fatalf("dispatched offset %d, want %d", d.DispatchedOffset(), len(rec))
	}
}

// TestDispatchConfig: config records set and delete rows, OnConfig hears each op in order, the
// table survives Close and reopen, and a record whose body is not a list of ops stops dispatch.
func TestDispatchConfig(t *testing.T) {
	dir := t.TempDir()
	var heard []string
	opts := DispatcherOptions{OnConfig: func(index uint64, op ConfigOp) error {
		heard = append(heard, fmt.Sprintf("%d:%s/%s=%s", index, op.Kind, op.Key, op.Value))
		return nil
	}}
	d, err := OpenDispatcher(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	host := netip.MustParseAddrPort("127.0.0.11:10911")
	queueOffset := int64(0)
	entry := func(ops ...ConfigOp) []byte { // patched as the Log would
		b, err := EncodeConfigEntry(ops, host, 1)
		if err != nil {
			t.Fatal(err)
		}
		message.PatchRecord(b, queueOffset, d.DispatchedOffset(), 1)
		queueOffset++
		return b
	}
	if err := d.Apply(1, entry(ConfigOp{Kind: "topic", Key: "A", Value: json.RawMessage(`1`)}, ConfigOp{Kind: "topic", Key: "B", Value: json.RawMessage(`2`)})); err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(2, entry(ConfigOp{Kind: "topic", Key: "A"})); err != nil {
		t.Fatal(err)
	}
	if want := "[1:topic/A=1 1:topic/B=2 2:topic/A=]"; fmt.Sprint(heard) != want {
		t.Fatalf("heard %v, want %s", heard, want)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if d, err = OpenDispatcher(dir, opts); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, ok := d.Config("topic", "A"); ok {
		t.Fatal("deleted row A is back after reopen")
	}
	if v, ok := d.Config("topic", "B"); !ok || string(v) != "2" || d.Applied() != 2 {
		t.Fatalf("row B = %s %v, applied %d after reopen", v, ok, d.Applied())
	}
	if _, err := EncodeConfigEntry(nil, host, 1); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("empty ops: %v", err)
	}
	m := &message.Message{Topic: ConfigTopic, Body: []byte("not json"), BornHost: host, StoreHost: host}
	bad, _ := message.AppendRecord(nil, m)
	message.PatchRecord(bad, queueOffset, d.DispatchedOffset(), 1)
	if err := d.Apply(3, bad); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("bad config record: %v, want ErrBadConfig", err)
	}
}
