package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
)

func init() {
	rlog.SetLogLevel("error")
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// nameServer is an in-process name server on a free loopback port.
type nameServer struct {
	addr string
	reg  *namesrv.Registry
}

func startNameServer(t testing.TB) *nameServer {
	t.Helper()
	l, err := namesrv.Listen("127.0.0.1:0", namesrv.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &nameServer{addr: l.Addr(), reg: l.Registry()}
}

// server is a broker registered in an in-process name server.
type server struct {
	t      testing.TB
	ns     *nameServer
	dir    string
	port   int
	mutate func(*broker.Config)
	b      *broker.Broker
}

// startServer starts a name server and a broker with data in a fresh directory.
func startServer(t testing.TB, mutate func(*broker.Config)) *server {
	t.Helper()
	s := &server{t: t, ns: startNameServer(t), dir: t.TempDir(), mutate: mutate}
	s.start()
	t.Cleanup(func() {
		if s.b != nil {
			s.b.Close()
		}
	})
	return s
}

func (s *server) start() {
	s.t.Helper()
	cfg := broker.DefaultConfig()
	cfg.StorePathRootDir = s.dir
	cfg.ListenPort = 0
	cfg.MappedFileSizeCommitLog = 64 << 20
	cfg.FlushConsumerOffsetInterval = 500
	if s.mutate != nil {
		s.mutate(&cfg)
	}
	b, err := broker.New(cfg, broker.Options{
		Registrar: broker.EmbeddedRegistrar(s.ns.reg),
		Logger:    quiet,
		Remoting:  remoting.Options{Logger: quiet},
		Store:     func(o *store.Options) { o.ConsumeQueueUnits = 10000 },
	})
	if err != nil {
		s.t.Fatal(err)
	}
	addr := "127.0.0.1:0"
	if s.port != 0 {
		addr = fmt.Sprintf("127.0.0.1:%d", s.port)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		b.Close()
		s.t.Fatal(err)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	if err := b.Start(ln); err != nil {
		s.t.Fatal(err)
	}
	s.b = b
}

// restart closes the broker and opens it again on the same data directory and port.
func (s *server) restart() {
	s.t.Helper()
	if err := s.b.Close(); err != nil {
		s.t.Fatalf("close: %v", err)
	}
	s.b = nil
	s.start()
}

var instanceSeq atomic.Int64

// instance returns a unique client instance name, so every producer and consumer of the test
// process gets a client (connection, heartbeat, client id) of its own.
func instance(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e6, instanceSeq.Add(1))
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawClient is our own remoting client, for requests the Go client never sends.
func rawClient(t testing.TB) *remoting.Client {
	t.Helper()
	c, err := remoting.NewClient(remoting.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// invoke sends a request with ext fields and body and returns the response.
func invoke(t testing.TB, c *remoting.Client, addr string, code remoting.RequestCode, body []byte, ext ...string) *remoting.Command {
	t.Helper()
	req := remoting.NewRequest(code)
	for i := 0; i+1 < len(ext); i += 2 {
		req.SetExt(ext[i], ext[i+1])
	}
	req.Body = body
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, addr, req)
	if err != nil {
		t.Fatalf("%v: %v", code, err)
	}
	return resp
}

// committedOffset asks the broker for a group's committed offset of a queue (-1: none).
func committedOffset(t testing.TB, c *remoting.Client, addr, group, topic string, queueID int) int64 {
	resp := invoke(t, c, addr, remoting.RequestQueryConsumerOffset, nil,
		"consumerGroup", group, "topic", topic, "queueId", strconv.Itoa(queueID))
	defer resp.Release()
	if resp.ResponseCode() != remoting.ResponseSuccess {
		return -1
	}
	off, err := resp.GetInt64("offset")
	if err != nil {
		t.Fatal(err)
	}
	return off
}
