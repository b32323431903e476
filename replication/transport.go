package replication

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// The replication port carries Raft messages between the replicas of a group over TCP. A
// connection is one-way: the dialer sends, the acceptor receives. It opens with a 16-byte
// hello, then carries frames, big-endian:
//
//	hello:  MAGIC 8 bytes "MQRAFT01" | FROM uint64 (the dialer's replica id)
//	frame:  LENGTH uint32 (bytes that follow, 1..MaxFrameSize) | raftpb.Message (protobuf)
//
// A frame whose message is not from the hello's id, or not to this replica, or longer than
// MaxFrameSize, closes the connection. Frozen: replicas of different versions must interoperate.

const (
	transportMagic = "MQRAFT01"
	// MaxFrameSize caps one message frame, and so what a peer can make this replica allocate:
	// an append message carries at most MaxSizePerMsg of entries (1 MiB by default) or one
	// entry of at most MaxEntrySize.
	MaxFrameSize = 2 * MaxEntrySize
)

// TCPOptions configure a TCPTransport. Zero values take the defaults.
type TCPOptions struct {
	// QueueLen bounds the messages waiting for one peer (4096); beyond it Send drops (Raft
	// retransmits what matters).
	QueueLen int
	// DialTimeout bounds a connection attempt (1 s); RetryMin and RetryMax bound the back-off
	// between attempts to reach a peer that is down (20 ms doubling up to 500 ms).
	DialTimeout, RetryMin, RetryMax time.Duration
	// Logger receives connection events. Default slog.Default().
	Logger *slog.Logger
}

