package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/testserver"
	"github.com/mqstore/mqstore/namesrv"
)

var quiet = testserver.Quiet

// server is an in-process name server and broker on loopback ports.
type server struct {
	nsAddr string
	reg    *namesrv.Registry
	b      *broker.Broker
}

func startServer(t testing.TB, mutate func(*broker.Config)) *server {
	t.Helper()
	ts := testserver.Start(t, func(c *broker.Config) {
		c.MappedFileSizeCommitLog = 64 << 20
		if mutate != nil {
			mutate(c)
		}
	})
	return &server{nsAddr: ts.NameServer, reg: ts.Registry, b: ts.Broker}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newProducer(t testing.TB, s *server, opts ...client.Option) *client.Producer {
	t.Helper()
	p, err := client.NewProducer(append([]client.Option{client.WithNameServer(s.nsAddr), client.WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func newConsumer(t testing.TB, s *server, opts ...client.Option) *client.PullConsumer {
	t.Helper()
	base := []client.Option{client.WithNameServer(s.nsAddr), client.WithLogger(quiet), client.WithSuspendTimeout(100 * time.Millisecond)}
	c, err := client.NewPullConsumer(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newAdmin(t testing.TB, s *server) *client.Admin {
	t.Helper()
	a, err := client.NewAdmin(client.WithNameServer(s.nsAddr), client.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// createTopic creates topic with n queues and waits for its route.
func createTopic(t testing.TB, s *server, a *client.Admin, topic string, n int) {
	t.Helper()
	if err := a.CreateTopic(ctxT(t), s.b.Addr(), namesrv.TopicConfig{TopicName: topic, ReadQueueNums: n, WriteQueueNums: n}); err != nil {
		t.Fatal(err)
	}
}

// pullAll pulls every queue of topic until want messages arrived or the
// deadline passed.
func pullAll(t testing.TB, c *client.PullConsumer, topic string, want int) []client.MessageExt {
	t.Helper()
	ctx := ctxT(t)
	qs, err := c.Queues(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	offsets := make([]int64, len(qs))
	var out []client.MessageExt
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < want && time.Now().Before(deadline) {
		for i, q := range qs {
			res, err := c.Pull(ctx, q, offsets[i], 32)
			if err != nil {
				t.Fatalf("pull %v: %v", q, err)
			}
			offsets[i] = res.NextBeginOffset
			out = append(out, res.Messages...)
		}
	}
	return out
}
