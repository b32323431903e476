// Package faultproxy is a TCP proxy that injects faults into the connections it carries: added
// latency with jitter (order kept), a blackhole (bytes are read and discarded, so the sender sees
// a hang, as when every packet is dropped), random connection cuts, and refused connections. It
// sits between the replicas of a replicated group in chaos tests, where tc netem is unavailable.
//
// It is written for the project rather than taken from Shopify/toxiproxy: the tests need one
// directed link per proxy, faults changed atomically while connections run, and a Close that
// joins every goroutine; toxiproxy/v2 brings an HTTP API server, a metrics stack and a logging
// framework for the same few toxics.
//
// Faults act per chunk (one Read of up to 32 KiB), in both directions of every connection.
package faultproxy

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed: the proxy is closed.
var ErrClosed = errors.New("faultproxy: closed")

// Faults is what the proxy does to the bytes it carries. The zero value forwards faithfully.
type Faults struct {
	// Latency delays every chunk by Latency plus a uniform random part of Jitter; chunks of one
	// direction keep their order.
	Latency, Jitter time.Duration
	// Blackhole discards every chunk read (connections stay open): a link that drops all packets.
	Blackhole bool
	// CutRate is the probability that a chunk cuts its connection instead of being forwarded
	// (both sides are closed; what was in flight is lost): a link losing packets until TCP gives up.
	CutRate float64
	// Refuse closes new connections at once and cuts the open ones: a peer that is unreachable.
	Refuse bool
}

// Proxy forwards every connection accepted on its address to an upstream address.
type Proxy struct {
	ln       net.Listener
	upstream string
	dialer   net.Dialer
	faults   atomic.Pointer[Faults]

	// mu guards conns, the open connections (both sides), and closed.
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool

	wg sync.WaitGroup // the accept loop and every connection's pumps
}

// Listen binds listen (host:port) and forwards to upstream, dialing from the IP of local when it
// is not empty (so address-based firewall rules see the original sender).
func Listen(listen, upstream, local string) (*Proxy, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	p.dialer.Timeout = time.Second
	if local != "" {
		p.dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	p.faults.Store(&Faults{})
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Set replaces the faults; open connections see them from their next chunk. Refuse also cuts
// the open connections.
func (p *Proxy) Set(f Faults) {
	p.faults.Store(&f)
	if f.Refuse {
		p.cutAll()
	}
}

// Faults returns the faults in force.
func (p *Proxy) Faults() Faults { return *p.faults.Load() }

// Close stops accepting, cuts every connection and waits for every goroutine. Later calls
// return ErrClosed.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.cutAll()
	p.wg.Wait()
	return err
}

func (p *Proxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// track registers c, refusing it when the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		if p.faults.Load().Refuse || !p.track(down) {
			down.Close()
			continue
		}
		p.wg.Add(1)
		go p.serve(down)
	}
}

// serve dials upstream for one accepted connection and pumps both directions until either ends.
func (p *Proxy) serve(down net.Conn) {
	defer p.wg.Done()
	defer p.untrack(down)
	up, err := p.dialer.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	if !p.track(up) {
		up.Close()
		return
	}
	defer p.untrack(up)
	var pumps sync.WaitGroup
	pumps.Add(2)
	go func() { defer pumps.Done(); p.pump(up, down) }()
	go func() { defer pumps.Done(); p.pump(down, up) }()
	pumps.Wait()
}

type chunk struct {
	at   time.Time
	data []byte
}

// pump copies src to dst through the faults: a reader applies them and queues chunks with their
// delivery time; a writer delivers them in order. Either side ending closes both connections.
func (p *Proxy) pump(dst, src net.Conn) {
	queue := make(chan chunk, 64)
	done := make(chan struct{})
	go func() { // the writer
		defer close(done)
		for c := range queue {
			if d := time.Until(c.at); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write(c.data); err != nil {
				src.Close()
				for range queue { // let the reader finish
				}
				return
			}
		}
	}()
	var last time.Time
	for {
		buf := make([]byte, 32<<10)
		n, err := src.Read(buf)
		if n > 0 {
			f := p.faults.Load()
			if f.Refuse || (f.CutRate > 0 && rand.Float64() < f.CutRate) {
				src.Close()
				dst.Close()
				break
			}
			if !f.Blackhole {
				at := time.Now().Add(f.Latency)
				if f.Jitter > 0 {
					at = at.Add(rand.N(f.Jitter))
				}
				if at.Before(last) {
					at = last
				}
				last = at
				queue <- chunk{at: at, data: buf[:n]}
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				dst.Close()
			}
			break
		}
	}
	close(queue)
	<-done
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}
