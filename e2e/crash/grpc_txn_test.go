package crash

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/apache/rocketmq-clients/golang/v5/credentials"

	"github.com/mqstore/mqstore/internal/proctest"
)

// RocketMQ 5 transactions across a SIGKILL: the check of an open half message goes to the
// producer (client id) that sent it once that producer is connected again, not to the topic's
// other producers; the half message of a producer that did not come back is checked with
// another producer of the topic. The sender's client id is on the half record
// itself (grpcserver's __TXN_CLIENT_ID), so the restart does not forget it.
//
// Timing: the v5.1.2 Go client reopens its Telemetry stream only when a heartbeat (every 10 s) is
// answered UNRECOGNIZED_CLIENT_TYPE after its 5 s recovery wait, so the sender is back within
// about 16 s of the restart; transactionTimeOut (25 s) keeps the first check after that.
func TestGRPCTransactionCheckAfterKillGoesToSender(t *testing.T) {
	t.Parallel() // ~30 s of waiting on the client's heartbeat and recovery timers; overlaps the kill loop
	os.Setenv(rmq.CLIENT_LOG_ROOT, t.TempDir())
	os.Setenv(rmq.CLIENT_LOG_LEVEL, "error")
	rmq.ResetLogger()
	grpcPort := proctest.FreePort(t)
	n := newNode(t, "-grpcServerPort", strconv.Itoa(grpcPort), "-transactionTimeOut", "25000", "-transactionCheckInterval", "500")
	n.start()
	defer n.kill()
	topic := fmt.Sprintf("grpc_txn_crash_%d", time.Now().UnixNano()%1e6)
	createTopic(t, n, topic)
	cfg := &rmq.Config{Endpoint: fmt.Sprintf("127.0.0.1:%d", grpcPort), Credentials: &credentials.SessionCredentials{}}

	var mu sync.Mutex
	checkedBy := map[string][]string{} // body → producers asked
	producer := func(label string) rmq.Producer {
		t.Helper()
		checker := &rmq.TransactionChecker{Check: func(mv *rmq.MessageView) rmq.TransactionResolution {
			mu.Lock()
			checkedBy[string(mv.GetBody())] = append(checkedBy[string(mv.GetBody())], label)
			mu.Unlock()
			return rmq.COMMIT
		}}
		p, err := rmq.NewProducer(cfg, rmq.WithTopics(topic), rmq.WithTransactionChecker(checker))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sendHalf := func(p rmq.Producer, body string) {
		t.Helper()
		if _, err := p.SendWithTransaction(context.Background(), &rmq.Message{Topic: topic, Body: []byte(body)}, p.BeginTransaction()); err != nil {
			t.Fatal(err)
		}
	}

	// The other producers are made first: the server orders a topic's other producers by client
	// id (host@pid@index@time), so without the sender's id on the half record its check would
	// go to other1.
	for _, label := range []string{"other1", "other2"} {
		defer producer(label).GracefulStop()
	}
	gone := producer("gone")
	sendHalf(gone, "from-gone")
	gone.GracefulStop() // never comes back
	sender := producer("sender")
	defer sender.GracefulStop()
	sendHalf(sender, "from-sender")
	n.kill()
	n.start()

	deadline := time.Now().Add(70 * time.Second)
	for {
		mu.Lock()
		done := len(checkedBy["from-sender"]) > 0 && len(checkedBy["from-gone"]) > 0
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checks so far: %v\nbroker log:\n%s", checkedBy, proctest.Tail(n.Stderr(), 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := checkedBy["from-sender"]; got[0] != "sender" {
		t.Errorf("the sender's half was checked with %v, want the sender first", got)
	}
	if got := checkedBy["from-gone"]; got[0] == "gone" {
		t.Errorf("the gone producer's half was checked with %v, want a live producer", got)
	}
}
