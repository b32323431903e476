// Command mqstore runs the mqstore broker, with an embedded name server when namesrvAddr is
// empty, or a name server alone (mqstore namesrv).
//
//	mqstore [-c broker.conf] [-<brokerKey> value ...] [-namesrv-listen addr] [-metrics-addr addr]
//	mqstore namesrv [-listen 127.0.0.1:9876] [-scanNotActiveBrokerInterval 5s] [-brokerChannelExpiredTime 120s]
//	                [-aclEnable -rocketmqHome dir | -rocketmq.acl.plain.file f] [-tls.server.mode m -tls.server.certPath ...]
//	mqstore -print-config | -version | -h
//
// Configuration precedence: flags > environment (MQSTORE_<KEY_IN_SNAKE_CASE>) > the properties
// file (-c, RocketMQ broker.conf key names) > defaults. Every key of RocketMQ's broker
// configuration is known: implemented keys take effect, the others are accepted with a warning
// or refused with the reason; misspelled keys are refused with a suggestion, all problems at
// once. Every port binds bindAddress (127.0.0.1 unless set). SIGINT/SIGTERM stop the server
// gracefully (drain, flush, checkpoint, persist offsets); a second signal forces the exit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mqstore/mqstore/acl"
	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/grpcserver"
	"github.com/mqstore/mqstore/internal/buildinfo"
	"github.com/mqstore/mqstore/internal/gctune"
	"github.com/mqstore/mqstore/metrics"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/remoting"
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run is the whole program; it returns the exit code.
func run(args, environ []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "namesrv" {
		return runNameServer(args[1:], stdout, stderr)
	}
	s, err := loadSettings(args, environ)
	if err != nil {
		fmt.Fprintln(stderr, "mqstore:", err)
		fmt.Fprintln(stderr, "mqstore -h lists every flag and key")
		return 2
	}
	switch {
	case s.help:
		usage(stdout)
		return 0
	case s.version:
		fmt.Fprintln(stdout, buildinfo.String("mqstore"))
		return 0
	case s.printConfig:
		s.print(stdout)
		return 0
	}
	logger := newLogger(stderr, s.logFormat, s.logLevel)
	slog.SetDefault(logger)
	for _, n := range s.notices {
		logger.Warn("config: "+n.key+": "+n.text, "key", n.key, "source", n.source)
	}
	logGC(logger, gctune.Apply())

	// Signals are caught from before the start line, so a supervisor that stops the server as
	// soon as it reports itself up gets a clean shutdown.
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	srv, err := start(s, logger)
	if err != nil {
		fmt.Fprintln(stderr, "mqstore:", err)
		return 1
	}
	fmt.Fprintln(stdout, srv.startLine(s))

	failed := false
	select {
	case got := <-sig:
		logger.Info("mqstore: shutting down", "signal", got.String())
	case <-srv.broker.ReplicaFailed():
		// A replica that stopped (a damaged log found on a read, a storage failure) must not
		// linger: exit non-zero so a supervisor restarts it and recovery judges the log.
		logger.Error("mqstore: the replica stopped; shutting down", "err", srv.broker.ReplicaErr())
		failed = true
	}
	done := make(chan error, 1)
	go func() { done <- srv.close() }()
	select {
	case err := <-done:
		if err != nil {
			logger.Error("mqstore: shutdown", "err", err)
			return 1
		}
		logger.Info("mqstore: stopped")
		if failed {
			return 1
		}
		return 0
	case got := <-sig:
		logger.Error("mqstore: second signal, exiting without a clean shutdown", "signal", got.String())
		return 1
	}
}

