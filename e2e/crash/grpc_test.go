package crash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/apache/rocketmq-clients/golang/v5/credentials"
	"github.com/mqstore/mqstore/internal/proctest"
	"github.com/mqstore/mqstore/namesrv"
)

// RocketMQ 5 clients over gRPC: a simple consumer receives and acks in a loop while mqstore is
// killed with SIGKILL and restarted on the same data and ports; every message sent is received
// in the end (the pop state and the messages survive), and redeliveries stay a small fraction.
func TestGRPCReceiveAckAcrossKills(t *testing.T) {
	logs := t.TempDir()
	os.Setenv(rmq.CLIENT_LOG_ROOT, logs)
	os.Setenv(rmq.CLIENT_LOG_LEVEL, "error")
	rmq.ResetLogger()
	grpcPort := proctest.FreePort(t)
	n := newNode(t, "-grpcServerPort", strconv.Itoa(grpcPort))
	n.start()
	addr := fmt.Sprintf("127.0.0.1:%d", grpcPort)
	topic, group := fmt.Sprintf("grpc_crash_%d", time.Now().UnixNano()%1e6), "grpc_crash_cg"
	createTopic(t, n, topic) // the gRPC side never auto-creates a topic
	cfg := &rmq.Config{Endpoint: addr, ConsumerGroup: group, Credentials: &credentials.SessionCredentials{}}

	const total = 300
	p, err := rmq.NewProducer(cfg, rmq.WithTopics(topic))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < total; i++ {
		if _, err := p.Send(context.Background(), &rmq.Message{Topic: topic, Body: []byte(fmt.Sprintf("m%d", i))}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	p.GracefulStop()

	c, err := rmq.NewSimpleConsumer(cfg, rmq.WithAwaitDuration(time.Second),
		rmq.WithSubscriptionExpressions(map[string]*rmq.FilterExpression{topic: rmq.SUB_ALL}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.GracefulStop()
	seen := map[string]int{}
	deliveries := 0
	var delivered atomic.Int64
	// The killer: SIGKILL three times while receives and acks are in progress, restarting on
	// the same data and ports each time.
	const kills = 3
	killed := make(chan error, 1)
	go func() {
		for k := 0; k < kills; k++ {
			for delivered.Load() < int64((k+1)*total/5) {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
			n.kill()
			n.start()
		}
		killed <- nil
	}()
	deadline := time.Now().Add(120 * time.Second)
	for len(seen) < total {
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d messages", len(seen), total)
		}
		mvs, err := c.Receive(context.Background(), 8, 3*time.Second)
		if err != nil {
			continue
		}
		for _, mv := range mvs {
			seen[string(mv.GetBody())]++
			deliveries++
			delivered.Add(1)
			c.Ack(context.Background(), mv)
		}
	}
	<-killed
	if dup := deliveries - total; dup > total/4 {
		t.Fatalf("%d redeliveries for %d messages and %d kills", dup, total, kills)
	}
	t.Logf("%d messages, %d deliveries over %d kills", total, deliveries, kills) // n.start in the killer goroutine fails the test with t.Fatal only if mqstore cannot restart
}

// createTopic creates a topic of 4 queues on the node's broker, as mqadmin updateTopic does.
func createTopic(t *testing.T, n *node, topic string) {
	t.Helper()
	a := newAdmin(t, n.namesrvAddr())
	defer a.Close()
	tc := namesrv.TopicConfig{TopicName: topic, ReadQueueNums: 4, WriteQueueNums: 4, Perm: namesrv.PermRW}
	if err := a.CreateTopic(context.Background(), fmt.Sprintf("127.0.0.1:%d", n.brokerPort), tc); err != nil {
		t.Fatal(err)
	}
}
