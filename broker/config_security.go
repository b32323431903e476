package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mqstore/mqstore/acl"
	"github.com/mqstore/mqstore/metrics"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/tlsconfig"
)

// SecurityConfig is the broker's ACL and TLS configuration, with RocketMQ's key names
// (docs/SECURITY.md). The zero value is ACL off and TLS disabled.
type SecurityConfig struct {
	// AclEnable (aclEnable) checks every request against the ACL file.
	AclEnable bool
	// RocketmqHome (rocketmqHome) is where RocketMQ keeps conf/; "" = $ROCKETMQ_HOME.
	RocketmqHome string
	// AclFile (rocketmq.acl.plain.file) is the ACL file, relative to rocketmqHome unless
	// absolute; "" = conf/plain_acl.yml.
	AclFile string
	// InnerClientAuthenticationCredentials (innerClientAuthenticationCredentials, RocketMQ 5's
	// key) are the account a replica signs its own requests to its group's leader with:
	// {"accessKey":"…","secretKey":"…"} (acl.ParseCredentials); "" = unsigned.
	InnerClientAuthenticationCredentials string

	TLSServerMode          string // tls.server.mode: disabled (default here), permissive, enforcing
	TLSServerCertPath      string // tls.server.certPath: PEM certificate ("" with keyPath "": self-signed)
	TLSServerKeyPath       string // tls.server.keyPath: PEM private key
	TLSServerAuthClient    bool   // tls.server.authClient: require client certificates
	TLSServerTrustCertPath string // tls.server.trustCertPath: CAs of client certificates
	TLSConfigFile          string // tls.config.file: properties file with the tls.* keys
	TLSEnable              bool   // tls.enable: the broker's own connections (to name servers) use TLS
}

// securityKeys are the broker.conf keys of SecurityConfig.
var securityKeys = map[string]configKey{
	"aclEnable":                boolKey(func(c *Config) *bool { return &c.Security.AclEnable }),
	"rocketmqHome":             stringKey(func(c *Config) *string { return &c.Security.RocketmqHome }),
	"rocketmq.acl.plain.file":  stringKey(func(c *Config) *string { return &c.Security.AclFile }),
	"tls.server.mode":          stringKey(func(c *Config) *string { return &c.Security.TLSServerMode }),
	"tls.server.certPath":      stringKey(func(c *Config) *string { return &c.Security.TLSServerCertPath }),
	"tls.server.keyPath":       stringKey(func(c *Config) *string { return &c.Security.TLSServerKeyPath }),
	"tls.server.authClient":    boolKey(func(c *Config) *bool { return &c.Security.TLSServerAuthClient }),
	"tls.server.trustCertPath": stringKey(func(c *Config) *string { return &c.Security.TLSServerTrustCertPath }),
	"tls.config.file":          stringKey(func(c *Config) *string { return &c.Security.TLSConfigFile }),
	"tls.enable":               boolKey(func(c *Config) *bool { return &c.Security.TLSEnable }),

	"innerClientAuthenticationCredentials": stringKey(func(c *Config) *string { return &c.Security.InnerClientAuthenticationCredentials }),
}

// securityKeyDocs describe securityKeys for mqstore -h.
var securityKeyDocs = map[string]KeyDoc{
	"aclEnable":                {"check every request's signature and permissions against the ACL file (RocketMQ ACL 1.0, plain_acl.yml)", "bool"},
	"rocketmqHome":             {"RocketMQ home whose conf/plain_acl.yml is the ACL file (\"\" = $ROCKETMQ_HOME)", ""},
	"rocketmq.acl.plain.file":  {"the ACL file, relative to rocketmqHome unless absolute (\"\" = conf/plain_acl.yml)", ""},
	"tls.server.mode":          {"TLS on every port: disabled, permissive (TLS and plaintext on one port) or enforcing", ""},
	"tls.server.certPath":      {"PEM certificate of the server (empty with keyPath empty: a self-signed one)", ""},
	"tls.server.keyPath":       {"PEM private key of the server", ""},
	"tls.server.authClient":    {"require client certificates signed by trustCertPath", "bool"},
	"tls.server.trustCertPath": {"PEM CAs that sign client certificates", ""},
	"tls.config.file":          {"properties file holding the tls.* keys", ""},
	"tls.enable":               {"the broker's own connections (registration with name servers) use TLS", "bool"},

	"innerClientAuthenticationCredentials": {"the ACL account a replica signs its own requests to its group's leader with: {\"accessKey\":\"…\",\"secretKey\":\"…\"}", ""},
}

func init() {
	for k, v := range securityKeys {
		configKeys[k] = v
		keyDocs[k] = securityKeyDocs[k]
	}
}

// ACLFilePath is the ACL file: rocketmq.acl.plain.file if absolute, else under rocketmqHome
// (or $ROCKETMQ_HOME), as RocketMQ's PlainPermissionManager finds it.
func (s *SecurityConfig) ACLFilePath() string {
	file := s.AclFile
	if file == "" {
		file = filepath.Join("conf", "plain_acl.yml")
	}
	if filepath.IsAbs(file) {
		return file
	}
	home := s.RocketmqHome
	if home == "" {
		home = os.Getenv("ROCKETMQ_HOME")
	}
	return filepath.Join(home, file)
}

