package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/mqstore/mqstore/store"
)

func init() { rlog.SetLogLevel("error") }

func runCapture(args, env []string) (int, string, string) {
	var out, errb strings.Builder
	code := run(args, env, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUnknownKeysAreRefused(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "broker.conf")
	os.WriteFile(conf, []byte("brokerName=broker-x\n# a comment\nflushDiskTpye=SYNC_FLUSH\n"), 0o644)
	cases := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"flag", []string{"-brokerNmae", "x"}, nil, "brokerNmae"},
		{"file", []string{"-c", conf}, nil, "flushDiskTpye"},
		{"bad value", []string{"-listenPort", "many"}, nil, "listenPort"},
		{"bad flush type", []string{"-flushDiskType", "SOMETIMES"}, nil, "flushDiskType"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCapture(c.args, c.env)
			if code == 0 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want non-zero naming %q", code, stderr, c.want)
			}
		})
	}
}

func TestConfigPrecedence(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "broker.conf")
	os.WriteFile(conf, []byte("brokerName = from-file\nlistenPort=20911\nfileReservedTime: 48\n"), 0o644)
	code, out, stderr := runCapture(
		[]string{"-c", conf, "-print-config", "-listenPort", "30911"},
		[]string{"MQSTORE_BROKER_NAME=from-env", "MQSTORE_FLUSH_DISK_TYPE=SYNC_FLUSH", "HOME=/root"},
	)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"brokerName=from-env\t# env",      // env beats file
		"listenPort=30911\t# flag",        // flag beats file
		"fileReservedTime=48\t# file",     // file beats default
		"flushDiskType=SYNC_FLUSH\t# env", // env beats default
		"brokerClusterName=DefaultCluster\t# default",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("print-config lacks %q:\n%s", want, out)
		}
	}
}

// mqstoreBin is the mqstore binary TestMain builds for the process tests.
var mqstoreBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mqstore-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mqstoreBin = filepath.Join(dir, "mqstore")
	if out, err := exec.Command("go", "build", "-o", mqstoreBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	// MQSTORE_* variables of the environment the tests run in (CI's MQSTORE_REQUIRE_BROWSER, a
	// developer's own settings) are not the tests' configuration: the binaries they start must
	// not see them. Tests of the environment handling pass their variables explicitly.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "MQSTORE_") {
			os.Unsetenv(name)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func binary(*testing.T) string { return mqstoreBin }

type process struct {
	cmd           *exec.Cmd
	startLine     string
	bound         string // the broker's bound address
	registersWith string
	brokerAddr    string
	namesrvAddr   string
	metricsAddr   string
	stderr        *strings.Builder
}

var startLine = regexp.MustCompile(`^mqstore: broker \S+ bound to (\S+) \(advertised as (\S+)\); name server (?:bound to (\S+) \(embedded\)|none embedded); registers with (\S+); metrics (?:bound to (\S+)|off); data in `)

// startProcess runs mqstore on free ports with data in dir and waits for its start line.
func startProcess(t *testing.T, dir string, extra ...string) *process {
	t.Helper()
	args := append([]string{"-storePathRootDir", dir, "-listenPort", "0", "-namesrv-listen", "127.0.0.1:0",
		"-metrics-addr", "127.0.0.1:0", "-grpcServerPort", "0", "-mappedFileSizeCommitLog", "67108864", "-maxHashSlotNum", "100000", "-maxIndexNum", "400000"}, extra...)
	return startArgs(t, args...)
}

// startArgs runs mqstore with exactly args and waits for its start line.
func startArgs(t *testing.T, args ...string) *process {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	stdout, _ := cmd.StdoutPipe()
	p := &process{cmd: cmd, stderr: &strings.Builder{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case line := <-lines:
		m := startLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unexpected start line %q", line)
		}
		p.bound, p.brokerAddr, p.namesrvAddr, p.registersWith, p.metricsAddr = m[1], m[2], m[3], m[4], m[5]
		p.startLine = line
	case <-time.After(30 * time.Second):
		t.Fatalf("mqstore did not start; stderr: %s", p.stderr.String())
	}
	return p
}

func TestSecondInstanceIsRefused(t *testing.T) {
	dir := t.TempDir()
	startProcess(t, dir)
	cmd := exec.Command(binary(t), "-storePathRootDir", dir, "-listenPort", "0", "-namesrv-listen", "127.0.0.1:0", "-metrics-addr", "", "-grpcServerPort", "0")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use") {
		t.Fatalf("second instance: err %v, output %q", err, out)
	}
}

