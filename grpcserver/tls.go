package grpcserver

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	"google.golang.org/grpc/credentials"
)

// Transport security: the endpoint is TLS-permissive, as RocketMQ's proxy is by default. A
// connection whose first byte is a TLS handshake record (0x16) is served over TLS, any other
// in plaintext (HTTP/2 prior knowledge). The v5.1.2 Go client always dials with TLS (and skips
// verification); the Java client defaults to plaintext. Without Options.TLS the certificate
// is a self-signed one made at start (for loopback use); give a real one for other networks.

// permissive is grpc TransportCredentials that sniff the first byte of each connection.
type permissive struct {
	tls credentials.TransportCredentials
}

var _ credentials.TransportCredentials = (*permissive)(nil)

func newPermissive(cfg *tls.Config) (*permissive, error) {
	if cfg == nil {
		cert, err := selfSigned()
		if err != nil {
			return nil, err
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return &permissive{tls: credentials.NewTLS(cfg)}, nil
}

// errClientSide: these credentials serve only.
var errClientSide = errors.New("grpcserver: server-side credentials")

func (p *permissive) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errClientSide
}

// ServerHandshake runs in grpc's per-connection goroutine, under its handshake deadline.
func (p *permissive) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	br := bufio.NewReaderSize(conn, 512)
	first, err := br.Peek(1)
	if err != nil {
		return nil, nil, fmt.Errorf("grpcserver: first byte: %w", err)
	}
	pc := &peekedConn{Conn: conn, r: br}
	if first[0] == 0x16 {
		return p.tls.ServerHandshake(pc)
	}
	return pc, plainAuth{credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}, nil
}

func (p *permissive) Info() credentials.ProtocolInfo { return p.tls.Info() }

func (p *permissive) Clone() credentials.TransportCredentials {
	return &permissive{tls: p.tls.Clone()}
}

func (p *permissive) OverrideServerName(string) error { return nil }

type plainAuth struct{ credentials.CommonAuthInfo }

func (plainAuth) AuthType() string { return "insecure" }

// peekedConn reads through the buffer that holds the sniffed bytes.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// selfSigned makes an ECDSA P-256 certificate for localhost and the loopback addresses, valid
// for a year.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "mqstore"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
