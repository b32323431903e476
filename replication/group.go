package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
	waitc   chan waiter

	// waiters are the Wait calls by index; only the goroutine touches them.
	waiters map[uint64][]waiter

	// appendc hands a Ready's entries and HardState to the append goroutine, which answers on
	// appendedc; at most one is in flight (the replica's inflight Ready).
	appendc   chan raft.Ready
	appendedc chan error
	appendWG  sync.WaitGroup
	// pull, when set, supplies proposals when no append is in flight (SetPull); kickc wakes
	// the goroutine to pull.
	pull  atomic.Pointer[func() (Pulled, bool)]
	kickc chan struct{}
	// appendStop is closed when the replica's goroutine exits.
	appendStop chan struct{}

	// role is the current Role; roleMu guards roleChanged, closed and replaced at every change.
	role        atomic.Pointer[Role]
	roleMu      sync.Mutex
	roleChanged chan struct{}

	mu     sync.Mutex // guards closed
	closed bool
	quit   chan struct{} // closed by Close
	done   chan struct{} // closed when the goroutine exits
	err    error         // why the goroutine stopped (set before done closes)
}

type proposal struct {
	data []byte
	resc chan proposed
	// notify, when set, becomes the entry's waiter once it is stored (ProposeNotify).
	notify chan error
}

type proposed struct {
	p   Proposal
	err error
}

// Proposal identifies a proposed entry: its index and the term of the leader that appended it.
// It committed if and only if the entry committed at Index has Term.
type Proposal struct {
	Index, Term uint64
}

type waiter struct {
	p    Proposal
	errc chan error
}

// Start starts a replica of the group described by opts.
func Start(opts Options) (*Group, error) {
	r, err := newReplica(opts)
	if err != nil {
		return nil, err
	}
	g := &Group{
		r:          r,
		propc:      make(chan proposal),
		recvc:      make(chan *pb.Message, 1024),
		statusc:    make(chan chan raft.BasicStatus),
		waitc:      make(chan waiter),
		waiters:    map[uint64][]waiter{},
		appendc:    make(chan raft.Ready),
		appendedc:  make(chan error, 1),
		appendStop: make(chan struct{}),
		kickc:      make(chan struct{}, 1),

		roleChanged: make(chan struct{}),
		quit:        make(chan struct{}),
		done:        make(chan struct{}),
	}
	r.onApplied = g.applied
	g.role.Store(&Role{ID: opts.ID})
	g.appendWG.Add(1)
	go g.appendLoop()
	go g.run()
	return g, nil
}

func (g *Group) run() {
	defer close(g.done)
	defer g.setRole(Role{ID: g.r.opts.ID})
	defer func() { // after recoverDamage: the append goroutine finishes its append and exits
		close(g.appendStop)
		g.appendWG.Wait()
	}()
	defer g.recoverDamage()
	t := time.NewTicker(g.r.opts.TickInterval)
	defer t.Stop()
	for {
		// appended is the append goroutine's answer while a Ready is in flight.
		var appended chan error
		if g.r.inflight != nil {
			appended = g.appendedc
		}
		select {
		case <-g.quit:
			return
		case <-t.C:
			g.r.tick()
		case m := <-g.recvc:
			g.r.step(m) // errors are stale or foreign messages: raft ignores them
		case p := <-g.propc:
			g.propose(p)
		case c := <-g.statusc:
			c <- g.r.status()
		case w := <-g.waitc:
			g.addWaiter(w)
		case err := <-appended:
			g.r.finishReady(err)
		case <-g.kickc:
		}
		// Take whatever else is ready before the Ready loop, so that one append (and one
		// fsync) serves many proposals and messages: group commit.
	drain:
		for range maxBatch {
			select {
			case m := <-g.recvc:
				g.r.step(m)
			case p := <-g.propc:
				g.propose(p)
			case w := <-g.waitc:
				g.addWaiter(w)
			default:
				break drain
			}
		}
		if err := g.advance(); err != nil {
			g.err = err
			g.r.opts.Logger.Error("replication: replica stopped", "id", g.r.opts.ID, "err", err)
			return
		}
		g.updateRole()
	}
}

