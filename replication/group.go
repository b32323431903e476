package replication

import (
	"context"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Group is one replica of a Raft group, run by one goroutine that owns its RawNode: it ticks
// the clock every Options.TickInterval, steps incoming messages, accepts proposals and runs
// the Ready loop. Every method is safe for concurrent use.
type Group struct {
	r *replica

	propc   chan proposal
	recvc   chan *pb.Message
	statusc chan chan raft.BasicStatus

	mu     sync.Mutex // guards closed
	closed bool
	quit   chan struct{} // closed by Close
	done   chan struct{} // closed when the goroutine exits
	err    error         // why the goroutine stopped (set before done closes)
}

type proposal struct {
	data []byte
	errc chan error
}

// Start starts a replica of the group described by opts.
func Start(opts Options) (*Group, error) {
	r, err := newReplica(opts)
	if err != nil {
		return nil, err
	}
	g := &Group{
		r:       r,
		propc:   make(chan proposal),
		recvc:   make(chan *pb.Message, 1024),
		statusc: make(chan chan raft.BasicStatus),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go g.run()
	return g, nil
}

func (g *Group) run() {
	defer close(g.done)
	t := time.NewTicker(g.r.opts.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-g.quit:
			return
		case <-t.C:
			g.r.tick()
		case m := <-g.recvc:
			g.r.step(m) // errors are stale or foreign messages: raft ignores them
		case p := <-g.propc:
			p.errc <- g.r.propose(p.data)
		case c := <-g.statusc:
			c <- g.r.status()
		}
		if err := g.r.handleReady(); err != nil {
			g.err = err
			g.r.opts.Logger.Error("replication: replica stopped", "id", g.r.opts.ID, "err", err)
			return
		}
	}
}

// Propose asks the group to append data. It returns once the replica accepted the proposal
// (appended it as leader or forwarded it to the leader), not when it commits: Options.Apply
// sees it when it does. raft.ErrProposalDropped means no leader is known or the uncommitted
// log is full; the caller retries or answers busy.
func (g *Group) Propose(ctx context.Context, data []byte) error {
	p := proposal{data: data, errc: make(chan error, 1)}
	select {
	case g.propc <- p:
	case <-g.done:
		return g.stopped()
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-p.errc:
		return err
	case <-g.done:
		return g.stopped()
	}
}

// Receive hands the replica a message from a peer (the transport's inbound side). A full
// inbox drops it: Raft retransmits.
func (g *Group) Receive(m *pb.Message) {
	select {
	case g.recvc <- m:
	case <-g.done:
	default:
	}
}

// Status returns term, vote, commit, leader, role and applied index.
func (g *Group) Status(ctx context.Context) (raft.BasicStatus, error) {
	c := make(chan raft.BasicStatus, 1)
	select {
	case g.statusc <- c:
		return <-c, nil
	case <-g.done:
		return raft.BasicStatus{}, g.stopped()
	case <-ctx.Done():
		return raft.BasicStatus{}, ctx.Err()
	}
}

func (g *Group) stopped() error {
	if g.err != nil {
		return g.err
	}
	return ErrClosed
}

// Close stops the goroutine and waits for it. It returns the storage error that stopped the
// replica, if one did; later calls return ErrClosed.
func (g *Group) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return ErrClosed
	}
	g.closed = true
	g.mu.Unlock()
	close(g.quit)
	<-g.done
	return g.err
}
