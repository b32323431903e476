// Package replicated runs a replicated broker group of real processes: one `mqstore namesrv`
// and three mqstore replicas of one brokerName (enableDLegerCommitLog=true, dLegerPeers), driven
// by the unmodified rocketmq-client-go through the name server. The leader is SIGKILLed while a
// producer runs; a new leader must take over, sends resume, and every acknowledged send must
// read back at the (queue, offset) its answer named, with its body.
package replicated

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/proctest"
	"github.com/mqstore/mqstore/namesrv"
)

func init() { rlog.SetLogLevel("fatal") }

const mqstorePkg = "github.com/mqstore/mqstore/cmd/mqstore"

var startLine = regexp.MustCompile(`^mqstore: broker (\S+) bound to (\S+) \(advertised as (\S+)\);`)

var instanceSeq atomic.Int64

func instance(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), instanceSeq.Add(1))
}

type replica struct {
	*proctest.Proc
	addr string // advertised client address
}

// startGroup starts a name server and three replicas of brokerName and returns them.
func startGroup(t *testing.T, brokerName string) (ns string, replicas []*replica) {
	t.Helper()
	nsp := proctest.New(t, proctest.Binary(t, mqstorePkg), "namesrv", "-listen", "127.0.0.1:0",
		"-scanNotActiveBrokerInterval", "200", "-brokerChannelExpiredTime", "3000")
	nsp.Start()
	ns, ok := strings.CutPrefix(nsp.FirstLine(), "mqstore: name server bound to ")
	if !ok {
		t.Fatal("name server start line")
	}
	var peers []string
	for i := range 3 {
		peers = append(peers, fmt.Sprintf("n%d-127.0.0.1:%d", i, proctest.FreePort(t)))
	}
	for i := range 3 {
		args := []string{"-brokerClusterName", "ReplicatedCluster", "-brokerName", brokerName,
			"-storePathRootDir", t.TempDir(), "-listenPort", strconv.Itoa(proctest.FreePort(t)),
			"-namesrvAddr", ns, "-metrics-addr", "", "-grpcServerPort", "0", "-registerNameServerPeriod", "500",
			"-mappedFileSizeCommitLog", "8m", "-maxMessageSize", "1m", "-maxHashSlotNum", "1000", "-maxIndexNum", "4000",
			"-enableDLegerCommitLog=true", "-dLegerGroup", brokerName, "-dLegerPeers", strings.Join(peers, ";"),
			"-dLegerSelfId", fmt.Sprintf("n%d", i)}
		r := &replica{Proc: proctest.New(t, proctest.Binary(t, mqstorePkg), args...)}
		r.Start()
		m := startLine.FindStringSubmatch(r.FirstLine())
		if m == nil {
			t.Fatalf("replica %d start line: %s", i, r.Stderr())
		}
		r.addr = m[3]
		replicas = append(replicas, r)
	}
	return ns, replicas
}

