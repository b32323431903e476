// Package tlsconfig is TLS for mqstore's TCP ports, with RocketMQ's modes and property names
// (remoting/common/TlsMode.java, TlsSystemConfig.java):
//
//   - disabled: plaintext only;
//   - permissive: TLS and plaintext on one port. The first byte of a connection decides: 0x16
//     (a TLS handshake record) starts TLS, anything else is plaintext. A plaintext RocketMQ
//     frame starts with its big-endian length, so its first byte is 0x00 below 16 MiB: the two
//     cannot be confused;
//   - enforcing: TLS only; a plaintext connection is closed at its first byte.
//
// The server certificate comes from PEM files (tls.server.certPath, tls.server.keyPath, key
// in PKCS#8, PKCS#1 or SEC 1, unencrypted) and is reloaded when the files change; with neither
// set a self-signed certificate is made at start, as RocketMQ's test mode does. Client
// certificates are verified against tls.server.trustCertPath when tls.server.authClient is
// true (rocketmq-client-go cannot present one, so leave it off for Go clients).
package tlsconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// Mode is tls.server.mode.
type Mode uint8

// Modes. The zero value is Disabled.
const (
	Disabled Mode = iota
	Permissive
	Enforcing
)

var modeNames = [...]string{"disabled", "permissive", "enforcing"}

// String returns the property value: disabled, permissive or enforcing.
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", m)
}

// ErrBadConfig: a TLS setting is invalid or a file cannot be used.
var ErrBadConfig = errors.New("tlsconfig: invalid TLS configuration")

// ParseMode parses tls.server.mode (case-insensitive). "" is Disabled. Unlike RocketMQ, which
// falls back to permissive, an unknown value is an error.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "disabled":
		return Disabled, nil
	case "permissive":
		return Permissive, nil
	case "enforcing":
		return Enforcing, nil
	}
	return Disabled, fmt.Errorf("%w: tls.server.mode %q (disabled, permissive or enforcing)", ErrBadConfig, s)
}

// ServerConfig configures the server side.
type ServerConfig struct {
	Mode     Mode
	CertPath string // tls.server.certPath: PEM certificate chain
	KeyPath  string // tls.server.keyPath: PEM private key
	// AuthClient (tls.server.authClient) requires a client certificate signed by a CA of
	// TrustCertPath (tls.server.trustCertPath).
	AuthClient    bool
	TrustCertPath string
	// ReloadInterval: the certificate files are checked for changes at most this often, on
	// handshakes. Default 1 s.
	ReloadInterval time.Duration
	// HandshakeTimeout bounds the first byte and the handshake. Default 10 s.
	HandshakeTimeout time.Duration
	// Logger receives certificate reloads and their failures. Default slog.Default().
	Logger *slog.Logger
}

// Server holds a server's TLS state. It has no goroutine.
type Server struct {
	mode    Mode
	tls     *tls.Config
	certs   *certSource
	timeout time.Duration
}

// NewServer loads the certificate (or makes a self-signed one) for cfg. A Disabled cfg gives
// a Server whose Listener returns listeners unchanged.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ReloadInterval <= 0 {
		cfg.ReloadInterval = time.Second
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	s := &Server{mode: cfg.Mode, timeout: cfg.HandshakeTimeout}
	if cfg.Mode == Disabled {
		return s, nil
	}
	if cfg.Mode > Enforcing {
		return nil, fmt.Errorf("%w: mode %d", ErrBadConfig, cfg.Mode)
	}
	certs, err := newCertSource(cfg.CertPath, cfg.KeyPath, cfg.ReloadInterval, cfg.Logger)
	if err != nil {
		return nil, err
	}
	s.certs = certs
	s.tls = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.get}
	if cfg.AuthClient {
		if cfg.TrustCertPath == "" {
			return nil, fmt.Errorf("%w: tls.server.authClient needs tls.server.trustCertPath", ErrBadConfig)
		}
		pool, err := loadPool(cfg.TrustCertPath)
		if err != nil {
			return nil, err
		}
		s.tls.ClientCAs = pool
		s.tls.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return s, nil
}

// Mode returns the server's mode.
func (s *Server) Mode() Mode { return s.mode }

// TLSConfig returns the server's tls.Config (nil when Disabled), for ports served by other
// code (HTTP, gRPC).
func (s *Server) TLSConfig() *tls.Config { return s.tls }

