package remoting

import (
	"errors"
	"net"
	"sync"
	"time"
)

// Server serves remoting connections. Register handlers with Handle, then
// call Serve (or ListenAndServe); Close stops it gracefully.
type Server struct {
	ep endpoint

	lmu       sync.Mutex // guards listeners
	listeners map[net.Listener]struct{}
}

var serverKinds = []Kind{KindDefault, KindSend, KindPull, KindQuery, KindHeartbeat, KindTransaction, KindAdmin}

// NewServer returns a server with the given options; its worker pools are
// running, and it serves once Serve is called.
func NewServer(opts Options) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Server{listeners: make(map[net.Listener]struct{})}
	s.ep.init(opts, serverKinds)
	return s, nil
}

// Handle registers h for requests with code, run on the worker pool of
// kind. A nil h removes the handler. Requests with no handler are answered
// REQUEST_CODE_NOT_SUPPORTED. Handle may be called at any time.
func (s *Server) Handle(code RequestCode, kind Kind, h Handler) {
	s.ep.handle(code, kind, h)
}

// OnConnClose registers fn to run after a connection closed (the broker
// drops the client's producer and consumer registrations there). fn runs on
// the connection's goroutine and must not block for long.
func (s *Server) OnConnClose(fn func(*Conn)) { s.ep.addOnClose(fn) }

// IOStats returns the server's socket calls and frames so far.
func (s *Server) IOStats() IOStats { return s.ep.ioStats() }

// NumConns returns the number of open connections.
func (s *Server) NumConns() int { return s.ep.numConns() }

// Conns returns the open connections.
func (s *Server) Conns() []*Conn { return s.ep.connList() }

// ListenAndServe listens on the TCP address addr and serves it.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Close, then returns ErrClosed.
// It closes ln.
func (s *Server) Serve(ln net.Listener) error {
	if wrap := s.ep.opts.Listener; wrap != nil {
		ln = wrap(ln)
	}
	s.ep.mu.Lock()
	if s.ep.closed {
		s.ep.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	s.ep.wg.Add(1)
	s.ep.mu.Unlock()
	defer s.ep.wg.Done()
	s.lmu.Lock()
	s.listeners[ln] = struct{}{}
	s.lmu.Unlock()
	defer func() {
		s.lmu.Lock()
		delete(s.listeners, ln)
		s.lmu.Unlock()
		ln.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.ep.isClosed() {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: wait and retry.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.ep.log.Warn("remoting: accept failed; retrying", "err", err, "delay", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		newConn(&s.ep, nc).start()
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// Close stops the server gracefully: it stops accepting, stops reading,
// lets every request already read run its handler and writes every
// response queued by then, closes the connections and joins all
// goroutines. Responses written later with WriteResponse fail with
// ErrConnClosed. Later calls return ErrClosed.
func (s *Server) Close() error {
	if !s.ep.markClosed() {
		return ErrClosed
	}
	s.lmu.Lock()
	for ln := range s.listeners {
		ln.Close()
	}
	s.lmu.Unlock()

	// Stop the readers: each sees its read deadline pass and exits without
	// closing its connection.
	s.ep.draining.Store(true)
	conns := s.ep.connList()
	for _, c := range conns {
		c.nc.SetReadDeadline(time.Unix(1, 0))
	}
	for _, c := range conns {
		c.waitReader()
	}
	// Run every queued request; their responses join the write queues.
	for _, p := range s.ep.pools {
		if p != nil {
			p.stop()
		}
	}
	// Writers flush and close.
	for _, c := range conns {
		c.closeWrite()
	}
	s.ep.pools = [numKinds]*workerPool{}
	s.ep.shutdown()
	return nil
}
