package replication

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqstore/mqstore/internal/proctest"
	"github.com/mqstore/mqstore/message"
)

func TestParsePeers(t *testing.T) {
	peers, err := ParsePeers("n0-127.0.0.11:40911; n1-127.0.0.12:40911;n2-127.0.0.13:40911")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(peers); got != "[{n0 127.0.0.11:40911 1} {n1 127.0.0.12:40911 2} {n2 127.0.0.13:40911 3}]" {
		t.Fatalf("parsed %s", got)
	}
	for _, bad := range []string{"", ";", "n0", "n0-", "-127.0.0.1:1", "n0-host", "n0-a:1;n0-b:2"} {
		if _, err := ParsePeers(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("ParsePeers(%q) = %v, want ErrConfig", bad, err)
		}
	}
}

// dLegerPeers returns a dLegerPeers string with a free port on each of 127.0.0.11-13.
func dLegerPeers(t *testing.T) string {
	var parts []string
	for i := range 3 {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1%d:0", i+1))
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf("n%d-%s", i, ln.Addr()))
		ln.Close()
	}
	return strings.Join(parts, ";")
}

// TestNodes: three Nodes configured in DLedger's words append through the leader; each
// record's Stored position is where every replica holds it; a follower refuses; the leader's
// Close hands over to another; a closed node reopens from its files.
func TestNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	peers := dLegerPeers(t)
	cfg := func(self string) NodeConfig {
		return NodeConfig{Group: "broker-a", Peers: peers, SelfID: self, Dir: filepath.Join(dir, self),
			Log: LogOptions{SegmentSize: testSegment}, TickInterval: 20 * time.Millisecond, ElectionTicks: 15, Logger: quiet}
	}
	nodes := map[string]*Node{}
	for _, self := range []string{"n0", "n1", "n2"} {
		n, err := OpenNode(cfg(self))
		if err != nil {
			t.Fatal(err)
		}
		nodes[self] = n
	}
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	if _, err := OpenNode(NodeConfig{Peers: peers, SelfID: "n9", Dir: dir}); !errors.Is(err, ErrConfig) {
		t.Fatalf("unknown self id: %v", err)
	}
	leader := func() string {
		for ctx.Err() == nil {
			for name, n := range nodes {
				if n.Group().Role().Ready {
					return name
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("no ready leader")
		return ""
	}
	appendOK := func(body string, queue int) []Stored {
		t.Helper()
		for {
			stored, err := nodes[leader()].Append(ctx, append(record(queue, body+"-a"), record(queue, body+"-b")...))
			if err == nil {
				return stored
			}
			if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrNotReady) && !errors.Is(err, ErrSuperseded) {
				t.Fatal(err)
			}
		}
	}
	for i := range 10 {
		stored := appendOK(fmt.Sprintf("m%d", i), 2)
		if len(stored) != 2 || stored[0].QueueOffset != int64(2*i) || stored[1].QueueOffset != int64(2*i+1) ||
			stored[1].PhysicalOffset != stored[0].PhysicalOffset+int64(stored[0].Size) {
			t.Fatalf("append %d stored %+v", i, stored)
		}
	}
	l := leader()
	for name, n := range nodes {
		if name != l {
			if _, err := n.Append(ctx, record(0, "x")); !errors.Is(err, ErrNotLeader) {
				t.Fatalf("append on follower %s: %v", name, err)
			}
		}
	}
	if err := nodes[l].Close(); err != nil {
		t.Fatal(err)
	}
	delete(nodes, l)
	last := appendOK("after", 2)
	// Every replica holds the record where Append said, at the queue offset it said, once
	// it dispatched that far.
	n, err := OpenNode(cfg(l))
	if err != nil {
		t.Fatal(err)
	}
	nodes[l] = n
	end := last[1].PhysicalOffset + int64(last[1].Size)
	for name, n := range nodes {
		for n.Dispatcher().DispatchedOffset() < end {
			if ctx.Err() != nil {
				t.Fatalf("%s dispatched %d of %d", name, n.Dispatcher().DispatchedOffset(), end)
			}
			time.Sleep(10 * time.Millisecond)
		}
		cl := commitlogBytes(t, n.Log())
		var rec message.Record
		if _, err := message.DecodeRecord(cl[last[1].PhysicalOffset:], &rec, true); err != nil || rec.QueueOffset != 21 || string(rec.Body) != "after-b" {
			t.Fatalf("%s: record at %d: %v, queue offset %d, body %s", name, last[1].PhysicalOffset, err, rec.QueueOffset, rec.Body)
		}
		if u, ok := n.Dispatcher().Table().Get("T", 2).Get(21); !ok || u.CommitLogOffset != last[1].PhysicalOffset {
			t.Fatalf("%s: unit 21 of queue 2: %+v %v", name, u, ok)
		}
	}
}

// TestNodeSingle: one voter is the same code path (RF=1): it elects itself and appends.
func TestNodeSingle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := proctest.FreeAddr(t, "127.0.0.11")
	n, err := OpenNode(NodeConfig{Group: "solo", Peers: "n0-" + addr, SelfID: "n0", Dir: t.TempDir(),
		Log: LogOptions{SegmentSize: testSegment}, TickInterval: 10 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Group().WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	stored, err := n.Append(ctx, record(1, "solo"))
	if err != nil || len(stored) != 1 || stored[0].QueueOffset != 0 {
		t.Fatalf("append: %+v %v", stored, err)
	}
}
