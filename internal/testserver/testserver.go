// Package testserver starts a name server and a broker in the test's process on loopback ports,
// with the data in the test's temporary directory, for tests that talk to a real server over TCP.
package testserver

import (
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
)

// Quiet is a logger that discards everything.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Server is a running name server and broker; both stop when the test ends.
type Server struct {
	NameServer string // address of the name server
	Registry   *namesrv.Registry
	Broker     *broker.Broker
}

// Start starts a name server and a broker registered in it. The broker's configuration has small
// segments (16 MiB commitlog, 1,000-unit queue files); mutate may change it before it starts.
func Start(t testing.TB, mutate func(*broker.Config)) *Server {
	t.Helper()
	ns, err := namesrv.Listen("127.0.0.1:0", namesrv.Options{Logger: Quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	cfg := broker.DefaultConfig()
	cfg.StorePathRootDir = t.TempDir()
	cfg.ListenPort = 0
	cfg.MappedFileSizeCommitLog = 16 << 20
	if mutate != nil {
		mutate(&cfg)
	}
	b, err := broker.New(cfg, broker.Options{
		Registrar: broker.EmbeddedRegistrar(ns.Registry()),
		Logger:    Quiet,
		Remoting:  remoting.Options{Logger: Quiet},
		Store:     func(o *store.Options) { o.ConsumeQueueUnits = 1000 },
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	if err := b.Start(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return &Server{NameServer: ns.Addr(), Registry: ns.Registry(), Broker: b}
}
