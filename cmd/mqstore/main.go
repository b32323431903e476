// Command mqstore runs the mqstore broker with an embedded name server (the default), or a name
// server alone (mqstore namesrv).
//
//	mqstore [-c broker.conf] [-<brokerKey> value ...] [-namesrv-listen addr] [-metrics-addr addr]
//	mqstore namesrv [-listen 127.0.0.1:9876]
//	mqstore -print-config
//
// Configuration precedence: flags > environment (MQSTORE_<KEY_IN_SNAKE_CASE>) > the properties
// file (-c, RocketMQ broker.conf key names) > defaults. Unknown keys and bad values are refused
// at start with the key's name. SIGINT/SIGTERM stop the server gracefully (drain, flush,
// checkpoint, persist offsets); a second signal forces the exit.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/grpcserver"
	"github.com/mqstore/mqstore/metrics"
	"github.com/mqstore/mqstore/namesrv"
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run is the whole program; it returns the exit code.
func run(args, environ []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "namesrv" {
		return runNameServer(args[1:], stderr)
	}
	s, err := loadSettings(args, environ)
	if err != nil {
		fmt.Fprintln(stderr, "mqstore:", err)
		return 2
	}
	if s.printConfig {
		s.print(stdout)
		return 0
	}
	logger := newLogger(stderr, s.logFormat, s.logLevel)
	slog.SetDefault(logger)

	srv, err := start(s, logger)
	if err != nil {
		fmt.Fprintln(stderr, "mqstore:", err)
		return 1
	}
	fmt.Fprintf(stdout, "mqstore: broker %s listening on %s, name server on %s, data in %s, metrics on %s\n",
		s.broker.BrokerName, srv.broker.Addr(), orNone(srv.namesrvAddr), s.broker.StorePathRootDir, orNone(srv.metricsAddr))

	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	got := <-sig
	logger.Info("mqstore: shutting down", "signal", got.String())
	done := make(chan error, 1)
	go func() { done <- srv.close() }()
	select {
	case err := <-done:
		if err != nil {
			logger.Error("mqstore: shutdown", "err", err)
			return 1
		}
		logger.Info("mqstore: stopped")
		return 0
	case got := <-sig:
		logger.Error("mqstore: second signal, exiting without a clean shutdown", "signal", got.String())
		return 1
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// server is a running mqstore: broker, optional embedded name server, optional metrics.
type server struct {
	broker      *broker.Broker
	ns          *namesrv.Listener
	namesrvAddr string
	metrics     *metrics.Server
	metricsAddr string
	grpc        *grpcserver.Server // nil when grpcServerEnable=false
}

func start(s *settings, logger *slog.Logger) (*server, error) {
	srv := &server{}
	opts := broker.Options{Logger: logger}
	if s.namesrvListen != "" {
		ns, err := namesrv.Listen(s.namesrvListen, namesrv.Options{Logger: logger})
		if err != nil {
			return nil, err
		}
		srv.ns, srv.namesrvAddr = ns, ns.Addr()
		opts.Registrar = broker.EmbeddedRegistrar(ns.Registry())
	}
	var m *metrics.Metrics
	if s.metricsAddr != "" {
		m = newMetrics(s)
		opts.Metrics = m
	}
	b, err := broker.New(s.broker, opts)
	if err != nil {
		srv.close()
		return nil, err
	}
	srv.broker = b
	if err := b.ListenAndServe(); err != nil {
		srv.close()
		return nil, fmt.Errorf("broker listen on port %d: %w", s.broker.ListenPort, err)
	}
	if s.broker.GRPCServerEnable { // RocketMQ 5 clients (package grpcserver)
		if srv.grpc, err = grpcserver.Listen(b, grpcserver.Options{Logger: logger, Metrics: m}); err != nil {
			srv.close()
			return nil, err
		}
	}
	if m != nil {
		attachSnapshot(m, b)
		ms, err := m.Serve(metrics.HTTPOptions{Addr: s.metricsAddr, Ready: readiness(b), Pprof: s.pprof, Logger: logger})
		if err != nil {
			srv.close()
			return nil, fmt.Errorf("metrics listen on %s: %w", s.metricsAddr, err)
		}
		srv.metrics, srv.metricsAddr = ms, ms.Addr().String()
	}
	return srv, nil
}

// close stops everything: metrics, then the broker (drain, flush, persist), then the name server.
func (srv *server) close() error {
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil && !errors.Is(err, broker.ErrClosed) {
			firstErr = err
		}
	}
	if srv.metrics != nil {
		keep(srv.metrics.Close())
	}
	if srv.grpc != nil {
		keep(srv.grpc.Close())
	}
	if srv.broker != nil {
		keep(srv.broker.Close())
	}
	if srv.ns != nil {
		keep(srv.ns.Close())
	}
	return firstErr
}

// runNameServer runs a name server alone until a signal.
func runNameServer(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("mqstore namesrv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9876", "listen address")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	logger := newLogger(stderr, *logFormat, "info")
	ns, err := namesrv.Listen(*listen, namesrv.Options{Logger: logger})
	if err != nil {
		fmt.Fprintln(stderr, "mqstore namesrv:", err)
		return 1
	}
	logger.Info("name server: serving", "addr", ns.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	if err := ns.Close(); err != nil {
		logger.Error("name server: close", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// readiness is /readyz: recovered (the broker is serving), dispatch caught up, disk below the
// watermark.
func readiness(b *broker.Broker) func() error {
	return func() error {
		st := b.Store()
		if behind := st.DispatchBehind(); behind > 64<<20 {
			return fmt.Errorf("dispatch is %d bytes behind", behind)
		}
		if u, full := st.DiskUsage(), st.Options().DiskFullRatio; u > full {
			return fmt.Errorf("disk usage %.0f%% is above %.0f%%", u*100, full*100)
		}
		return nil
	}
}