// TestSIGTERMUnderLoad sends with the real client while the server gets SIGTERM; the server must
// exit 0, and after it every acknowledged message is in the store.
func TestSIGTERMUnderLoad(t *testing.T) {
	dir := t.TempDir()
	p := startProcess(t, dir, "-flushDiskType", "SYNC_FLUSH")
	prod, err := rocketmq.NewProducer(producer.WithNameServer([]string{p.namesrvAddr}), producer.WithGroupName("sigterm"),
		producer.WithRetry(0), producer.WithSendMsgTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.Start(); err != nil {
		t.Fatal(err)
	}
	defer prod.Shutdown()
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("k-%d-%d", g, i)
				msg := primitive.NewMessage("Shutdown", []byte(key)).WithKeys([]string{key})
				res, err := prod.SendSync(context.Background(), msg)
				if err != nil || res.Status != primitive.SendOK {
					if i > 0 {
						return // the server is going away
					}
					continue
				}
				mu.Lock()
				acked = append(acked, key)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGTERM)
	err = p.cmd.Wait()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("mqstore exited with %v; stderr: %s", err, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "stopped") {
		t.Fatalf("no clean stop in the log: %s", p.stderr.String())
	}
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged before the signal")
	}
	s, err := store.Open(dir, store.Options{CommitLogSegmentSize: 64 << 20, IndexHashSlots: 100000, IndexMaxEntries: 400000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Recovery().Crashed {
		t.Error("the store was not closed cleanly")
	}
	for _, key := range acked {
		found, err := s.QueryByKey("Shutdown", key, 4, 0, 0)
		if err != nil || len(found) != 1 || string(found[0].Body) != key {
			t.Fatalf("acknowledged %s not found after restart (%v, %d)", key, err, len(found))
		}
	}
	t.Logf("%d acknowledged messages all found after SIGTERM", len(acked))
}

// TestMetricsCountWhatWasDone produces and consumes with the real client and scrapes /metrics.
func TestMetricsCountWhatWasDone(t *testing.T) {
	p := startProcess(t, t.TempDir())
	prod, err := rocketmq.NewProducer(producer.WithNameServer([]string{p.namesrvAddr}), producer.WithGroupName("metrics-p"))
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.Start(); err != nil {
		t.Fatal(err)
	}
	defer prod.Shutdown()
	const n = 50
	for i := range n {
		if _, err := prod.SendSync(context.Background(), primitive.NewMessage("Counted", []byte(fmt.Sprintf("m%03d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	received := make(chan struct{}, n)
	c, err := rocketmq.NewPushConsumer(consumer.WithNameServer([]string{p.namesrvAddr}), consumer.WithGroupName("metrics-c"),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	c.Subscribe("Counted", consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for range msgs {
			received <- struct{}{}
		}
		return consumer.ConsumeSuccess, nil
	})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	for range n {
		select {
		case <-received:
		case <-time.After(30 * time.Second):
			t.Fatal("consumer did not receive every message")
		}
	}
	in := scrape(t, p.metricsAddr, `rocketmq_messages_in_total{`, `topic="Counted"`)
	out := scrape(t, p.metricsAddr, `rocketmq_messages_out_total{`, `topic="Counted"`)
	if in != n || out != n {
		t.Fatalf("metrics: in %v out %v, want %d each", in, out, n)
	}
	bytesIn := scrape(t, p.metricsAddr, `rocketmq_throughput_in_total{`, `topic="Counted"`)
	if bytesIn != n*4 {
		t.Fatalf("throughput in %v, want %d", bytesIn, n*4)
	}
	resp, err := http.Get("http://" + p.metricsAddr + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", err, resp)
	}
	resp.Body.Close()
}

// scrape returns the sum of the samples of the lines that start with prefix and contain label.
func scrape(t *testing.T, addr, prefix, label string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, prefix) && strings.Contains(line, label) {
			var v float64
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			sum += v
		}
	}
	return sum
}

type txnListener struct{}

// ExecuteLocalTransaction commits bodies starting with "c" and rolls back the others.
func (txnListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	if strings.HasPrefix(string(m.Body), "c") {
		return primitive.CommitMessageState
	}
	return primitive.RollbackMessageState
}

func (txnListener) CheckLocalTransaction(*primitive.MessageExt) primitive.LocalTransactionState {
	return primitive.RollbackMessageState
}

// TestMetricsCountTransactions runs committed and rolled-back transactions with the real client
// and finds the commit and rollback counters equal to them.
func TestMetricsCountTransactions(t *testing.T) {
	p := startProcess(t, t.TempDir())
	prod, err := rocketmq.NewTransactionProducer(txnListener{}, producer.WithNameServer([]string{p.namesrvAddr}),
		producer.WithGroupName("metrics-tx"))
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.Start(); err != nil {
		t.Fatal(err)
	}
	defer prod.Shutdown()
	const commits, rollbacks = 7, 5
	for i := range commits + rollbacks {
		body := fmt.Sprintf("c%d", i)
		if i >= commits {
			body = fmt.Sprintf("r%d", i)
		}
		if _, err := prod.SendMessageInTransaction(context.Background(), primitive.NewMessage("Paid", []byte(body))); err != nil {
			t.Fatal(err)
		}
	}
	// END_TRANSACTION is oneway: wait until the broker has counted them all.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := scrape(t, p.metricsAddr, `rocketmq_commit_messages_total{`, `topic="Paid"`)
		r := scrape(t, p.metricsAddr, `rocketmq_rollback_messages_total{`, `topic="Paid"`)
		if c == commits && r == rollbacks {
			break
		}
		if time.Now().After(deadline) || c > commits || r > rollbacks {
			t.Fatalf("commit %v rollback %v, want %d and %d", c, r, commits, rollbacks)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if in := scrape(t, p.metricsAddr, `rocketmq_messages_in_total{`, `message_type="transaction"`); in != commits+rollbacks {
		t.Fatalf("transactional messages in: %v, want %d", in, commits+rollbacks)
	}
}
