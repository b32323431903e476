package remoting

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Client sends requests to remoting servers over a pool of connections per
// address, and serves the requests servers send back (RegisterHandler).
type Client struct {
	ep endpoint

	addrs sync.Map // string → *addrConns
}

// addrConns are the connection slots for one address.
type addrConns struct {
	next  atomic.Uint32
	slots []connSlot
}

type connSlot struct {
	mu   sync.Mutex // serializes dialling into this slot
	conn atomic.Pointer[Conn]
}

// NewClient returns a client with the given options.
func NewClient(opts Options) (*Client, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c := &Client{}
	c.ep.init(opts, []Kind{KindDefault})
	return c, nil
}

// RegisterHandler registers h for requests with code sent by servers
// (CHECK_TRANSACTION_STATE, NOTIFY_CONSUMER_IDS_CHANGED, ...). Handlers run
// on the client's worker pool. A nil h removes the handler.
func (c *Client) RegisterHandler(code RequestCode, h Handler) {
	c.ep.handle(code, KindDefault, h)
}

// OnConnClose registers fn to run after one of the client's connections
// closed.
func (c *Client) OnConnClose(fn func(*Conn)) { c.ep.addOnClose(fn) }

// IOStats returns the client's socket calls and frames so far.
func (c *Client) IOStats() IOStats { return c.ep.ioStats() }

// Conn returns an open connection to addr, dialling one if needed.
func (c *Client) Conn(ctx context.Context, addr string) (*Conn, error) {
	v, ok := c.addrs.Load(addr)
	if !ok {
		v, _ = c.addrs.LoadOrStore(addr, &addrConns{slots: make([]connSlot, c.ep.opts.ConnsPerAddr)})
	}
	a := v.(*addrConns)
	slot := &a.slots[int(a.next.Add(1)-1)%len(a.slots)]
	if conn := slot.conn.Load(); conn != nil && !conn.isClosing() {
		return conn, nil
	}
	slot.mu.Lock()
	defer slot.mu.Unlock()
	if c.ep.isClosed() {
		return nil, ErrClosed
	}
	if conn := slot.conn.Load(); conn != nil && !conn.isClosing() {
		return conn, nil
	}
	dialer := net.Dialer{Timeout: c.ep.opts.DialTimeout}
	dial := dialer.DialContext
	if c.ep.opts.Dial != nil {
		dial = c.ep.opts.Dial
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.ep.opts.DialTimeout)
		defer cancel()
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	conn := newConn(&c.ep, nc)
	if !conn.start() {
		return nil, ErrClosed
	}
	slot.conn.Store(conn)
	return conn, nil
}

// Invoke sends req to addr and waits for the response (see Conn.Invoke).
// req belongs to the client from now on.
func (c *Client) Invoke(ctx context.Context, addr string, req *Command) (*Command, error) {
	conn, err := c.Conn(ctx, addr)
	if err != nil {
		req.Release()
		return nil, err
	}
	return conn.Invoke(ctx, req)
}

// InvokeAsync sends req to addr and calls callback with the outcome (see
// Conn.InvokeAsync). Dialling happens before InvokeAsync returns, bounded
// by timeout.
func (c *Client) InvokeAsync(addr string, req *Command, timeout time.Duration, callback func(resp *Command, err error)) error {
	if timeout <= 0 {
		timeout = c.ep.opts.CallTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	conn, err := c.Conn(ctx, addr)
	cancel()
	if err != nil {
		req.Release()
		return err
	}
	return conn.InvokeAsync(req, timeout, callback)
}

// InvokeOneway sends req to addr without waiting for a response.
func (c *Client) InvokeOneway(addr string, req *Command) error {
	// Conn bounds a dial by DialTimeout itself; a context with that timeout per call (a timer
	// each time, for a connection that is almost always open) only cost CPU.
	conn, err := c.Conn(context.Background(), addr)
	if err != nil {
		req.Release()
		return err
	}
	return conn.InvokeOneway(req)
}

// Close closes every connection (pending calls fail with ErrConnClosed)
// and joins the client's goroutines. Later calls return ErrClosed.
func (c *Client) Close() error {
	if !c.ep.markClosed() {
		return ErrClosed
	}
	for _, conn := range c.ep.connList() {
		conn.abort(ErrConnClosed)
	}
	c.ep.shutdown()
	return nil
}
