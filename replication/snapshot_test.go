package replication

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mqstore/mqstore/internal/mapped"
)

// commitlogFrom returns l's commitlog bytes [from, End) read from its segment files.
func commitlogFrom(t testing.TB, l *Log, from int64) []byte {
	t.Helper()
	var out []byte
	end := l.End()
	for off := from - from%testSegment; off < end; off += testSegment {
		lo := max(from-off, 0)
		if off+lo >= end {
			break // a log that starts at a snapshot's offset and holds no record yet
		}
		b, err := os.ReadFile(filepath.Join(l.CommitlogDir(), mapped.FileName(off)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b[lo:min(int64(len(b)), end-off)]...)
	}
	return out
}

// TestSnapshotLaggard: a follower down while the others commit and compact their logs (retention
// deletes the segments it would need) is brought up by a snapshot: its log restarts at the
// snapshot's offset and from there its commitlog, queue table, consume queues and config table
// are the leader's; it keeps up afterwards and survives a restart from its new files.
func TestSnapshotLaggard(t *testing.T) {
	n, dir := logNet(t, 3)
	dispatchers := map[uint64]*Dispatcher{}
	n.restore = map[uint64]func(uint64, []byte) error{}
	n.onStart = func(id uint64) (func(uint64, []byte) error, uint64) {
		d, err := OpenDispatcher(filepath.Join(dir, fmt.Sprint(id)), DispatcherOptions{CheckpointEvery: 16})
		if err != nil {
			t.Fatal(err)
		}
		dispatchers[id] = d
		n.restore[id] = d.Restore
		return d.Apply, d.Applied()
	}
	for _, id := range n.ids {
		n.restart(id)
	}
	t.Cleanup(func() {
		for _, d := range dispatchers {
			d.Close()
		}
	})
	extra := func(id uint64) { n.stores[id].(*Log).SetSnapshotExtra(dispatchers[id].SnapshotExtra) }
	for _, id := range n.ids {
		extra(id)
	}
	host := netip.MustParseAddrPort("127.0.0.11:10911")
	config := func(id uint64, ops ...ConfigOp) {
		data, err := EncodeConfigEntry(ops, host, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.propose(id, data); err != nil {
			t.Fatal(err)
		}
	}
	l := n.electLeader(n.ids...)
	lagger := n.ids[0]
	if lagger == l {
		lagger = n.ids[1]
	}
	big := strings.Repeat("b", 2000)
	for i := range 20 {
		n.propose(l, record(i%4, fmt.Sprintf("early-%03d-%s", i, big)))
	}
	config(l, ConfigOp{Kind: "topic", Key: "T", Value: json.RawMessage(`1`)}, ConfigOp{Kind: "topic", Key: "Old", Value: json.RawMessage(`1`)})
	n.ticks(2)
	n.down[lagger] = true
	for i := range 150 {
		n.propose(l, record(i%4, fmt.Sprintf("late-%03d-%s", i, big)))
		if i%20 == 0 {
			n.ticks(1)
		}
	}
	config(l, ConfigOp{Kind: "topic", Key: "Old"}, ConfigOp{Kind: "consumerOffset", Key: "g@T@0", Value: json.RawMessage(`5`)})
	n.ticks(2)
	for _, id := range n.ids {
		if id == lagger {
			continue
		}
		commit := n.nodes[id].status().GetCommit()
		if err := n.stores[id].(*Log).Compact(commit - 3); err != nil {
			t.Fatal(err)
		}
	}
	ll := n.stores[l].(*Log)
	if first, _ := ll.FirstIndex(); first < 100 {
		t.Fatalf("first index %d after compaction", first)
	}
	if segs := ll.commitlog.Files(); segs[0].FromOffset() == 0 {
		t.Fatal("compaction deleted no segment")
	}
	dispatchers[lagger].Close()
	n.restart(lagger) // it comes back: the entries it needs are gone
	extra(lagger)
	n.ticks(10)
	for i := range 10 {
		n.propose(l, record(i%4, fmt.Sprintf("after-%03d", i)))
	}
	n.ticks(3)
	check := func() {
		t.Helper()
		lg := n.stores[lagger].(*Log)
		first, _ := lg.FirstIndex()
		if first < 100 {
			t.Fatalf("the lagger's log starts at %d: it replayed entries instead of a snapshot", first)
		}
		from := lg.meta.StartPhys
		if got, want := commitlogFrom(t, lg, from), commitlogFrom(t, ll, from); !bytes.Equal(got, want) {
			t.Fatalf("commitlogs from %d differ: %d and %d bytes", from, len(got), len(want))
		}
		for q := range int32(4) {
			if a, b := lg.QueueOffset("T", q), ll.QueueOffset("T", q); a != b {
				t.Fatalf("queue %d: next offset %d on the lagger, %d on the leader", q, a, b)
			}
		}
		var suffix []string
		for _, u := range queueUnits(t, dispatchers[l]) {
			var topic string
			var q, off, phys int64
			fmt.Sscanf(strings.ReplaceAll(u, "/", " "), "%s %d %d %d", &topic, &q, &off, &phys)
			if phys >= from {
				suffix = append(suffix, u)
			}
		}
		if got := queueUnits(t, dispatchers[lagger]); !slices.Equal(got, suffix) || len(got) == 0 {
			t.Fatalf("the lagger's consume queues hold %d units, the leader's %d from offset %d", len(got), len(suffix), from)
		}
		for _, kind := range []string{"topic", "consumerOffset"} {
			if a, b := fmt.Sprint(dispatchers[lagger].ConfigRows(kind)), fmt.Sprint(dispatchers[l].ConfigRows(kind)); a != b {
				t.Fatalf("%s rows %s on the lagger, %s on the leader", kind, a, b)
			}
		}
		if _, ok := dispatchers[lagger].Config("topic", "Old"); ok {
			t.Fatal("a deleted topic is back on the lagger")
		}
	}
	check()
	dispatchers[lagger].Close()
	n.restart(lagger)
	extra(lagger)
	n.propose(l, record(0, "last"))
	n.ticks(3)
	check()
}