// advance applies what a leader can apply at once (applyEarly) and, with no Ready in flight,
// takes the next one: one with a snapshot is persisted here, any other goes to the append
// goroutine, and the replica keeps stepping messages (its followers' acknowledgements among
// them) until it is stored.
func (g *Group) advance() error {
	r := g.r
	if err := r.applyEarly(); err != nil {
		return err
	}
	if pull := g.pull.Load(); pull != nil && r.inflight == nil && r.err == nil {
		// The append goroutine is free: what queued while it synced becomes this Ready's
		// entries, with no hand-over to a proposer in between.
		for range maxBatch {
			pp, ok := (*pull)()
			if !ok {
				break
			}
			g.proposePulled(pp)
		}
	}
	for r.startReady() {
		if !raft.IsEmptySnap(r.inflight.rd.Snapshot) {
			r.finishReady(r.persist(r.inflight.rd))
			continue
		}
		select {
		case g.appendc <- r.inflight.rd:
		case <-g.quit:
			return nil // run sees quit next
		}
		break
	}
	if r.err == nil && r.inflight == nil && len(r.pending) > 0 {
		// Nothing in flight and nothing to persist: the pending proposals' entries left the
		// log unstored.
		r.dropProposals(fmt.Errorf("%w: dropped from the log before it was stored", ErrSuperseded))
	}
	return r.err
}

// appendLoop is the append goroutine: it persists the Readies it is handed, in order, one at a
// time (so a truncation of an uncommitted suffix never overtakes an earlier append), and stops
// with the Group.
func (g *Group) appendLoop() {
	defer g.appendWG.Done()
	for {
		select {
		case rd := <-g.appendc:
			g.appendedc <- g.r.persistLog(rd)
		case <-g.appendStop:
			return
		}
	}
}

// recoverDamage stops the replica when the library panicked on a storage read that found the
// log damaged (Log.Entries: ErrDamaged, read to send entries to a follower or to apply them):
// the replica stops loudly, with the error Close returns, and never sends those bytes. Any
// other panic goes on.
func (g *Group) recoverDamage() {
	v := recover()
	if v == nil {
		return
	}
	err, ok := v.(error)
	if !ok || !errors.Is(err, ErrDamaged) {
		panic(v)
	}
	g.err = fmt.Errorf("%w: %w", ErrStorage, err)
	g.r.err = g.err
	g.r.opts.Logger.Error("replication: replica stopped: its log is damaged", "id", g.r.opts.ID, "err", err)
}

// Propose asks the group to append data. It returns once the leader stored the proposal in
// its log, with the entry's index and term, not when it commits: Wait does, and Options.Apply
// sees it then. ErrSuperseded: the replica lost its leadership before it stored the entry. ErrNotLeader: this replica does not lead (the caller goes to the leader).
// raft.ErrProposalDropped: the uncommitted log is full; the caller retries or answers busy.
func (g *Group) Propose(ctx context.Context, data []byte) (Proposal, error) {
	return g.propose1(ctx, proposal{data: data, resc: make(chan proposed, 1)})
}

// propose1 hands p to the goroutine and waits until the entry is stored (or refused).
func (g *Group) propose1(ctx context.Context, p proposal) (Proposal, error) {
	select {
	case g.propc <- p:
	case <-g.done:
		return Proposal{}, g.stopped()
	case <-ctx.Done():
		return Proposal{}, ctx.Err()
	}
	select {
	case res := <-p.resc:
		return res.p, res.err
	case <-g.done:
		return Proposal{}, g.stopped()
	}
}

// ProposeNotify is Propose and Wait in one trip to the replica's goroutine: once the leader
// stored the entry (when it returns), the entry's outcome as Wait reports it (nil once it is
// applied on this replica, ErrSuperseded when another entry took its index) is sent on the
// returned channel, which holds one value. Nothing is sent if the replica stops first: the
// caller selects on Done as well, and on its own context (an outcome it stops waiting for is
// unknown, as with Wait).
func (g *Group) ProposeNotify(ctx context.Context, data []byte) (Proposal, <-chan error, error) {
	notify := make(chan error, 1)
	p, err := g.propose1(ctx, proposal{data: data, resc: make(chan proposed, 1), notify: notify})
	if err != nil {
		return p, nil, err
	}
	return p, notify, nil
}

