package faultproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer answers every line with the same line, until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func startProxy(t *testing.T) *Proxy {
	t.Helper()
	p, err := Listen("127.0.0.1:0", echoServer(t), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// roundTrip writes a line through a fresh connection and reads the echo, within timeout.
func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string, timeout time.Duration) (string, error) {
	t.Helper()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	got, err := r.ReadString('\n')
	return got, err
}

func dial(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func TestForwardsFaithfully(t *testing.T) {
	p := startProxy(t)
	c, r := dial(t, p)
	for _, line := range []string{"a", "bb", "ccc"} {
		got, err := roundTrip(t, c, r, line, 5*time.Second)
		if err != nil || got != line+"\n" {
			t.Fatalf("round trip %q: %q, %v", line, got, err)
		}
	}
}

func TestLatencyDelaysEachDirection(t *testing.T) {
	p := startProxy(t)
	p.Set(Faults{Latency: 100 * time.Millisecond, Jitter: 20 * time.Millisecond})
	c, r := dial(t, p)
	start := time.Now()
	got, err := roundTrip(t, c, r, "slow", 10*time.Second)
	if err != nil || got != "slow\n" {
		t.Fatalf("round trip: %q, %v", got, err)
	}
	// Both directions are delayed: at least twice the latency (a lower bound, not a speed test).
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Fatalf("round trip took %v with 100 ms latency each way", took)
	}
}

func TestBlackholeHangsThenHeals(t *testing.T) {
	p := startProxy(t)
	c, r := dial(t, p)
	p.Set(Faults{Blackhole: true})
	_, err := roundTrip(t, c, r, "lost", 300*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("blackholed round trip: %v, want a timeout", err)
	}
	p.Set(Faults{})
	c2, r2 := dial(t, p)
	if got, err := roundTrip(t, c2, r2, "back", 5*time.Second); err != nil || got != "back\n" {
		t.Fatalf("after heal: %q, %v", got, err)
	}
}

func TestRefuseCutsAndRefuses(t *testing.T) {
	p := startProxy(t)
	c, r := dial(t, p)
	if _, err := roundTrip(t, c, r, "x", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Set(Faults{Refuse: true})
	if _, err := roundTrip(t, c, r, "y", 5*time.Second); err == nil {
		t.Fatal("an open connection survived Refuse")
	}
	c2, r2 := dial(t, p)
	if _, err := roundTrip(t, c2, r2, "z", 5*time.Second); err == nil {
		t.Fatal("a new connection was served while refusing")
	}
}

func TestCutRateOneCutsAtFirstChunk(t *testing.T) {
	p := startProxy(t)
	p.Set(Faults{CutRate: 1})
	c, r := dial(t, p)
	if _, err := roundTrip(t, c, r, "cut", 5*time.Second); err == nil {
		t.Fatal("a chunk passed with CutRate 1")
	}
}

func TestCloseJoinsAndIsFinal(t *testing.T) {
	p, err := Listen("127.0.0.1:0", echoServer(t), "")
	if err != nil {
		t.Fatal(err)
	}
	p.Set(Faults{Latency: time.Second})
	c, _ := dial(t, p)
	c.Write([]byte("pending\n"))
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not join the connection's goroutines")
	}
	if err := p.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatal("the address still accepts after Close")
	}
}
