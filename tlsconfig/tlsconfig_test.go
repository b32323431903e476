package tlsconfig

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// echoServer serves ln with s, echoing what each connection sends; it returns the address.
func echoServer(t *testing.T, s *Server) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wl := s.Listener(ln)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := wl.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { wl.Close(); wg.Wait() })
	return ln.Addr().String()
}

func roundTrip(t *testing.T, addr string, useTLS bool) error {
	t.Helper()
	var c net.Conn
	var err error
	if useTLS {
		c, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte{0, 0, 0, 4}); err != nil {
		return err
	}
	buf := make([]byte, 4)
	_, err = io.ReadFull(c, buf)
	return err
}

func TestModes(t *testing.T) {
	for _, tc := range []struct {
		mode           Mode
		plainOK, tlsOK bool
	}{{Permissive, true, true}, {Enforcing, false, true}} {
		s, err := NewServer(ServerConfig{Mode: tc.mode, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		addr := echoServer(t, s)
		if err := roundTrip(t, addr, false); (err == nil) != tc.plainOK {
			t.Errorf("%v: plaintext: %v", tc.mode, err)
		}
		if err := roundTrip(t, addr, true); (err == nil) != tc.tlsOK {
			t.Errorf("%v: TLS: %v", tc.mode, err)
		}
	}
	for in, want := range map[string]Mode{"": Disabled, "Permissive": Permissive, "enforcing": Enforcing} {
		if m, err := ParseMode(in); err != nil || m != want {
			t.Errorf("ParseMode(%q) = %v, %v", in, m, err)
		}
	}
	if _, err := ParseMode("strict"); err == nil {
		t.Error("unknown mode accepted")
	}
}

func writePair(t *testing.T, dir string) {
	t.Helper()
	c, err := selfSigned()
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600)
}

func TestCertReload(t *testing.T) {
	dir := t.TempDir()
	writePair(t, dir)
	s, err := NewServer(ServerConfig{Mode: Enforcing, CertPath: filepath.Join(dir, "cert.pem"),
		KeyPath: filepath.Join(dir, "key.pem"), ReloadInterval: time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := s.certs.get(nil)
	time.Sleep(10 * time.Millisecond)
	writePair(t, dir)
	time.Sleep(10 * time.Millisecond)
	second, _ := s.certs.get(nil)
	if first == second {
		t.Fatal("the certificate was not reloaded")
	}
	// A broken pair keeps the previous certificate.
	os.WriteFile(filepath.Join(dir, "key.pem"), []byte("garbage"), 0o600)
	time.Sleep(10 * time.Millisecond)
	if third, _ := s.certs.get(nil); third != second {
		t.Fatal("a broken key replaced the certificate")
	}
}
