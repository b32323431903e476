package replstate

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/mqstore/mqstore/internal/proctest"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/remoting"
)

// relayListener answers by body prefix: commit- and rollback- at execution; every other body
// is UNKNOW at execution and, when checked back, committed (check-commit-) or rolled back
// (check-rollback-). It counts the checks of each body.
type relayListener struct {
	mu     sync.Mutex
	checks map[string]int
}

func (l *relayListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	switch body := string(m.Body); {
	case strings.HasPrefix(body, "commit-"):
		return primitive.CommitMessageState
	case strings.HasPrefix(body, "rollback-"):
		return primitive.RollbackMessageState
	}
	return primitive.UnkonwnState
}

func (l *relayListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	l.mu.Lock()
	l.checks[string(m.Body)]++
	l.mu.Unlock()
	if strings.HasPrefix(string(m.Body), "check-rollback-") {
		return primitive.RollbackMessageState
	}
	return primitive.CommitMessageState
}

// checked returns how many bodies with prefix were checked back.
func (l *relayListener) checked(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for body := range l.checks {
		if strings.HasPrefix(body, prefix) {
			n++
		}
	}
	return n
}

// followerRoute serves a name server, in this process, whose only route names follower as
// brokerId 0 of the group, for topic: a client that asks it talks to that follower alone, as
// a client with a stale route does after a leader change until its next route poll.
func followerRoute(t *testing.T, g *group, follower, topic string) string {
	t.Helper()
	reg := namesrv.NewRegistry(namesrv.Options{})
	srv, err := remoting.NewServer(remoting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	namesrv.NewServer(reg, namesrv.Options{}).Attach(srv) // not started: the route never expires
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	reg.RegisterBroker(namesrv.Registration{ClusterName: "ReplStateCluster", BrokerName: g.name, BrokerAddr: follower, BrokerID: 0,
		Topics: map[string]namesrv.TopicConfig{topic: {TopicName: topic, ReadQueueNums: 2, WriteQueueNums: 2, Perm: namesrv.PermRW, TopicFilterType: "SINGLE_TAG"}}})
	return ln.Addr().String()
}

// TestCheckBackThroughFollower: two unmodified TransactionProducers (groups of their own) each
// talk to one follower only (their name servers route the group to that follower), which
// forwards their half messages and ends to the leader. The transactions they leave UNKNOW are
// checked back by the leader through the followers, which relay each check to the producer
// whose answer they forward: the ones the check commits are delivered exactly once, the ones it
// rolls back never. Then the leader is SIGKILLed with more such transactions open: the new
// leader, one of the two followers, rebuilds them from the log and checks back its own
// producer directly and the other's through the other follower, which has announced its
// producer group to it.
func TestCheckBackThroughFollower(t *testing.T) {
	const topic, n = "RSRelay", 4
	// A 4 s transaction timeout: the leader of the second round dies before it checks anything.
	g := startGroup(t, "rs-r", 81, "-transactionTimeOut", "4000", "-transactionCheckInterval", "300")
	leader := g.waitMaster("")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := g.admin.CreateTopic(ctx, leader, namesrv.TopicConfig{TopicName: topic, ReadQueueNums: 2, WriteQueueNums: 2, Perm: namesrv.PermRW, TopicFilterType: "SINGLE_TAG"}); err != nil {
		t.Fatal(err)
	}
	var followers []string
	for _, r := range g.replicas {
		if r.addr != leader {
			followers = append(followers, r.addr)
		}
	}
	listeners := make([]*relayListener, 2)
	producers := make([]rocketmq.TransactionProducer, 2)
	for i, f := range followers {
		listeners[i] = &relayListener{checks: map[string]int{}}
		p, err := rocketmq.NewTransactionProducer(listeners[i], producer.WithNameServer([]string{followerRoute(t, g, f, topic)}),
			producer.WithGroupName("rs-relay-"+strconv.Itoa(i)), producer.WithInstanceName(proctest.Instance("relay")), producer.WithRetry(2))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		defer p.Shutdown()
		producers[i] = p
	}
	send := func(kind string, round int) {
		t.Helper()
		for i, p := range producers {
			for j := range n {
				body := fmt.Sprintf("%s-%d-%d-p%d", kind, round, j, i)
				// A follower answers 14 until it has learned the leader's address; the client retries.
				for try := 0; ; try++ {
					res, err := p.SendMessageInTransaction(ctx, primitive.NewMessage(topic, []byte(body)))
					if err == nil && res.Status == primitive.SendOK {
						break
					}
					if try == 20 {
						t.Fatalf("%s through follower %s: %v %v; its log:\n%s", body, followers[i], res, err, g.stderr(followers[i]))
					}
					time.Sleep(250 * time.Millisecond)
				}
			}
		}
	}
	for _, kind := range []string{"commit", "rollback", "check-commit", "check-rollback"} {
		send(kind, 1)
	}
	took := waitChecked(t, g, leader, listeners, 2*n, 30*time.Second, followers)
	t.Logf("the leader's checks reached the producers through followers %v: every transaction resolved %v after the last send", followers, took.Round(time.Millisecond))

	// Round two: open transactions through the followers, then the leader dies.
	send("check-commit", 2)
	send("check-rollback", 2)
	killed := time.Now()
	g.kill(leader)
	next := g.waitMaster(leader)
	waitChecked(t, g, next, listeners, 4*n, 40*time.Second, followers)
	for i, f := range followers {
		if f != next {
			t.Logf("new leader %s checked back group rs-relay-%d through follower %s: every transaction resolved %v after the kill",
				next, i, f, time.Since(killed).Round(time.Millisecond))
		}
	}

	var stored map[string]int
	want := 2 * 3 * n // per producer: commit-1, check-commit-1, check-commit-2
	waitFor(t, 10*time.Second, "every committed message stored", func() bool {
		stored = g.readTopic(topic, 2)
		return len(stored) >= want
	})
	for body, k := range stored {
		if strings.Contains(body, "rollback-") {
			t.Errorf("rolled back %s stored %d times", body, k)
		} else if k != 1 {
			t.Errorf("committed %s stored %d times, want once", body, k)
		}
	}
	if len(stored) != want {
		t.Errorf("%d bodies stored, want %d: %v", len(stored), want, stored)
	}
}

// waitChecked waits until the leader at addr has no open transaction and want bodies were
// checked back by each producer, and returns how long that took.
func waitChecked(t *testing.T, g *group, addr string, listeners []*relayListener, want int, timeout time.Duration, followers []string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, total, err := g.admin.OpenTransactions(ctx, addr, 0)
		cancel()
		checked := make([]int, len(listeners))
		done := err == nil && total == 0
		for i, l := range listeners {
			checked[i] = l.checked("check-")
			done = done && checked[i] >= want
		}
		if done {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			var logs strings.Builder
			for _, f := range followers {
				fmt.Fprintf(&logs, "\nfollower %s's log:\n%s", f, g.stderr(f))
			}
			t.Fatalf("transactions not resolved by check-back through the followers after %v: %d open at %s (%v), checked back %v of %d each; "+
				"leader's log:\n%s%s", timeout, total, addr, err, checked, want, g.stderr(addr), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
