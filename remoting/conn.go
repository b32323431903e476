package remoting

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is one remoting connection, on the server side (accepted) or the
// client side (dialled). It has a reader goroutine that decodes frames and
// a writer goroutine that writes queued frames, many at a time, with one
// vectored write. Requests can go both ways: Invoke sends a request to the
// peer (the broker's CHECK_TRANSACTION_STATE to a producer), and requests
// from the peer are served by the handlers of the Server or Client.
type Conn struct {
	ep        *endpoint
	nc        net.Conn
	remote    string
	fr        *FrameReader
	rframes   int64      // frames decoded since the last read (reader only; see IOStats)
	completed *callBatch // completed asynchronous calls not yet handed to a callback worker (reader only)
	wakeOwed  bool       // an answer of an inline handler was queued without waking the writer (reader only)

	wmu     sync.Mutex  // guards queue and wclosed
	queue   []*Command  // frames waiting for the writer
	wclosed bool        // no more frames are accepted
	closing atomic.Bool // wclosed, readable without the lock
	wake    chan struct{}
	w       writeScratch // owned by the writer goroutine

	pmu      sync.Mutex // guards pending and pclosed
	pending  map[int32]*pendingCall
	pclosed  bool
	aborted  atomic.Bool // closed because of an error or Close, not drained
	abortErr atomic.Pointer[error]
	finished atomic.Int32 // goroutines (reader, writer) that have exited
	// inflight counts requests being served plus calls awaiting a response;
	// the writer batches harder when it is above 1.
	inflight   atomic.Int32
	readerDone chan struct{}
	done       chan struct{}

	vmu      sync.Mutex // guards values
	values   map[any]any
	clientID atomic.Pointer[string]
}

func newConn(ep *endpoint, nc net.Conn) *Conn {
	c := &Conn{
		ep:      ep,
		nc:      nc,
		remote:  nc.RemoteAddr().String(),
		wake:    make(chan struct{}, 1),
		pending: make(map[int32]*pendingCall),
		done:    make(chan struct{}),

		readerDone: make(chan struct{}),
	}
	c.fr = NewFrameReader(nc, ep.opts.ReadBufferSize, ep.opts.MaxFrameSize)
	c.fr.BeforeRead = c.beforeRead
	return c
}

// start registers c and starts its goroutines; false if the endpoint is
// closed (c is then closed).
func (c *Conn) start() bool {
	if !c.ep.addConn(c) {
		c.nc.Close()
		return false
	}
	go c.readLoop()
	go c.writeLoop()
	return true
}

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// RemoteAddrString returns the peer's address as "ip:port", computed once.
func (c *Conn) RemoteAddrString() string { return c.remote }

// LocalAddr returns the local address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// SetValue stores a per-connection value under key.
func (c *Conn) SetValue(key, value any) {
	c.vmu.Lock()
	if c.values == nil {
		c.values = make(map[any]any)
	}
	c.values[key] = value
	c.vmu.Unlock()
}

// Value returns the per-connection value stored under key, or nil.
func (c *Conn) Value(key any) any {
	c.vmu.Lock()
	defer c.vmu.Unlock()
	return c.values[key]
}

// SetClientID records the client id the peer announced (the broker sets
// it from HEART_BEAT).
func (c *Conn) SetClientID(id string) { c.clientID.Store(&id) }

// ClientID returns the id set by SetClientID, or "".
func (c *Conn) ClientID() string {
	if p := c.clientID.Load(); p != nil {
		return *p
	}
	return ""
}

// isClosing reports whether the connection is closing or closed.
func (c *Conn) isClosing() bool { return c.closing.Load() }