// Wait blocks until the entry at p.Index is applied on this replica (Options.Apply returned for
// it). It returns nil when that entry is p's (it committed), ErrSuperseded when another entry
// took the index (p never commits), or the context's error (the outcome is unknown: a leader
// cut off from its quorum learns it only after the partition heals).
func (g *Group) Wait(ctx context.Context, p Proposal) error {
	w := waiter{p: p, errc: make(chan error, 1)}
	select {
	case g.waitc <- w:
	case <-g.done:
		return g.stopped()
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-w.errc:
		return err
	case <-g.done:
		return g.stopped()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *Group) addWaiter(w waiter) {
	if w.p.Index > g.r.applied {
		g.waiters[w.p.Index] = append(g.waiters[w.p.Index], w)
		return
	}
	term, err := g.r.opts.Storage.Term(w.p.Index)
	switch {
	case err != nil:
		w.errc <- fmt.Errorf("replication: wait for %d: %w", w.p.Index, err)
	case term == w.p.Term:
		w.errc <- nil
	default:
		w.errc <- fmt.Errorf("%w: index %d has term %d, not %d", ErrSuperseded, w.p.Index, term, w.p.Term)
	}
}

// applied resolves the waiters of an applied entry (on the goroutine).
func (g *Group) applied(index, term uint64) {
	ws := g.waiters[index]
	if ws == nil {
		return
	}
	delete(g.waiters, index)
	for _, w := range ws {
		if w.p.Term == term {
			w.errc <- nil
		} else {
			w.errc <- fmt.Errorf("%w: index %d has term %d, not %d", ErrSuperseded, index, term, w.p.Term)
		}
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

// Role is what a replica is in its group. Ready is the leader barrier: the replica leads, an
// entry of its term is committed and every committed entry is applied. A broker registers as
// master (brokerId 0), accepts writes and starts its check services only while Ready, and
// stops them at once when a change clears it.
type Role struct {
	ID     uint64
	State  raft.StateType
	Leader uint64 // 0: none known
	Term   uint64
	Ready  bool
}

// Role returns the replica's current role.
func (g *Group) Role() Role { return *g.role.Load() }

// RoleChanged returns a channel closed at the next change of Role (or when the replica stops).
func (g *Group) RoleChanged() <-chan struct{} {
	g.roleMu.Lock()
	defer g.roleMu.Unlock()
	return g.roleChanged
}

// WaitReady waits until this replica passes the leader barrier, or the context ends.
func (g *Group) WaitReady(ctx context.Context) error {
	for {
		ch := g.RoleChanged()
		if g.Role().Ready {
			return nil
		}
		select {
		case <-ch:
		case <-g.done:
			return g.stopped()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (g *Group) updateRole() {
	st := g.r.status()
	g.setRole(Role{ID: g.r.opts.ID, State: st.RaftState, Leader: st.Lead, Term: st.GetTerm(), Ready: g.r.barrierPassed()})
}

func (g *Group) setRole(r Role) {
	if *g.role.Load() == r {
		return
	}
	g.role.Store(&r)
	g.roleMu.Lock()
	close(g.roleChanged)
	g.roleChanged = make(chan struct{})
	g.roleMu.Unlock()
	if r.Ready {
		g.r.opts.Logger.Info("replication: leader ready", "id", r.ID, "term", r.Term)
	}
}

// maxBatch bounds the events taken before one run of the Ready loop.
const maxBatch = 1024

func (g *Group) propose(p proposal) {
	err := g.r.propose(p.data, func(pr Proposal, err error) {
		if err == nil && p.notify != nil {
			g.addWaiter(waiter{p: pr, errc: p.notify}) // stored, not yet applied: it waits
		}
		p.resc <- proposed{pr, err}
	})
	if err != nil {
		p.resc <- proposed{err: err}
	}
}

// Pulled is a proposal handed to the Group by its pull function (SetPull). Done is called
// once, on the replica's goroutine (it must not block or call the Group): with the entry's
// index and term and its outcome channel (as ProposeNotify returns them) once the leader stored
// it, or with the error that refused it (ErrNotLeader, ErrNotReady, ErrSuperseded,
// raft.ErrProposalDropped, an entry the log refuses).
type Pulled struct {
	Data []byte
	Done func(p Proposal, applied <-chan error, err error)
}

// SetPull makes the Group pull its proposals: whenever no append is in flight (and after Kick),
// its goroutine calls pull until it reports false and proposes what it returns, so that what
// queued while the previous append synced goes into the next Ready at once. pull runs on the
// replica's goroutine: it must not block or call the Group.
func (g *Group) SetPull(pull func() (Pulled, bool)) { g.pull.Store(&pull) }

// Kick wakes the replica's goroutine to pull (SetPull) if no append is in flight. It never blocks.
func (g *Group) Kick() {
	select {
	case g.kickc <- struct{}{}:
	default:
	}
}

// proposePulled proposes a pulled proposal (on the goroutine).
func (g *Group) proposePulled(pp Pulled) {
	err := g.r.propose(pp.Data, func(pr Proposal, err error) {
		if err != nil {
			pp.Done(pr, nil, err)
			return
		}
		notify := make(chan error, 1)
		g.addWaiter(waiter{p: pr, errc: notify}) // stored, not yet applied: it waits
		pp.Done(pr, notify, nil)
	})
	if err != nil {
		pp.Done(Proposal{}, nil, err)
	}
}

// Done is closed once the replica stopped: by Close, or by a storage failure (a damaged log
// among them) that Err then reports. An embedder that cannot serve without its replica exits
// on it (fail-stop), so a supervisor restarts it and the log's recovery judges the damage.
func (g *Group) Done() <-chan struct{} { return g.done }

// Err is the failure that stopped the replica: nil while it runs or after a plain Close.
func (g *Group) Err() error {
	select {
	case <-g.done:
		return g.err
	default:
		return nil
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
