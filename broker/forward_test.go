package broker

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mqstore/mqstore/internal/proctest"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// startTestNamesrv serves a name server on a free loopback port until the test ends.
func startTestNamesrv(t *testing.T) (addr string, reg *namesrv.Registry) {
	t.Helper()
	reg = namesrv.NewRegistry(namesrv.Options{Logger: quiet})
	srv, err := remoting.NewServer(remoting.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	namesrv.NewServer(reg, namesrv.Options{Logger: quiet}).Attach(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String(), reg
}

// startReplicasWithNamesrv starts a name server and the three replicas of group broker-r in this process,
// with dLegerLeaderAddr stable ("" for none) and the configuration changes of mutate.
func startReplicasWithNamesrv(t *testing.T, stable string, mutate ...func(*Config)) (reg *namesrv.Registry, replicas []*testBroker) {
	t.Helper()
	ns, reg := startTestNamesrv(t)
	var peers []string
	for i := range 3 {
		peers = append(peers, fmt.Sprintf("n%d-%s", i, freeAddr(t, 1)))
	}
	for i := range 3 {
		replicas = append(replicas, startBroker(t, func(c *Config) {
			c.BrokerName = "broker-r"
			c.NamesrvAddr = ns
			c.RegisterNameServerPeriod = 500
			c.EnableDLegerCommitLog = true
			c.DLegerPeers = strings.Join(peers, ";")
			c.DLegerSelfID = fmt.Sprintf("n%d", i)
			c.DLegerLeaderAddr = stable
			for _, m := range mutate {
				m(c)
			}
		}))
	}
	return reg, replicas
}

// waitReplicas waits up to 30 s (elections on a loaded machine under -race) for cond.
func waitReplicas(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readyLeader waits until exactly one of replicas (closed ones excluded) is the ready leader
// registered as brokerId 0, and returns it.
func readyLeader(t *testing.T, replicas []*testBroker, closed ...*testBroker) *testBroker {
	t.Helper()
	var leader *testBroker
	waitReplicas(t, "a ready leader", func() bool {
		leader = nil
		n := 0
		for _, r := range replicas {
			if !isClosed(r, closed) && r.brokerID() == 0 {
				leader = r
				n++
			}
		}
		return n == 1
	})
	return leader
}

func isClosed(r *testBroker, closed []*testBroker) bool {
	for _, c := range closed {
		if c == r {
			return true
		}
	}
	return false
}

// sendTo sends SEND_MESSAGE to addr with remark and returns the response (released at cleanup).
func sendTo(t *testing.T, c *remoting.Client, addr, topic, body, remark string) *remoting.Command {
	t.Helper()
	req := remoting.NewRequest(remoting.RequestSendMessage)
	req.Remark = remark
	args := sendArgs(topic, 0, nil)
	for i := 0; i+1 < len(args); i += 2 {
		req.SetExt(args[i], args[i+1])
	}
	req.Body = []byte(body)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, addr, req)
	if err != nil {
		t.Fatalf("SEND to %s: %v", addr, err)
	}
	t.Cleanup(resp.Release)
	return resp
}

// TestReplicaForwardsWrites: a SEND to a follower is forwarded to the leader (which the follower
// finds through the name server) and acknowledged with the leader's answer; a request marked as
// forwarded is refused rather than forwarded again; after the leader closes, a follower forwards
// to the next one; a replica without a quorum answers 14 naming the state.
func TestReplicaForwardsWrites(t *testing.T) {
	_, replicas := startReplicasWithNamesrv(t, "")
	leader := readyLeader(t, replicas)
	var followers []*testBroker
	for _, r := range replicas {
		if r != leader {
			followers = append(followers, r)
		}
	}
	c := leader.client
	waitReplicas(t, "a SEND through a follower acknowledged", func() bool {
		resp := sendTo(t, c, followers[0].Addr(), "FwdT", "one", "")
		if resp.ResponseCode() == remoting.ResponseServiceNotAvailable {
			return false // the follower has not learned the leader's address yet
		}
		expect(t, resp, remoting.ResponseSuccess)
		return true
	})
	// The consume queue is dispatched after the answer (asynchronously), and leadership may have
	// moved on a loaded machine: some replica's queue comes to hold the one message.
	waitReplicas(t, "the message sent through the follower in a consume queue", func() bool {
		for _, r := range replicas {
			max := r.call(remoting.RequestGetMaxOffset, nil, protocol.FieldTopic, "FwdT", protocol.FieldQueueID, "0")
			if max.ResponseCode() == remoting.ResponseSuccess && extInt(t, max, protocol.FieldOffset) == 1 {
				return true
			}
		}
		return false
	})

	for _, r := range replicas {
		if !r.replica.group.Role().Ready {
			resp := sendTo(t, c, r.Addr(), "FwdT", "twice", ForwardedRemark)
			expect(t, resp, remoting.ResponseServiceNotAvailable)
			break
		}
	}

	if err := leader.Close(); err != nil {
		t.Fatal(err)
	}
	next := readyLeader(t, replicas, leader)
	var other *testBroker
	for _, f := range followers {
		if f != next {
			other = f
		}
	}
	waitReplicas(t, "a SEND through the follower acknowledged by the new leader", func() bool {
		resp := sendTo(t, c, other.Addr(), "FwdT", "two", "")
		if resp.ResponseCode() == remoting.ResponseServiceNotAvailable {
			return false
		}
		expect(t, resp, remoting.ResponseSuccess)
		return true
	})

	if err := next.Close(); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, "the survivor to answer 14 with no leader", func() bool {
		resp := sendTo(t, c, other.Addr(), "FwdT", "three", "")
		if resp.ResponseCode() == remoting.ResponseSuccess {
			t.Fatal("a replica without a quorum acknowledged a SEND")
		}
		return resp.ResponseCode() == remoting.ResponseServiceNotAvailable && strings.Contains(resp.Remark, "no leader")
	})
}

// TestStableLeaderAddr: the ready leader serves the group's stable address and registers it as
// brokerId 0 (and no longer its own address); when it loses its quorum it steps down and closes
// the address, and the connections accepted on it, before it registers as a follower again.
func TestStableLeaderAddr(t *testing.T) {
	// An alias of its own: no other test's listener (they bind 127.0.0.1) can take the port once
	// the leader released it, which would make the "refused after step-down" check flaky.
	stable := proctest.FreeAddr(t, "127.0.0.79")
	reg, replicas := startReplicasWithNamesrv(t, stable)
	leader := readyLeader(t, replicas)
	resp := sendTo(t, leader.client, stable, "StableT", "one", "")
	expect(t, resp, remoting.ResponseSuccess)
	waitReplicas(t, "the stable address registered as brokerId 0, the leader's own address withdrawn", func() bool {
		brokers, _ := reg.Clusters()
		addrs := brokers["broker-r"].BrokerAddrs
		for id, a := range addrs {
			if id != 0 && a == leader.Addr() {
				return false
			}
		}
		return addrs[0] == stable && len(addrs) == 3
	})

	held, err := remoting.NewClient(remoting.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	conn, err := held.Conn(ctx, stable)
	cancel()
	if err != nil {
		t.Fatal(err)
	}

	for _, r := range replicas {
		if r != leader {
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitReplicas(t, "the leader to step down without a quorum", func() bool { return !leader.replica.group.Role().Ready })
	waitReplicas(t, "the deposed leader to register under its own id", func() bool {
		brokers, _ := reg.Clusters()
		return brokers["broker-r"].BrokerAddrs[int64(leader.replica.self.ID)] == leader.Addr()
	})
	if leader.replica.stable.bound.Load() {
		t.Fatal("a deposed leader holds the stable address")
	}
	// A dial can still succeed once in a blue moon without a listener (a TCP self-connect when the
	// kernel picks the destination port as the source port): the address must refuse soon.
	waitReplicas(t, "the stable address to refuse connections after the step-down", func() bool {
		c, err := net.DialTimeout("tcp", stable, time.Second)
		if err == nil {
			c.Close()
			return false
		}
		return true
	})
	select {
	case <-conn.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a connection accepted on the stable address stayed open after the step-down")
	}
}
