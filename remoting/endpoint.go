package remoting

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Handler serves one request. It returns the response, or nil to write
// nothing now: for a oneway request, or to answer later with
// Conn.WriteResponse (long polling). When it returns a response, req stays
// valid until that response is written (the response may share req's
// Body) and is then released. When it returns nil, req belongs to the
// Handler: it may keep it and should Release it when done (otherwise the
// garbage collector takes it). The response's Opaque, response flag and
// serialization are set from req before it is written. A panic in a Handler is recovered, logged and
// answered with SYSTEM_ERROR.
type Handler func(c *Conn, req *Command) *Command

type route struct {
	handler Handler
	kind    Kind
	// A route is read for every request; the padding gives it a cache line
	// of its own (the 64-byte size class), so no object written per request
	// shares it.
	_ [64 - 16]byte
}

// routeTable maps request codes to handlers. It is copied on write and
// read through an atomic pointer.
type routeTable struct {
	small [1024]*route
	large map[int32]*route
}

func (t *routeTable) lookup(code int32) *route {
	if code >= 0 && code < int32(len(t.small)) {
		return t.small[code]
	}
	return t.large[code]
}

// task is one unit of work for a worker pool: a request to serve, or a
// completed asynchronous call whose callback to run.
type task struct {
	request *Command
	call    *pendingCall
	calls   *callBatch
}

type workerPool struct {
	queue chan task
	wg    sync.WaitGroup
}

func newWorkerPool(workers, queueSize int, run func(task)) *workerPool {
	p := &workerPool{queue: make(chan task, queueSize)}
	p.wg.Add(workers)
	for range workers {
		go func() {
			defer p.wg.Done()
			for t := range p.queue {
				run(t)
			}
		}()
	}
	return p
}

// submit queues t; false if the queue is full.
func (p *workerPool) submit(t task) bool {
	select {
	case p.queue <- t:
		return true
	default:
		return false
	}
}

// stop lets the workers finish the queue and joins them. No submit may
// follow.
func (p *workerPool) stop() {
	close(p.queue)
	p.wg.Wait()
}

// endpoint is what Server and Client share: options, handlers, worker
// pools, the set of live connections and the timeout sweeper.
type endpoint struct {
	opts Options
	log  *slog.Logger

	routesMu sync.Mutex // serializes writers of routes
	routes   atomic.Pointer[routeTable]

	hooksMu sync.Mutex // guards onClose
	onClose []func(*Conn)

	pools     [numKinds]*workerPool // nil for KindInline
	callbacks *workerPool

	// draining is set by a graceful Close: readers stop without aborting
	// their connections.
	draining atomic.Bool

	mu     sync.Mutex // guards conns and closed
	conns  map[*Conn]struct{}
	closed bool

	wg sync.WaitGroup // connection goroutines and accept loops

	sweepQuit chan struct{}
	sweepDone chan struct{}

	io ioCounters
}

// ioCounters count socket calls and frames (IOStats).
type ioCounters struct {
	reads, framesRead, writes, framesWritten atomic.Int64
}

// IOStats counts an endpoint's socket calls and the frames they carried,
// over all its connections since it started: FramesRead/Reads is the frames
// decoded per read, FramesWritten/Writes the frames coalesced per write.
type IOStats struct {
	Reads         int64 // read calls on the sockets
	FramesRead    int64 // frames decoded (counted when the next read starts or the connection ends)
	Writes        int64 // write calls (one per coalesced batch, vectored or not)
	FramesWritten int64 // frames in those writes
}

func (ep *endpoint) ioStats() IOStats {
	return IOStats{Reads: ep.io.reads.Load(), FramesRead: ep.io.framesRead.Load(),
		Writes: ep.io.writes.Load(), FramesWritten: ep.io.framesWritten.Load()}
}

func (ep *endpoint) init(opts Options, kinds []Kind) {
	ep.opts = opts.withDefaults()
	ep.log = ep.opts.Logger
	ep.routes.Store(&routeTable{large: map[int32]*route{}})
	ep.conns = make(map[*Conn]struct{})
	for _, k := range kinds {
		p := ep.opts.pool(k)
		ep.pools[k] = newWorkerPool(p.Workers, p.QueueSize, ep.runTask)
	}
	ep.callbacks = newWorkerPool(ep.opts.CallbackWorkers, 10000, ep.runTask)
	ep.sweepQuit = make(chan struct{})
	ep.sweepDone = make(chan struct{})
	go ep.sweep()
}

