// Package crash kills the real mqstore binary with SIGKILL at the worst moments for the
// metadata a send depends on — right after topics are auto-created by their first messages —
// restarts it on the same data, and checks every acknowledgement with the unmodified
// rocketmq-client-go: each acknowledged message is pulled back at its acknowledged queue
// offset, and a transaction committed after a restart is delivered exactly once.
//
// make test runs MQSTORE_CRASH_CYCLES (default 20) cycles; MQSTORE_CRASH_LONG=1 runs 200.
package crash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/proctest"
)

func init() { rlog.SetLogLevel("error") }

// node is one mqstore process on fixed ports, restartable on the same data directory.
type node struct {
	*proctest.Proc
	brokerPort  int
	namesrvPort int
}

func newNode(t testing.TB, extra ...string) *node {
	n := &node{brokerPort: proctest.FreePort(t), namesrvPort: proctest.FreePort(t)}
	args := append([]string{
		"-storePathRootDir", t.TempDir(),
		"-listenPort", strconv.Itoa(n.brokerPort),
		"-brokerIP1", "127.0.0.1",
		"-namesrv-listen", n.namesrvAddr(),
		"-metrics-addr", "",
		"-mappedFileSizeCommitLog", strconv.Itoa(64 << 20),
		"-maxHashSlotNum", "100000", "-maxIndexNum", "400000",
	}, extra...)
	if !slices.Contains(extra, "-grpcServerPort") {
		args = append(args, "-grpcServerPort", "0") // a free port: 8081 may be taken by another test
	}
	n.Proc = proctest.New(t, proctest.Binary(t, "github.com/mqstore/mqstore/cmd/mqstore"), args...)
	return n
}

func (n *node) namesrvAddr() string { return fmt.Sprintf("127.0.0.1:%d", n.namesrvPort) }

// start runs the binary and waits until the broker answers on its port.
func (n *node) start() {
	n.Start()
	n.WaitListening(fmt.Sprintf("127.0.0.1:%d", n.brokerPort))
}

// kill sends SIGKILL and waits for the process to go.
func (n *node) kill() { n.Kill() }

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
