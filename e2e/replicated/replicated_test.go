// Package replicated runs replicated broker groups of real processes: `mqstore namesrv` name
// servers and groups of three mqstore replicas of one brokerName (enableDLegerCommitLog=true,
// dLegerPeers), driven by the unmodified rocketmq-client-go through the name servers. Leaders
// are SIGKILLed while producers run; a new leader must take over, sends resume, and every
// acknowledged send must read back at the (queue, offset) its answer named, with its body.
//
// Which tests run: TestStableLeaderAddrFailover, TestFollowerForwardsWrites,
// TestTwoGroupsLeaderKilled and the gRPC tests (grpc_test.go: the unmodified 5.x client pointed
// at a follower) always (a few seconds each); TestReplicatedGroupLeaderKilled (no
// stable leader address: the client waits for its 30 s route poll) with MQSTORE_SLOW_FAILOVER=1;
// TestFailoverTimes (the numbers of docs/BENCHMARKS.md) with MQSTORE_FAILOVER_RUNS=N.
package replicated

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

type replica struct {
	*proctest.Proc
	addr string // advertised client address
}

// startNamesrv starts a name server that expires a silent broker after 3 s and returns its address.
func startNamesrv(t *testing.T) string {
	t.Helper()
	nsp := proctest.New(t, proctest.Binary(t, mqstorePkg), "namesrv", "-listen", "127.0.0.1:0",
		"-scanNotActiveBrokerInterval", "200", "-brokerChannelExpiredTime", "3000")
	nsp.Start()
	ns, ok := strings.CutPrefix(nsp.FirstLine(), "mqstore: name server bound to ")
	if !ok {
		t.Fatal("name server start line")
	}
	return ns
}

// group describes a replicated broker group to start.
type group struct {
	brokerName string
	namesrvs   []string
	leaderAddr string   // dLegerLeaderAddr, "" for none
	topics     []string // created (4 queues) in every replica's topics.json before it starts
	// ips, when set, are the three replicas' addresses (bindAddress and brokerIP1, for the
	// client and replication ports); default 127.0.0.1 for all. grpcPort, when set, is the gRPC
	// port of every replica (on its ip); default none (grpcServerPort 0, a free port).
	ips      []string
	grpcPort int
	extra    []string // more flags for every replica
}

// startGroup starts three replicas of g and returns them.
//
// Each replica starts with g.topics in its topics.json (as an operator would copy the file from a
// single broker it replaces), so the topics exist before any leader is elected; topics created
// later go through the Raft log (e2e/replstate).
func startGroup(t *testing.T, g group) []*replica {
	t.Helper()
	ports := freePorts(t, 6) // 3 replication ports, 3 client ports
	ips := g.ips
	if ips == nil {
		ips = []string{"127.0.0.1", "127.0.0.1", "127.0.0.1"}
	}
	var peers []string
	for i := range 3 {
		peers = append(peers, fmt.Sprintf("n%d-%s:%d", i, ips[i], ports[i]))
	}
	var replicas []*replica
	for i := range 3 {
		dir := t.TempDir()
		seedTopics(t, dir, g.topics...)
		args := []string{"-brokerClusterName", "ReplicatedCluster", "-brokerName", g.brokerName,
			"-storePathRootDir", dir, "-listenPort", strconv.Itoa(ports[3+i]),
			"-bindAddress", ips[i], "-brokerIP1", ips[i],
			"-namesrvAddr", strings.Join(g.namesrvs, ";"), "-metrics-addr", "", "-grpcServerPort", strconv.Itoa(g.grpcPort), "-registerNameServerPeriod", "500",
			"-mappedFileSizeCommitLog", "8m", "-maxMessageSize", "1m", "-maxHashSlotNum", "1000", "-maxIndexNum", "4000",
			"-enableDLegerCommitLog=true", "-dLegerGroup", g.brokerName, "-dLegerPeers", strings.Join(peers, ";"),
			"-dLegerSelfId", fmt.Sprintf("n%d", i)}
		if g.leaderAddr != "" {
			args = append(args, "-dLegerLeaderAddr", g.leaderAddr)
		}
		args = append(args, g.extra...)
		r := &replica{Proc: proctest.New(t, proctest.Binary(t, mqstorePkg), args...)}
		r.Start()
		_, r.addr = r.BrokerStarted()
		replicas = append(replicas, r)
	}
	return replicas
}

// freePorts returns n distinct loopback ports reserved for the test (proctest.FreePort).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = proctest.FreePort(t)
	}
	return ports
}

