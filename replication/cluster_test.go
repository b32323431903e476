package replication

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// tcpCluster runs replicas as they run in a broker: a Log under dir/<id>, a TCPTransport on a
// loopback alias (127.0.0.1<id>) and a Group, each replica stoppable and restartable from its
// files on the same address.
type tcpCluster struct {
	t     testing.TB
	dir   string
	ids   []uint64
	addrs map[uint64]string

	mu      sync.Mutex // guards nodes and applied
	nodes   map[uint64]*tcpNode
	applied map[uint64][]string // bodies applied since the node's last start
}

type tcpNode struct {
	log   *Log
	disp  *Dispatcher
	tr    *TCPTransport
	group *Group
}

func newTCPCluster(t testing.TB, size int) *tcpCluster {
	c := &tcpCluster{t: t, dir: t.TempDir(), addrs: map[uint64]string{}, nodes: map[uint64]*tcpNode{}, applied: map[uint64][]string{}}
	for i := 1; i <= size; i++ {
		id := uint64(i)
		c.ids = append(c.ids, id)
		// Bind port 0 on the alias once to pick a port, then keep that address for restarts.
		tr, err := ListenTCP(id, fmt.Sprintf("127.0.0.1%d:0", i), TCPOptions{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		c.addrs[id] = tr.Addr().String()
		tr.Close()
	}
	for _, id := range c.ids {
		c.start(id)
	}
	t.Cleanup(func() {
		for _, id := range c.ids {
			c.stop(id)
		}
	})
	return c
}

func (c *tcpCluster) start(id uint64) {
	c.t.Helper()
	l, err := OpenLog(filepath.Join(c.dir, fmt.Sprint(id)), LogOptions{SegmentSize: testSegment, RowsPerFile: 1024})
	if err != nil {
		c.t.Fatal(err)
	}
	d, err := OpenDispatcher(filepath.Join(c.dir, fmt.Sprint(id)), DispatcherOptions{CheckpointEvery: 50})
	if err != nil {
		c.t.Fatal(err)
	}
	var tr *TCPTransport
	for range 50 { // the address of a just-closed listener can take a moment to free
		if tr, err = ListenTCP(id, c.addrs[id], TCPOptions{Logger: quiet}); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.applied[id] = nil
	c.mu.Unlock()
	g, err := Start(Options{ID: id, Peers: c.ids, Storage: l, Transport: tr, Logger: quiet,
		TickInterval: 20 * time.Millisecond, ElectionTicks: 15, Applied: d.Applied(), Restore: d.Restore,
		Apply: func(index uint64, data []byte) error {
			b := bodies(c.t, data)
			c.mu.Lock()
			c.applied[id] = append(c.applied[id], b...)
			c.mu.Unlock()
			return d.Apply(index, data)
		}})
	if err != nil {
		c.t.Fatal(err)
	}
	l.SetSnapshotExtra(d.SnapshotExtra)
	tr.Start(c.addrs, g.Receive)
	c.mu.Lock()
	c.nodes[id] = &tcpNode{log: l, disp: d, tr: tr, group: g}
	c.mu.Unlock()
}

// stop stops replica id (Group, then transport, then log); its files stay.
func (c *tcpCluster) stop(id uint64) {
	c.mu.Lock()
	n := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if n == nil {
		return
	}
	if err := n.group.Close(); err != nil {
		c.t.Errorf("close group %d: %v", id, err)
	}
	n.tr.Close()
	if err := n.disp.Close(); err != nil {
		c.t.Errorf("close dispatcher %d: %v", id, err)
	}
	if err := n.log.Close(); err != nil {
		c.t.Errorf("close log %d: %v", id, err)
	}
}

func (c *tcpCluster) node(id uint64) *tcpNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

// leader waits for a running replica that leads and passed the barrier, and returns it.
func (c *tcpCluster) leader(ctx context.Context) uint64 {
	c.t.Helper()
	for ctx.Err() == nil {
		for _, id := range c.ids {
			if n := c.node(id); n != nil {
				if n.group.Role().Ready {
					return id
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no leader")
	return 0
}

// send proposes one record and waits until it committed, retrying on another leader, as a
// broker forwarding a SEND would. It returns the replica that acknowledged it.
func (c *tcpCluster) send(ctx context.Context, body string) uint64 {
	c.t.Helper()
	return c.sendData(ctx, body, record(len(body)%4, body))
}

// sendData proposes entry data until it commits (see send).
func (c *tcpCluster) sendData(ctx context.Context, body string, data []byte) uint64 {
	c.t.Helper()
	for ctx.Err() == nil {
		id := c.leader(ctx)
		n := c.node(id)
		if n == nil {
			continue
		}
		p, err := n.group.Propose(ctx, data)
		if err == nil {
			wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err = n.group.Wait(wctx, p)
			cancel()
			if err == nil {
				return id
			}
		}
		if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrNotReady) && !errors.Is(err, ErrSuperseded) && !errors.Is(err, context.DeadlineExceeded) &&
			!errors.Is(err, raft.ErrProposalDropped) && !errors.Is(err, ErrClosed) {
			c.t.Fatalf("send %s: %v", body, err)
		}
		// A timeout is an unknown outcome: the retry may duplicate (the broker dedupes by
		// UNIQ_KEY; here the checker tolerates a duplicate only after a timeout).
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("send %s: %v", body, ctx.Err())
	return 0
}

// converge waits until every running replica has applied what the others did and stores a
// byte-identical commitlog, and returns the bodies of the common commitlog.
func (c *tcpCluster) converge(ctx context.Context) []string {
	c.t.Helper()
	for {
		var ref []byte
		same := true
		base := int64(0) // replicas that installed a snapshot have nothing below its offset
		for _, id := range c.ids {
			if n := c.node(id); n != nil {
				n.log.mu.Lock()
				base = max(base, n.log.meta.StartPhys)
				n.log.mu.Unlock()
			}
		}
		for _, id := range c.ids {
			n := c.node(id)
			if n == nil {
				continue
			}
			b := commitlogFrom(c.t, n.log, base)
			if ref == nil {
				ref = b
			} else if !bytes.Equal(b, ref) {
				same = false
			}
		}
		// Every replica dispatched the same records into the same units.
		var counts []int64
		var units []string
		for _, id := range c.ids {
			if n := c.node(id); n != nil {
				counts = append(counts, n.disp.DispatchedOffset())
				u := fmt.Sprint(unitsFrom(c.t, n.disp, base))
				if units == nil {
					units = []string{u}
				} else if u != units[0] {
					same = false
				}
			}
		}
		for _, k := range counts {
			if k != counts[0] || k != base+int64(len(ref)) {
				same = false
			}
		}
		if same {
			if base > 0 {
				return nil
			}
			for _, id := range c.ids {
				if n := c.node(id); n != nil {
					checkUnits(c.t, n.disp, n.log)
				}
			}
			n := c.node(c.ids[0])
			return sameCommitlogsOf(c.t, n.log)
		}
		if ctx.Err() != nil {
			for _, id := range c.ids {
				if n := c.node(id); n != nil {
					if _, err := n.group.Status(context.Background()); err != nil {
						c.t.Errorf("replica %d stopped: %v", id, err)
					}
				}
			}
			c.t.Fatalf("replicas did not converge: dispatched %v of %d", counts, len(ref))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sameCommitlogsOf checks one commitlog's records (as sameCommitlogs does) and returns bodies.
func sameCommitlogsOf(t testing.TB, l *Log) []string {
	return sameCommitlogs(t, &simnet{stores: map[uint64]Storage{1: l}}, 1)
}

// TestTCPGroup: three replicas over TCP on 127.0.0.11-13 with commitlog storage: proposals
// commit, every replica applies them and stores a byte-identical commitlog; a stopped follower
// restarted from its files catches up; a stopped leader is replaced, every acknowledged entry
// survives the change and the old leader rejoins byte-identical.
func TestTCPGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newTCPCluster(t, 3)
	var acked []string
	sendN := func(from, to int) {
		for i := from; i < to; i++ {
			body := fmt.Sprintf("m-%04d", i)
			c.send(ctx, body)
			acked = append(acked, body)
		}
	}
	sendN(0, 100)
	checkAcked(t, c.converge(ctx), acked)

	// A follower stops; the other two commit; it restarts and catches up.
	l := c.leader(ctx)
	follower := c.ids[0]
	if follower == l {
		follower = c.ids[1]
	}
	c.stop(follower)
	sendN(100, 200)
	c.start(follower)
	checkAcked(t, c.converge(ctx), acked)
	c.mu.Lock()
	got := len(c.applied[follower])
	c.mu.Unlock()
	if got < 100 { // it restarted from its dispatch checkpoint, at or after entry 100
		t.Fatalf("restarted follower applied %d, want >= 100", got)
	}

	// The leader stops; a new one takes over; the old one rejoins.
	old := c.leader(ctx)
	c.stop(old)
	sendN(200, 300)
	if nl := c.leader(ctx); nl == old {
		t.Fatalf("leader %d still leads after stop", old)
	}
	c.start(old)
	sendN(300, 320)
	checkAcked(t, c.converge(ctx), acked)
}

// checkAcked fails unless every acknowledged body is in the log, in acknowledgement order,
// with duplicates only as adjacent retries.
func checkAcked(t *testing.T, log []string, acked []string) {
	t.Helper()
	pos := 0
	for _, a := range acked {
		for pos < len(log) && log[pos] != a {
			pos++
		}
		if pos == len(log) {
			t.Fatalf("acknowledged %s is not in the commitlog (%d records)", a, len(log))
		}
	}
	seen := map[string]int{}
	for _, b := range log {
		seen[b]++
	}
	dups := 0
	for _, k := range seen {
		dups += k - 1
	}
	if dups > 0 {
		t.Logf("%d duplicates (retries after a timeout)", dups)
	}
}

// TestTCPTransportFrames: a message crosses the wire intact; a peer that is down costs only
// drops, and a restarted peer is reached again.
func TestTCPTransportFrames(t *testing.T) {
	recv := make(chan *pb.Message, 16)
	a, err := ListenTCP(1, "127.0.0.11:0", TCPOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := ListenTCP(2, "127.0.0.12:0", TCPOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	baddr := b.Addr().String()
	peers := map[uint64]string{1: a.Addr().String(), 2: baddr}
	a.Start(peers, func(*pb.Message) {})
	b.Start(peers, func(m *pb.Message) { recv <- m })
	big := bytes.Repeat([]byte("z"), 3<<20)
	msg := &pb.Message{Type: pb.MessageType_MsgApp.Enum(), From: new(uint64(1)), To: new(uint64(2)), Term: new(uint64(7)),
		Entries: []*pb.Entry{{Index: new(uint64(9)), Term: new(uint64(7)), Data: big}}}
	a.Send([]*pb.Message{msg})
	select {
	case m := <-recv:
		if m.GetTerm() != 7 || len(m.GetEntries()) != 1 || !bytes.Equal(m.GetEntries()[0].GetData(), big) {
			t.Fatalf("received %v", m.GetType())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("message not received")
	}
	b.Close()
	a.Send([]*pb.Message{msg}) // to a dead peer: dropped or lost with the connection
	b, err = ListenTCP(2, baddr, TCPOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.Start(peers, func(m *pb.Message) { recv <- m })
	deadline := time.After(10 * time.Second)
	for {
		a.Send([]*pb.Message{{Type: pb.MessageType_MsgHeartbeat.Enum(), From: new(uint64(1)), To: new(uint64(2))}})
		select {
		case m := <-recv:
			if m.GetType() == pb.MessageType_MsgHeartbeat {
				return
			}
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("restarted peer not reached")
		}
	}
}

// TestTCPGroupConcurrent: many proposers at once (one append and one sync serve many
// proposals): every acknowledged proposal is in the byte-identical commitlogs, queue offsets
// dense, consume queues identical.
func TestTCPGroupConcurrent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newTCPCluster(t, 3)
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			for i := range 20 {
				body := fmt.Sprintf("w%02d-%03d", w, i)
				c.send(ctx, body)
				mu.Lock()
				acked[body] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got := map[string]bool{}
	for _, b := range c.converge(ctx) {
		got[b] = true
	}
	for b := range acked {
		if !got[b] {
			t.Fatalf("acknowledged %s is not in the commitlog", b)
		}
	}
}

// TestTCPConfigReplicated: metadata changes (topic configs, consumer offsets) are entries: every
// replica's table holds the same rows, a follower restarted from its checkpoint has them, and
// after the leader stops the new leader has every acknowledged change.
func TestTCPConfigReplicated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newTCPCluster(t, 3)
	host := netip.MustParseAddrPort("127.0.0.11:10911")
	config := func(ops ...ConfigOp) {
		t.Helper()
		data, err := EncodeConfigEntry(ops, host, time.Now().UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		c.sendData(ctx, fmt.Sprint(ops), data)
	}
	offset := func(group string, q, off int) ConfigOp {
		return ConfigOp{Kind: "consumerOffset", Key: fmt.Sprintf("%s@T@%d", group, q), Value: json.RawMessage(fmt.Sprint(off))}
	}
	config(ConfigOp{Kind: "topic", Key: "T", Value: json.RawMessage(`{"readQueueNums":4,"writeQueueNums":4}`)},
		ConfigOp{Kind: "topic", Key: "Gone", Value: json.RawMessage(`{}`)})
	for i := range 20 {
		c.send(ctx, fmt.Sprintf("m-%02d", i))
		if i%5 == 4 {
			config(offset("g1", 0, i), offset("g1", 1, i/2))
		}
	}
	l := c.leader(ctx)
	follower := c.ids[0]
	if follower == l {
		follower = c.ids[1]
	}
	c.stop(follower)
	config(ConfigOp{Kind: "topic", Key: "Gone"}, offset("g1", 0, 100), offset("g2", 3, 7))
	c.start(follower)
	c.converge(ctx)
	old := c.leader(ctx)
	c.stop(old)
	config(ConfigOp{Kind: "topic", Key: "New", Value: json.RawMessage(`{"perm":6}`)})
	c.start(old)
	c.converge(ctx)
	want := map[string]string{
		"topic":          `map[New:{"perm":6} T:{"readQueueNums":4,"writeQueueNums":4}]`,
		"consumerOffset": `map[g1@T@0:100 g1@T@1:9 g2@T@3:7]`,
	}
	for _, id := range c.ids {
		d := c.node(id).disp
		for kind, w := range want {
			rows := map[string]string{}
			for k, v := range d.ConfigRows(kind) {
				rows[k] = string(v)
			}
			if got := fmt.Sprint(rows); got != w {
				t.Errorf("replica %d %s rows %s, want %s", id, kind, got, w)
			}
		}
	}
}

// TestTCPTransportRefuses: a connection with a bad hello, a frame over MaxFrameSize, a message
// not from the hello's sender or not to this replica is closed and nothing reaches the handler.
func TestTCPTransportRefuses(t *testing.T) {
	tr, err := ListenTCP(2, "127.0.0.12:0", TCPOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var mu sync.Mutex
	delivered := 0
	tr.Start(map[uint64]string{}, func(*pb.Message) { mu.Lock(); delivered++; mu.Unlock() })
	hello := func(from uint64) []byte {
		b := append([]byte(transportMagic), make([]byte, 8)...)
		binary.BigEndian.PutUint64(b[8:], from)
		return b
	}
	frame := func(m *pb.Message) []byte {
		b, _ := proto.Marshal(m)
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
	}
	hb := func(from, to uint64) *pb.Message {
		return &pb.Message{Type: pb.MessageType_MsgHeartbeat.Enum(), From: new(from), To: new(to)}
	}
	for name, wire := range map[string][]byte{
		"bad hello":     append([]byte("NOTRAFT!"), make([]byte, 8)...),
		"oversize":      append(hello(1), 0x7F, 0xFF, 0xFF, 0xFF),
		"empty frame":   append(hello(1), 0, 0, 0, 0),
		"wrong sender":  append(hello(1), frame(hb(3, 2))...),
		"wrong replica": append(hello(1), frame(hb(1, 4))...),
		"not protobuf":  append(hello(1), 0, 0, 0, 3, 0xFF, 0xFF, 0xFF),
	} {
		conn, err := net.Dial("tcp", tr.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(wire)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Errorf("%s: read %v, want the connection closed (EOF)", name, err)
		}
		conn.Close()
	}
	// A well-formed frame on a good connection is delivered.
	conn, err := net.Dial("tcp", tr.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(append(hello(1), frame(hb(1, 2))...))
	for deadline := time.Now().Add(5 * time.Second); ; {
		mu.Lock()
		d := delivered
		mu.Unlock()
		if d == 1 {
			break
		}
		if d > 1 || time.Now().After(deadline) {
			t.Fatalf("%d messages delivered, want the one good one", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// unitsFrom lists the units (as queueUnits) of records at or after commitlog offset from.
func unitsFrom(t testing.TB, d *Dispatcher, from int64) []string {
	var out []string
	for _, u := range queueUnits(t, d) {
		f := strings.Split(u, "/")
		if phys, _ := strconv.ParseInt(f[3], 10, 64); phys >= from {
			out = append(out, u)
		}
	}
	return out
}

// TestTCPSnapshot: over TCP, a follower stopped while the others commit and compact is brought
// up by a snapshot and then keeps up: from the snapshot's offset every replica's commitlog and
// consume queues are the same.
func TestTCPSnapshot(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newTCPCluster(t, 3)
	big := strings.Repeat("s", 1500)
	for i := range 20 {
		c.send(ctx, fmt.Sprintf("a-%03d-%s", i, big))
	}
	l := c.leader(ctx)
	lagger := c.ids[0]
	if lagger == l {
		lagger = c.ids[1]
	}
	c.stop(lagger)
	for i := range 150 {
		c.send(ctx, fmt.Sprintf("b-%03d-%s", i, big))
	}
	for _, id := range c.ids {
		if n := c.node(id); n != nil {
			st, err := n.group.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := n.log.Compact(st.Applied); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.start(lagger)
	for i := range 20 {
		c.send(ctx, fmt.Sprintf("c-%03d", i))
	}
	c.converge(ctx)
	if first, _ := c.node(lagger).log.FirstIndex(); first < 150 {
		t.Fatalf("the lagger's log starts at %d: no snapshot was installed", first)
	}
}