// validate checks the security keys, after merging tls.config.file.
func (s *SecurityConfig) validate() error {
	m, err := s.merged()
	if err != nil {
		return err
	}
	if _, err := tlsconfig.ParseMode(m.TLSServerMode); err != nil {
		return fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	if (m.TLSServerCertPath == "") != (m.TLSServerKeyPath == "") {
		return fmt.Errorf("%w: tls.server.certPath and tls.server.keyPath go together", ErrBadConfig)
	}
	if m.TLSServerAuthClient && m.TLSServerTrustCertPath == "" {
		return fmt.Errorf("%w: tls.server.authClient needs tls.server.trustCertPath", ErrBadConfig)
	}
	return nil
}

// merged returns s with the tls.* keys of tls.config.file filled in where s leaves them empty
// (a key set in broker.conf wins, as a JVM property beats the file in RocketMQ).
func (s SecurityConfig) merged() (SecurityConfig, error) {
	if s.TLSConfigFile == "" {
		return s, nil
	}
	data, err := os.ReadFile(s.TLSConfigFile)
	if err != nil {
		return s, fmt.Errorf("%w: tls.config.file: %v", ErrBadConfig, err)
	}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			k, v, ok = strings.Cut(line, ":")
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || !strings.HasPrefix(k, "tls.") {
			return s, fmt.Errorf("%w: tls.config.file %s line %d: want tls.key=value", ErrBadConfig, s.TLSConfigFile, n+1)
		}
		fill := func(p *string) {
			if *p == "" {
				*p = v
			}
		}
		switch k {
		case "tls.server.mode":
			fill(&s.TLSServerMode)
		case "tls.server.certPath":
			fill(&s.TLSServerCertPath)
		case "tls.server.keyPath":
			fill(&s.TLSServerKeyPath)
		case "tls.server.trustCertPath":
			fill(&s.TLSServerTrustCertPath)
		case "tls.server.authClient", "tls.enable":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return s, fmt.Errorf("%w: tls.config.file: %s=%q", ErrBadConfig, k, v)
			}
			if k == "tls.enable" {
				s.TLSEnable = s.TLSEnable || b
			} else {
				s.TLSServerAuthClient = s.TLSServerAuthClient || b
			}
		default:
			// Other RocketMQ tls.* keys (tls.test.mode.enable, tls.client.*, …) are not used.
		}
	}
	return s, nil
}

// Security is the ACL checker and TLS state of one port (broker or name server): what
// RemotingOptions installs. Close stops the ACL file's reloading.
type Security struct {
	ACL    *acl.Checker
	TLS    *tlsconfig.Server
	client tlsconfig.ClientConfig
}

// NewSecurity builds the Security of cfg for a port of scope: the ACL checker (audit only when
// aclEnable is false) and the TLS server. Denials are counted in m when it is not nil.
func NewSecurity(cfg SecurityConfig, scope acl.Scope, logger *slog.Logger, m *metrics.Metrics) (*Security, error) {
	if logger == nil {
		logger = slog.Default()
	}
	sc, err := cfg.merged()
	if err != nil {
		return nil, err
	}
	mode, err := tlsconfig.ParseMode(sc.TLSServerMode)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	ts, err := tlsconfig.NewServer(tlsconfig.ServerConfig{
		Mode: mode, CertPath: sc.TLSServerCertPath, KeyPath: sc.TLSServerKeyPath,
		AuthClient: sc.TLSServerAuthClient, TrustCertPath: sc.TLSServerTrustCertPath, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	aopts := acl.Options{Scope: scope, Logger: logger, OnDenial: denialCounter(m)}
	if sc.AclEnable {
		aopts.Path = sc.ACLFilePath()
	}
	checker, err := acl.New(aopts)
	if err != nil {
		return nil, fmt.Errorf("broker: aclEnable: %w", err)
	}
	if sc.AclEnable {
		logger.Info("acl: enabled", "file", aopts.Path, "accounts", checker.Rules().NumAccounts())
	}
	return &Security{ACL: checker, TLS: ts, client: tlsconfig.ClientConfig{Enable: sc.TLSEnable}}, nil
}

// RemotingOptions returns o with the checker as its Interceptor, the TLS listener and, when
// tls.enable, a TLS dialer for the port's own client connections.
func (s *Security) RemotingOptions(o remoting.Options) remoting.Options {
	o.Interceptor = s.ACL
	o.Listener = s.TLS.Listener
	if dial, err := s.client.Dialer(); err == nil && dial != nil {
		o.Dial = dial
	}
	return o
}

// Close stops the ACL checker.
func (s *Security) Close() error {
	if err := s.ACL.Close(); err != nil && !errors.Is(err, acl.ErrClosed) {
		return err
	}
	return nil
}

// denialCounter counts denials in rocketmq_acl_denials_total{reason} of m's registry.
func denialCounter(m *metrics.Metrics) func(*acl.Denial) {
	if m == nil {
		return nil
	}
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rocketmq_acl_denials_total",
		Help: "Requests refused by ACL, by reason (no_access_key, unknown_access_key, bad_signature, not_admin, no_permission).",
	}, []string{"reason"})
	if err := m.Registry().Register(vec); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil
		}
		vec = are.ExistingCollector.(*prometheus.CounterVec)
	}
	return func(d *acl.Denial) { vec.WithLabelValues(d.Reason.String()).Inc() }
}
