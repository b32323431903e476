package chaos

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/faultproxy"
	"github.com/mqstore/mqstore/internal/proctest"
	"github.com/mqstore/mqstore/namesrv"
)

func init() { rlog.SetLogLevel("fatal") }

const (
	mqstorePkg = "github.com/mqstore/mqstore/cmd/mqstore"
	brokerName = "broker-chaos"
	topic      = "Chaos"
	queues     = 4
	replicas   = 3
)

var startLine = regexp.MustCompile(`^mqstore: broker (\S+) bound to (\S+) \(advertised as (\S+)\);`)

var instanceSeq atomic.Int64

// instance names a client instance uniquely (rocketmq-client-go shares one client per name).
func instance(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), instanceSeq.Add(1))
}

// node is one replica: a process on its own loopback alias.
type node struct {
	name string // dLegerSelfId: n0, n1, n2
	ip   string // 127.0.0.11 + index
	dir  string // storePathRootDir
	addr string // client address ip:port
	proc *proctest.Proc

	up     bool            // started and not killed
	paused bool            // SIGSTOPped
	runs   int             // starts so far
	past   strings.Builder // stderr of the earlier runs

	// needsReseed: the replica died of knownDamagePanic and must be re-seeded before it can run.
	needsReseed bool
	// rowsBeforeStart is the last raftidx row written (non-zero) before its latest start: evidence
	// for a replica that later dies of knownDamagePanic (was the entry on disk before recovery?).
	rowsBeforeStart int64
}

// lastRow returns the index of the last non-zero row of the replica's raftidx (-1: none).
func (n *node) lastRow() int64 {
	dir := filepath.Join(n.dir, "raft", "raftidx")
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		return -1
	}
	last := entries[len(entries)-1]
	from, err := strconv.ParseInt(last.Name(), 10, 64)
	if err != nil {
		return -1
	}
	b, err := os.ReadFile(filepath.Join(dir, last.Name()))
	if err != nil {
		return -1
	}
	end := len(b)
	for end > 0 && b[end-1] == 0 {
		end--
	}
	if end == 0 {
		return from/32 - 1
	}
	return (from + int64(end) - 1) / 32
}

// knownDamagePanic is how a replica whose recovery truncated entries it had acknowledged (a
// damaged log tail past its own commit index) dies: the leader, which counts those entries as
// the replica's, tells it to commit them, and etcd raft stops the process (fail-stop, see
// docs/CHAOS.md, findings).
const knownDamagePanic = "is out of range [lastIndex("

// begin starts the replica's process, keeping the stderr of its previous run.
func (n *node) begin() {
	n.rowsBeforeStart = n.lastRow()
	if n.runs > 0 {
		fmt.Fprintf(&n.past, "%s=== %s run %d ended\n", n.proc.Stderr(), n.name, n.runs)
	}
	n.runs++
	n.proc.Start()
}

// cluster is the rig: a name server, three replicas, and one fault proxy per directed
// replication link.
type cluster struct {
	t       testing.TB
	ns      string
	nsProc  *proctest.Proc
	nodes   [replicas]*node
	proxies [replicas][replicas]*faultproxy.Proxy // [from][to]; nil on the diagonal
	admin   *client.Admin
	// stable is the group's stable leader address (dLegerLeaderAddr) on 127.0.0.10, "" for none:
	// the name server then publishes it as brokerId 0, whichever replica leads.
	stable string

	damageCrashes []string // when and which replica died of knownDamagePanic
}