// master returns brokerName's id-0 address at the name server, "" when none.
func master(admin *client.Admin, topic, brokerName string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	route, err := admin.TopicRoute(ctx, topic)
	if err != nil {
		return ""
	}
	for _, bd := range route.BrokerDatas {
		if bd.BrokerName == brokerName {
			return bd.BrokerAddrs[0]
		}
	}
	return ""
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// acked is one acknowledged send.
type acked struct {
	body   string
	queue  int32
	offset int64
	sent   time.Time // when the send began
	at     time.Time // when its answer arrived
}

// TestReplicatedGroupLeaderKilled: the unmodified producer sends to a 3-replica group through
// the name server and a push consumer receives; the leader is SIGKILLed; a new leader
// registers as brokerId 0, the producer's sends succeed again (the time from the kill to the
// first acknowledged send is logged), the consumer receives every acknowledged message, and
// every acknowledged (queue, offset) reads back from the new leader with the body sent.
func TestReplicatedGroupLeaderKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes; waits for the client's 30 s route poll")
	}
	const brokerName, topic = "broker-r", "Replicated"
	ns, replicas := startGroup(t, brokerName)
	admin, err := client.NewAdmin(client.WithNameServer(ns), client.WithInstanceName(instance("admin")), client.WithCallTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()

	// Topic configs are per replica: create the topic on every one.
	for _, r := range replicas {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := admin.CreateTopic(ctx, r.addr, namesrv.TopicConfig{TopicName: topic, ReadQueueNums: 4, WriteQueueNums: 4, Perm: namesrv.PermRW, TopicFilterType: "SINGLE_TAG"})
		cancel()
		if err != nil {
			t.Fatalf("create topic on %s: %v", r.addr, err)
		}
	}
	var leader string
	took := waitFor(t, 30*time.Second, "a leader registered as brokerId 0", func() bool {
		leader = master(admin, topic, brokerName)
		return leader != ""
	})
	t.Logf("leader %s registered as brokerId 0 after %v", leader, took.Round(time.Millisecond))

	p, err := rocketmq.NewProducer(producer.WithNameServer([]string{ns}), producer.WithGroupName("replicated-p"),
		producer.WithInstanceName(instance("p")), producer.WithSendMsgTimeout(3*time.Second), producer.WithRetry(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()

	var (
		mu      sync.Mutex
		acks    []acked
		fails   int
		lastErr error
	)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			body := "m-" + strconv.Itoa(i)
			sent := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(body)))
			cancel()
			mu.Lock()
			if err == nil && res.Status == primitive.SendOK {
				acks = append(acks, acked{body: body, queue: int32(res.MessageQueue.QueueId), offset: res.QueueOffset, sent: sent, at: time.Now()})
			} else {
				fails++
				lastErr = err
			}
			mu.Unlock()
			if err != nil {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	stopped := false
	stopProducer := func() {
		if !stopped {
			stopped = true
			close(stop)
			<-done
		}
	}
	defer stopProducer()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acks) }

	received := map[string]int{}
	var recvMu sync.Mutex
	c, err := rocketmq.NewPushConsumer(consumer.WithNameServer([]string{ns}), consumer.WithGroupName("replicated-c"),
		consumer.WithInstance(instance("c")), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		recvMu.Lock()
		defer recvMu.Unlock()
		for _, m := range msgs {
			received[string(m.Body)]++
		}
		return consumer.ConsumeSuccess, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()

	waitFor(t, 30*time.Second, "200 acknowledged sends before the kill", func() bool { return count() >= 200 })

	var victim *replica
	for _, r := range replicas {
		if r.addr == leader {
			victim = r
		}
	}
	if victim == nil {
		t.Fatalf("leader %s is none of the replicas", leader)
	}
	before := count()
	killed := time.Now()
	victim.Signal(syscall.SIGKILL)
	victim.Wait()

	var newLeader string
	took = waitFor(t, 30*time.Second, "a new leader registered as brokerId 0", func() bool {
		newLeader = master(admin, topic, brokerName)
		return newLeader != "" && newLeader != leader
	})
	t.Logf("SIGKILL of leader %s to new leader %s registered as brokerId 0: %v", leader, newLeader, took.Round(time.Millisecond))
	// The first send begun after the kill that was acknowledged.
	firstAfter := func() (acked, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range acks[before:] {
			if a.sent.After(killed) {
				return a, true
			}
		}
		return acked{}, false
	}
	// The client learns a new master address at its route poll (30 s): allow two.
	waitFor(t, 75*time.Second, "a send begun after the kill acknowledged", func() bool { _, ok := firstAfter(); return ok })
	first, _ := firstAfter()
	t.Logf("SIGKILL of the leader to the first successful send (begun after the kill): acknowledged %v after the kill (begun at %v)",
		first.at.Sub(killed).Round(time.Millisecond), first.sent.Sub(killed).Round(time.Millisecond))
	target := count() + 100
	waitFor(t, 30*time.Second, "100 more acknowledged sends on the new leader", func() bool { return count() >= target })
	stopProducer()

	mu.Lock()
	all := append([]acked(nil), acks...)
	t.Logf("%d sends acknowledged, %d failed after the client's retries (last error: %v)", len(all), fails, lastErr)
	mu.Unlock()

	// The push consumer receives every acknowledged message.
	waitFor(t, 60*time.Second, "the push consumer to receive every acknowledged message", func() bool {
		recvMu.Lock()
		defer recvMu.Unlock()
		for _, a := range all {
			if received[a.body] == 0 {
				return false
			}
		}
		return true
	})

	// Checker: every acknowledged (queue, offset) holds its body on the new leader.
	pc, err := client.NewPullConsumer(client.WithNameServer(ns), client.WithGroup("replicated-check"),
		client.WithInstanceName(instance("check")), client.WithSuspendTimeout(0), client.WithCallTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	pc.Subscribe(topic, "*")
	stored := map[int32]map[int64]string{}
	for q := range int32(4) {
		stored[q] = map[int64]string{}
		mq := client.MessageQueue{Topic: topic, BrokerName: brokerName, QueueID: q}
		for offset := int64(0); ; {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := pc.Pull(ctx, mq, offset, 256)
			cancel()
			if err != nil {
				t.Fatalf("pull %v at %d: %v", mq, offset, err)
			}
			for _, m := range res.Messages {
				stored[q][m.QueueOffset] = string(m.Body)
			}
			if res.Status != client.PullFound || res.NextBeginOffset <= offset {
				break
			}
			offset = res.NextBeginOffset
		}
	}
	lost := 0
	for _, a := range all {
		if got := stored[a.queue][a.offset]; got != a.body {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged %s at queue %d offset %d; the group holds %q there", a.body, a.queue, a.offset, got)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged sends lost", lost, len(all))
	}
}
