package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/mqstore/mqstore/remoting"
)

// stableListener is a replica's hold on the group's stable leader address (dLegerLeaderAddr,
// config_replica.go). The role watcher (replicated.go) binds it once the replica passes the
// leader barrier and the broker serves, and unbinds it, synchronously, as soon as the replica is
// not the ready leader, before the broker re-registers as a follower. While bound, the broker
// serves the whole remoting protocol on it (the same Server and handlers as listenPort) and
// registers it as brokerId 0. Unbinding closes the listener and every connection accepted on
// it, so clients connected through it redial, and reach whichever replica binds it next.
//
// A deposed leader does not unregister the stable address from the name servers: the next leader
// registers the same address under the same id 0, and an unregistration racing with that
// registration would leave the group without a brokerId 0 until the next registration period
// (a client polling in between stops producing to the group for its 30 s poll). While the group
// has no leader the address refuses connections, so a send fails at once and the client retries
// it on another broker name. A killed leader's entry goes with its connection to the name server,
// so for the election time (about 1.3 s) the group has no brokerId 0 there: a client whose 30 s
// route poll falls in that window (about 4 % of failovers) stops producing to the group until its
// next poll.
type stableListener struct {
	addr string

	bound     atomic.Bool // the listener is open (read by the registration)
	withdrawn atomic.Bool // the follower registration of the replica's own address was withdrawn (register.go)
	fallback  atomic.Bool // a ready leader gave up waiting for the address and registers its own as brokerId 0 (replicated.go)

	// mu guards ln and others; serving counts the Serve goroutine of ln.
	mu      sync.Mutex
	ln      net.Listener
	others  []StableServer // other protocols' servers that follow the address (AddStableServer)
	serving sync.WaitGroup
}

// StableServer is another protocol's server of the broker (the gRPC endpoint) that follows the
// group's stable leader address: while this replica holds the address, the server also serves
// on the address's IP, on its own port. Every replica of the group must then use the same port
// for that protocol, so that the address the routes name is the same whichever replica leads.
type StableServer interface {
	// BindStable starts serving on ip (the stable leader address's IP), on the server's port.
	BindStable(ip netip.Addr) error
	// UnbindStable stops serving there: the listener and the connections accepted on it are
	// closed before it returns. It is a no-op when not bound.
	UnbindStable()
}

// AddStableServer makes srv follow the stable leader address (dLegerLeaderAddr) from now on:
// bound at once if this replica holds the address, then with it. It does nothing without a stable
// address; RemoveStableServer undoes it (before srv closes).
func (b *Broker) AddStableServer(srv StableServer) error {
	s := b.stableListener()
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.others = append(s.others, srv)
	if s.ln != nil {
		return srv.BindStable(s.ip())
	}
	return nil
}

// RemoveStableServer stops srv following the stable leader address, unbinding it.
func (b *Broker) RemoveStableServer(srv StableServer) {
	s := b.stableListener()
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, o := range s.others {
		if o == srv {
			s.others = append(s.others[:i], s.others[i+1:]...)
			srv.UnbindStable()
			return
		}
	}
}

// StableLeaderIP is the IP of the group's stable leader address (dLegerLeaderAddr); ok is false
// in single-node mode and without one.
func (b *Broker) StableLeaderIP() (ip netip.Addr, ok bool) {
	s := b.stableListener()
	if s == nil {
		return netip.Addr{}, false
	}
	return s.ip(), true
}

func (b *Broker) stableListener() *stableListener {
	if b.replica == nil {
		return nil
	}
	return b.replica.stable
}

// ip is the stable address's IP (validated with the config).
func (s *stableListener) ip() netip.Addr {
	ap, _ := netip.ParseAddrPort(s.addr)
	return ap.Addr()
}

// bind listens on the stable address and serves it with srv. It fails while another process
// (a previous leader not yet stopped) holds the address; the caller retries.
func (s *stableListener) bind(srv *remoting.Server, log *slog.Logger) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	for i, o := range s.others {
		if err := o.BindStable(s.ip()); err != nil {
			// All or nothing: the watcher retries the whole address.
			for _, bound := range s.others[:i] {
				bound.UnbindStable()
			}
			ln.Close()
			return fmt.Errorf("another protocol on the stable leader address's IP: %w", err)
		}
	}
	s.ln = ln
	s.bound.Store(true)
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		// Serve returns when unbind (or the server's Close) closes ln; nothing to report then.
		if err := srv.Serve(ln); err != nil && !errors.Is(err, remoting.ErrClosed) && !errors.Is(err, net.ErrClosed) {
			log.Error("broker: serving the stable leader address failed", "addr", s.addr, "err", err)
		}
	}()
	return nil
}

// unbind closes the listener and the connections accepted on it, and returns once the
// listener's Serve has returned. It reports whether the address was bound.
func (s *stableListener) unbind(srv *remoting.Server) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return false
	}
	local := s.ln.Addr().String()
	for _, o := range s.others {
		o.UnbindStable()
	}
	s.bound.Store(false)
	s.withdrawn.Store(false)
	s.ln.Close()
	s.serving.Wait()
	s.ln = nil
	for _, c := range srv.Conns() {
		if c.LocalAddr().String() == local {
			c.Close()
		}
	}
	return true
}
