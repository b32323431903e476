package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/proctest"
)

// smallStore keeps a test broker's files small, and its gRPC endpoint on a free port (tests run
// in parallel: the default 8081 is taken by the first).
var smallStore = []string{"-mappedFileSizeCommitLog", "4m", "-maxMessageSize", "1m", "-maxHashSlotNum", "1000", "-maxIndexNum", "4000",
	"-grpcServerPort", "0"}

// startNameServer runs `mqstore namesrv` on a free loopback port and returns its address.
func startNameServer(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(binary(t), "namesrv", "-listen", "127.0.0.1:0")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		for sc.Scan() {
		}
	}()
	select {
	case l := <-line:
		addr, ok := strings.CutPrefix(l, "mqstore: name server bound to ")
		if !ok {
			t.Fatalf("name server start line %q", l)
		}
		return addr
	case <-time.After(20 * time.Second):
		t.Fatal("name server did not start")
	}
	return ""
}

// stop sends SIGTERM and waits; after it the process's stderr may be read.
func (p *process) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("mqstore exited with %v: %s", err, p.stderr.String())
	}
}

var warnKey = regexp.MustCompile(`level=WARN msg="config: (\w+): `)

// TestDistributionConfs starts the real binary from RocketMQ's shipped broker.conf files (paths,
// ports and name servers rewritten): masters come up with one WARN per key mqstore does not
// implement; slave and controller files are refused with the reason; DLedger files start a replica.
func TestDistributionConfs(t *testing.T) {
	ns := startNameServer(t)
	replication := []string{"brokerRole", "haListenPort", "totalReplicas", "inSyncReplicas", "minInSyncReplicas",
		"enableAutoInSyncReplicas", "slaveReadEnable", "brokerHeartbeatInterval", "brokerNotActiveTimeoutMillis",
		"sendHeartbeatTimeoutMillis", "enableSlaveActingMaster"}
	tests := []struct {
		file    string
		warns   []string // keys with a WARN when it starts
		refused []string // problems when it is refused
	}{
		{"broker.conf", []string{"deleteWhen"}, nil},
		{"2m-2s-async/broker-a.properties", []string{"deleteWhen"}, nil},
		{"2m-2s-async/broker-b.properties", []string{"deleteWhen"}, nil},
		{"2m-2s-async/broker-a-s.properties", nil, []string{"brokerRole=SLAVE"}},
		{"2m-2s-async/broker-b-s.properties", nil, []string{"brokerRole=SLAVE"}},
		{"2m-2s-sync/broker-a.properties", []string{"brokerRole", "deleteWhen"}, nil},
		{"2m-2s-sync/broker-b.properties", []string{"brokerRole", "deleteWhen"}, nil},
		{"2m-2s-sync/broker-a-s.properties", nil, []string{"brokerRole=SLAVE"}},
		{"2m-2s-sync/broker-b-s.properties", nil, []string{"brokerRole=SLAVE"}},
		{"2m-noslave/broker-a.properties", []string{"deleteWhen"}, nil},
		{"2m-noslave/broker-b.properties", []string{"deleteWhen"}, nil},
		{"2m-noslave/broker-trace.properties", []string{"autoTraceBrokerEnable", "deleteWhen"}, nil},
		{"dledger/broker-n0.conf", []string{"sendMessageThreadPoolNums"}, nil}, // one replica of a group (replicated.go)
		{"dledger/broker-n1.conf", []string{"sendMessageThreadPoolNums"}, nil}, // one replica of a group (replicated.go)
		{"dledger/broker-n2.conf", []string{"sendMessageThreadPoolNums"}, nil}, // one replica of a group (replicated.go)
		{"controller/quick-start/broker-n0.conf", nil, []string{"brokerRole=SLAVE", "enableControllerMode=true", `brokerId="-1"`}},
		{"container/2container-2m-2s/broker-a-in-container1.conf", replication, nil},
		{"docs/acl-broker.conf", nil, []string{"storePathCommitLog=/data/rocketmq/commitlog-a-m: mqstore keeps the commitlog in storePathRootDir/commitlog",
			`brokerIP1="XX.XX.XX.XX1": not an IP address`}}, // aclEnable=true is implemented (docs/SECURITY.md)
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := t.TempDir()
			conf, hasNamesrv := rewriteConf(t, filepath.Join("testdata", "rocketmq", tt.file), dir, ns)
			args := append([]string{"-c", conf, "-metrics-addr", ""}, smallStore...)
			if !hasNamesrv {
				args = append(args, "-namesrv-listen", "127.0.0.1:0")
			}
			if tt.refused != nil {
				cmd := exec.Command(binary(t), args...)
				out, err := cmd.CombinedOutput()
				if code := cmd.ProcessState.ExitCode(); code != 2 {
					t.Fatalf("exit %d (%v), want 2 (refused): %s", code, err, out)
				}
				for _, want := range tt.refused {
					if !strings.Contains(string(out), want) {
						t.Errorf("output lacks %q:\n%s", want, out)
					}
				}
				if n := strings.Count(string(out), "\n  "); len(tt.refused) > 1 && n != len(tt.refused) {
					t.Errorf("%d problems listed, want %d:\n%s", n, len(tt.refused), out)
				}
				return
			}
			p := startArgs(t, args...)
			if hasNamesrv && p.registersWith != ns {
				t.Errorf("registers with %s, want %s", p.registersWith, ns)
			}
			p.stop(t)
			var got []string
			for _, m := range warnKey.FindAllStringSubmatch(p.stderr.String(), -1) {
				got = append(got, m[1])
			}
			sort.Strings(got)
			want := slices.Clone(tt.warns)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("WARNs for %v, want one each for %v:\n%s", got, want, p.stderr.String())
			}
		})
	}
}

