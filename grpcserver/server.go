// Package grpcserver serves RocketMQ 5's gRPC MessagingService (apache/rocketmq-apis v2,
// apache.rocketmq.v2.MessagingService) over a broker: RocketMQ 5 clients (Java, Go, C++,
// Python, Node.js, Rust, C#) produce, receive, ack and run transactions against the same topics,
// groups, offsets, store and transaction engine as 4.x clients on the remoting port. It is a thin
// protocol layer: one file per RPC, converting to the broker's front-end API (broker/frontend.go)
// and its POP service (broker/pop.go).
//
// The message types are the generated stubs of
// github.com/apache/rocketmq-clients/golang/v5/protocol/v2: they are generated from
// apache/rocketmq-apis by the client's maintainers, published on the module proxy, and are
// exactly what the Go client speaks, so the wire cannot drift from the clients we test with.
package grpcserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/metrics"
)

// Errors of the server's lifecycle.
var (
	// ErrClosed: the server is closed.
	ErrClosed = errors.New("grpcserver: closed")
	// ErrStarted: Start was called twice.
	ErrStarted = errors.New("grpcserver: already started")
)

// Options configure a Server; the zero value is usable.
type Options struct {
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// Advertise is the host:port put in routes (Broker.endpoints). Default: the listener's
	// address, with brokerIP1 for an unspecified host.
	Advertise string
	// MaxConcurrentStreams caps the streams of one connection. Default 1024.
	MaxConcurrentStreams uint32
	// MaxConnections caps open client connections. Default 4096.
	MaxConnections int
	// DrainTimeout bounds the graceful stop of Close. Default 5 s.
	DrainTimeout time.Duration
	// MaxReceiveWait caps a receive's long polling. Default 20 s.
	MaxReceiveWait time.Duration
	// Metrics, if set, receives rocketmq_rpc_latency with protocol_type="grpc" (the broker's
	// own counters — messages in and out, DLQ, transactions — count gRPC traffic already).
	Metrics *metrics.Metrics
	// TLS is the certificate configuration of TLS connections (the endpoint also serves
	// plaintext; tls.go). Default: a self-signed certificate made at New.
	TLS *tls.Config
}

// Server is the gRPC MessagingService of one broker.
type Server struct {
	v2.UnimplementedMessagingServiceServer

	b        *broker.Broker
	pop      *broker.Pop
	opts     Options
	log      *slog.Logger
	grpc     *grpc.Server
	sessions *sessions
	rr       atomic.Uint32 // round-robin queue choice for sends
	addr     string
	port     int            // the port ln was bound to (set by Start)
	stable   stableListener // the stable leader address's IP (stable.go)

	mu      sync.Mutex // guards started, closed
	started bool
	closed  bool

	quit     chan struct{}   // closed by Close: streams and long polls end
	stopping context.Context // done when quit is closed
	stop     context.CancelFunc
	wg       sync.WaitGroup
}

// New opens the broker's POP service and prepares the server; Start serves.
func New(b *broker.Broker, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxConcurrentStreams == 0 {
		opts.MaxConcurrentStreams = 1024
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = 4096
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 5 * time.Second
	}
	if opts.MaxReceiveWait <= 0 {
		opts.MaxReceiveWait = 20 * time.Second
	}
	pop, err := b.OpenPop()
	if err != nil {
		return nil, fmt.Errorf("grpcserver: %w", err)
	}
	creds, err := newPermissive(opts.TLS)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("grpcserver: certificate: %w", err), pop.Close())
	}
	s := &Server{b: b, pop: pop, opts: opts, log: opts.Logger, quit: make(chan struct{})}
	s.stopping, s.stop = context.WithCancel(context.Background())
	s.sessions = newSessions()
	s.grpc = grpc.NewServer(
		grpc.Creds(creds),
		grpc.MaxConcurrentStreams(opts.MaxConcurrentStreams),
		grpc.MaxRecvMsgSize(b.Config().MaxMessageSize*2+1<<20),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor(s.recoverUnary),
		grpc.ChainStreamInterceptor(s.recoverStream),
	)
	v2.RegisterMessagingServiceServer(s.grpc, s)
	b.SetFrontendChecker(&checker{s: s})
	return s, nil
}

