package grpcserver_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/apache/rocketmq-clients/golang/v5/credentials"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/grpcserver"
	"github.com/mqstore/mqstore/internal/testserver"
	"github.com/mqstore/mqstore/namesrv"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rmq5-logs")
	if err != nil {
		panic(err)
	}
	os.Setenv(rmq.CLIENT_LOG_ROOT, dir)
	os.Setenv(rmq.CLIENT_LOG_LEVEL, "error")
	os.Setenv(rmq.ENABLE_CONSOLE_APPENDER, "true")
	rmq.ResetLogger()
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a broker with its remoting port and name server (for 4.x clients) and its gRPC
// endpoint (for 5.x clients), on loopback.
type env struct {
	*testserver.Server
	GRPC *grpcserver.Server
	Addr string // gRPC endpoint
}

func start(t testing.TB, mutate func(*broker.Config)) *env {
	t.Helper()
	return startWith(t, mutate, grpcserver.Options{})
}

// startWith is start with server options (the logger is the tests').
func startWith(t testing.TB, mutate func(*broker.Config), opts grpcserver.Options) *env {
	t.Helper()
	ts := testserver.Start(t, mutate)
	opts.Logger = testLogger
	srv, err := grpcserver.New(ts.Broker, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil && !errors.Is(err, grpcserver.ErrClosed) {
			t.Errorf("grpcserver Close: %v", err)
		}
	})
	return &env{Server: ts, GRPC: srv, Addr: srv.Addr()}
}

var seq atomic.Int64

// name is a unique resource name.
func name(t testing.TB, kind string) string {
	return fmt.Sprintf("%s_%d_%d", kind, time.Now().UnixNano()%1e6, seq.Add(1))
}

// newTopic creates a topic of 4 queues as an operator would (mqadmin updateTopic: the broker's
// UpdateTopic): the gRPC side never auto-creates one.
func newTopic(t testing.TB, e *env) string { return typedTopic(t, e, "") }

// typedTopic creates a topic with the message.type attribute typ ("" for none).
func typedTopic(t testing.TB, e *env, typ string) string {
	t.Helper()
	topic := name(t, "topic")
	createTopic(t, e, topic, typ)
	return topic
}

// createTopic creates the topic named topic, with the message.type attribute typ ("" for none).
func createTopic(t testing.TB, e *env, topic, typ string) {
	t.Helper()
	tc := namesrv.TopicConfig{TopicName: topic, ReadQueueNums: 4, WriteQueueNums: 4, Perm: namesrv.PermRW}
	if typ != "" {
		tc.Attributes = map[string]string{namesrv.AttrMessageType: typ}
	}
	if err := e.Broker.UpdateTopic(tc, "test"); err != nil {
		t.Fatal(err)
	}
}

// needClient skips a test of the real 5.x client under the race detector (race_on_test.go).
func needClient(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("the v5.1.2 Go client has data races of its own (metric.go); run without -race")
	}
}

func config(e *env, group string) *rmq.Config {
	return &rmq.Config{Endpoint: e.Addr, ConsumerGroup: group, Credentials: &credentials.SessionCredentials{}}
}

func newProducer(t *testing.T, e *env, topics ...string) rmq.Producer {
	t.Helper()
	return newProducerWith(t, e, rmq.WithTopics(topics...))
}

func newProducerWith(t *testing.T, e *env, opts ...rmq.ProducerOption) rmq.Producer {
	t.Helper()
	needClient(t)
	p, err := rmq.NewProducer(config(e, ""), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.GracefulStop() })
	return p
}

func newSimpleConsumer(t *testing.T, e *env, group, topic string, filter *rmq.FilterExpression, await time.Duration) rmq.SimpleConsumer {
	t.Helper()
	needClient(t)
	c, err := rmq.NewSimpleConsumer(config(e, group), rmq.WithAwaitDuration(await),
		rmq.WithSubscriptionExpressions(map[string]*rmq.FilterExpression{topic: filter}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.GracefulStop() })
	return c
}

// receiveN receives until n messages arrived (acking none) or the deadline passes.
func receiveN(t *testing.T, c rmq.SimpleConsumer, n int, invisible, within time.Duration) []*rmq.MessageView {
	t.Helper()
	var out []*rmq.MessageView
	deadline := time.Now().Add(within)
	for len(out) < n && time.Now().Before(deadline) {
		mvs, err := c.Receive(context.Background(), int32(n-len(out)), invisible)
		if err != nil {
			t.Logf("receive: %v", err)
			continue // MESSAGE_NOT_FOUND after the long poll
		}
		out = append(out, mvs...)
	}
	if len(out) < n {
		t.Fatalf("received %d of %d messages within %v", len(out), n, within)
	}
	return out
}

var testLogger = func() *slog.Logger {
	if os.Getenv("MQSTORE_GRPC_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return testserver.Quiet
}()
