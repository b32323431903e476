// Package replstate runs replicated broker groups of real processes (one `mqstore namesrv` and
// three mqstore replicas of one brokerName on loopback aliases) and checks the state a new
// leader must have after the old one is SIGKILLed: topic configs, subscription groups and
// consumer offsets (replicated through the Raft log), transactions (each commit one entry,
// check-back by the new leader) and delayed messages (delivered once, by the leader); and what a
// SIGKILLed follower has when it restarts (restart_test.go). Clients:
// the unmodified rocketmq-client-go, and mqstore's own client to inspect each replica.
package replstate

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/proctest"
	"github.com/mqstore/mqstore/remoting"
)

func init() { rlog.SetLogLevel("fatal") }

const mqstorePkg = "github.com/mqstore/mqstore/cmd/mqstore"

type replica struct {
	*proctest.Proc
	addr string // advertised client address
}

// group is a name server and the replicas of one broker name.
type group struct {
	t        *testing.T
	name     string
	ns       string
	replicas []*replica
	admin    *client.Admin
	raw      *remoting.Client // to ask one replica directly
}

// startGroup starts a name server and three replicas of brokerName, replica i on loopback alias
// 127.0.0.(alias+i) (client and replication ports), with extra broker flags.
func startGroup(t *testing.T, brokerName string, alias int, extra ...string) *group {
	t.Helper()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	nsp := proctest.New(t, proctest.Binary(t, mqstorePkg), "namesrv", "-listen", "127.0.0.1:0",
		"-scanNotActiveBrokerInterval", "200", "-brokerChannelExpiredTime", "3000")
	nsp.Start()
	ns, ok := strings.CutPrefix(nsp.FirstLine(), "mqstore: name server bound to ")
	if !ok {
		t.Fatal("name server start line")
	}
	g := &group{t: t, name: brokerName, ns: ns}
	var peers []string
	for i := range 3 {
		peers = append(peers, fmt.Sprintf("n%d-127.0.0.%d:%d", i, alias+i, proctest.FreePort(t)))
	}
	for i := range 3 {
		ip := fmt.Sprintf("127.0.0.%d", alias+i)
		args := append([]string{"-brokerClusterName", "ReplStateCluster", "-brokerName", brokerName,
			"-brokerIP1", ip, "-bindAddress", ip,
			"-storePathRootDir", t.TempDir(), "-listenPort", strconv.Itoa(proctest.FreePort(t)),
			"-namesrvAddr", ns, "-metrics-addr", "", "-grpcServerPort", "0", "-registerNameServerPeriod", "500",
			"-mappedFileSizeCommitLog", "8m", "-maxMessageSize", "1m", "-maxHashSlotNum", "1000", "-maxIndexNum", "4000",
			"-enableDLegerCommitLog=true", "-dLegerGroup", brokerName, "-dLegerPeers", strings.Join(peers, ";"),
			"-dLegerSelfId", fmt.Sprintf("n%d", i)}, extra...)
		r := &replica{Proc: proctest.New(t, proctest.Binary(t, mqstorePkg), args...)}
		r.Start()
		_, r.addr = r.BrokerStarted()
		g.replicas = append(g.replicas, r)
	}
	var err error
	if g.admin, err = client.NewAdmin(client.WithNameServer(ns), client.WithInstanceName(proctest.Instance("admin")), client.WithCallTimeout(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.admin.Close() })
	if g.raw, err = remoting.NewClient(remoting.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.raw.Close() })
	return g
}

// master returns the broker name's id-0 address at the name server, "" when none.
func (g *group) master() string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	brokers, _, err := g.admin.ClusterInfo(ctx)
	if err != nil {
		return ""
	}
	return brokers[g.name].BrokerAddrs[0]
}

// waitMaster waits for an id-0 replica other than not and returns its address.
func (g *group) waitMaster(not string) string {
	g.t.Helper()
	var addr string
	took := waitFor(g.t, 30*time.Second, "a replica registered as brokerId 0", func() bool {
		addr = g.master()
		return addr != "" && addr != not
	})
	g.t.Logf("%s registered as brokerId 0 after %v", addr, took.Round(time.Millisecond))
	return addr
}

// kill SIGKILLs the replica at addr.
func (g *group) kill(addr string) {
	g.t.Helper()
	for _, r := range g.replicas {
		if r.addr == addr {
			r.Kill()
			return
		}
	}
	g.t.Fatalf("%s is none of the replicas", addr)
}

// stderr returns the last lines the replica at addr logged.
func (g *group) stderr(addr string) string {
	for _, r := range g.replicas {
		if r.addr == addr {
			var keep []string
			for _, line := range strings.Split(r.Stderr(), "\n") {
				if !strings.Contains(line, "audit: admin action") {
					keep = append(keep, line)
				}
			}
			return proctest.Tail(strings.Join(keep, "\n"), 6000)
		}
	}
	return ""
}

// alive returns the addresses of the replicas not killed.
func (g *group) alive() []string {
	var out []string
	for _, r := range g.replicas {
		select {
		case <-r.Exited():
		default:
			out = append(out, r.addr)
		}
	}
	return out
}

// call sends a request to one replica.
func (g *group) call(addr string, req *remoting.Command) (*remoting.Command, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return g.raw.Invoke(ctx, addr, req)
}

// producer starts an unmodified rocketmq-client-go producer of group through the group's name
// server (3 s send timeout, plus opts), shut down at the test's end.
func (g *group) producer(t *testing.T, group, instance string, opts ...producer.Option) rocketmq.Producer {
	t.Helper()
	p, err := rocketmq.NewProducer(append([]producer.Option{producer.WithNameServer([]string{g.ns}), producer.WithGroupName(group),
		producer.WithInstanceName(proctest.Instance(instance)), producer.WithSendMsgTimeout(3 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	d, ok := waitUntil(timeout, cond)
	if !ok {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
	return d
}

// waitUntil polls cond every 20 ms until it holds (true) or timeout passes (false).
func waitUntil(timeout time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			return time.Since(start), false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start), true
}