// Done returns a channel closed when the connection is closed and its
// goroutines have exited.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection was closed (nil for a graceful close or
// while it is open).
func (c *Conn) Err() error {
	if p := c.abortErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Close closes the connection at once: queued frames are dropped and
// pending calls fail with ErrConnClosed. It does not wait.
func (c *Conn) Close() error {
	c.abort(ErrConnClosed)
	return nil
}

// WriteResponse queues resp, the response to a request received on c, for
// writing. The response flag is set; resp.Opaque must be the request's (as
// NewResponse sets it). resp belongs to the connection from now on. It
// fails with ErrConnClosed if the connection is closed.
func (c *Conn) WriteResponse(resp *Command) error {
	resp.Flag |= FlagResponse
	return c.enqueue(resp)
}

// Invoke sends req to the peer and waits for the response, until ctx is
// done or, if ctx has no deadline, Options.CallTimeout. req belongs to the
// connection from now on; the response belongs to the caller.
func (c *Conn) Invoke(ctx context.Context, req *Command) (*Command, error) {
	if req.IsResponse() {
		req.Release()
		return nil, ErrNotRequest
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(c.ep.opts.CallTimeout)
	}
	call := getCall()
	call.deadline = deadline.UnixNano()
	opaque, err := c.send(req, call)
	if err != nil {
		putCall(call)
		return nil, err
	}
	select {
	case <-call.ch:
	case <-ctx.Done():
		if c.removeCall(opaque) {
			putCall(call)
			return nil, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
		}
		<-call.ch // completing concurrently
	}
	resp, err := call.resp, call.err
	putCall(call)
	return resp, err
}

// InvokeAsync sends req to the peer and calls callback with the response
// or an error (ErrTimeout after timeout, ErrConnClosed) on a callback
// worker. The callback runs exactly once unless InvokeAsync returns an
// error. req belongs to the connection from now on.
func (c *Conn) InvokeAsync(req *Command, timeout time.Duration, callback func(resp *Command, err error)) error {
	if timeout <= 0 {
		timeout = c.ep.opts.CallTimeout
	}
	return c.InvokeAsyncBy(req, time.Now().Add(timeout), callback)
}

// InvokeAsyncBy is InvokeAsync with the deadline given, for callers that
// have read the clock already (one reading per message on a send path).
func (c *Conn) InvokeAsyncBy(req *Command, deadline time.Time, callback func(resp *Command, err error)) error {
	if req.IsResponse() {
		req.Release()
		return ErrNotRequest
	}
	call := getCall()
	call.deadline = deadline.UnixNano()
	call.callback = callback
	call.ep = c.ep
	if _, err := c.send(req, call); err != nil {
		putCall(call)
		return err
	}
	return nil
}

// InvokeOneway sends req with the oneway flag and expects no response.
// req belongs to the connection from now on.
func (c *Conn) InvokeOneway(req *Command) error {
	if req.IsResponse() {
		req.Release()
		return ErrNotRequest
	}
	if c.ep.opts.BinaryHeaders {
		req.SerializeType = SerializeRocketMQ
	}
	if hook := c.ep.opts.OnSend; hook != nil {
		hook(req)
	}
	req.Opaque = nextOpaque()
	req.Flag |= FlagOneway
	return c.enqueue(req)
}

// send registers call under a fresh opaque and queues req.
func (c *Conn) send(req *Command, call *pendingCall) (int32, error) {
	if c.ep.opts.BinaryHeaders {
		req.SerializeType = SerializeRocketMQ
	}
	if hook := c.ep.opts.OnSend; hook != nil {
		hook(req)
	}
	opaque := nextOpaque()
	req.Opaque = opaque
	c.pmu.Lock()
	if c.pclosed {
		c.pmu.Unlock()
		req.Release()
		return 0, ErrConnClosed
	}
	c.pending[opaque] = call
	c.inflight.Add(1)
	c.pmu.Unlock()
	if err := c.enqueue(req); err != nil {
		if c.removeCall(opaque) {
			return 0, err
		}
		// The connection closed and already failed the call: report that
		// through the call, as if it had been sent.
		return opaque, nil
	}
	return opaque, nil
}

func (c *Conn) removeCall(opaque int32) bool {
	c.pmu.Lock()
	_, ok := c.pending[opaque]
	if ok {
		delete(c.pending, opaque)
		c.inflight.Add(-1)
	}
	c.pmu.Unlock()
	return ok
}

func (c *Conn) takeCall(opaque int32) *pendingCall {
	c.pmu.Lock()
	call := c.pending[opaque]
	if call != nil {
		delete(c.pending, opaque)
		c.inflight.Add(-1)
	}
	c.pmu.Unlock()
	return call
}

// expireCalls fails the calls whose deadline is before now.
func (c *Conn) expireCalls(now int64) {
	var expired []*pendingCall
	c.pmu.Lock()
	for opaque, call := range c.pending {
		if call.deadline < now {
			delete(c.pending, opaque)
			c.inflight.Add(-1)
			expired = append(expired, call)
		}
	}
	c.pmu.Unlock()
	for _, call := range expired {
		call.complete(nil, ErrTimeout)
	}
}

// failCalls fails every pending call and refuses new ones.
func (c *Conn) failCalls(err error) {
	c.pmu.Lock()
	c.pclosed = true
	pending := c.pending
	c.pending = map[int32]*pendingCall{}
	c.inflight.Add(-int32(len(pending)))
	c.pmu.Unlock()
	for _, call := range pending {
		call.complete(nil, err)
	}
}

// enqueue hands cmd to the writer.
func (c *Conn) enqueue(cmd *Command) error {
	first, err := c.push(cmd)
	if first {
		c.wakeWriter()
	}
	return err
}

// enqueueFromReader is enqueue for the answer of a handler served on the reader goroutine:
// while more whole frames are buffered, the writer is not woken yet (the reader wakes it once
// the frames of this read are served, flushOwedWake), so that one write carries the answers of
// the whole read instead of the writer waking for the first and racing the reader for the rest.
func (c *Conn) enqueueFromReader(cmd *Command) {
	if first, _ := c.push(cmd); first {
		if c.fr.hasFrame() {
			c.wakeOwed = true
		} else {
			c.wakeOwed = false
			c.wakeWriter()
		}
	}
}

// flushOwedWake wakes the writer if an answer is waiting for it (reader only).
func (c *Conn) flushOwedWake() {
	if c.wakeOwed {
		c.wakeOwed = false
		c.wakeWriter()
	}
}

// push queues cmd for the writer; first when the queue was empty (the writer needs a
// wake-up). A closed connection releases cmd and returns ErrConnClosed.
func (c *Conn) push(cmd *Command) (first bool, err error) {
	c.wmu.Lock()
	if c.wclosed {
		c.wmu.Unlock()
		cmd.Release()
		return false, ErrConnClosed
	}
	c.queue = append(c.queue, cmd)
	first = len(c.queue) == 1
	c.wmu.Unlock()
	return first, nil
}

func (c *Conn) wakeWriter() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// abort closes the connection because of err: the writer drops its queue,
// the reader stops, pending calls fail.
func (c *Conn) abort(err error) {
	if !c.aborted.CompareAndSwap(false, true) {
		return
	}
	c.abortErr.Store(&err)
	c.closeWrite()
	c.nc.Close()
}

// closeWrite stops accepting frames; the writer writes what is queued and
// exits, closing the connection.
func (c *Conn) closeWrite() {
	c.wmu.Lock()
	c.wclosed = true
	c.closing.Store(true)
	c.wmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// beforeRead pushes the idle deadline forward before each read, or stops
// the reader when the endpoint drains.
func (c *Conn) beforeRead() {
	c.ep.io.reads.Add(1)
	if c.rframes > 0 {
		c.ep.io.framesRead.Add(c.rframes)
		c.rframes = 0
	}
	if idle := c.ep.opts.IdleTimeout; idle > 0 {
		c.nc.SetReadDeadline(time.Now().Add(idle))
	}
	if c.ep.draining.Load() {
		c.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

func (c *Conn) waitReader() { <-c.readerDone }

func (c *Conn) readLoop() {
	defer c.exited()
	defer close(c.readerDone)
	for {
		cmd, err := c.fr.ReadCommand()
		if err != nil {
			if c.completed != nil {
				c.flushCallbacks()
			}
			c.flushOwedWake()
			c.ep.io.framesRead.Add(c.rframes)
			c.rframes = 0
			c.readFailed(err)
			return
		}
		c.rframes++
		if cmd.IsResponse() {
			c.completeCall(cmd)
		} else {
			c.dispatch(cmd)
		}
		if c.completed != nil && (len(c.completed.calls) >= maxCallBatch || !c.fr.hasFrame()) {
			c.flushCallbacks()
		}
		if !c.fr.hasFrame() {
			c.flushOwedWake()
		}
	}
}

// maxCallBatch bounds the asynchronous completions handed to a callback
// worker at once.
const maxCallBatch = 128

// callBatch is asynchronous calls whose responses arrived in one read: the
// reader hands them to one callback worker together (one hand-off and one
// wake-up for all of them instead of one per response), and that worker runs
// their callbacks in arrival order.
type callBatch struct {
	calls []*pendingCall
}

var callBatchPool = sync.Pool{New: func() any { return &callBatch{calls: make([]*pendingCall, 0, 32)} }}

// flushCallbacks submits the reader's batch of completed asynchronous calls.
func (c *Conn) flushCallbacks() {
	b := c.completed
	c.completed = nil
	if !c.ep.callbacks.submit(task{calls: b}) {
		b.run() // queue full: run here rather than drop them
	}
}

// run runs the callbacks of b in order and returns b to its pool.
func (b *callBatch) run() {
	for i, call := range b.calls {
		b.calls[i] = nil
		call.finishAsync()
	}
	b.calls = b.calls[:0]
	callBatchPool.Put(b)
}

func (c *Conn) readFailed(err error) {
	var ne net.Error
	switch {
	case c.aborted.Load():
		// Closed by us; the read error is the consequence.
	case c.ep.draining.Load() && errors.As(err, &ne) && ne.Timeout():
		// Graceful close: the writer drains, then closes.
		return
	case errors.Is(err, io.EOF):
		c.ep.log.Debug("remoting: connection closed by peer", "remote", c.remote)
	case errors.As(err, &ne) && ne.Timeout():
		c.ep.log.Info("remoting: closing idle connection", "remote", c.remote, "idle", c.ep.opts.IdleTimeout)
	case errors.Is(err, ErrFrameTooLarge), errors.Is(err, ErrMalformedFrame),
		errors.Is(err, ErrMalformedHeader), errors.Is(err, ErrUnknownSerializeType):
		c.ep.log.Warn("remoting: closing connection after a bad frame", "remote", c.remote, "err", err)
	default:
		c.ep.log.Debug("remoting: read failed", "remote", c.remote, "err", err)
	}
	c.abort(err)
}

// completeCall matches a response to its pending call.
func (c *Conn) completeCall(resp *Command) {
	call := c.takeCall(resp.Opaque)
	if call == nil {
		c.ep.log.Debug("remoting: response to no pending call", "remote", c.remote, "opaque", resp.Opaque)
		resp.Release()
		return
	}
	if call.callback == nil {
		call.complete(resp, nil)
		return
	}
	call.resp = resp
	if c.completed == nil {
		c.completed = callBatchPool.Get().(*callBatch)
	}
	c.completed.calls = append(c.completed.calls, call)
}

// dispatch hands a request to its handler's pool.
func (c *Conn) dispatch(req *Command) {
	r := c.ep.routes.Load().lookup(req.Code)
	if r == nil {
		resp := NewResponse(req, ResponseRequestCodeNotSupported,
			fmt.Sprintf(" request type %d not supported", req.Code))
		resp.request = req
		c.answer(req, resp)
		return
	}
	req.conn = c
	req.handler = r
	if r.kind == KindInline {
		// Not counted in inflight: it is served before the reader reads on.
		c.ep.serve(req, false)
		return
	}
	c.inflight.Add(1)
	if !c.ep.pools[r.kind].submit(task{request: req}) {
		c.inflight.Add(-1)
		resp := NewResponse(req, ResponseSystemBusy,
			"[OVERLOAD]system busy, start flow control for a while")
		resp.request = req
		c.answer(req, resp)
	}
}

// answer writes resp unless req is oneway.
func (c *Conn) answer(req, resp *Command) {
	if req.IsOneway() {
		resp.Release()
		return
	}
	_ = c.enqueue(resp)
}

// exited runs as each of the two goroutines exits; the last one closes the
// socket, fails pending calls and runs the close hooks.
func (c *Conn) exited() {
	if c.finished.Add(1) == 2 {
		c.nc.Close()
		c.failCalls(ErrConnClosed)
		c.ep.removeConn(c)
		close(c.done)
	}
	c.ep.wg.Done()
}

// writeScratch is the writer's reusable state.
type writeScratch struct {
	batch []*Command
	buf   []byte      // prefixes, headers and small bodies
	segs  []segment   // what to write, in order
	bufs  net.Buffers // segs resolved
	iov   net.Buffers // consumed by WriteTo
}

// segment is a range of writeScratch.buf (ext == nil) or a body slice.
type segment struct {
	ext        []byte
	start, end int
}

// copyThreshold: bodies up to this size are copied next to their header;
// larger ones are written from where they are.
const copyThreshold = 4 << 10

func (c *Conn) writeLoop() {
	defer c.exited()
	w := &c.w
	for {
		<-c.wake
		// When the connection pipelines (several requests in flight), let
		// the goroutines about to queue frames do so first, so that one
		// write carries many: a write syscall on loopback costs about as
		// much as the rest of a request. With one request in flight there
		// is nothing to wait for.
		if c.inflight.Load() > 1 {
			runtime.Gosched()
		}
		c.wmu.Lock()
		w.batch, c.queue = c.queue, w.batch[:0]
		closing := c.wclosed
		c.wmu.Unlock()
		if len(w.batch) > 0 {
			err := c.writeBatch()
			for i, cmd := range w.batch {
				cmd.Release()
				w.batch[i] = nil
			}
			w.batch = w.batch[:0]
			if err != nil {
				if !c.aborted.Load() {
					c.ep.log.Debug("remoting: write failed", "remote", c.remote, "err", err)
				}
				c.abort(err)
				c.dropQueue()
				return
			}
		}
		if closing {
			c.dropQueue()
			return
		}
	}
}

// dropQueue releases frames queued after the writer stopped.
func (c *Conn) dropQueue() {
	c.wmu.Lock()
	c.wclosed = true
	c.closing.Store(true)
	q := c.queue
	c.queue = nil
	c.wmu.Unlock()
	for _, cmd := range q {
		cmd.Release()
	}
}

// writeBatch encodes w.batch and writes it with one (vectored) write.
func (c *Conn) writeBatch() error {
	if c.aborted.Load() {
		return ErrConnClosed
	}
	w := &c.w
	w.buf = w.buf[:0]
	w.segs = w.segs[:0]
	mark := 0
	external := func(p []byte) {
		if len(w.buf) > mark {
			w.segs = append(w.segs, segment{start: mark, end: len(w.buf)})
		}
		w.segs = append(w.segs, segment{ext: p})
		mark = len(w.buf)
	}
	for _, cmd := range w.batch {
		var err error
		w.buf, err = appendFramePrefix(w.buf, cmd, c.ep.opts.MaxFrameSize)
		if err != nil {
			c.encodeFailed(cmd, err)
			continue
		}
		if len(cmd.Body) <= copyThreshold {
			w.buf = append(w.buf, cmd.Body...)
		} else {
			external(cmd.Body)
		}
		for _, p := range cmd.BodyParts {
			if len(p) <= copyThreshold {
				w.buf = append(w.buf, p...)
			} else {
				external(p)
			}
		}
	}
	if len(w.buf) > mark {
		w.segs = append(w.segs, segment{start: mark, end: len(w.buf)})
	}
	if len(w.segs) == 0 {
		return nil
	}
	if t := c.ep.opts.WriteTimeout; t > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(t))
	}
	var err error
	if len(w.segs) == 1 && w.segs[0].ext == nil {
		_, err = c.nc.Write(w.buf)
	} else {
		w.bufs = w.bufs[:0]
		for _, s := range w.segs {
			if s.ext != nil {
				w.bufs = append(w.bufs, s.ext)
			} else {
				w.bufs = append(w.bufs, w.buf[s.start:s.end])
			}
		}
		w.iov = w.bufs
		_, err = w.iov.WriteTo(c.nc)
		clear(w.bufs)
	}
	c.ep.io.writes.Add(1)
	c.ep.io.framesWritten.Add(int64(len(w.batch)))
	clear(w.segs)
	if cap(w.buf) > 4<<20 {
		w.buf = nil
	}
	return err
}

// encodeFailed handles a command that cannot be encoded: a pending call
// fails; a response is replaced by SYSTEM_ERROR so the caller does not
// wait for its timeout.
func (c *Conn) encodeFailed(cmd *Command, err error) {
	c.ep.log.Error("remoting: cannot encode command", "remote", c.remote, "cmd", cmd.String(), "err", err)
	if !cmd.IsResponse() {
		if call := c.takeCall(cmd.Opaque); call != nil {
			call.complete(nil, err)
		}
		return
	}
	resp := acquireCommand()
	resp.Code = int32(ResponseSystemError)
	resp.Language = LanguageJava
	resp.Version = DefaultVersion
	resp.Opaque = cmd.Opaque
	resp.Flag = FlagResponse
	resp.SerializeType = SerializeJSON
	start := len(c.w.buf)
	var err2 error
	c.w.buf, err2 = appendFramePrefix(c.w.buf, resp, c.ep.opts.MaxFrameSize)
	if err2 != nil {
		c.w.buf = c.w.buf[:start]
	}
	resp.Release()
}

// pendingCall is an outstanding request awaiting its response.
type pendingCall struct {
	ch       chan struct{} // signalled once for a synchronous call
	resp     *Command
	err      error
	deadline int64 // unix nanoseconds
	callback func(*Command, error)
	ep       *endpoint
}

var callPool = sync.Pool{New: func() any { return &pendingCall{ch: make(chan struct{}, 1)} }}

func getCall() *pendingCall { return callPool.Get().(*pendingCall) }

func putCall(call *pendingCall) {
	call.resp, call.err, call.callback, call.ep, call.deadline = nil, nil, nil, nil, 0
	callPool.Put(call)
}

// complete delivers the outcome; the caller has removed call from the
// pending table, so this runs once per call.
func (call *pendingCall) complete(resp *Command, err error) {
	call.resp, call.err = resp, err
	if call.callback == nil {
		call.ch <- struct{}{}
		return
	}
	if !call.ep.callbacks.submit(task{call: call}) {
		call.finishAsync() // queue full: run here rather than drop it
	}
}

func (call *pendingCall) finishAsync() {
	cb, resp, err := call.callback, call.resp, call.err
	putCall(call)
	cb(resp, err)
}
