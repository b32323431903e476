package client

import (
	"fmt"

	"github.com/mqstore/mqstore/acl"
	"github.com/mqstore/mqstore/tlsconfig"
)

// security is the ACL credentials and TLS setting of a client.
type security struct {
	accessKey, secretKey string
	tls                  tlsconfig.ClientConfig
}

// WithCredentials signs every request with an ACL account's keys (RocketMQ's
// AclClientRPCHook: HMAC-SHA1 over the sorted extension field values and the body), for
// brokers with aclEnable=true. Both keys must be set; requests to name servers are signed too.
func WithCredentials(accessKey, secretKey string) Option {
	return func(c *config) { c.security.accessKey, c.security.secretKey = accessKey, secretKey }
}

// WithTLS dials every broker and name server with TLS (RocketMQ's tls.enable). The server's
// certificate is not verified unless cfg.AuthServer is set; cfg.Enable is implied.
func WithTLS(cfg tlsconfig.ClientConfig) Option {
	return func(c *config) {
		cfg.Enable = true
		c.security.tls = cfg
	}
}

// applySecurity installs the signer and the TLS dialer into the remoting options.
func (c *config) applySecurity() error {
	s := &c.security
	if (s.accessKey == "") != (s.secretKey == "") {
		return fmt.Errorf("%w: credentials need both an access key and a secret key", ErrInvalidOption)
	}
	if sign := acl.Signer(s.accessKey, s.secretKey); sign != nil {
		c.remoting.OnSend = sign
	}
	dial, err := s.tls.Dialer()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	if dial != nil {
		c.remoting.Dial = dial
	}
	return nil
}

// WithTLSEnabled is WithTLS with RocketMQ's client defaults when on; off does nothing.
func WithTLSEnabled(on bool) Option {
	if !on {
		return func(*config) {}
	}
	return WithTLS(tlsconfig.ClientConfig{})
}
