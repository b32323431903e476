package replicated

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/apache/rocketmq-clients/golang/v5/credentials"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/proctest"
)

// The replicas of the gRPC tests: their own loopback aliases (no other test binds them), so the
// fixed gRPC port every replica of a group shares is free on all of them.
var grpcIPs = []string{"127.0.0.91", "127.0.0.92", "127.0.0.93"}

const grpcStableIP = "127.0.0.90"

// v5Logs sends the 5.x client's logs to a temporary directory, errors only.
func v5Logs(t *testing.T) {
	t.Setenv(rmq.CLIENT_LOG_ROOT, t.TempDir())
	t.Setenv(rmq.CLIENT_LOG_LEVEL, "error")
	rmq.ResetLogger()
}

// freeGRPCPort returns a port reserved for the test that is free on the replicas' and the stable
// address's IPs.
func freeGRPCPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		port := proctest.FreePortOn(t, grpcStableIP)
		free := true
		for _, ip := range grpcIPs {
			l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			return port
		}
	}
	t.Fatal("no gRPC port free on every replica's address")
	return 0
}

func v5Config(endpoint, group string) *rmq.Config {
	return &rmq.Config{Endpoint: endpoint, ConsumerGroup: group, Credentials: &credentials.SessionCredentials{}}
}

// grpcThroughFollower starts a group whose replicas serve gRPC on one fixed port, points the
// unmodified 5.x producer and simple consumer at a FOLLOWER's endpoint, and checks that sends
// are acknowledged (the routes the follower answers name the leader) and received. With a
// stable leader address it then SIGKILLs the leader and checks that sends resume through the
// address the routes already named, and that every acknowledged message is received.
func grpcThroughFollower(t *testing.T, stable bool) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	v5Logs(t)
	const brokerName, topic = "broker-g", "ReplicatedGRPC"
	ns := startNamesrv(t)
	port := freeGRPCPort(t)
	var leaderAddr string
	if stable {
		leaderAddr = proctest.FreeAddr(t, grpcStableIP)
	}
	replicas := startGroup(t, group{brokerName: brokerName, namesrvs: []string{ns}, leaderAddr: leaderAddr,
		topics: []string{topic}, ips: grpcIPs, grpcPort: port})
	admin, err := client.NewAdmin(client.WithNameServer(ns), client.WithInstanceName(proctest.Instance("admin")), client.WithCallTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	leader := waitLeader(t, admin, brokerName, leaderAddr, replicas)
	var follower string
	for i, r := range replicas {
		if r != leader && follower == "" {
			follower = net.JoinHostPort(grpcIPs[i], strconv.Itoa(port))
		}
	}
	t.Logf("leader %s; the 5.x clients' endpoint is follower %s", leader.addr, follower)

	p, err := rmq.NewProducer(v5Config(follower, ""), rmq.WithTopics(topic))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.GracefulStop()
	acked := map[string]bool{}
	send := func(i int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		body := fmt.Sprintf("g-%d", i)
		_, err := p.Send(ctx, &rmq.Message{Topic: topic, Body: []byte(body)})
		if err == nil {
			acked[body] = true
		}
		return err
	}
	const before = 50
	for i := range before {
		if err := send(i); err != nil {
			t.Fatalf("send %d through follower %s: %v", i, follower, err)
		}
	}

	next := before
	if stable {
		killed := time.Now()
		leader.Signal(syscall.SIGKILL)
		leader.Wait()
		var firstOK time.Duration
		for time.Since(killed) < 60*time.Second && firstOK == 0 {
			if send(next) == nil {
				firstOK = time.Since(killed)
			}
			next++
		}
		if firstOK == 0 {
			t.Fatal("no send acknowledged within 60 s of the leader's SIGKILL")
		}
		t.Logf("SIGKILL of the leader to the first acknowledged 5.x send: %v", firstOK.Round(time.Millisecond))
		for range 50 {
			if err := send(next); err != nil {
				t.Fatalf("send %d after the failover: %v", next, err)
			}
			next++
		}
	}

	c := startV5Consumer(t, follower, "GRPCReplicatedGroup", topic)
	got := receiveAcking(t, c, 60*time.Second, func(got map[string]int) bool { return len(got) >= len(acked) })
	for body := range acked {
		if got[body] == 0 {
			t.Errorf("acknowledged message %q never received", body)
		}
	}
	t.Logf("%d sends acknowledged (%d attempted), %d distinct received", len(acked), next, len(got))
	if os.Getenv("MQSTORE_GRPC_DEBUG") != "" {
		for _, r := range replicas {
			t.Logf("%s stderr:\n%s", r.addr, proctest.Tail(r.Stderr(), 30))
		}
	}
}

