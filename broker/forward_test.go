package broker

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
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
	var lns []net.Listener
	var peers []string
	for i := range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		peers = append(peers, fmt.Sprintf("n%d-%s", i, ln.Addr()))
	}
	for _, ln := range lns {
		ln.Close()
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
	ln, err := net.Listen("tcp", "127.0.0.79:0")
	if err != nil {
		t.Fatal(err)
	}
	stable := ln.Addr().String()
	ln.Close()
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

// TestForwardedHalfCheckRelayed: a half message a follower forwarded came to the leader on the
// follower's forwarding connection. The follower declares itself to the leader as a producer of
// the group of the client connected to it, relays the leader's CHECK_TRANSACTION_STATE to the
// client that sent the half, and forwards the client's END_TRANSACTION, which commits it; once
// the client has gone, the follower withdraws the group at the leader. (Before the relay, checks
// sent to the forwarding connection were dropped, yet counted, found by e2e/chaos.)
func TestForwardedHalfCheckRelayed(t *testing.T) {
	_, replicas := startReplicasWithNamesrv(t, "", func(c *Config) {
		c.TransactionTimeOut = 500
		c.TransactionCheckInterval = 100
	})
	leader := readyLeader(t, replicas)
	var follower *testBroker
	for _, r := range replicas {
		if r != leader {
			follower = r
		}
	}
	producer, err := remoting.NewClient(remoting.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	type check struct {
		from   string
		offset int64
		group  string
	}
	checks := make(chan check, 64)
	producer.RegisterHandler(remoting.RequestCheckTransactionState, func(c *remoting.Conn, req *remoting.Command) *remoting.Command {
		defer req.Release()
		off, _ := req.GetInt64(protocol.FieldCommitLogOffset)
		var r message.Record
		if _, err := message.DecodeRecord(req.Body, &r, false); err != nil {
			t.Errorf("check body: %v", err)
		}
		group, _ := r.Properties.Get(message.PropertyProducerGroup)
		checks <- check{from: c.RemoteAddrString(), offset: off, group: group}
		return nil
	})
	half := func(addr, group string) *remoting.Command {
		req := remoting.NewRequest(remoting.RequestSendMessage)
		args := sendArgs("FwdTxn", 0, props(message.PropertyTransactionPrepared, "true", message.PropertyProducerGroup, group))
		for i := 0; i+1 < len(args); i += 2 {
			req.SetExt(args[i], args[i+1])
		}
		req.SetExt("producerGroup", group)
		req.SetExt("sysFlag", strconv.Itoa(int(message.SetTransactionType(0, message.TransactionPreparedType))))
		req.Body = []byte("half")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := producer.Invoke(ctx, addr, req)
		if err != nil {
			t.Fatalf("SEND to %s: %v", addr, err)
		}
		t.Cleanup(resp.Release)
		return resp
	}
	var resp *remoting.Command
	waitReplicas(t, "a half through a follower acknowledged", func() bool {
		resp = half(follower.Addr(), "fwd-pg")
		if resp.ResponseCode() == remoting.ResponseServiceNotAvailable {
			return false
		}
		expect(t, resp, remoting.ResponseSuccess)
		return true
	})
	_, offset, err := message.ParseOffsetMsgID(resp.Ext(protocol.FieldMsgID))
	if err != nil {
		t.Fatal(err)
	}
	// A second half, left open.
	second := half(follower.Addr(), "fwd-pg")
	expect(t, second, remoting.ResponseSuccess)
	_, secondOffset, err := message.ParseOffsetMsgID(second.Ext(protocol.FieldMsgID))
	if err != nil {
		t.Fatal(err)
	}
	relay := relayClientID("broker-r", follower.replica.self.Name)
	declared := func() bool {
		return slices.ContainsFunc(leader.clients.producerChannels("fwd-pg"), func(p producerChannel) bool { return p.clientID == relay })
	}
	waitReplicas(t, "the follower to declare itself a producer of the group at the leader", declared)

	timeout := time.After(20 * time.Second)
	for got := (check{}); got.offset != offset; {
		select {
		case got = <-checks:
		case <-timeout:
			t.Fatal("no check of the forwarded half reached the producer")
		}
		if got.from != follower.Addr() || got.offset != offset && got.offset != secondOffset || got.group != "fwd-pg" {
			t.Fatalf("check %+v, want from follower %s for the half at %d or %d of fwd-pg", got, follower.Addr(), offset, secondOffset)
		}
	}
	// The producer answers as rocketmq-client-go does: END_TRANSACTION, oneway, to the replica
	// the check came from.
	end := remoting.NewRequest(remoting.RequestEndTransaction)
	for _, kv := range [][2]string{
		{protocol.FieldProducerGroup, "fwd-pg"}, {protocol.FieldTranStateTableOffset, resp.Ext(protocol.FieldQueueOffset)},
		{protocol.FieldCommitLogOffset, strconv.FormatInt(offset, 10)}, {protocol.FieldCommitOrRollback, strconv.Itoa(int(message.TransactionCommitType))},
		{protocol.FieldFromTransactionCheck, "true"}, {protocol.FieldMsgID, resp.Ext(protocol.FieldMsgID)},
	} {
		end.SetExt(kv[0], kv[1])
	}
	if err := producer.InvokeOneway(follower.Addr(), end); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, "the commit answered through the follower to reach the leader", func() bool {
		max := leader.call(remoting.RequestGetMaxOffset, nil, protocol.FieldTopic, "FwdTxn", protocol.FieldQueueID, "0")
		return max.ResponseCode() == remoting.ResponseSuccess && extInt(t, max, protocol.FieldOffset) == 1
	})

	if err := producer.Close(); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, "the follower to withdraw the group once its producer left", func() bool { return !declared() })
	// The open half's origin is still the follower's connection, which is not asked any more:
	// its checks wait for a producer of the group (uncounted) instead of going where none answers.
	if o, ok := leader.origins.get(secondOffset); !ok || !o.forwarded || connDone(o.conn) {
		t.Fatalf("the leader's origin of the open forwarded half: %+v %v, want the follower's open connection", o, ok)
	}
	if ch := leader.checker.channels("fwd-pg", secondOffset); len(ch) != 0 {
		t.Fatalf("checks of the open half would go to %d connections after the follower withdrew the group, want none", len(ch))
	}
}