var confLine = regexp.MustCompile(`(?m)^\s*(\w+)\s*[=:]\s*(.*?)\s*$`)

// rewriteConf copies a fixture into dir with storePathRootDir (and paths under it) moved into
// dir, listenPort 0 and namesrvAddr the test's name server. It reports whether the file names
// a name server.
func rewriteConf(t *testing.T, src, dir, namesrvAddr string) (string, bool) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	root := filepath.Join(dir, "store")
	hasNamesrv, hasRoot, hasPort := false, false, false
	for _, m := range confLine.FindAllStringSubmatch(text, -1) {
		if m[1] == "storePathRootDir" {
			text = strings.ReplaceAll(text, m[2], root)
			hasRoot = true
		}
	}
	text = confLine.ReplaceAllStringFunc(text, func(line string) string {
		m := confLine.FindStringSubmatch(line)
		switch m[1] {
		case "listenPort":
			hasPort = true
			return "listenPort=0"
		case "namesrvAddr":
			hasNamesrv = true
			return "namesrvAddr=" + namesrvAddr
		case "dLegerPeers":
			// The shipped ports (40911-40913) may be taken by another test's connection: each
			// peer gets a port that was free a moment ago.
			var peers []string
			for _, p := range strings.Split(m[2], ";") {
				id, _, _ := strings.Cut(strings.TrimSpace(p), "-")
				peers = append(peers, fmt.Sprintf("%s-127.0.0.1:%d", id, proctest.FreePort(t)))
			}
			return "dLegerPeers=" + strings.Join(peers, ";")
		}
		return line
	})
	if !hasRoot {
		text += "\nstorePathRootDir=" + root + "\n"
	}
	if !hasPort {
		text += "\nlistenPort=0\n"
	}
	conf := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf, hasNamesrv
}

// listeners returns the local addresses of the TCP sockets pid listens on, from /proc.
func listeners(t *testing.T, pid int) []netip.AddrPort {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var out []netip.AddrPort
	for _, file := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, file))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
				continue
			}
			out = append(out, parseProcAddr(t, f[1]))
		}
	}
	return out
}

// parseProcAddr reads /proc/net/tcp's hex address: the IP as 32-bit words in host (little-endian)
// order, then the port.
func parseProcAddr(t *testing.T, s string) netip.AddrPort {
	ipHex, portHex, _ := strings.Cut(s, ":")
	raw, err := hex.DecodeString(ipHex)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+4 <= len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, _ := strconv.ParseUint(portHex, 16, 16)
	ip, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(ip.Unmap(), uint16(port))
}