// startLine says exactly what is bound and where the broker registers:
//
//	mqstore: broker broker-a bound to 127.0.0.1:10911 (advertised as 127.0.0.1:10911); name server
//	bound to 127.0.0.1:9876 (embedded); registers with 127.0.0.1:9876; metrics bound to
//	127.0.0.1:5557; data in data
func (srv *server) startLine(s *settings) string {
	ns := "none embedded"
	if srv.ns != nil {
		ns = "bound to " + srv.ns.Addr() + " (embedded)"
	}
	metricsPart := "off"
	if srv.metrics != nil {
		metricsPart = "bound to " + srv.metricsAddr
	}
	return fmt.Sprintf("mqstore: broker %s bound to %s (advertised as %s); name server %s; registers with %s; metrics %s; data in %s",
		s.broker.BrokerName, srv.bound, srv.broker.Addr(), ns, orNone(strings.Join(srv.registersWith, ";")), metricsPart,
		s.broker.StorePathRootDir)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// server is a running mqstore: broker, optional embedded name server, optional metrics.
type server struct {
	broker        *broker.Broker
	bound         string // the broker's listening address
	ns            *namesrv.Listener
	nsSecurity    *broker.Security // the embedded name server's ACL and TLS
	client        *remoting.Client // registers with the name servers of namesrvAddr; nil without them
	registersWith []string
	metrics       *metrics.Server
	metricsAddr   string
	grpc          *grpcserver.Server // nil when grpcServerEnable=false
}

func start(s *settings, logger *slog.Logger) (*server, error) {
	srv := &server{}
	opts := broker.Options{Logger: logger}
	var registrars []broker.Registrar
	if addr, ok := s.embeddedNamesrv(); ok {
		sec, err := broker.NewSecurity(s.broker.Security, acl.ScopeNameServer, logger, nil)
		if err != nil {
			return nil, err
		}
		srv.nsSecurity = sec
		ns, err := namesrv.Listen(addr, namesrv.Options{Logger: logger, Remoting: sec.RemotingOptions(remoting.Options{})})
		if err != nil {
			sec.Close()
			return nil, err
		}
		srv.ns = ns
		registrars = append(registrars, broker.EmbeddedRegistrar(ns.Registry()))
		srv.registersWith = append(srv.registersWith, ns.Addr())
	}
	var remote []string
	for _, a := range strings.Split(s.broker.NamesrvAddr, ";") {
		if a = strings.TrimSpace(a); a != "" && (srv.ns == nil || a != srv.ns.Addr()) && !slices.Contains(remote, a) {
			remote = append(remote, a)
		}
	}
	if len(remote) > 0 {
		client, err := remoting.NewClient(remoting.Options{Logger: logger})
		if err != nil {
			srv.close()
			return nil, err
		}
		srv.client = client
		registrars = append(registrars, broker.RemoteRegistrar(client, strings.Join(remote, ";")))
		srv.registersWith = append(srv.registersWith, remote...)
	}
	switch len(registrars) {
	case 0:
		logger.Warn("mqstore: no name server: clients cannot find this broker (set namesrvAddr or -namesrv-listen)")
		opts.Registrar = broker.RegistrarFunc(func(context.Context, namesrv.Registration) error { return nil })
	case 1:
		opts.Registrar = registrars[0]
	default:
		opts.Registrar = registrarList(registrars)
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
	ln, err := net.Listen("tcp", net.JoinHostPort(s.broker.BindAddress, strconv.Itoa(s.broker.ListenPort)))
	if err != nil {
		srv.close()
		return nil, fmt.Errorf("broker listen: %w", err)
	}
	srv.bound = ln.Addr().String()
	if err := b.Start(ln); err != nil {
		ln.Close()
		srv.close()
		return nil, err
	}
	if s.broker.GRPCServerEnable { // RocketMQ 5 clients (package grpcserver)
		if srv.grpc, err = grpcserver.Listen(b, grpcserver.Options{Logger: logger, Metrics: m}); err != nil {
			srv.close()
			return nil, err
		}
	}
	if m != nil {
		attachSnapshot(m, b)
		addr := s.hostPort(s.metricsAddr)
		handlers, err := consoleHandlers(s, b, m, addr, srv.registersWith)
		if err != nil {
			srv.close()
			return nil, err
		}
		ms, err := m.Serve(metrics.HTTPOptions{Addr: addr, Ready: readiness(b), Pprof: s.pprof, Logger: logger, Handlers: handlers,
			Listener: b.TLS().Listener}) // tls.server.mode applies to the metrics and console port too
		if err != nil {
			srv.close()
			return nil, fmt.Errorf("metrics listen on %s: %w", addr, err)
		}
		srv.metrics, srv.metricsAddr = ms, ms.Addr().String()
	}
	return srv, nil
}

// registrarList registers with every registrar of the list: an embedded name server and the
// name servers of namesrvAddr.
type registrarList []broker.Registrar

func (l registrarList) Register(ctx context.Context, r namesrv.Registration) error {
	var errs []error
	for _, reg := range l {
		errs = append(errs, reg.Register(ctx, r))
	}
	return errors.Join(errs...)
}

func (l registrarList) Unregister(ctx context.Context, r namesrv.Registration) error {
	var errs []error
	for _, reg := range l {
		if u, ok := reg.(broker.Unregisterer); ok {
			errs = append(errs, u.Unregister(ctx, r))
		}
	}
	return errors.Join(errs...)
}

var _ broker.Unregisterer = registrarList(nil)

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
	if srv.client != nil {
		keep(srv.client.Close())
	}
	if srv.ns != nil {
		keep(srv.ns.Close())
	}
	if srv.nsSecurity != nil {
		keep(srv.nsSecurity.Close())
	}
	return firstErr
}

// runNameServer runs a name server alone until a signal.
func runNameServer(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mqstore namesrv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9876", "listen address (0.0.0.0:9876 opens it to other machines)")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	version := fs.Bool("version", false, "print the version and exit")
	opts := namesrv.Options{ScanInterval: 5 * time.Second, BrokerExpiry: 120 * time.Second}
	fs.Var((*millisFlag)(&opts.ScanInterval), "scanNotActiveBrokerInterval",
		"how often silent brokers are looked for, ms or a duration (RocketMQ's key)")
	fs.Var((*millisFlag)(&opts.BrokerExpiry), "brokerChannelExpiredTime",
		"a broker silent this long leaves the routes, ms or a duration (RocketMQ's BROKER_CHANNEL_EXPIRED_TIME); keep it above the brokers' registerNameServerPeriod")
	var sc broker.SecurityConfig // the broker's ACL and TLS keys, same names (docs/SECURITY.md)
	fs.BoolVar(&sc.AclEnable, "aclEnable", false, "check the route-changing requests against the ACL file (plain_acl.yml)")
	fs.StringVar(&sc.RocketmqHome, "rocketmqHome", "", "RocketMQ home whose conf/plain_acl.yml is the ACL file (\"\" = $ROCKETMQ_HOME)")
	fs.StringVar(&sc.AclFile, "rocketmq.acl.plain.file", "", "the ACL file, relative to rocketmqHome unless absolute")
	fs.StringVar(&sc.TLSServerMode, "tls.server.mode", "", "TLS: disabled, permissive (TLS and plaintext on one port) or enforcing")
	fs.StringVar(&sc.TLSServerCertPath, "tls.server.certPath", "", "PEM certificate (empty with keyPath empty: self-signed)")
	fs.StringVar(&sc.TLSServerKeyPath, "tls.server.keyPath", "", "PEM private key")
	fs.BoolVar(&sc.TLSServerAuthClient, "tls.server.authClient", false, "require client certificates signed by trustCertPath")
	fs.StringVar(&sc.TLSServerTrustCertPath, "tls.server.trustCertPath", "", "PEM CAs of client certificates")
	fs.StringVar(&sc.TLSConfigFile, "tls.config.file", "", "properties file holding the tls.* keys")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mqstore namesrv [-listen 127.0.0.1:9876] [-scanNotActiveBrokerInterval 5s] [-brokerChannelExpiredTime 120s] [-log-format text|json] [-aclEnable ...] [-tls.server.mode ...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.String("mqstore"))
		return 0
	}
	logger := newLogger(stderr, *logFormat, "info")
	logGC(logger, gctune.Apply())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	opts.Logger = logger
	sec, err := broker.NewSecurity(sc, acl.ScopeNameServer, logger, nil)
	if err != nil {
		fmt.Fprintln(stderr, "mqstore namesrv:", err)
		return 2
	}
	defer sec.Close()
	opts.Remoting = sec.RemotingOptions(opts.Remoting)
	ns, err := namesrv.Listen(*listen, opts)
	if err != nil {
		fmt.Fprintln(stderr, "mqstore namesrv:", err)
		return 1
	}
	fmt.Fprintf(stdout, "mqstore: name server bound to %s\n", ns.Addr())
	logger.Info("name server: serving", "addr", ns.Addr(), "scanNotActiveBrokerInterval", opts.ScanInterval,
		"brokerChannelExpiredTime", opts.BrokerExpiry)
	<-sig
	if err := ns.Close(); err != nil {
		logger.Error("name server: close", "err", err)
		return 1
	}
	return 0
}

