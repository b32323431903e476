package remoting

import (
	"context"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBadPeers: peers that send a 2 GiB length, a truncated frame then
// silence, garbage, or open and drop 1,000 connections. Each bad
// connection is closed (and logged), the server keeps serving a good
// connection throughout, and the goroutine count returns to its baseline.
func TestBadPeers(t *testing.T) {
	checkAll := goroutineBaseline(t)
	sink := &syncBuffer{}
	srv, err := NewServer(Options{IdleTimeout: 300 * time.Millisecond, Logger: testLogger(sink)})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle(RequestHeartBeat, KindHeartbeat, echo)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	client, err := NewClient(Options{IdleTimeout: -1, Logger: testLogger(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	good, err := client.Conn(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	ping := func(what string) {
		t.Helper()
		req := NewRequest(RequestHeartBeat)
		req.Body = []byte(what)
		resp, err := good.Invoke(context.Background(), req)
		if err != nil || string(resp.Body) != what {
			t.Fatalf("good connection after %s: %v %v", what, resp, err)
		}
		resp.Release()
	}
	ping("start")
	// Keep the good connection from idling out while the test runs.
	stopPing := make(chan struct{})
	var pingWG sync.WaitGroup
	pingWG.Go(func() {
		for {
			select {
			case <-stopPing:
				return
			case <-time.After(50 * time.Millisecond):
				if resp, err := good.Invoke(context.Background(), NewRequest(RequestHeartBeat)); err == nil {
					resp.Release()
				}
			}
		}
	})
	waitConns := func(what string, n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for srv.NumConns() != n {
			if time.Now().After(deadline) {
				t.Fatalf("after %s: %d connections, want %d", what, srv.NumConns(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitConns("start", 1)
	baseline := runtime.NumGoroutine()

	// closedByServer sends data on a fresh connection and waits for the
	// server to close it.
	closedByServer := func(t *testing.T, data []byte, within time.Duration) {
		t.Helper()
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if _, err := nc.Write(data); err != nil {
			t.Fatal(err)
		}
		nc.SetReadDeadline(time.Now().Add(within))
		if n, err := io.Copy(io.Discard, nc); err != nil {
			t.Fatalf("server did not close the connection (read %d bytes): %v", n, err)
		}
	}

	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	tests := []struct {
		name   string
		data   []byte
		within time.Duration
		log    string
	}{
		{"2 GiB frame", append([]byte{0x80, 0, 0, 0, 0, 0, 0, 40}, strings.Repeat("x", 1000)...), time.Second, "frame too large"},
		{"frame over 16 MiB", binary.BigEndian.AppendUint32(nil, 16<<20), time.Second, "frame too large"},
		{"truncated frame then silence", append(binary.BigEndian.AppendUint32(nil, 100), 0, 0, 0, 2, '{'), 3 * time.Second, "idle"},
		{"silence", nil, 3 * time.Second, "idle"},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), time.Second, "frame too large"},
		{"garbage header", append([]byte{0, 0, 0, 12, 0, 0, 0, 8}, "not json"...), time.Second, "malformed header"},
		{"garbage", garbage(), 3 * time.Second, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			closedByServer(t, tt.data, tt.within)
			ping(tt.name)
			if !strings.Contains(sink.String(), tt.log) {
				t.Fatalf("log lacks %q:\n%s", tt.log, sink.String())
			}
		})
	}
	t.Run("16 MiB frame trickled", func(t *testing.T) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 4 {
			closedByServer(t, append(binary.BigEndian.AppendUint32(nil, 16<<20-4), make([]byte, 600<<10)...), 3*time.Second)
		}
		runtime.ReadMemStats(&after)
		if grown := after.TotalAlloc - before.TotalAlloc; grown > 24<<20 {
			t.Fatalf("four 600 KiB prefixes of 16 MiB frames cost %d MiB", grown>>20)
		}
		ping("trickle")
	})
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 64<<20 {
		t.Fatalf("bad peers made the server allocate %d MiB", grown>>20)
	}

	t.Run("1000 connections opened and dropped", func(t *testing.T) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 100)
		for i := range 1000 {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					t.Error(err)
					return
				}
				switch i % 4 {
				case 1: // half a frame
					nc.Write([]byte{0, 0, 0, 50, 0, 0})
				case 2: // a whole request, gone before the answer
					f, _ := AppendFrame(nil, &Command{Code: int32(RequestHeartBeat), Body: []byte("x")})
					nc.Write(f)
				case 3: // reset instead of FIN
					nc.(*net.TCPConn).SetLinger(0)
				}
				nc.Close()
			})
		}
		wg.Wait()
		ping("1000 connections")
		waitConns("1000 connections", 1)
	})

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after bad peers, %d before", runtime.NumGoroutine(), baseline)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stopPing)
	pingWG.Wait()
	client.Close()
	srv.Close()
	<-served
	checkAll()
}

func garbage() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 4096)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