func (ep *endpoint) handle(code RequestCode, kind Kind, h Handler) {
	if kind >= numKinds || (kind != KindInline && ep.pools[kind] == nil) {
		kind = KindDefault
	}
	ep.routesMu.Lock()
	defer ep.routesMu.Unlock()
	old := ep.routes.Load()
	t := &routeTable{small: old.small, large: make(map[int32]*route, len(old.large)+1)}
	for k, v := range old.large {
		t.large[k] = v
	}
	r := &route{handler: h, kind: kind}
	if h == nil {
		r = nil
	}
	if code >= 0 && int(code) < len(t.small) {
		t.small[code] = r
	} else if r != nil {
		t.large[int32(code)] = r
	} else {
		delete(t.large, int32(code))
	}
	ep.routes.Store(t)
}

func (ep *endpoint) addOnClose(fn func(*Conn)) {
	ep.hooksMu.Lock()
	ep.onClose = append(ep.onClose, fn)
	ep.hooksMu.Unlock()
}

// addConn registers c; false if the endpoint is closed.
func (ep *endpoint) addConn(c *Conn) bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.closed {
		return false
	}
	ep.conns[c] = struct{}{}
	ep.wg.Add(2)
	return true
}

func (ep *endpoint) removeConn(c *Conn) {
	ep.mu.Lock()
	delete(ep.conns, c)
	ep.mu.Unlock()
	ep.hooksMu.Lock()
	hooks := ep.onClose
	ep.hooksMu.Unlock()
	for _, fn := range hooks {
		fn(c)
	}
}

func (ep *endpoint) connList() []*Conn {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	list := make([]*Conn, 0, len(ep.conns))
	for c := range ep.conns {
		list = append(list, c)
	}
	return list
}

// numConns returns the number of live connections.
func (ep *endpoint) numConns() int {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return len(ep.conns)
}

func (ep *endpoint) isClosed() bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.closed
}

// markClosed sets closed; false if it already was.
func (ep *endpoint) markClosed() bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.closed {
		return false
	}
	ep.closed = true
	return true
}

// shutdown joins the connection goroutines, then the sweeper and the pools.
// Every connection must be closing.
func (ep *endpoint) shutdown() {
	ep.wg.Wait()
	for _, p := range ep.pools {
		if p != nil {
			p.stop()
		}
	}
	close(ep.sweepQuit)
	<-ep.sweepDone
	ep.callbacks.stop()
}

// sweep fails pending calls whose deadline passed.
func (ep *endpoint) sweep() {
	defer close(ep.sweepDone)
	ticker := time.NewTicker(ep.opts.TimeoutScanInterval)
	defer ticker.Stop()
	var conns []*Conn
	for {
		select {
		case <-ep.sweepQuit:
			return
		case now := <-ticker.C:
			conns = conns[:0]
			ep.mu.Lock()
			for c := range ep.conns {
				conns = append(conns, c)
			}
			ep.mu.Unlock()
			for _, c := range conns {
				c.expireCalls(now.UnixNano())
			}
			clear(conns)
		}
	}
}

// runTask runs on a pool worker.
func (ep *endpoint) runTask(t task) {
	if t.call != nil {
		t.call.finishAsync()
		return
	}
	if t.calls != nil {
		t.calls.run()
		return
	}
	ep.serve(t.request, true)
}

// serve runs the handler of a decoded request and queues its response;
// counted says the request is counted in its connection's inflight.
func (ep *endpoint) serve(req *Command, counted bool) {
	c, r := req.conn, req.handler
	resp := ep.callHandler(c, r.handler, req)
	if counted {
		c.inflight.Add(-1)
	}
	if resp == nil {
		return // req belongs to the handler now
	}
	if resp != req {
		resp.request = req // released after resp is written: resp may share its body
	}
	if req.IsOneway() {
		resp.Release()
		return
	}
	resp.Opaque = req.Opaque
	resp.Flag |= FlagResponse
	resp.SerializeType = req.SerializeType
	if counted {
		_ = c.enqueue(resp)
	} else { // an inline handler, on the reader goroutine
		c.enqueueFromReader(resp)
	}
}

func (ep *endpoint) callHandler(c *Conn, h Handler, req *Command) (resp *Command) {
	defer func() {
		if p := recover(); p != nil {
			ep.log.Error("remoting: handler panic", "code", RequestCode(req.Code), "remote", c.remote, "panic", p, "stack", string(debug.Stack()))
			resp = NewResponse(req, ResponseSystemError, fmt.Sprint("handler panic: ", p))
		}
	}()
	if ic := ep.opts.Interceptor; ic != nil {
		if resp := ic.Intercept(c, req); resp != nil {
			return resp
		}
	}
	return h(c, req)
}
