// Package crash kills the real mqstore binary with SIGKILL at the worst moments for the
// metadata a send depends on — right after topics are auto-created by their first messages —
// restarts it on the same data, and checks every acknowledgement with the unmodified
// rocketmq-client-go: each acknowledged message is pulled back at its acknowledged queue
// offset, and a transaction committed after a restart is delivered exactly once.
//
// make test runs MQSTORE_CRASH_CYCLES (default 20) cycles; MQSTORE_CRASH_LONG=1 runs 200.
package crash

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/mqstore/mqstore/client"
)

func init() { rlog.SetLogLevel("error") }

var build struct {
	sync.Once
	path string
	err  error
}

// binary builds cmd/mqstore once per test run.
func binary(t testing.TB) string {
	t.Helper()
	build.Do(func() {
		dir, err := os.MkdirTemp("", "mqstore-crash-bin")
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(dir, "mqstore")
		out, err := exec.Command("go", "build", "-o", build.path, "../../cmd/mqstore").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// node is one mqstore process on fixed ports, restartable on the same data directory.
type node struct {
	t           testing.TB
	dir         string
	extra       []string
	brokerPort  int
	namesrvPort int

	cmd    *exec.Cmd
	stderr *lockedBuffer
	waited chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newNode(t testing.TB, extra ...string) *node {
	n := &node{t: t, dir: t.TempDir(), extra: extra, brokerPort: freePort(t), namesrvPort: freePort(t)}
	t.Cleanup(func() { n.kill() })
	return n
}

func (n *node) namesrvAddr() string { return fmt.Sprintf("127.0.0.1:%d", n.namesrvPort) }

// start runs the binary and waits until the broker answers on its port.
func (n *node) start() {
	n.t.Helper()
	args := append([]string{
		"-storePathRootDir", n.dir,
		"-listenPort", strconv.Itoa(n.brokerPort),
		"-brokerIP1", "127.0.0.1",
		"-namesrv-listen", n.namesrvAddr(),
		"-metrics-addr", "",
		"-mappedFileSizeCommitLog", strconv.Itoa(64 << 20),
		"-grpcServerPort", "0", // RocketMQ 5 endpoint on a free port (8081 may be taken by another test)
		"-maxHashSlotNum", "100000", "-maxIndexNum", "400000",
	}, n.extra...)
	n.cmd = exec.Command(binary(n.t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MQSTORE_") { // this test's own knobs are not broker settings
			n.cmd.Env = append(n.cmd.Env, kv)
		}
	}
	n.stderr = &lockedBuffer{}
	n.cmd.Stderr = n.stderr
	stdout, _ := n.cmd.StdoutPipe()
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.waited = make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
		}
		n.cmd.Wait()
		close(n.waited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", n.brokerPort), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-n.waited:
			n.t.Fatalf("mqstore exited at start: %s", n.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("mqstore did not start: %s", n.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to go.
func (n *node) kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.waited
	n.cmd = nil
}

// cycles is how many kill/restart cycles a loop test runs.
func cycles(short, long int) int {
	if v, err := strconv.Atoi(os.Getenv("MQSTORE_CRASH_CYCLES")); err == nil && v > 0 {
		return v
	}
	if os.Getenv("MQSTORE_CRASH_LONG") != "" {
		return long
	}
	return short
}

// ack is one acknowledged send.
type ack struct {
	topic   string
	queueID int
	offset  int64
	body    string
}

// newAdmin is the project's own admin client, used to read back by queue offset (a real
// PULL_MESSAGE: it fails when the broker does not know the topic).
func newAdmin(t testing.TB, nsAddr string) *client.Admin {
	t.Helper()
	a, err := client.NewAdmin(client.WithNameServer(nsAddr), client.WithInstanceName(fmt.Sprintf("crash-admin-%d", rand.Int64())))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// verify pulls every ack back at its queue offset and compares the body.
func verify(t testing.TB, nsAddr string, acks []ack) (lost int, firstErr error) {
	t.Helper()
	admin := newAdmin(t, nsAddr)
	defer admin.Close()
	for _, a := range acks {
		var m client.MessageExt
		var err error
		for try := 0; try < 10; try++ { // the route appears once the restarted broker registered
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			m, err = admin.ViewMessageByQueueOffset(ctx, client.MessageQueue{Topic: a.topic, BrokerName: "broker-a", QueueID: int32(a.queueID)}, a.offset)
			cancel()
			if err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err == nil && string(m.Body) != a.body {
			err = fmt.Errorf("offset %d of %s/%d holds %q, acknowledged %q", a.offset, a.topic, a.queueID, m.Body, a.body)
		}
		if err != nil {
			lost++
			if firstErr == nil {
				firstErr = fmt.Errorf("%s/%d@%d: %w", a.topic, a.queueID, a.offset, err)
			}
			if lost >= 20 {
				return lost, firstErr // enough to fail; reading every lost one takes a second each
			}
		}
	}
	return lost, firstErr
}