// TestListenLoopbackOnly: with no bindAddress, the broker, the embedded name server, the
// metrics port and the gRPC endpoint listen on loopback only (read from /proc for the
// process's own sockets); bindAddress=0.0.0.0 opens all four.
func TestListenLoopbackOnly(t *testing.T) {
	for _, tt := range []struct {
		extra    []string
		loopback bool
	}{{nil, true}, {[]string{"-bindAddress", "0.0.0.0"}, false}} {
		args := append([]string{"-storePathRootDir", t.TempDir(), "-listenPort", "0", "-namesrv-listen", ":0", "-metrics-addr", ":0"},
			append(smallStore, tt.extra...)...)
		p := startArgs(t, args...)
		ls := listeners(t, p.cmd.Process.Pid)
		if len(ls) != 4 {
			t.Fatalf("%v: %d listening sockets %v, want 4 (broker, name server, metrics, gRPC)", tt.extra, len(ls), ls)
		}
		for _, a := range ls {
			if a.Addr().IsLoopback() != tt.loopback || (!tt.loopback && !a.Addr().IsUnspecified()) {
				t.Errorf("%v: listening on %v", tt.extra, a)
			}
		}
		p.stop(t)
		if !tt.loopback && !strings.Contains(p.stderr.String(), "brokerIP1=127.0.0.1 is the address clients are told") {
			t.Errorf("no warning about brokerIP1 with an open bindAddress: %s", p.stderr.String())
		}
		t.Logf("%v: %v; %s", tt.extra, ls, p.startLine)
	}
}

// TestSeparateNameServers: a broker with namesrvAddr naming two `mqstore namesrv` processes
// embeds none, registers with both, and serves the unmodified RocketMQ Go client (producer,
// push consumer, transaction producer) through one of them; both list it.
func TestSeparateNameServers(t *testing.T) {
	ns1, ns2 := startNameServer(t), startNameServer(t)
	p := startArgs(t, append([]string{"-storePathRootDir", t.TempDir(), "-listenPort", "0", "-metrics-addr", "",
		"-namesrvAddr", ns1 + ";" + ns2}, smallStore...)...)
	if !strings.Contains(p.startLine, "name server none embedded; registers with "+ns1+";"+ns2+";") {
		t.Fatalf("start line %q", p.startLine)
	}
	defer p.stop(t)

	prod, err := rocketmq.NewProducer(producer.WithNameServer([]string{ns1}), producer.WithGroupName("sep-p"))
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.Start(); err != nil {
		t.Fatal(err)
	}
	defer prod.Shutdown()
	const n = 20
	for i := range n {
		if _, err := prod.SendSync(context.Background(), primitive.NewMessage("Separate", []byte(fmt.Sprintf("m%02d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	txp, err := rocketmq.NewTransactionProducer(txnListener{}, producer.WithNameServer([]string{ns1}), producer.WithGroupName("sep-tx"))
	if err != nil {
		t.Fatal(err)
	}
	if err := txp.Start(); err != nil {
		t.Fatal(err)
	}
	defer txp.Shutdown()
	for _, body := range []string{"commit-me", "rollback-me"} {
		if _, err := txp.SendMessageInTransaction(context.Background(), primitive.NewMessage("Separate", []byte(body))); err != nil {
			t.Fatal(err)
		}
	}
	received := make(chan string, 2*n)
	c, err := rocketmq.NewPushConsumer(consumer.WithNameServer([]string{ns1}), consumer.WithGroupName("sep-c"),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	c.Subscribe("Separate", consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, m := range msgs {
			received <- string(m.Body)
		}
		return consumer.ConsumeSuccess, nil
	})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	got := map[string]bool{}
	for len(got) < n+1 {
		select {
		case b := <-received:
			got[b] = true
		case <-time.After(30 * time.Second):
			t.Fatalf("received %d distinct messages, want %d", len(got), n+1)
		}
	}
	if !got["commit-me"] || got["rollback-me"] {
		t.Fatalf("transactional delivery wrong: %v", got)
	}
	for _, ns := range []string{ns1, ns2} {
		admin, err := client.NewAdmin(client.WithNameServer(ns))
		if err != nil {
			t.Fatal(err)
		}
		brokers, clusters, err := admin.ClusterInfo(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if brokers["broker-a"].BrokerAddrs[0] != p.brokerAddr || !slices.Contains(clusters["DefaultCluster"], "broker-a") {
			t.Errorf("name server %s lists %v %v, want broker-a at %s", ns, brokers, clusters, p.brokerAddr)
		}
		route, err := admin.TopicRoute(context.Background(), "Separate")
		if err != nil || len(route.BrokerDatas) != 1 || route.BrokerDatas[0].BrokerAddrs[0] != p.brokerAddr {
			t.Errorf("name server %s: route of Separate %+v, %v", ns, route, err)
		}
		admin.Close()
	}
}