// millisFlag is a duration flag that also takes RocketMQ's plain milliseconds ("5000").
type millisFlag time.Duration

func (m *millisFlag) String() string { return time.Duration(*m).String() }

func (m *millisFlag) Set(v string) error {
	d, err := time.ParseDuration(v)
	if n, nerr := strconv.ParseInt(v, 10, 64); nerr == nil {
		d, err = time.Duration(n)*time.Millisecond, nil
	}
	if err != nil || d <= 0 {
		return fmt.Errorf("want positive milliseconds (5000) or a duration (5s)")
	}
	*m = millisFlag(d)
	return nil
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
		if err := st.Err(); err != nil {
			return fmt.Errorf("the store refuses writes until a restart: %w", err)
		}
		if behind := st.DispatchBehind(); behind > 64<<20 {
			return fmt.Errorf("dispatch is %d bytes behind", behind)
		}
		if u, full := st.DiskUsage(), st.Options().DiskFullRatio; u > full {
			return fmt.Errorf("disk usage %.0f%% is above %.0f%%", u*100, full*100)
		}
		return nil
	}
}

// logGC reports the collector's settings (internal/gctune) at start.
func logGC(logger *slog.Logger, s gctune.Settings) {
	if s.Percent < 0 {
		logger.Info("gc: GOGC from the environment")
		return
	}
	logger.Info("gc: GOGC and memory limit set for a server process (set GOGC or GOMEMLIMIT to choose)",
		"GOGC", s.Percent, "GOMEMLIMIT", s.LimitBytes)
}