// TestGRPCThroughFollower: without a stable leader address a follower's routes name the
// leader's host (from dLegerPeers) on the shared gRPC port.
func TestGRPCThroughFollower(t *testing.T) { grpcThroughFollower(t, false) }

// TestGRPCStableLeaderFailover: with dLegerLeaderAddr the ready leader also serves gRPC on the
// stable address's IP, every replica's routes name it, and after a SIGKILL of the leader the
// 5.x client reaches the new leader there.
func TestGRPCStableLeaderFailover(t *testing.T) { grpcThroughFollower(t, true) }

// TestGRPCTransactionsThroughFollower: a 5.x transactional producer pointed at a follower commits
// and rolls back through the routes' leader, and a transaction it leaves open is resolved by the
// leader's check-back (over the client's telemetry session with the leader).
func TestGRPCTransactionsThroughFollower(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	v5Logs(t)
	const brokerName, topic = "broker-gt", "ReplicatedGRPCTxn"
	ns := startNamesrv(t)
	port := freeGRPCPort(t)
	replicas := startGroup(t, group{brokerName: brokerName, namesrvs: []string{ns}, topics: []string{topic},
		ips: grpcIPs, grpcPort: port, extra: []string{"-transactionTimeOut", "1000", "-transactionCheckInterval", "300"}})
	admin, err := client.NewAdmin(client.WithNameServer(ns), client.WithInstanceName(proctest.Instance("admin")), client.WithCallTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	leader := waitLeader(t, admin, brokerName, "", replicas)
	var follower string
	for i, r := range replicas {
		if r != leader && follower == "" {
			follower = net.JoinHostPort(grpcIPs[i], strconv.Itoa(port))
		}
	}
	var checks atomic.Int32
	checker := &rmq.TransactionChecker{Check: func(mv *rmq.MessageView) rmq.TransactionResolution {
		checks.Add(1)
		if string(mv.GetBody()) == "open-rollback" {
			return rmq.ROLLBACK
		}
		return rmq.COMMIT
	}}
	p, err := rmq.NewProducer(v5Config(follower, ""), rmq.WithTopics(topic), rmq.WithTransactionChecker(checker))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.GracefulStop()
	sendTx := func(body string) rmq.Transaction {
		tx := p.BeginTransaction()
		if _, err := p.SendWithTransaction(context.Background(), &rmq.Message{Topic: topic, Body: []byte(body)}, tx); err != nil {
			t.Fatalf("half %q through follower %s: %v", body, follower, err)
		}
		return tx
	}
	if err := sendTx("committed").Commit(); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if err := sendTx("rolled-back").RollBack(); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	sendTx("open-commit")   // left open: the check-back commits it
	sendTx("open-rollback") // and rolls this one back

	c := startV5Consumer(t, follower, "GRPCReplicatedTxn", topic)
	want := map[string]bool{"committed": true, "open-commit": true}
	// Receive for at least 5 s, so that a rolled-back or twice-delivered message would show.
	quietFrom := time.Now().Add(5 * time.Second)
	got := receiveAcking(t, c, 30*time.Second, func(got map[string]int) bool {
		return len(got) >= len(want) && time.Now().After(quietFrom)
	})
	for body := range want {
		if got[body] != 1 {
			t.Errorf("%q delivered %d times, want once", body, got[body])
		}
	}
	for body, n := range got {
		if !want[body] {
			t.Errorf("%q delivered %d times, want never", body, n)
		}
	}
	if checks.Load() == 0 {
		t.Error("no check-back reached the producer")
	}
	t.Logf("delivered %v; %d check-backs", got, checks.Load())
}

// startV5Consumer starts an unmodified 5.x simple consumer of topic (every tag) at endpoint.
func startV5Consumer(t *testing.T, endpoint, group, topic string) rmq.SimpleConsumer {
	t.Helper()
	c, err := rmq.NewSimpleConsumer(v5Config(endpoint, group), rmq.WithAwaitDuration(2*time.Second),
		rmq.WithSubscriptionExpressions(map[string]*rmq.FilterExpression{topic: rmq.SUB_ALL}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.GracefulStop() })
	return c
}

// receiveAcking receives and acks until done says so or within passes, and returns how many
// times each body was delivered.
func receiveAcking(t *testing.T, c rmq.SimpleConsumer, within time.Duration, done func(got map[string]int) bool) map[string]int {
	t.Helper()
	got := map[string]int{}
	deadline := time.Now().Add(within)
	for !done(got) && time.Now().Before(deadline) {
		mvs, err := c.Receive(context.Background(), 32, 20*time.Second)
		if err != nil {
			continue // MESSAGE_NOT_FOUND after the long poll
		}
		for _, mv := range mvs {
			got[string(mv.GetBody())]++
			if err := c.Ack(context.Background(), mv); err != nil {
				t.Errorf("ack: %v", err)
			}
		}
	}
	return got
}
