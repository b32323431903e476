package broker

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/remoting"
)

// freeAddr returns a free loopback address for a replication port.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startReplicas starts a replicated group of n in-process brokers (real Raft over loopback TCP).
func startReplicas(t *testing.T, n int) []*testBroker {
	t.Helper()
	var peers []string
	for i := range n {
		peers = append(peers, fmt.Sprintf("n%d-%s", i, freeAddr(t)))
	}
	var out []*testBroker
	for i := range n {
		out = append(out, startBroker(t, func(c *Config) {
			c.BrokerName = "rs"
			c.EnableDLegerCommitLog = true
			c.DLegerPeers = strings.Join(peers, ";")
			c.DLegerSelfID = fmt.Sprintf("n%d", i)
			c.TransactionCheckInterval = 200
			c.TransactionTimeOut = 500
		}))
	}
	return out
}

// waitLong polls cond for up to 15 s (elections take 1-2 s).
func waitLong(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leaderOf waits for a ready leader among the open replicas and returns it.
func leaderOf(t testing.TB, replicas []*testBroker) *testBroker {
	t.Helper()
	var leader *testBroker
	waitLong(t, "a ready leader", func() bool {
		for _, r := range replicas {
			if r != nil && r.replica.group.Role().Ready {
				leader = r
				return true
			}
		}
		return false
	})
	return leader
}

// without returns replicas with r replaced by nil.
func without(replicas []*testBroker, r *testBroker) []*testBroker {
	out := append([]*testBroker(nil), replicas...)
	for i := range out {
		if out[i] == r {
			out[i] = nil
		}
	}
	return out
}

// TestReplicatedConfig: topics (created, auto-created by a SEND, deleted), a subscription group
// and consumer offsets changed on the leader reach every replica through the log; after the
// leader closes, the new leader serves them.
func TestReplicatedConfig(t *testing.T) {
	replicas := startReplicas(t, 3)
	leader := leaderOf(t, replicas)
	expect(t, leader.call(remoting.RequestUpdateAndCreateTopic, nil, "topic", "RT", "readQueueNums", "3", "writeQueueNums", "3"), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestUpdateAndCreateTopic, nil, "topic", "Gone", "readQueueNums", "1", "writeQueueNums", "1"), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestUpdateAndCreateSubscriptionGroup, []byte(`{"groupName":"rg","retryMaxTimes":5}`)), remoting.ResponseSuccess)
	expect(t, leader.send("Auto", 0, "a", nil), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestDeleteTopicInBroker, nil, "topic", "Gone"), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestUpdateConsumerOffset, nil, "consumerGroup", "rg", "topic", "RT", "queueId", "2", "commitOffset", "42"), remoting.ResponseSuccess)

	for _, r := range replicas {
		// Topic and group changes are applied before the leader answers; on the others, once
		// they applied the entry. Offsets ride the next batch.
		waitLong(t, "config on "+r.replica.self.Name, func() bool {
			tc, ok := r.topics.get("RT")
			_, auto := r.topics.get("Auto")
			_, gone := r.topics.get("Gone")
			gc, gok := r.groups.get("rg")
			off, ook := r.offsets.query("rg", "RT", 2)
			return ok && tc.WriteQueueNums == 3 && auto && !gone && gok && gc.RetryMaxTimes == 5 && ook && off == 42
		})
	}
	if _, ok := leader.topics.get("Gone"); ok {
		t.Fatal("deleted topic still on the leader")
	}

	// The leader goes; the new one serves what the old one was told.
	if err := leader.Close(); err != nil {
		t.Fatal(err)
	}
	rest := without(replicas, leader)
	next := leaderOf(t, rest)
	resp := next.call(remoting.RequestQueryConsumerOffset, nil, "consumerGroup", "rg", "topic", "RT", "queueId", "2")
	expect(t, resp, remoting.ResponseSuccess)
	if off := extInt(t, resp, "offset"); off != 42 {
		t.Fatalf("offset on the new leader %d, want 42", off)
	}
	expect(t, next.call(remoting.RequestUpdateAndCreateTopic, nil, "topic", "After", "readQueueNums", "2", "writeQueueNums", "2"), remoting.ResponseSuccess)
	expect(t, next.send("RT", 1, "b", nil), remoting.ResponseSuccess)
	for _, r := range rest {
		if r == nil {
			continue
		}
		waitLong(t, "topic After on "+r.replica.self.Name, func() bool { _, ok := r.topics.get("After"); return ok })
	}
}

// TestReplicatedConfigFollowerLocal: a change made on a follower stays local (it is not the
// leader's to replicate) and does not fail.
func TestReplicatedConfigFollowerLocal(t *testing.T) {
	replicas := startReplicas(t, 3)
	leader := leaderOf(t, replicas)
	var follower *testBroker
	for _, r := range replicas {
		if r != leader {
			follower = r
		}
	}
	expect(t, follower.call(remoting.RequestUpdateAndCreateSubscriptionGroup, []byte(`{"groupName":"local"}`)), remoting.ResponseSuccess)
	if _, ok := follower.groups.get("local"); !ok {
		t.Fatal("follower's local group missing")
	}
	time.Sleep(300 * time.Millisecond)
	if _, ok := leader.groups.get("local"); ok {
		t.Fatal("a follower's local change reached the leader")
	}
}

// TestReplicatedSendDedupe: a send retried with the same UNIQ_KEY is answered with the first
// copy's msgId and offset and stored once, on every replica; a redelivery-like send with
// reconsumeTimes > 0 is not deduplicated.
func TestReplicatedSendDedupe(t *testing.T) {
	replicas := startReplicas(t, 3)
	leader := leaderOf(t, replicas)
	p := props(message.PropertyUniqKey, "AC11000100002A9F0000000000000001")
	first := leader.send("Dup", 0, "x", p)
	expect(t, first, remoting.ResponseSuccess)
	again := leader.send("Dup", 0, "x", p)
	expect(t, again, remoting.ResponseSuccess)
	if a, b := first.Ext("msgId"), again.Ext("msgId"); a != b || a == "" {
		t.Fatalf("retry answered msgId %q, first %q", b, a)
	}
	if a, b := extInt(t, first, "queueOffset"), extInt(t, again, "queueOffset"); a != b {
		t.Fatalf("retry answered offset %d, first %d", b, a)
	}
	expect(t, leader.send("Dup", 0, "y", props(message.PropertyUniqKey, "AC11000100002A9F0000000000000002")), remoting.ResponseSuccess)
	for _, r := range replicas {
		waitLong(t, "two messages on "+r.replica.self.Name, func() bool { return r.Store().MaxOffset("Dup", 0) == 2 })
	}
	// The new leader remembers the sends the old one stored.
	if err := leader.Close(); err != nil {
		t.Fatal(err)
	}
	next := leaderOf(t, without(replicas, leader))
	retry := next.send("Dup", 0, "x", p)
	expect(t, retry, remoting.ResponseSuccess)
	if a, b := first.Ext("msgId"), retry.Ext("msgId"); a != b {
		t.Fatalf("retry on the new leader answered msgId %q, first %q", b, a)
	}
	if n := next.Store().MaxOffset("Dup", 0); n != 2 {
		t.Fatalf("queue holds %d messages after the retry on the new leader, want 2", n)
	}
}
