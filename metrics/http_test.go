package metrics

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHealthAndReady(t *testing.T) {
	var reason atomic.Pointer[string]
	m := New(Options{NoRuntimeMetrics: true})
	srv, err := m.Serve(HTTPOptions{Addr: "127.0.0.1:0", Ready: func() error {
		if r := reason.Load(); r != nil {
			return errors.New(*r)
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	notRecovered := "store not recovered"
	diskFull := "disk usage 0.97 above 0.95"
	tests := []struct {
		name       string
		reason     *string
		path       string
		wantStatus int
		wantBody   string
	}{
		{"healthz", nil, "/healthz", http.StatusOK, "ok\n"},
		{"ready", nil, "/readyz", http.StatusOK, "ok\n"},
		{"not ready", &notRecovered, "/readyz", http.StatusServiceUnavailable, "not ready: store not recovered\n"},
		{"healthz while not ready", &notRecovered, "/healthz", http.StatusOK, "ok\n"},
		{"not ready disk", &diskFull, "/readyz", http.StatusServiceUnavailable, "not ready: disk usage 0.97 above 0.95\n"},
		{"ready again", nil, "/readyz", http.StatusOK, "ok\n"},
		{"unknown path", nil, "/nope", http.StatusNotFound, ""},
		{"pprof off", nil, "/debug/pprof/", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason.Store(tt.reason)
			status, body := get(t, srv, tt.path)
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d (body %q)", status, tt.wantStatus, body)
			}
			if tt.wantBody != "" && body != tt.wantBody {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
		})
	}
}

func TestReadyNil(t *testing.T) {
	_, srv := newTestMetrics(t, Options{NoRuntimeMetrics: true})
	if status, body := get(t, srv, "/readyz"); status != http.StatusOK || body != "ok\n" {
		t.Errorf("/readyz without Ready: %d %q", status, body)
	}
}

func TestPprof(t *testing.T) {
	tests := []struct {
		pprof      bool
		path       string
		wantStatus int
		wantBody   string
	}{
		{true, "/debug/pprof/", http.StatusOK, "goroutine"},
		{true, "/debug/pprof/goroutine?debug=1", http.StatusOK, "goroutine profile"},
		{true, "/debug/pprof/cmdline", http.StatusOK, ""},
		{false, "/debug/pprof/", http.StatusNotFound, ""},
		{false, "/debug/pprof/goroutine?debug=1", http.StatusNotFound, ""},
		{false, "/debug/pprof/cmdline", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			m := New(Options{NoRuntimeMetrics: true})
			srv, err := m.Serve(HTTPOptions{Addr: "127.0.0.1:0", Pprof: tt.pprof})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			status, body := get(t, srv, tt.path)
			if status != tt.wantStatus {
				t.Errorf("pprof=%v %s: status %d, want %d", tt.pprof, tt.path, status, tt.wantStatus)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("pprof=%v %s: body lacks %q", tt.pprof, tt.path, tt.wantBody)
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	_, srv := newTestMetrics(t, Options{NoRuntimeMetrics: true})
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		resp, err := http.Post("http://"+srv.Addr().String()+path, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d, want 405", path, resp.StatusCode)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}

// serverGoroutines counts the goroutines of this package's servers.
func serverGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "metrics.(*Server).serve") || strings.Contains(g, "net/http.(*conn).serve") {
			n++
		}
	}
	return n
}

func TestCloseJoins(t *testing.T) {
	before := runtime.NumGoroutine()
	m := New(Options{NoRuntimeMetrics: true})
	const grace = 300 * time.Millisecond
	srv, err := m.Serve(HTTPOptions{Addr: "127.0.0.1:0", Pprof: true, Logger: slog.New(slog.DiscardHandler),
		ShutdownTimeout: grace})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/metrics", "/healthz", "/readyz", "/debug/pprof/"} {
		get(t, srv, path)
	}
	// A connection that never sends a request: Shutdown does not count it
	// as idle, so Close must cut it after the grace period.
	idle, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if serverGoroutines() == 0 {
		t.Fatal("no server goroutine while serving")
	}

	start := time.Now()
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if took := time.Since(start); took < grace || took > grace+2*time.Second {
		t.Errorf("Close took %v with a silent connection, want about %v", took, grace)
	}
	if n, err := idle.Read(make([]byte, 1)); err == nil {
		t.Errorf("silent connection still open after Close (read %d bytes)", n)
	}
	if err := srv.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	if _, err := net.DialTimeout("tcp", srv.Addr().String(), time.Second); err == nil {
		t.Error("still accepting after Close")
	}
	idle.Close()
	deadline := time.Now().Add(5 * time.Second)
	for serverGoroutines() != 0 || runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines left after Close: %d (before %d)\n%s", runtime.NumGoroutine(), before,
				buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServeErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	m := New(Options{NoRuntimeMetrics: true})
	tests := []struct {
		name string
		opts HTTPOptions
		want error
	}{
		{"address in use", HTTPOptions{Addr: ln.Addr().String()}, nil},
		{"bad address", HTTPOptions{Addr: "127.0.0.1:notaport"}, nil},
		{"negative timeout", HTTPOptions{Addr: "127.0.0.1:0", ShutdownTimeout: -time.Second}, ErrInvalidOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := m.Serve(tt.opts)
			if err == nil {
				srv.Close()
				t.Fatal("Serve succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err %v, want %v", err, tt.want)
			}
		})
	}
}

// TestMetricsContentType checks that /metrics speaks the Prometheus text
// format to a plain client.
func TestMetricsContentType(t *testing.T) {
	_, srv := newTestMetrics(t, Options{NoRuntimeMetrics: true})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + srv.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestExtraHandlers(t *testing.T) {
	m := New(Options{NoRuntimeMetrics: true})
	extra := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusOK, "extra\n") })
	srv, err := m.Serve(HTTPOptions{Addr: "127.0.0.1:0", Handlers: map[string]http.Handler{"/console/": extra}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if status, body := get(t, srv, "/console/x"); status != http.StatusOK || body != "extra\n" {
		t.Errorf("/console/x: %d %q", status, body)
	}
	if status, _ := get(t, srv, "/healthz"); status != http.StatusOK {
		t.Errorf("/healthz: %d", status)
	}
	_, err = m.Serve(HTTPOptions{Addr: "127.0.0.1:0", Handlers: map[string]http.Handler{"GET /metrics": extra}})
	if !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("conflicting pattern: err %v, want ErrInvalidOptions", err)
	}
}
