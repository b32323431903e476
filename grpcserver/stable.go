package grpcserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"

	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
)

// A replicated group's gRPC endpoint (enableDLegerCommitLog). Writes go to the Raft leader, and
// POP consumption keeps its state on the replica that serves it, so a 5.x client must talk to
// the group's leader for everything but its own session. Routes therefore name the leader
// (broker.GroupEndpointHost), and with a stable leader address (dLegerLeaderAddr) the replica
// that holds it serves gRPC on that IP too (broker.AddStableServer), so clients reach the next
// leader at the same address after a failover, as 4.x clients do on the remoting port. Both
// need every replica of the group to serve gRPC on the same fixed port (grpcServerPort, not 0):
// with a free port each replica picks its own, and routes name this endpoint only.

// stableListener is the gRPC endpoint's listener on the stable leader address's IP.
type stableListener struct {
	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup // the Serve goroutine of ln
}

// routedByGroup reports whether routes should name the group's endpoint rather than this one:
// in a replicated group with a fixed gRPC port.
func (s *Server) routedByGroup() bool {
	return s.b.Config().EnableDLegerCommitLog && s.b.Config().GRPCServerPort != 0
}

// routeHostPort is the host and port QueryRoute and QueryAssignment name for this broker.
func (s *Server) routeHostPort() (string, int, error) {
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil {
		return "", 0, fmt.Errorf("grpcserver: advertised address %q: %w", s.Addr(), err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, fmt.Errorf("grpcserver: advertised port %q: %w", port, err)
	}
	if s.routedByGroup() {
		if h, self := s.b.GroupEndpointHost(); !self {
			host = h
		}
	}
	return host, p, nil
}

// BindStable serves the endpoint on ip at its own port (broker.StableServer): the ready leader
// of a group with a stable leader address.
func (s *Server) BindStable(ip netip.Addr) error {
	s.mu.Lock()
	closed, port := s.closed, s.port
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if port == 0 {
		return errors.New("grpcserver: not serving yet")
	}
	s.stable.mu.Lock()
	defer s.stable.mu.Unlock()
	if s.stable.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, uint16(port)).String())
	if err != nil {
		return fmt.Errorf("grpcserver: listen on the stable leader address: %w", err)
	}
	s.stable.ln = ln
	s.stable.conns = map[net.Conn]struct{}{}
	s.stable.wg.Add(1)
	go func() {
		defer s.stable.wg.Done()
		err := s.grpc.Serve(&trackingListener{Listener: netutil.LimitListener(ln, s.opts.MaxConnections), l: &s.stable})
		if err != nil && !errors.Is(err, grpc.ErrServerStopped) && !errors.Is(err, net.ErrClosed) {
			s.log.Error("grpcserver: serving the stable leader address failed", "addr", ln.Addr().String(), "err", err)
		}
	}()
	s.log.Info("grpcserver: serving the stable leader address", "addr", ln.Addr().String())
	return nil
}

// UnbindStable closes the stable address's listener and every connection accepted on it (their
// clients redial and reach the next leader), and returns once its Serve returned.
func (s *Server) UnbindStable() {
	s.stable.mu.Lock()
	ln := s.stable.ln
	s.stable.ln = nil
	for c := range s.stable.conns {
		c.Close()
	}
	s.stable.conns = nil
	s.stable.mu.Unlock()
	if ln == nil {
		return
	}
	ln.Close()
	s.stable.wg.Wait()
	s.log.Info("grpcserver: released the stable leader address", "addr", ln.Addr().String())
}

// trackingListener remembers the connections it accepts, for UnbindStable.
type trackingListener struct {
	net.Listener
	l *stableListener
}

func (t *trackingListener) Accept() (net.Conn, error) {
	c, err := t.Listener.Accept()
	if err != nil {
		return nil, err
	}
	t.l.mu.Lock()
	defer t.l.mu.Unlock()
	if t.l.conns == nil { // unbound meanwhile
		c.Close()
		return nil, net.ErrClosed
	}
	t.l.conns[c] = struct{}{}
	return &trackedConn{Conn: c, l: t.l}, nil
}

type trackedConn struct {
	net.Conn
	l    *stableListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c.Conn)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