// seedTopics writes dir/config/topics.json with topics of 4 queues (RocketMQ's file format).
func seedTopics(t *testing.T, dir string, topics ...string) {
	t.Helper()
	if len(topics) == 0 {
		return
	}
	table := map[string]namesrv.TopicConfig{}
	for _, name := range topics {
		table[name] = namesrv.TopicConfig{TopicName: name, ReadQueueNums: 4, WriteQueueNums: 4, Perm: namesrv.PermRW, TopicFilterType: "SINGLE_TAG"}
	}
	b, err := json.Marshal(map[string]any{"topicConfigTable": table})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config", "topics.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// groupAddrs returns brokerName's brokerAddrs at the name server (nil when unknown).
func groupAddrs(admin *client.Admin, brokerName string) map[int64]string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	brokers, _, err := admin.ClusterInfo(ctx)
	if err != nil {
		return nil
	}
	return brokers[brokerName].BrokerAddrs
}

// waitLeader waits until brokerName has a brokerId 0 at the name server that is not one of
// excluded, and returns the replica that leads: the one registered at 0, or with a stable leader
// address (registered at 0 instead) the one that no longer registers under its follower id.
func waitLeader(t *testing.T, admin *client.Admin, brokerName, stable string, replicas []*replica, excluded ...*replica) *replica {
	t.Helper()
	var leader *replica
	took := waitFor(t, 30*time.Second, brokerName+"'s leader registered as brokerId 0", func() bool {
		addrs := groupAddrs(admin, brokerName)
		zero := addrs[0]
		if zero == "" || stable != "" && zero != stable {
			return false
		}
		var candidates []*replica
		for _, r := range replicas {
			if slices.Contains(excluded, r) {
				continue
			}
			registered := false
			for id, a := range addrs {
				registered = registered || id > 0 && a == r.addr
			}
			if stable == "" && r.addr == zero || stable != "" && !registered {
				candidates = append(candidates, r)
			}
		}
		if len(candidates) != 1 {
			return false
		}
		leader = candidates[0]
		return true
	})
	t.Logf("%s: leader %s registered as brokerId 0 after %v", brokerName, leader.addr, took.Round(time.Millisecond))
	return leader
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
	body       string
	brokerName string
	queue      int32
	offset     int64
	sent       time.Time // when the send began
	at         time.Time // when its answer arrived
}

// producing runs an unmodified rocketmq-client-go sync producer in a loop until stop, and
// probes on demand.
type producing struct {
	p      rocketmq.Producer
	topic  string
	prefix string
	seq    atomic.Int64 // numbers the bodies

	mu      sync.Mutex // guards acks, fails, lastErr
	acks    []acked
	fails   int
	lastErr error

	stopOnce sync.Once
	stop     chan struct{}
	wg       sync.WaitGroup // the loop and the probes
}