// Listener wraps ln so that its connections follow the mode. It returns ln when Disabled.
func (s *Server) Listener(ln net.Listener) net.Listener {
	if s == nil || s.mode == Disabled {
		return ln
	}
	return &listener{Listener: ln, s: s}
}

func loadPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: no certificate in %s", ErrBadConfig, path)
	}
	return pool, nil
}

// ClientConfig configures the client side (RocketMQ's tls.enable, tls.client.*).
type ClientConfig struct {
	Enable bool // tls.enable
	// AuthServer (tls.client.authServer) verifies the server's certificate against
	// TrustCertPath (tls.client.trustCertPath), or the system roots when that is empty.
	// Default false, as RocketMQ and rocketmq-client-go: any certificate is accepted.
	AuthServer    bool
	TrustCertPath string
	ServerName    string // expected name when AuthServer (default: the host dialled)
	// CertPath and KeyPath (tls.client.certPath, tls.client.keyPath) are a client
	// certificate, for servers with authClient.
	CertPath, KeyPath string
}

// TLSConfig builds the client's tls.Config; nil when not Enable.
func (c ClientConfig) TLSConfig() (*tls.Config, error) {
	if !c.Enable {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName, InsecureSkipVerify: !c.AuthServer}
	if c.TrustCertPath != "" {
		pool, err := loadPool(c.TrustCertPath)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if c.CertPath != "" || c.KeyPath != "" {
		cert, err := tls.LoadX509KeyPair(c.CertPath, c.KeyPath)
		if err != nil {
			return nil, fmt.Errorf("%w: client certificate: %v", ErrBadConfig, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Dialer returns a dial function for remoting.Options.Dial: TCP, then the TLS handshake,
// bounded by ctx. It returns nil when not Enable (plain TCP).
func (c ClientConfig) Dialer() (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	cfg, err := c.TLSConfig()
	if err != nil || cfg == nil {
		return nil, err
	}
	d := &tls.Dialer{Config: cfg}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if tc, ok := nc.(*tls.Conn); ok {
			if tcp, ok := tc.NetConn().(*net.TCPConn); ok {
				tcp.SetNoDelay(true)
			}
		}
		return nc, nil
	}, nil
}

// certSource serves the certificate from its files, reloading them when they change.
type certSource struct {
	certPath, keyPath string
	interval          time.Duration
	log               *slog.Logger

	mu      sync.Mutex // guards the fields below
	cert    *tls.Certificate
	stamp   string // sizes and modification times of the files behind cert
	checked time.Time
}

func newCertSource(certPath, keyPath string, interval time.Duration, log *slog.Logger) (*certSource, error) {
	s := &certSource{certPath: certPath, keyPath: keyPath, interval: interval, log: log}
	if certPath == "" && keyPath == "" {
		cert, err := selfSigned()
		if err != nil {
			return nil, fmt.Errorf("%w: self-signed certificate: %v", ErrBadConfig, err)
		}
		s.cert = cert
		log.Warn("tls: no tls.server.certPath/keyPath; serving a self-signed certificate")
		return s, nil
	}
	if certPath == "" || keyPath == "" {
		return nil, fmt.Errorf("%w: tls.server.certPath and tls.server.keyPath go together", ErrBadConfig)
	}
	if err := s.loadLocked(); err != nil {
		return nil, err
	}
	s.checked = time.Now()
	return s, nil
}

func (s *certSource) fileStamp() (string, error) {
	var b strings.Builder
	for _, p := range []string{s.certPath, s.keyPath} {
		fi, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String(), nil
}

func (s *certSource) loadLocked() error {
	stamp, err := s.fileStamp()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	cert, err := tls.LoadX509KeyPair(s.certPath, s.keyPath)
	if err != nil {
		return fmt.Errorf("%w: %s, %s: %v", ErrBadConfig, s.certPath, s.keyPath, err)
	}
	s.cert, s.stamp = &cert, stamp
	return nil
}

// get is tls.Config.GetCertificate.
func (s *certSource) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.certPath != "" && time.Since(s.checked) >= s.interval {
		s.checked = time.Now()
		if stamp, err := s.fileStamp(); err == nil && stamp != s.stamp {
			if err := s.loadLocked(); err != nil {
				s.log.Error("tls: certificate reload failed; the previous certificate stays", "err", err)
				s.stamp = stamp // do not retry until the files change again
			} else {
				s.log.Info("tls: certificate reloaded", "cert", s.certPath)
			}
		}
	}
	return s.cert, nil
}