// startCluster starts the name server, the proxies and the replicas, creates the topic on every
// replica and waits for a leader at the name server.
func startCluster(t testing.TB, root string, stable bool) *cluster {
	t.Helper()
	c := &cluster{t: t}
	if stable {
		c.stable = fmt.Sprintf("127.0.0.10:%d", proctest.FreePortOn(t, "127.0.0.10"))
	}
	bin := proctest.Binary(t, mqstorePkg)
	c.nsProc = proctest.New(t, bin, "namesrv", "-listen", "127.0.0.1:0",
		"-scanNotActiveBrokerInterval", "200", "-brokerChannelExpiredTime", "2000")
	c.nsProc.Start()
	ns, ok := strings.CutPrefix(c.nsProc.FirstLine(), "mqstore: name server bound to ")
	if !ok {
		t.Fatal("name server start line")
	}
	c.ns = ns

	raftAddr := make([]string, replicas)
	for i := range replicas {
		c.nodes[i] = &node{name: fmt.Sprintf("n%d", i), ip: fmt.Sprintf("127.0.0.%d", 11+i), dir: filepath.Join(root, fmt.Sprintf("n%d", i))}
		raftAddr[i] = fmt.Sprintf("%s:%d", c.nodes[i].ip, proctest.FreePortOn(t, c.nodes[i].ip))
	}
	// Link from→to: a proxy on to's alias, forwarding to to's replication port and dialing from
	// from's alias, so nft rules on (from, to) match both of its legs.
	for from := range replicas {
		for to := range replicas {
			if from == to {
				continue
			}
			p, err := faultproxy.Listen(c.nodes[to].ip+":0", raftAddr[to], c.nodes[from].ip)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			c.proxies[from][to] = p
		}
	}
	for i, n := range c.nodes {
		// Each replica's dLegerPeers names itself at its own port and its peers at the proxies
		// of its outgoing links (ids follow the list's order, the same on every replica).
		var peers []string
		for j := range replicas {
			addr := raftAddr[j]
			if j != i {
				addr = c.proxies[i][j].Addr()
			}
			peers = append(peers, fmt.Sprintf("n%d-%s", j, addr))
		}
		args := []string{"-brokerClusterName", "ChaosCluster", "-brokerName", brokerName,
			"-bindAddress", n.ip, "-brokerIP1", n.ip, "-listenPort", strconv.Itoa(proctest.FreePortOn(t, n.ip)),
			"-storePathRootDir", n.dir, "-namesrvAddr", c.ns, "-metrics-addr", "", "-grpcServerPort", "0",
			"-registerNameServerPeriod", "500", "-consoleEnable=false",
			"-mappedFileSizeCommitLog", "4m", "-maxMessageSize", "1m", "-maxHashSlotNum", "1000", "-maxIndexNum", "4000",
			"-transactionTimeOut", "2000", "-transactionCheckInterval", "1000",
			// Retention deletes the oldest segments whatever their age above this disk usage
			// (RocketMQ's rule); a shared test machine's disk can be above the default 75 %.
			"-diskMaxUsedSpaceRatio", "95",
			"-enableDLegerCommitLog=true", "-dLegerGroup", brokerName, "-dLegerPeers", strings.Join(peers, ";"),
			"-dLegerSelfId", n.name}
		if c.stable != "" {
			args = append(args, "-dLegerLeaderAddr", c.stable)
		}
		if level := os.Getenv("MQSTORE_CHAOS_LOG_LEVEL"); level != "" {
			args = append(args, "-log-level", level) // debug: every check-back and its connection
		}
		n.proc = proctest.New(t, bin, args...)
		c.start(i)
	}
	admin, err := client.NewAdmin(client.WithNameServer(c.ns), client.WithInstanceName(instance("admin")), client.WithCallTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	c.admin = admin
	// Topic configs replicate through the log, and a follower forwards the write to the leader:
	// create the topic once, through any replica, as soon as the group has a leader.
	created := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		n := c.nodes[i%replicas]
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := admin.CreateTopic(ctx, n.addr, namesrv.TopicConfig{TopicName: topic, ReadQueueNums: queues, WriteQueueNums: queues, Perm: namesrv.PermRW, TopicFilterType: "SINGLE_TAG"})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(created) {
			t.Fatalf("create topic through %s: %v\n%s", n.addr, err, c.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if c.waitLeader(30*time.Second) < 0 {
		t.Fatalf("no leader registered within 30 s:\n%s", c.logs())
	}
	return c
}

// start (re)starts replica i and waits for its start line.
func (c *cluster) start(i int) {
	c.t.Helper()
	n := c.nodes[i]
	n.begin()
	line := n.proc.FirstLine()
	m := startLine.FindStringSubmatch(line)
	if m == nil {
		c.t.Fatalf("replica %s start line %q: %s", n.name, line, n.proc.Stderr())
	}
	n.addr = m[3]
	n.up, n.paused = true, false
}

// tryStart restarts replica i (its address is known from its first start) and reports whether
// it came up; a replica that refuses its log (a damaged one) exits at start: its stderr is
// returned.
func (c *cluster) tryStart(i int) (bool, string) {
	n := c.nodes[i]
	n.begin()
	deadline := time.Now().Add(proctest.StartTimeout)
	for !c.listening(n) {
		select {
		case <-n.proc.Exited():
			return false, n.proc.Stderr()
		default:
		}
		if time.Now().After(deadline) {
			n.proc.Kill()
			return false, "did not listen within " + proctest.StartTimeout.String() + ": " + n.proc.Stderr()
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.proc.FirstLine()
	n.up, n.paused = true, false
	return true, ""
}

func (c *cluster) listening(n *node) bool {
	if n.addr == "" {
		return false
	}
	conn, err := net.DialTimeout("tcp", n.addr, 100*time.Millisecond)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// kill SIGKILLs replica i (SIGCONT too, so a paused one dies) and reaps it.
func (c *cluster) kill(i int) error {
	if err := c.crashed(i); err != nil {
		return err
	}
	n := c.nodes[i]
	if n.up {
		n.proc.Kill()
		n.up, n.paused = false, false
	}
	return nil
}

// stop ends replica i with SIGTERM (a clean shutdown) and reaps it.
func (c *cluster) stop(i int) {
	if err := c.crashed(i); err != nil {
		c.t.Error(err)
		return
	}
	n := c.nodes[i]
	if !n.up {
		return
	}
	if n.paused {
		n.proc.Signal(syscall.SIGCONT)
	}
	n.proc.Signal(syscall.SIGTERM)
	n.proc.Wait()
	n.up, n.paused = false, false
}

func (c *cluster) pause(i int) error {
	if err := c.crashed(i); err != nil {
		return err
	}
	if n := c.nodes[i]; n.up && !n.paused {
		n.proc.Signal(syscall.SIGSTOP)
		n.paused = true
	}
	return nil
}

func (c *cluster) resume(i int) error {
	if err := c.crashed(i); err != nil {
		return err
	}
	if n := c.nodes[i]; n.up && n.paused {
		n.proc.Signal(syscall.SIGCONT)
		n.paused = false
	}
	return nil
}

// crashed returns an error when replica i, which the harness believes running, has exited on
// its own.
func (c *cluster) crashed(i int) error {
	n := c.nodes[i]
	if !n.up {
		return nil
	}
	select {
	case <-n.proc.Exited():
		n.up, n.paused = false, false
		if strings.Contains(n.proc.Stderr(), knownDamagePanic) {
			n.needsReseed = true
			c.damageCrashes = append(c.damageCrashes, fmt.Sprintf("%s %s (%s; raftidx rows up to %d before this start)",
				time.Now().UTC().Format("15:04:05.000"), n.name, panicLine(n.proc.Stderr()), n.rowsBeforeStart))
			return nil
		}
		return fmt.Errorf("replica %s exited on its own (%v): %s", n.name, n.proc.Wait(), proctest.Tail(n.proc.Stderr(), 3000))
	default:
		return nil
	}
}

// leader returns the index of the replica the name server publishes as brokerId 0, or -1.
func (c *cluster) leader() int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	route, err := c.admin.TopicRoute(ctx, topic)
	if err != nil {
		return -1
	}
	for _, bd := range route.BrokerDatas {
		if bd.BrokerName != brokerName {
			continue
		}
		zero := bd.BrokerAddrs[0]
		if c.stable != "" && zero == c.stable {
			// The stable address serves whichever replica bound it; that replica's runtime
			// info names its own address.
			info, err := c.admin.BrokerRuntimeInfo(ctx, c.stable)
			if err != nil {
				return -1
			}
			zero = info["brokerAddr"]
		}
		for i, n := range c.nodes {
			if n.addr == zero && n.up && !n.paused {
				return i
			}
		}
	}
	return -1
}

// waitLeader waits up to timeout for a published leader that is up and returns it (-1: none).
func (c *cluster) waitLeader(timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		if l := c.leader(); l >= 0 || time.Now().After(deadline) {
			return l
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// panicLine returns the "panic: …" line of a replica's stderr.
func panicLine(stderr string) string {
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "panic: ") {
			line, _, _ = strings.Cut(line, ". Was the raft log")
			return line
		}
	}
	return ""
}

// logs is the tail of every replica's stderr, for failure messages.
func (c *cluster) logs() string {
	var b strings.Builder
	for _, n := range c.nodes {
		fmt.Fprintf(&b, "--- %s (%s):\n%s\n", n.name, n.addr, proctest.Tail(n.proc.Stderr(), 3000))
	}
	return b.String()
}

// dumpLogs writes every replica's whole stderr under dir (kept for a failed run).
func (c *cluster) dumpLogs(dir string) {
	for _, n := range c.nodes {
		os.WriteFile(filepath.Join(dir, n.name+".log"), []byte(n.past.String()+n.proc.Stderr()), 0o644)
	}
}
