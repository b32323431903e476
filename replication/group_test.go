package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// chanNet delivers messages between Groups in-process (marshalled, as on a wire).
type chanNet struct {
	mu     sync.Mutex // guards groups
	groups map[uint64]*Group
}

type chanTransport struct{ n *chanNet }

func (tr chanTransport) Send(msgs []*pb.Message) {
	for _, m := range msgs {
		wire, _ := proto.Marshal(m)
		var out pb.Message
		proto.Unmarshal(wire, &out)
		tr.n.mu.Lock()
		g := tr.n.groups[m.GetTo()]
		tr.n.mu.Unlock()
		if g != nil {
			g.Receive(&out)
		}
	}
}

// TestGroups runs three Groups, each owned by its goroutine with a real ticker: they elect a
// leader, commit and apply 100 proposals in the same order everywhere, and Close joins them.
func TestGroups(t *testing.T) {
	n := &chanNet{groups: map[uint64]*Group{}}
	peers := []uint64{1, 2, 3}
	var mu sync.Mutex
	applied := map[uint64][]string{}
	var groups []*Group
	for _, id := range peers {
		g, err := Start(Options{ID: id, Peers: peers, Storage: raft.NewMemoryStorage(), Transport: chanTransport{n},
			TickInterval: 10 * time.Millisecond, Logger: quiet,
			Apply: func(_ uint64, data []byte) error {
				mu.Lock()
				applied[id] = append(applied[id], string(data))
				mu.Unlock()
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		n.mu.Lock()
		n.groups[id] = g
		n.mu.Unlock()
		groups = append(groups, g)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const total = 100
	for i, attempt := 0, 0; i < total; attempt++ {
		// Only the leader accepts a proposal; the others say ErrNotLeader. Every fifth proposal
		// is waited for: Wait returns once it is applied on the leader.
		g, id := groups[attempt%3], peers[attempt%3]
		p, err := g.Propose(ctx, fmt.Appendf(nil, "p%03d", i))
		if errors.Is(err, ErrNotLeader) || errors.Is(err, ErrNotReady) {
			if attempt%3 == 2 {
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			if err := g.Wait(ctx, p); err != nil {
				t.Fatalf("wait for %+v: %v", p, err)
			}
			mu.Lock()
			last := applied[id]
			mu.Unlock()
			if len(last) == 0 || last[len(last)-1] != fmt.Sprintf("p%03d", i) {
				t.Fatalf("after Wait(%+v) the last applied entry is not p%03d", p, i)
			}
		}
		i++
	}
	for {
		mu.Lock()
		done := len(applied[1]) >= total && len(applied[2]) >= total && len(applied[3]) >= total
		mu.Unlock()
		if done {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("applied %d/%d/%d of %d", len(applied[1]), len(applied[2]), len(applied[3]), total)
		}
		time.Sleep(10 * time.Millisecond)
	}
	leaders := 0
	for _, g := range groups {
		st, err := g.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.RaftState == raft.StateLeader {
			leaders++
		}
	}
	if leaders != 1 {
		t.Errorf("%d leaders", leaders)
	}
	ready := 0
	for _, g := range groups {
		if r := g.Role(); r.Ready {
			ready++
			if r.State != raft.StateLeader || r.Leader != r.ID || r.Term == 0 {
				t.Errorf("ready role %+v", r)
			}
			if err := g.WaitReady(ctx); err != nil {
				t.Errorf("WaitReady on the ready leader: %v", err)
			}
		}
	}
	if ready != 1 {
		t.Errorf("%d replicas passed the leader barrier", ready)
	}
	for _, g := range groups {
		changed := g.RoleChanged()
		wasReady := g.Role().Ready
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		if g.Role().Ready {
			t.Fatal("a closed replica is still ready")
		}
		if wasReady {
			select {
			case <-changed:
			default:
				t.Fatal("closing the ready leader did not signal a role change")
			}
		}
		if err := g.Close(); !errors.Is(err, ErrClosed) {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := g.Propose(context.Background(), []byte("late")); !errors.Is(err, ErrClosed) {
			t.Fatalf("Propose after Close: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range peers[1:] {
		if fmt.Sprint(applied[id]) != fmt.Sprint(applied[1]) {
			t.Fatalf("replica %d applied %v, replica 1 %v", id, applied[id], applied[1])
		}
	}
	seen := map[string]bool{}
	for _, s := range applied[1] {
		if seen[s] {
			t.Fatalf("%s applied twice", s)
		}
		seen[s] = true
	}
	if len(seen) != total {
		t.Fatalf("applied %d distinct proposals, want %d", len(seen), total)
	}
}

// gatedStorage is a MemoryStorage whose Append waits while its gate is held (a slow disk).
type gatedStorage struct {
	*raft.MemoryStorage
	gate    sync.RWMutex
	waiting chan struct{} // receives a value when an Append starts waiting at the gate
}

func (s *gatedStorage) Append(entries []*pb.Entry) error {
	if !s.gate.TryRLock() {
		select {
		case s.waiting <- struct{}{}:
		default:
		}
		s.gate.RLock()
	}
	defer s.gate.RUnlock()
	return s.MemoryStorage.Append(entries)
}

// gatedGroups starts three Groups over gated in-memory storages on a channel network (closed
// at the test's end) and returns them with the ready leader's id.
func gatedGroups(t *testing.T) (map[uint64]*gatedStorage, map[uint64]*Group, uint64) {
	t.Helper()
	n := &chanNet{groups: map[uint64]*Group{}}
	peers := []uint64{1, 2, 3}
	stores := map[uint64]*gatedStorage{}
	groups := map[uint64]*Group{}
	for _, id := range peers {
		s := &gatedStorage{MemoryStorage: raft.NewMemoryStorage(), waiting: make(chan struct{}, 1)}
		g, err := Start(Options{ID: id, Peers: peers, Storage: s, Transport: chanTransport{n},
			TickInterval: 10 * time.Millisecond, Logger: quiet, Apply: func(uint64, []byte) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		stores[id], groups[id] = s, g
		n.mu.Lock()
		n.groups[id] = g
		n.mu.Unlock()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		for id, g := range groups {
			if g.Role().Ready {
				return stores, groups, id
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no ready leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGroupLeaderCommitsWhileItsAppendSyncs: a leader's append runs on its own goroutine, so
// while it waits for its disk the leader keeps stepping its followers' acknowledgements and
// commits the entry once they stored it (its own append is not needed for that quorum); the
// proposer learns the entry's index, and Wait returns, once the leader's append completes.
func TestGroupLeaderCommitsWhileItsAppendSyncs(t *testing.T) {
	stores, groups, lead := gatedGroups(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := groups[lead]
	before, err := g.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stores[lead].gate.Lock() // the leader's disk stalls
	type result struct {
		p   Proposal
		err error
	}
	proposed := make(chan result, 1)
	go func() {
		p, err := g.Propose(ctx, []byte("slow leader disk"))
		proposed <- result{p, err}
	}()
	select {
	case <-stores[lead].waiting:
	case <-ctx.Done():
		t.Fatal("the leader never appended the proposal")
	}
	for {
		st, err := g.Status(ctx) // answered while the append waits: the goroutine is free
		if err != nil {
			stores[lead].gate.Unlock()
			t.Fatalf("status while the leader's append waits: %v", err)
		}
		if st.GetCommit() > before.GetCommit() {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case res := <-proposed:
		t.Fatalf("Propose returned %+v, %v before the leader stored the entry", res.p, res.err)
	default:
	}
	stores[lead].gate.Unlock()
	res := <-proposed
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.p.Index != before.GetCommit()+1 {
		t.Fatalf("the proposal got index %d, want %d", res.p.Index, before.GetCommit()+1)
	}
	if err := g.Wait(ctx, res.p); err != nil {
		t.Fatalf("wait: %v", err)
	}
}

// TestGroupPullsWhileNoAppendInFlight: a Group with a pull function pulls proposals when kicked
// and no append is in flight; what queues while its append waits for the disk stays queued and
// is pulled, all of it, into the next Ready once the append completes; each pulled proposal
// learns its index once stored and its outcome once applied.
func TestGroupPullsWhileNoAppendInFlight(t *testing.T) {
	stores, groups, lead := gatedGroups(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := groups[lead]
	type outcome struct {
		p       Proposal
		applied <-chan error
		err     error
	}
	var mu sync.Mutex
	var queue [][]byte
	results := make(chan outcome, 8)
	pulls := 0
	g.SetPull(func() (Pulled, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(queue) == 0 {
			return Pulled{}, false
		}
		data := queue[0]
		queue = queue[1:]
		pulls++
		return Pulled{Data: data, Done: func(p Proposal, applied <-chan error, err error) { results <- outcome{p, applied, err} }}, true
	})
	enqueue := func(data ...string) {
		mu.Lock()
		for _, d := range data {
			queue = append(queue, []byte(d))
		}
		mu.Unlock()
		g.Kick()
	}
	stores[lead].gate.Lock()
	enqueue("first")
	select {
	case <-stores[lead].waiting: // pulled, proposed, its append waits for the disk
	case <-ctx.Done():
		stores[lead].gate.Unlock()
		t.Fatal("the leader did not pull the first proposal")
	}
	enqueue("a", "b", "c")
	time.Sleep(50 * time.Millisecond) // five ticks: the goroutine runs, and must not pull
	mu.Lock()
	queued, pulled := len(queue), pulls
	mu.Unlock()
	stores[lead].gate.Unlock()
	if queued != 3 || pulled != 1 {
		t.Fatalf("while the append was in flight: %d queued, %d pulled; want 3 and 1", queued, pulled)
	}
	var got []outcome
	for len(got) < 4 {
		select {
		case o := <-results:
			if o.err != nil {
				t.Fatalf("pulled proposal %d: %v", len(got), o.err)
			}
			got = append(got, o)
		case <-ctx.Done():
			t.Fatalf("%d of 4 pulled proposals stored", len(got))
		}
	}
	for i, o := range got {
		if i > 0 && o.p.Index != got[i-1].p.Index+1 {
			t.Fatalf("pulled proposals at indexes %d then %d", got[i-1].p.Index, o.p.Index)
		}
		select {
		case err := <-o.applied:
			if err != nil {
				t.Fatalf("outcome of %+v: %v", o.p, err)
			}
		case <-ctx.Done():
			t.Fatalf("%+v never applied", o.p)
		}
	}
}
