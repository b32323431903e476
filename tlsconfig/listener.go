package tlsconfig

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// recordTypeHandshake is the first byte of a TLS connection (a handshake record).
const recordTypeHandshake = 0x16

// ErrPlaintextRefused: an enforcing server got a connection that did not start with TLS.
var ErrPlaintextRefused = errors.New("tlsconfig: plaintext connection refused (tls.server.mode=enforcing)")

// listener wraps accepted connections in detectConn. Accept does not read: the first byte is
// read by the connection's first Read, on the reader's goroutine, so one slow peer cannot
// hold up the accept loop.
type listener struct {
	net.Listener
	s *Server
}

func (l *listener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	return &detectConn{Conn: nc, s: l.s}, nil
}

// detectConn decides on its first Read (or Write) whether the connection is TLS or
// plaintext, then passes everything to that. Deadlines and Close go to the socket.
type detectConn struct {
	net.Conn // the socket
	s        *Server

	mu      sync.Mutex // serializes the decision
	decided atomic.Pointer[net.Conn]
	err     error // decision failure, guarded by mu
}

func (c *detectConn) conn() (net.Conn, error) {
	if p := c.decided.Load(); p != nil {
		return *p, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.decided.Load(); p != nil {
		return *p, nil
	}
	if c.err != nil {
		return nil, c.err
	}
	conn, err := c.decide()
	if err != nil {
		c.err = err
		c.Conn.Close()
		return nil, err
	}
	c.decided.Store(&conn)
	return conn, nil
}

func (c *detectConn) decide() (net.Conn, error) {
	// The caller's read deadline (the idle timeout) applies to the first byte; the handshake
	// gets its own.
	var first [1]byte
	if _, err := io.ReadFull(c.Conn, first[:]); err != nil {
		return nil, err
	}
	pc := &prefixConn{Conn: c.Conn, prefix: first[:]}
	if first[0] != recordTypeHandshake {
		if c.s.mode == Enforcing {
			return nil, fmt.Errorf("%w: from %s", ErrPlaintextRefused, c.Conn.RemoteAddr())
		}
		return pc, nil
	}
	tc := tls.Server(pc, c.s.tls)
	c.Conn.SetDeadline(time.Now().Add(c.s.timeout))
	err := tc.Handshake()
	c.Conn.SetDeadline(time.Time{})
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: handshake with %s: %w", c.Conn.RemoteAddr(), err)
	}
	return tc, nil
}

func (c *detectConn) Read(p []byte) (int, error) {
	conn, err := c.conn()
	if err != nil {
		return 0, err
	}
	return conn.Read(p)
}

func (c *detectConn) Write(p []byte) (int, error) {
	conn, err := c.conn()
	if err != nil {
		return 0, err
	}
	return conn.Write(p)
}

// IsTLS reports whether the connection turned out to be TLS (false until decided).
func (c *detectConn) IsTLS() bool {
	p := c.decided.Load()
	if p == nil {
		return false
	}
	_, ok := (*p).(*tls.Conn)
	return ok
}

// IsTLS reports whether nc, accepted by a Server's Listener, speaks TLS.
func IsTLS(nc net.Conn) bool {
	switch c := nc.(type) {
	case *detectConn:
		return c.IsTLS()
	case *tls.Conn:
		return true
	}
	return false
}

// prefixConn reads prefix before the socket.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