// Start serves ln in the background.
func (s *Server) Start(ln net.Listener) error {
	if err := s.start(ln); err != nil {
		return err
	}
	switch {
	case s.routedByGroup():
		// Outside s.mu: binding at once takes it (BindStable).
		if err := s.b.AddStableServer(s); err != nil {
			s.log.Warn("grpcserver: serving the stable leader address failed; the broker retries at its next role change", "err", err)
		}
	case s.b.Config().EnableDLegerCommitLog:
		s.log.Warn("grpcserver: grpcServerPort is 0 in a replicated group: routes name this replica's endpoint only, so 5.x clients must be pointed at the leader (set the same fixed grpcServerPort on every replica)")
	}
	return nil
}

func (s *Server) start(ln net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return ErrStarted
	}
	s.started = true
	s.addr = s.opts.Advertise
	if s.addr == "" {
		s.addr = ln.Addr().String()
		if a, ok := ln.Addr().(*net.TCPAddr); ok && (a.IP == nil || a.IP.IsUnspecified()) {
			s.addr = net.JoinHostPort(s.b.Config().BrokerIP1, fmt.Sprint(a.Port))
		}
	}
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		s.port = a.Port
	}
	ln = netutil.LimitListener(ln, s.opts.MaxConnections)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.grpc.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("grpcserver: serve failed", "err", err)
		}
	}()
	s.log.Info("grpcserver: serving RocketMQ 5 gRPC", "addr", s.addr)
	return nil
}

// Listen binds the broker's configured gRPC address (grpcServerIP:grpcServerPort) and starts a
// server on it.
func Listen(b *broker.Broker, opts Options) (*Server, error) {
	cfg := b.Config()
	ln, err := net.Listen("tcp", cfg.GRPCListenAddr())
	if err != nil {
		return nil, fmt.Errorf("grpcserver: listen: %w", err)
	}
	s, err := New(b, opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	if err := s.Start(ln); err != nil {
		ln.Close()
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// Addr is the address in routes.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Close stops gracefully: telemetry streams and long polls are ended, RPCs in progress finish
// (up to DrainTimeout, then connections are cut), every goroutine is joined and the POP state
// is synced and closed. Close the server before its broker. Later calls return ErrClosed.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.mu.Unlock()
	s.b.RemoveStableServer(s)
	s.b.SetFrontendChecker(nil)
	close(s.quit)
	s.stop()
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(s.opts.DrainTimeout)
	select {
	case <-done:
	case <-t.C:
		s.log.Warn("grpcserver: drain timed out; closing connections")
		s.grpc.Stop()
		<-done
	}
	t.Stop()
	s.wg.Wait()
	return s.pop.Close()
}

// recoverUnary turns a handler panic into INTERNAL for that call only.
func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("grpcserver: handler panic", "method", info.FullMethod, "panic", r)
			err = fmt.Errorf("grpcserver: internal error in %s", info.FullMethod)
		}
		if mt := s.opts.Metrics; mt != nil {
			code, result := "unknown", metrics.RPCProcessFailed
			if st, ok := resp.(interface{ GetStatus() *v2.Status }); ok && err == nil {
				code, result = strings.ToLower(st.GetStatus().GetCode().String()), metrics.RPCSuccess
			}
			mt.GRPC(path.Base(info.FullMethod), code, false, result, time.Since(start))
		}
	}()
	return h(ctx, req)
}

func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("grpcserver: stream handler panic", "method", info.FullMethod, "panic", r)
			err = fmt.Errorf("grpcserver: internal error in %s", info.FullMethod)
		}
		if mt := s.opts.Metrics; mt != nil && info.IsServerStream && !info.IsClientStream { // ReceiveMessage; not Telemetry
			result := metrics.RPCSuccess
			if err != nil {
				result = metrics.RPCProcessFailed
			}
			mt.GRPC(path.Base(info.FullMethod), "stream", true, result, time.Since(start))
		}
	}()
	return h(srv, ss)
}
