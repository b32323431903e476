package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTPOptions configures Serve.
type HTTPOptions struct {
	// Addr is the listen address; "127.0.0.1:0" picks a free port. Default
	// "127.0.0.1:5557" (RocketMQ's metricsPromExporterPort).
	Addr string
	// Ready reports readiness for /readyz: nil when ready, else the reason
	// (not recovered, dispatch behind, disk above the watermark). A nil
	// Ready is always ready.
	Ready func() error
	// Pprof serves net/http/pprof under /debug/pprof/.
	Pprof bool
	// Logger receives the server's errors. Default slog.Default().
	Logger *slog.Logger
	// Handlers are more handlers served on the same port, keyed by http.ServeMux pattern
	// (e.g. "/console/" for the web console). A pattern that is invalid or conflicts with
	// the built-in ones makes Serve fail with ErrInvalidOptions.
	Handlers map[string]http.Handler
	// Listener, if set, wraps the listening socket: tlsconfig.Server.Listener serves TLS on
	// the port (tls.server.mode permissive: TLS and plaintext; enforcing: TLS only).
	Listener func(net.Listener) net.Listener
	// ShutdownTimeout bounds how long Close waits for requests in flight
	// before closing their connections. Default 5s.
	ShutdownTimeout time.Duration
}

// DefaultAddr is the default HTTPOptions.Addr.
const DefaultAddr = "127.0.0.1:5557"

const (
	defaultShutdownTimeout = 5 * time.Second
	readHeaderTimeout      = 10 * time.Second
	maxScrapesInFlight     = 8
)

// Server is the HTTP server of /metrics, /healthz, /readyz and, when
// enabled, /debug/pprof/. It serves in a goroutine that Close joins.
type Server struct {
	http    *http.Server
	addr    net.Addr
	log     *slog.Logger
	timeout time.Duration
	done    chan struct{} // closed when the serving goroutine returned

	mu       sync.Mutex // guards closed and serveErr
	closed   bool
	serveErr error // what Serve returned, other than http.ErrServerClosed
}

// Serve listens on opts.Addr and serves m's endpoints in a goroutine:
//
//	/metrics        the registry, Prometheus text format (promhttp)
//	/healthz        200 "ok" while the process serves
//	/readyz         200 "ok" when opts.Ready returns nil, else 503 and the reason
//	/debug/pprof/   net/http/pprof, only with opts.Pprof
//	...             opts.Handlers (the web console under /console/)
func (m *Metrics) Serve(opts HTTPOptions) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ShutdownTimeout < 0 {
		return nil, fmt.Errorf("%w: negative ShutdownTimeout %v", ErrInvalidOptions, opts.ShutdownTimeout)
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = defaultShutdownTimeout
	}
	handler, err := m.handler(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w", opts.Addr, err)
	}
	if opts.Listener != nil {
		ln = opts.Listener(ln)
	}
	s := &Server{
		addr:    ln.Addr(),
		log:     opts.Logger,
		timeout: opts.ShutdownTimeout,
		done:    make(chan struct{}),
	}
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	go s.serve(ln)
	return s, nil
}

// handler returns the mux of Serve.
func (m *Metrics) handler(opts HTTPOptions) (_ http.Handler, err error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:            promLogger{opts.Logger},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: maxScrapesInFlight,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	ready := opts.Ready
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready != nil {
			if err := ready(); err != nil {
				writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
				return
			}
		}
		writeText(w, http.StatusOK, "ok\n")
	})
	if opts.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	defer func() {
		if r := recover(); r != nil { // ServeMux.Handle panics on a bad or conflicting pattern
			err = fmt.Errorf("%w: handler: %v", ErrInvalidOptions, r)
		}
	}()
	for pattern, h := range opts.Handlers {
		mux.Handle(pattern, h)
	}
	return mux, nil
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// promLogger adapts slog to promhttp's error log.
type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) { l.log.Error("metrics: scrape", "err", fmt.Sprint(v...)) }

func (s *Server) serve(ln net.Listener) {
	defer close(s.done)
	err := s.http.Serve(ln)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("metrics: http server stopped", "addr", s.addr.String(), "err", err)
		s.mu.Lock()
		s.serveErr = err
		s.mu.Unlock()
	}
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.addr }

// Close stops the server gracefully: it stops accepting, waits up to
// ShutdownTimeout for requests in flight, then closes the connections left
// (a pprof profile in progress is cut), and joins the serving goroutine. It returns the first error (the serving
// goroutine's, then the shutdown's); later calls return ErrClosed.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	shutdownErr := s.http.Shutdown(ctx)
	if errors.Is(shutdownErr, context.DeadlineExceeded) {
		// Requests or silent connections outlived the grace period: cut
		// them. Stopping is what Close promises, so this is no error.
		s.log.Warn("metrics: closing connections still open after the shutdown timeout", "timeout", s.timeout)
		shutdownErr = s.http.Close()
	}
	if shutdownErr != nil {
		shutdownErr = fmt.Errorf("metrics: shutdown: %w", shutdownErr)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serveErr != nil {
		return s.serveErr
	}
	return shutdownErr
}