func (o TCPOptions) withDefaults() TCPOptions {
	if o.QueueLen <= 0 {
		o.QueueLen = 4096
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = time.Second
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 20 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 500 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// TCPTransport is a replica's replication port: a listener for the peers' messages and one
// sender goroutine per peer, each with a bounded queue and its own reconnecting connection.
// Outgoing connections are dialled from the listener's IP, so rules that match replica address
// pairs (partitions with nftables on loopback aliases) see the replicas' own addresses.
type TCPTransport struct {
	id   uint64
	opts TCPOptions
	ln   net.Listener

	handler atomic.Pointer[func(*pb.Message)]

	// mu guards peers, conns and closed.
	mu     sync.Mutex
	peers  map[uint64]*peer
	conns  map[net.Conn]struct{}
	closed bool

	dropped atomic.Int64
	quit    chan struct{}
	wg      sync.WaitGroup
}

type peer struct {
	id    uint64
	addr  string
	queue chan []byte
}

var _ Transport = (*TCPTransport)(nil)

// ListenTCP binds the replication port of replica id at addr (host:port; port 0 picks one).
// Nothing is sent or received before Start.
func ListenTCP(id uint64, addr string, opts TCPOptions) (*TCPTransport, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("replication: listen %s: %w", addr, err)
	}
	return &TCPTransport{id: id, opts: opts.withDefaults(), ln: ln, peers: map[uint64]*peer{},
		conns: map[net.Conn]struct{}{}, quit: make(chan struct{})}, nil
}

// Addr is the bound address.
func (t *TCPTransport) Addr() net.Addr { return t.ln.Addr() }

// Dropped counts messages dropped because a peer's queue was full or its connection failed.
func (t *TCPTransport) Dropped() int64 { return t.dropped.Load() }

// Start sends to peers (id → host:port; this replica's own id is skipped) and hands every
// received message to handler (a Group's Receive), from the connections' goroutines.
func (t *TCPTransport) Start(peers map[uint64]string, handler func(*pb.Message)) {
	t.handler.Store(&handler)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	for id, addr := range peers {
		if id == t.id || t.peers[id] != nil {
			continue
		}
		p := &peer{id: id, addr: addr, queue: make(chan []byte, t.opts.QueueLen)}
		t.peers[id] = p
		t.wg.Add(1)
		go t.send(p)
	}
	t.wg.Add(1)
	go t.accept()
}

// Send queues each message for its peer, marshalled; it never blocks.
func (t *TCPTransport) Send(msgs []*pb.Message) {
	for _, m := range msgs {
		t.mu.Lock()
		p := t.peers[m.GetTo()]
		t.mu.Unlock()
		if p == nil {
			t.dropped.Add(1)
			continue
		}
		b, err := proto.Marshal(m)
		if err != nil || len(b) > MaxFrameSize {
			t.dropped.Add(1)
			continue
		}
		select {
		case p.queue <- b:
		default:
			t.dropped.Add(1)
		}
	}
}

// send owns the connection to one peer: dial (with back-off), write queued frames, coalescing
// what is queued into one write, and redial after an error.
func (t *TCPTransport) send(p *peer) {
	defer t.wg.Done()
	backoff := t.opts.RetryMin
	var local net.Addr
	if a, ok := t.ln.Addr().(*net.TCPAddr); ok {
		local = &net.TCPAddr{IP: a.IP}
	}
	dialer := net.Dialer{Timeout: t.opts.DialTimeout, LocalAddr: local}
	for {
		conn, err := dialer.Dial("tcp", p.addr)
		if err != nil {
			select {
			case <-t.quit:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, t.opts.RetryMax)
			// Messages queued for a peer that is down are stale by the time it is back.
			t.drain(p)
			continue
		}
		if !t.track(conn) {
			return
		}
		backoff = t.opts.RetryMin
		err = t.writeTo(conn, p)
		t.untrack(conn)
		if err == nil { // quit
			return
		}
		t.opts.Logger.Debug("replication: peer connection lost", "id", t.id, "peer", p.id, "err", err)
	}
}

func (t *TCPTransport) drain(p *peer) {
	for {
		select {
		case <-p.queue:
			t.dropped.Add(1)
		default:
			return
		}
	}
}

// writeTo writes the hello and then frames until quit (nil) or a write error.
func (t *TCPTransport) writeTo(conn net.Conn, p *peer) error {
	w := bufio.NewWriterSize(conn, 256<<10)
	var hdr [16]byte
	copy(hdr[:], transportMagic)
	binary.BigEndian.PutUint64(hdr[8:], t.id)
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	for {
		var b []byte
		select {
		case <-t.quit:
			return nil
		case b = <-p.queue:
		}
		// A peer that stops reading (SIGSTOP, a dropping partition) fails the write after the
		// deadline; the connection is then redialled.
		conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		for {
			var n [4]byte
			binary.BigEndian.PutUint32(n[:], uint32(len(b)))
			w.Write(n[:])
			if _, err := w.Write(b); err != nil {
				t.dropped.Add(1)
				return err
			}
			select {
			case b = <-p.queue:
				continue
			default:
			}
			break
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
}

func (t *TCPTransport) accept() {
	defer t.wg.Done()
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			return // closed
		}
		if !t.track(conn) {
			return
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			defer t.untrack(conn)
			if err := t.receive(conn); err != nil && !errors.Is(err, io.EOF) {
				t.opts.Logger.Debug("replication: inbound connection closed", "id", t.id, "from", conn.RemoteAddr(), "err", err)
			}
		}()
	}
}

// receive reads the hello and then frames, handing each message to the handler.
func (t *TCPTransport) receive(conn net.Conn) error {
	r := bufio.NewReaderSize(conn, 256<<10)
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	if string(hdr[:8]) != transportMagic {
		return fmt.Errorf("replication: bad hello from %s", conn.RemoteAddr())
	}
	from := binary.BigEndian.Uint64(hdr[8:])
	var buf []byte
	for {
		var n [4]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return err
		}
		size := binary.BigEndian.Uint32(n[:])
		if size == 0 || size > MaxFrameSize {
			return fmt.Errorf("replication: frame of %d bytes from %d", size, from)
		}
		if cap(buf) < int(size) {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		m := &pb.Message{}
		if err := proto.Unmarshal(buf, m); err != nil {
			return fmt.Errorf("replication: frame from %d: %w", from, err)
		}
		if m.GetFrom() != from || m.GetTo() != t.id {
			return fmt.Errorf("replication: message %d→%d on the connection from %d to %d", m.GetFrom(), m.GetTo(), from, t.id)
		}
		if h := t.handler.Load(); h != nil {
			(*h)(m)
		}
	}
}

func (t *TCPTransport) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		c.Close()
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

func (t *TCPTransport) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	c.Close()
}

// Close stops listening, closes every connection and joins every goroutine. Later calls
// return ErrClosed.
func (t *TCPTransport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	t.closed = true
	close(t.quit)
	err := t.ln.Close()
	for c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
	return err
}