// produce starts a sync producer of topic through namesrvs (2 retries, 3 s timeout); bodies are
// prefix-N. The test's cleanup stops it.
func produce(t *testing.T, namesrvs []string, topic, prefix string) *producing {
	t.Helper()
	p, err := rocketmq.NewProducer(producer.WithNameServer(namesrvs), producer.WithGroupName("replicated-p"),
		producer.WithInstanceName(proctest.Instance("p")), producer.WithSendMsgTimeout(3*time.Second), producer.WithRetry(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	pr := &producing{p: p, topic: topic, prefix: prefix, stop: make(chan struct{})}
	pr.wg.Add(1)
	go func() {
		defer pr.wg.Done()
		for {
			select {
			case <-pr.stop:
				return
			default:
			}
			if !pr.send() {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(func() { pr.halt(); p.Shutdown() })
	return pr
}

// send sends one message and records the outcome; it reports whether it was acknowledged.
func (pr *producing) send() bool {
	body := pr.prefix + "-" + strconv.FormatInt(pr.seq.Add(1), 10)
	sent := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	res, err := pr.p.SendSync(ctx, primitive.NewMessage(pr.topic, []byte(body)))
	cancel()
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if err != nil || res.Status != primitive.SendOK {
		pr.fails++
		pr.lastErr = err
		return false
	}
	pr.acks = append(pr.acks, acked{body: body, brokerName: res.MessageQueue.BrokerName, queue: int32(res.MessageQueue.QueueId),
		offset: res.QueueOffset, sent: sent, at: time.Now()})
	return true
}

// probe begins a send every 20 ms, each in its own goroutine, until one begun after since is
// acknowledged (or stop): the loop's own send may be stuck in a call to the dead leader (the
// client waits for its timeout), and the probes measure when a new send gets through.
func (pr *producing) probe(since time.Time) {
	pr.wg.Add(1)
	go func() {
		defer pr.wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if _, ok := pr.firstAfter(since); ok {
				return
			}
			select {
			case <-t.C:
				pr.wg.Add(1)
				go func() { defer pr.wg.Done(); pr.send() }()
			case <-pr.stop:
				return
			}
		}
	}()
}

func (pr *producing) count() int { pr.mu.Lock(); defer pr.mu.Unlock(); return len(pr.acks) }

// firstAfter returns the acknowledged send begun after t0 that was acknowledged first.
func (pr *producing) firstAfter(t0 time.Time) (acked, bool) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	for _, a := range pr.acks {
		if a.sent.After(t0) {
			return a, true
		}
	}
	return acked{}, false
}

// halt stops the producer loop and the probes and returns every acknowledged send.
func (pr *producing) halt() []acked {
	pr.stopOnce.Do(func() { close(pr.stop) })
	pr.wg.Wait()
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return slices.Clone(pr.acks)
}

// checkStored pulls every queue of topic on brokerNames (4 queues each) through the name
// servers and fails the test for every acknowledged send not stored at its (queue, offset) with
// its body.
func checkStored(t *testing.T, namesrvs []string, topic string, brokerNames []string, acks []acked) {
	t.Helper()
	pc, err := client.NewPullConsumer(client.WithNameServer(strings.Join(namesrvs, ";")), client.WithGroup("replicated-check"),
		client.WithInstanceName(proctest.Instance("check")), client.WithSuspendTimeout(0), client.WithCallTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	pc.Subscribe(topic, "*")
	type key struct {
		brokerName string
		queue      int32
		offset     int64
	}
	stored := map[key]string{}
	for _, bn := range brokerNames {
		for q := range int32(4) {
			mq := client.MessageQueue{Topic: topic, BrokerName: bn, QueueID: q}
			for offset := int64(0); ; {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				res, err := pc.Pull(ctx, mq, offset, 256)
				cancel()
				if err != nil {
					t.Fatalf("pull %v at %d: %v", mq, offset, err)
				}
				for _, m := range res.Messages {
					stored[key{bn, q, m.QueueOffset}] = string(m.Body)
				}
				if res.Status != client.PullFound || res.NextBeginOffset <= offset {
					break
				}
				offset = res.NextBeginOffset
			}
		}
	}
	lost := 0
	for _, a := range acks {
		if got := stored[key{a.brokerName, a.queue, a.offset}]; got != a.body {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged %s at %s queue %d offset %d; the group holds %q there", a.body, a.brokerName, a.queue, a.offset, got)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged sends lost", lost, len(acks))
	}
}

// consumeAll runs an unmodified push consumer of topic from the first offset and returns a
// function that waits until it has received every body of acks.
func consumeAll(t *testing.T, namesrvs []string, topic string) func(acks []acked) {
	t.Helper()
	var mu sync.Mutex
	received := map[string]int{}
	c, err := rocketmq.NewPushConsumer(consumer.WithNameServer(namesrvs), consumer.WithGroupName("replicated-c"),
		consumer.WithInstance(proctest.Instance("c")), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
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
	t.Cleanup(func() { c.Shutdown() })
	return func(acks []acked) {
		t.Helper()
		waitFor(t, 60*time.Second, "the push consumer to receive every acknowledged message", func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, a := range acks {
				if received[a.body] == 0 {
					return false
				}
			}
			return true
		})
	}
}

// leaderKilled runs one failover of a 3-replica group under the unmodified client, with a stable
// leader address or without: a sync producer (and, without the stable address, a push consumer)
// run, the leader is SIGKILLed
// after 200 acknowledged sends, a new leader registers, sends succeed again and 100 more are
// acknowledged; then the consumer must have received every acknowledged message and every
// acknowledged (queue, offset) must hold its body. It returns the time from the SIGKILL to the
// acknowledgement of the first send begun after it.
func leaderKilled(t *testing.T, stable bool) time.Duration {
	const brokerName, topic = "broker-r", "Replicated"
	ns := startNamesrv(t)
	namesrvs := []string{ns}
	var leaderAddr string
	if stable {
		leaderAddr = proctest.FreeAddr(t, "127.0.0.10")
	}
	replicas := startGroup(t, group{brokerName: brokerName, namesrvs: namesrvs, leaderAddr: leaderAddr, topics: []string{topic}})
	admin, err := client.NewAdmin(client.WithNameServer(ns), client.WithInstanceName(proctest.Instance("admin")), client.WithCallTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	leader := waitLeader(t, admin, brokerName, leaderAddr, replicas)

	pr := produce(t, namesrvs, topic, "m")
	var received func([]acked)
	if !stable {
		received = consumeAll(t, namesrvs, topic)
	}
	waitFor(t, 30*time.Second, "200 acknowledged sends before the kill", func() bool { return pr.count() >= 200 })

	killed := time.Now()
	leader.Signal(syscall.SIGKILL)
	pr.probe(killed)
	leader.Wait()
	newLeader := waitLeader(t, admin, brokerName, leaderAddr, replicas, leader)
	t.Logf("SIGKILL of leader %s to new leader %s registered as brokerId 0: %v", leader.addr, newLeader.addr, time.Since(killed).Round(time.Millisecond))

	// Without the stable address the client learns the new master at its route poll (30 s): allow two.
	wait := 75 * time.Second
	if stable {
		wait = 30 * time.Second
	}
	waitFor(t, wait, "a send begun after the kill acknowledged", func() bool { _, ok := pr.firstAfter(killed); return ok })
	first, _ := pr.firstAfter(killed)
	took := first.at.Sub(killed)
	t.Logf("SIGKILL of the leader to the first successful send (begun after the kill): acknowledged %v after the kill (begun at %v)",
		took.Round(time.Millisecond), first.sent.Sub(killed).Round(time.Millisecond))
	target := pr.count() + 100
	waitFor(t, 30*time.Second, "100 more acknowledged sends on the new leader", func() bool { return pr.count() >= target })
	acks := pr.halt()
	pr.mu.Lock()
	t.Logf("%d sends acknowledged, %d failed after the client's retries (last error: %v)", len(acks), pr.fails, pr.lastErr)
	pr.mu.Unlock()

	start := time.Now()
	if received == nil {
		// A push consumer running through the kill has a pull in flight to the dead leader, and
		// rocketmq-client-go waits for it for 30 s (a fixed timeout; it does not fail calls when
		// their connection closes): the slow test covers that. Here one starts after the
		// failover and must receive every acknowledged message from the new leader.
		received = consumeAll(t, namesrvs, topic)
	}
	received(acks)
	t.Logf("the push consumer received every acknowledged message %v after the producer stopped", time.Since(start).Round(time.Millisecond))
	checkStored(t, namesrvs, topic, []string{brokerName}, acks)
	return took
}

// TestStableLeaderAddrFailover: with dLegerLeaderAddr the group's brokerId 0 is one address
// that the ready leader binds; after a SIGKILL of the leader the unmodified client reconnects
// to the new leader there, without a route change, and no acknowledged send is lost.
func TestStableLeaderAddrFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	leaderKilled(t, true)
}

// TestReplicatedGroupLeaderKilled: without a stable leader address, the unmodified client
// reaches the new leader once its route poll (30 s) sees the new brokerId 0.
func TestReplicatedGroupLeaderKilled(t *testing.T) {
	if os.Getenv("MQSTORE_SLOW_FAILOVER") == "" {
		t.Skip("waits for the client's 30 s route poll; set MQSTORE_SLOW_FAILOVER=1")
	}
	leaderKilled(t, false)
}

// TestFailoverTimes measures the time from SIGKILL of the leader to the first acknowledged send
// through the unmodified client, MQSTORE_FAILOVER_RUNS times with the stable leader address and
// as many times without (docs/BENCHMARKS.md).
func TestFailoverTimes(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("MQSTORE_FAILOVER_RUNS"))
	if runs <= 0 {
		t.Skip("set MQSTORE_FAILOVER_RUNS=N to measure failover times")
	}
	for _, stable := range []bool{true, false} {
		var times []time.Duration
		for i := range runs {
			t.Run(fmt.Sprintf("stable=%v/%d", stable, i), func(t *testing.T) { times = append(times, leaderKilled(t, stable)) })
		}
		if len(times) == 0 {
			continue
		}
		slices.Sort(times)
		t.Logf("stable leader address %v: SIGKILL to first acknowledged send over %d runs: min %v median %v max %v", stable, len(times),
			times[0].Round(time.Millisecond), times[len(times)/2].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
	}
}
