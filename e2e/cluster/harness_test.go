package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/proctest"
)

// The transactional producer logs every UNKNOW answer of a local transaction as an error.
func init() { rlog.SetLogLevel("fatal") }

const (
	mqstorePkg = "github.com/mqstore/mqstore/cmd/mqstore"
	mqadminPkg = "github.com/mqstore/mqstore/cmd/mqadmin"
)

// startNameServer runs `mqstore namesrv` on a free loopback port with extra flags and returns
// its address.
func startNameServer(t testing.TB, extra ...string) string {
	t.Helper()
	p := proctest.New(t, proctest.Binary(t, mqstorePkg), append([]string{"namesrv", "-listen", "127.0.0.1:0"}, extra...)...)
	p.Start()
	line := p.FirstLine()
	addr, ok := strings.CutPrefix(line, "mqstore: name server bound to ")
	if !ok {
		t.Fatalf("name server start line %q", line)
	}
	return addr
}

// brokerProc is one mqstore broker (no embedded name server) on a fixed port and data
// directory, so it can be restarted as the same broker.
type brokerProc struct {
	*proctest.Proc
	t    testing.TB
	name string
	addr string // advertised address (what routes list)
}

var startLine = regexp.MustCompile(`^mqstore: broker (\S+) bound to (\S+) \(advertised as (\S+)\); name server none embedded; registers with (\S+);`)

// smallStore keeps a test broker's files small.
var smallStore = []string{"-mappedFileSizeCommitLog", "4m", "-maxMessageSize", "1m", "-maxHashSlotNum", "1000", "-maxIndexNum", "4000",
	"-grpcServerPort", "0"} // gRPC on a free port: tests run in parallel

// startBroker runs broker name of cluster, registering with the name servers nsAddrs, every
// 500 ms (so a SIGCONT'ed or restarted broker is back in the routes quickly).
func startBroker(t testing.TB, cluster, name string, nsAddrs []string, extra ...string) *brokerProc {
	t.Helper()
	args := append([]string{
		"-brokerClusterName", cluster, "-brokerName", name,
		"-storePathRootDir", t.TempDir(), "-listenPort", strconv.Itoa(proctest.FreePort(t)),
		"-namesrvAddr", strings.Join(nsAddrs, ";"), "-metrics-addr", "",
		"-registerNameServerPeriod", "500", "-flushDiskType", "SYNC_FLUSH",
	}, smallStore...)
	b := &brokerProc{Proc: proctest.New(t, proctest.Binary(t, mqstorePkg), append(args, extra...)...), t: t, name: name}
	b.restart()
	return b
}

// restart starts the broker (again) with the same arguments.
func (b *brokerProc) restart() {
	b.t.Helper()
	b.Start()
	line := b.FirstLine()
	m := startLine.FindStringSubmatch(line)
	if m == nil || m[1] != b.name {
		b.t.Fatalf("broker start line %q", line)
	}
	b.addr = m[3]
}

// newAdmin is the project's admin client on one name server.
func newAdmin(t testing.TB, nsAddr string) *client.Admin {
	t.Helper()
	a, err := client.NewAdmin(client.WithNameServer(nsAddr), client.WithInstanceName(instance("admin")),
		client.WithCallTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

var instanceSeq atomic.Int64

// instance is a unique client instance name: rocketmq-client-go shares one client (one client
// id) between producers and consumers of the same instance name in a process.
func instance(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), instanceSeq.Add(1))
}

// routeBrokers returns the broker names with a master in topic's route at the name server of
// admin, sorted; none when the topic has no route.
func routeBrokers(admin *client.Admin, topic string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	route, err := admin.TopicRoute(ctx, topic)
	if err != nil {
		return nil
	}
	var names []string
	for _, bd := range route.BrokerDatas {
		if _, ok := bd.BrokerAddrs[0]; ok {
			names = append(names, bd.BrokerName)
		}
	}
	slices.Sort(names)
	return names
}

// clusterBrokers returns the broker names of cluster at the name server of admin, sorted.
func clusterBrokers(admin *client.Admin, cluster string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, clusters, err := admin.ClusterInfo(ctx)
	if err != nil {
		return nil
	}
	return clusters[cluster]
}

// waitFor polls cond every 10 ms until it holds or timeout passes, and returns how long that
// took.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// mqadmin runs the mqadmin binary and returns its stdout; a non-zero exit fails the test.
func mqadmin(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(proctest.Binary(t, mqadminPkg), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mqadmin %v: %v: %s", args, err, stderr.String())
	}
	return string(out)
}

// cluster is two name servers and the brokers registered with both.
type cluster struct {
	name    string
	ns      []string
	admins  []*client.Admin // one per name server
	brokers []*brokerProc
}

// startCluster starts two name servers (nsFlags for both) and one broker per name of
// brokerNames, all in cluster name, and waits until both name servers list every broker.
func startCluster(t testing.TB, name string, brokerNames []string, nsFlags []string, brokerFlags ...string) *cluster {
	t.Helper()
	c := &cluster{name: name}
	for range 2 {
		ns := startNameServer(t, nsFlags...)
		c.ns = append(c.ns, ns)
		c.admins = append(c.admins, newAdmin(t, ns))
	}
	for _, bn := range brokerNames {
		c.brokers = append(c.brokers, startBroker(t, name, bn, c.ns, brokerFlags...))
	}
	want := slices.Sorted(slices.Values(brokerNames))
	for i, a := range c.admins {
		waitFor(t, 20*time.Second, fmt.Sprintf("name server %s to list %v", c.ns[i], want), func() bool {
			return slices.Equal(clusterBrokers(a, name), want)
		})
	}
	return c
}

// createTopic creates topic on every master of the cluster with mqadmin updateTopic -c and
// waits until both name servers route it to every broker.
func (c *cluster) createTopic(t testing.TB, topic string, queues int) string {
	t.Helper()
	out := mqadmin(t, "updateTopic", "-n", strings.Join(c.ns, ";"), "-c", c.name, "-t", topic,
		"-r", strconv.Itoa(queues), "-w", strconv.Itoa(queues))
	var want []string
	for _, b := range c.brokers {
		want = append(want, b.name)
	}
	slices.Sort(want)
	for i, a := range c.admins {
		waitFor(t, 10*time.Second, fmt.Sprintf("name server %s to route %s to %v", c.ns[i], topic, want), func() bool {
			return slices.Equal(routeBrokers(a, topic), want)
		})
	}
	return out
}

// broker returns the broker of the cluster called name.
func (c *cluster) broker(name string) *brokerProc {
	for _, b := range c.brokers {
		if b.name == name {
			return b
		}
	}
	return nil
}
