package metrics

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/mqstore/mqstore/tlsconfig"
)

// TestServeTLS serves the port through tlsconfig's listener: enforcing answers HTTPS and
// refuses plaintext; permissive answers both on the same port.
func TestServeTLS(t *testing.T) {
	httpsClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // the self-signed certificate
	plainClient := &http.Client{Timeout: 5 * time.Second}
	get := func(c *http.Client, url string) (string, error) {
		resp, err := c.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	for _, tt := range []struct {
		mode      tlsconfig.Mode
		plainWork bool
	}{{tlsconfig.Enforcing, false}, {tlsconfig.Permissive, true}} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			ts, err := tlsconfig.NewServer(tlsconfig.ServerConfig{Mode: tt.mode, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			m := New(Options{NoRuntimeMetrics: true})
			srv, err := m.Serve(HTTPOptions{Addr: "127.0.0.1:0", Listener: ts.Listener})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			addr := srv.Addr().String()
			if body, err := get(httpsClient, "https://"+addr+"/healthz"); err != nil || body != "ok\n" {
				t.Fatalf("https /healthz: %q %v", body, err)
			}
			body, err := get(plainClient, "http://"+addr+"/healthz")
			if tt.plainWork && (err != nil || body != "ok\n") {
				t.Fatalf("plaintext /healthz in permissive mode: %q %v", body, err)
			}
			if !tt.plainWork && err == nil {
				t.Fatalf("plaintext /healthz answered in enforcing mode: %q", body)
			}
		})
	}
}
