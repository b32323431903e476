package broker

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqstore/mqstore/consumequeue"
	"github.com/mqstore/mqstore/internal/proctest"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
	"github.com/mqstore/mqstore/txn"
)

// freeAddr returns a free address on a loopback alias for a replication port (not on
// 127.0.0.1, where the brokers' own listeners take ephemeral ports that could be this one).
func freeAddr(t testing.TB, alias int) string {
	t.Helper()
	return proctest.FreeAddr(t, fmt.Sprintf("127.0.0.%d", alias))
}

// startReplicas starts a replicated group of n in-process brokers (real Raft over loopback TCP).
func startReplicas(t *testing.T, n int, optMutate ...func(*Options)) []*testBroker {
	t.Helper()
	var peers []string
	for i := range n {
		peers = append(peers, fmt.Sprintf("n%d-%s", i, freeAddr(t, 31+i)))
	}
	var out []*testBroker
	for i := range n {
		out = append(out, startReplica(t, strings.Join(peers, ";"), i, t.TempDir(), optMutate...))
	}
	return out
}

// startReplica starts replica i of the group peers with its files in dir (a restart when dir
// holds them).
func startReplica(t *testing.T, peers string, i int, dir string, optMutate ...func(*Options)) *testBroker {
	t.Helper()
	return startBroker(t, func(c *Config) {
		c.StorePathRootDir = dir
		c.BrokerName = "rs"
		c.EnableDLegerCommitLog = true
		c.DLegerPeers = peers
		c.DLegerSelfID = fmt.Sprintf("n%d", i)
		c.TransactionCheckInterval = 200
		c.TransactionTimeOut = 500
	}, optMutate...)
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
			if r != nil && r.replica.brokerID() == 0 {
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

// TestReplicatedConfig: topics (created, auto-created by a SEND, deleted, a heartbeat's retry
// topic), subscription groups (created, created by a heartbeat, deleted with their offsets) and
// consumer offsets changed on the leader reach every replica through the log; after the leader
// closes, the new leader serves them.
func TestReplicatedConfig(t *testing.T) {
	replicas := startReplicas(t, 3)
	leader := leaderOf(t, replicas)
	expect(t, leader.call(remoting.RequestUpdateAndCreateTopic, nil, "topic", "RT", "readQueueNums", "3", "writeQueueNums", "3"), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestUpdateAndCreateTopic, nil, "topic", "Gone", "readQueueNums", "1", "writeQueueNums", "1"), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestUpdateAndCreateSubscriptionGroup, []byte(`{"groupName":"rg","retryMaxTimes":5}`)), remoting.ResponseSuccess)
	expect(t, leader.send("Auto", 0, "a", nil), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestDeleteTopicInBroker, nil, "topic", "Gone"), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestUpdateConsumerOffset, nil, "consumerGroup", "rg", "topic", "RT", "queueId", "2", "commitOffset", "42"), remoting.ResponseSuccess)
	// A heartbeat creates its group and retry topic; a deleted group goes with its offsets.
	expect(t, leader.call(remoting.RequestHeartBeat, heartbeatBody("10.0.0.7@hb", "hbg", "RT", "*")), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestUpdateAndCreateSubscriptionGroup, []byte(`{"groupName":"doomed"}`)), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestUpdateConsumerOffset, nil, "consumerGroup", "doomed", "topic", "RT", "queueId", "0", "commitOffset", "5"), remoting.ResponseSuccess)
	time.Sleep(2 * offsetBatchInterval) // the offset reaches the replicas before its deletion
	expect(t, leader.call(remoting.RequestDeleteSubscriptionGroup, nil, "groupName", "doomed", "removeOffset", "true"), remoting.ResponseSuccess)

	for _, r := range replicas {
		waitLong(t, "heartbeat's group, its retry topic and the deleted group on "+r.replica.self.Name, func() bool {
			_, hb := r.groups.get("hbg")
			_, retry := r.topics.get(RetryTopicPrefix + "hbg")
			_, doomed := r.groups.get("doomed")
			_, doomedOffset := r.offsets.query("doomed", "RT", 0)
			return hb && retry && !doomed && !doomedOffset
		})
	}
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
	sameCommitlogs(t, rest...)
}

// TestReplicatedConfigFollowerNoLocalChange: a config write sent to a follower is never applied
// there alone (the tables replicate through the log): the follower forwards it to the leader
// (forward_test.go), and a follower that does not know the leader's address (no name server
// here) refuses it with SERVICE_NOT_AVAILABLE, so the client retries, and changes nothing.
func TestReplicatedConfigFollowerNoLocalChange(t *testing.T) {
	replicas := startReplicas(t, 3)
	leader := leaderOf(t, replicas)
	_, follower := aFollower(replicas, leader)
	expect(t, follower.call(remoting.RequestUpdateAndCreateSubscriptionGroup, []byte(`{"groupName":"local"}`)), remoting.ResponseServiceNotAvailable)
	time.Sleep(300 * time.Millisecond)
	for _, r := range replicas {
		if _, ok := r.groups.get("local"); ok {
			t.Fatalf("replica %s has the group a follower refused", r.replica.self.Name)
		}
	}
}

// TestReplicatedSendDedupe: a send retried with the same UNIQ_KEY is answered with the first
// copy's msgId and offset and stored once, on every replica, also when retried on the next
// leader; a reused UNIQ_KEY with another body is stored.
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
	// A retry on another queue (rocketmq-client-go retries on the next one) is stored there:
	// its answer names the request's queue, where the first copy's offset holds nothing.
	expect(t, leader.send("Dup", 1, "w", props(message.PropertyUniqKey, "AC11000100002A9F0000000000000003")), remoting.ResponseSuccess)
	other := leader.send("Dup", 1, "x", p)
	expect(t, other, remoting.ResponseSuccess)
	if q, off := other.Ext("queueId"), extInt(t, other, "queueOffset"); q != "1" || off != 1 {
		t.Fatalf("a retry on queue 1 answered queue %s offset %d, want queue 1 offset 1 (a copy there; w is at 0)", q, off)
	}
	expect(t, leader.send("Dup", 0, "y", props(message.PropertyUniqKey, "AC11000100002A9F0000000000000002")), remoting.ResponseSuccess)
	// A reused UNIQ_KEY with another body is another message, not a retry.
	reused := leader.send("Dup", 0, "z", props(message.PropertyUniqKey, "AC11000100002A9F0000000000000002"))
	expect(t, reused, remoting.ResponseSuccess)
	if q := extInt(t, reused, "queueOffset"); q != 2 {
		t.Fatalf("a reused key with another body answered offset %d, want a new message at 2", q)
	}
	for _, r := range replicas {
		waitLong(t, "three messages on "+r.replica.self.Name, func() bool {
			return r.Store().MaxOffset("Dup", 0) == 3 && r.Store().MaxOffset("Dup", 1) == 2
		})
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
	if n := next.Store().MaxOffset("Dup", 0); n != 3 {
		t.Fatalf("queue holds %d messages after the retry on the new leader, want 3", n)
	}
}

// restoredMessages returns the units of topic's queue 0 on r as (physical offset, size), waiting
// for dispatch first.
func restoredMessages(t *testing.T, r *testBroker, topic string) []consumequeue.Unit {
	t.Helper()
	r.sync()
	var out []consumequeue.Unit
	r.Store().ScanQueue(topic, 0, 0, func(_ int64, u consumequeue.Unit) bool {
		out = append(out, u)
		return true
	})
	return out
}

// TestReplicatedTransactions: on a replicated group, a commit stores the restored message and
// its op marker in one entry (adjacent records); a repeated end is a no-op, also on the next
// leader; the next leader rebuilds the open transactions from the log and checks back the one
// left unknown, which then commits; followers refuse transactions.
func TestReplicatedTransactions(t *testing.T) {
	replicas := startReplicas(t, 3)
	leader := leaderOf(t, replicas)
	p := newFakeProducer(t, "10.0.0.9@txp", "txg")
	for _, r := range replicas {
		p.heartbeat(r.Addr())
	}
	expect(t, leader.call(remoting.RequestUpdateAndCreateTopic, nil, "topic", "TxT", "readQueueNums", "1", "writeQueueNums", "1"), remoting.ResponseSuccess)
	commit := p.sendHalf(leader.Addr(), "TxT", 0, "commit")
	rollback := p.sendHalf(leader.Addr(), "TxT", 0, "rollback")
	unknown := p.sendHalf(leader.Addr(), "TxT", 0, "unknown")
	expect(t, p.endTransaction(leader.Addr(), commit, message.TransactionCommitType, false), remoting.ResponseSuccess)
	expect(t, p.endTransaction(leader.Addr(), rollback, message.TransactionRollbackType, false), remoting.ResponseSuccess)
	expect(t, p.endTransaction(leader.Addr(), commit, message.TransactionCommitType, false), remoting.ResponseSuccess)

	units := restoredMessages(t, leader, "TxT")
	if len(units) != 1 {
		t.Fatalf("%d restored messages on the leader, want 1", len(units))
	}
	_, next, err := leader.Store().CommitLog().Message(units[0].CommitLogOffset + int64(units[0].Size))
	if err != nil || next.PhysicalOffset != units[0].CommitLogOffset+int64(units[0].Size) {
		t.Fatalf("record after the restored message: %v", err)
	}
	if m, _, _ := leader.Store().CommitLog().Message(next.PhysicalOffset); m.Topic != txn.OpTopic {
		t.Fatalf("the restored message is followed by %s, not its op marker", m.Topic)
	}
	for _, r := range replicas {
		if r == leader {
			continue
		}
		expect(t, p.sendHalfResp(r.Addr(), "TxT", 0, "on-follower"), remoting.ResponseServiceNotAvailable)
	}

	if err := leader.Close(); err != nil {
		t.Fatal(err)
	}
	before := len(p.received())
	rest := without(replicas, leader)
	next2 := leaderOf(t, rest)
	expect(t, p.endTransaction(next2.Addr(), commit, message.TransactionCommitType, false), remoting.ResponseSuccess)
	expect(t, p.endTransaction(next2.Addr(), rollback, message.TransactionCommitType, false), remoting.ResponseIllegalOperation)
	if n := len(restoredMessages(t, next2, "TxT")); n != 1 {
		t.Fatalf("%d restored messages after a repeated commit on the new leader, want 1", n)
	}
	// The new leader checks back the unknown one, and only that one.
	waitLong(t, "a check of the unknown transaction from the new leader", func() bool { return len(p.received()) > before })
	for _, c := range p.received()[before:] {
		if got := c.ext[protocol.FieldCommitLogOffset]; got != strconv.FormatInt(unknown.commitLogOffset, 10) {
			t.Fatalf("new leader checked commitLogOffset %s; only %d is open", got, unknown.commitLogOffset)
		}
	}
	expect(t, p.endTransaction(next2.Addr(), unknown, message.TransactionCommitType, true), remoting.ResponseSuccess)
	for _, r := range rest {
		if r == nil {
			continue
		}
		waitLong(t, "two committed messages on "+r.replica.self.Name, func() bool { return r.Store().MaxOffset("TxT", 0) == 2 })
	}
	if open := next2.Store().Transactions().Open(); len(open) != 0 {
		t.Fatalf("open transactions left on the new leader: %+v", open)
	}
	sameCommitlogs(t, rest...)
}

// TestReplicatedTimers: a timer message is delivered once, by the leader, as an entry: every
// replica holds the copy at the same commitlog offset; after the leader closes, the new leader
// delivers the timer still pending and does not deliver again the one already delivered.
func TestReplicatedTimers(t *testing.T) {
	replicas := startReplicas(t, 3)
	leader := leaderOf(t, replicas)
	expect(t, leader.call(remoting.RequestUpdateAndCreateTopic, nil, "topic", "TmT", "readQueueNums", "1", "writeQueueNums", "1"), remoting.ResponseSuccess)
	expect(t, leader.send("TmT", 0, "early", props(message.PropertyUniqKey, "AC11000100002A9F00000000000000A1", message.PropertyTimerDelayMS, "300")), remoting.ResponseSuccess)
	delivered := func(r *testBroker) []consumequeue.Unit { return restoredMessages(t, r, "TmT") }
	var at int64
	for _, r := range replicas {
		waitLong(t, "the early timer delivered on "+r.replica.self.Name, func() bool { return len(delivered(r)) == 1 })
		off := delivered(r)[0].CommitLogOffset
		if at != 0 && off != at {
			t.Fatalf("the copy is at %d on %s, at %d on another replica", off, r.replica.self.Name, at)
		}
		at = off
	}
	// The copy is an entry of the group's log (not a local append of each replica's timer).
	if got := logBodies(t, leader, "TmT"); len(got) != 1 || got[0] != "early" {
		t.Fatalf("copies in the Raft log: %q, want [early]", got)
	}
	expect(t, leader.send("TmT", 0, "late", props(message.PropertyUniqKey, "AC11000100002A9F00000000000000A2", message.PropertyTimerDelayMS, "2500")), remoting.ResponseSuccess)
	if err := leader.Close(); err != nil {
		t.Fatal(err)
	}
	rest := without(replicas, leader)
	leaderOf(t, rest)
	for _, r := range rest {
		if r == nil {
			continue
		}
		waitLong(t, "the late timer delivered on "+r.replica.self.Name, func() bool { return len(delivered(r)) >= 2 })
	}
	time.Sleep(1500 * time.Millisecond) // a second delivery of either would be in by now
	for _, r := range rest {
		if r == nil {
			continue
		}
		units := delivered(r)
		if len(units) != 2 {
			t.Fatalf("%d copies delivered on %s, want 2 (early once, late once)", len(units), r.replica.self.Name)
		}
		for i, u := range units {
			m, _, err := r.Store().CommitLog().Message(u.CommitLogOffset)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"early", "late"}[i]; string(m.Body) != want {
				t.Fatalf("copy %d on %s is %q, want %q", i, r.replica.self.Name, m.Body, want)
			}
		}
	}
	sameCommitlogs(t, rest...)
}

// logBodies returns the bodies of topic's records in r's Raft log, in log order.
func logBodies(t *testing.T, r *testBroker, topic string) []string {
	t.Helper()
	first, err1 := r.replica.rlog.FirstIndex()
	last, err2 := r.replica.rlog.LastIndex()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	var out []string
	for i := first; i <= last; i++ {
		if err := r.replica.rlog.EntryRecords(i, func(_ int64, data []byte) {
			for _, rec := range records(t, data) {
				if string(rec.Topic) == topic {
					out = append(out, string(rec.Body))
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestReplicatedSendRetryAfterTimeout: a send whose commit the leader cannot confirm in time
// (both followers down) is answered with an error and stays in the leader's log; once a
// follower is back the entry commits, and the client's retry of the same message is answered
// with the first copy's msgId and offset: the queue holds it once.
func TestReplicatedSendRetryAfterTimeout(t *testing.T) {
	replicas := startReplicas(t, 3, shortReplicateTimeout)
	leader := leaderOf(t, replicas)
	expect(t, leader.call(remoting.RequestUpdateAndCreateTopic, nil, "topic", "Retry1", "readQueueNums", "1", "writeQueueNums", "1"), remoting.ResponseSuccess)
	peers := leader.cfg.DLegerPeers
	var down []int
	for i, r := range replicas {
		if r != leader {
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			down = append(down, i)
		}
	}
	p := props(message.PropertyUniqKey, "AC11000100002A9F00000000000000B1")
	first := leader.send("Retry1", 0, "once", p)
	if first.ResponseCode() == remoting.ResponseSuccess {
		t.Fatal("a send without a quorum succeeded")
	}
	// One follower comes back: the leader's tail (the send) commits, under this leader or the
	// next one.
	back := startReplica(t, peers, down[0], replicas[down[0]].dir, shortReplicateTimeout)
	next := leaderOf(t, []*testBroker{leader, back})
	waitLong(t, "the timed-out send committed", func() bool { return next.Store().MaxOffset("Retry1", 0) == 1 })
	retry := next.send("Retry1", 0, "once", p)
	expect(t, retry, remoting.ResponseSuccess)
	if q := extInt(t, retry, "queueOffset"); q != 0 {
		t.Fatalf("the retry answered queue offset %d; the first copy is at 0", q)
	}
	time.Sleep(200 * time.Millisecond)
	if n := next.Store().MaxOffset("Retry1", 0); n != 1 {
		t.Fatalf("the queue holds %d messages after the retry, want 1", n)
	}
}

// sameCommitlogs fails unless the stores of the replicas hold the same records at the same
// offsets (the byte-identical commitlog a replicated group promises), up to the shortest.
func sameCommitlogs(t *testing.T, replicas ...*testBroker) {
	t.Helper()
	var live []*testBroker
	for _, r := range replicas {
		if r != nil {
			live = append(live, r)
		}
	}
	for _, r := range live {
		r.sync()
	}
	end := live[0].Store().CommitLog().MaxOffset()
	for _, r := range live[1:] {
		end = min(end, r.Store().CommitLog().MaxOffset())
	}
	records := 0
	for off := int64(0); off < end; records++ {
		var size int32
		for i, r := range live {
			m, rec, err := r.Store().CommitLog().Message(off)
			if err != nil {
				t.Fatalf("%s: record at %d: %v", r.replica.self.Name, off, err)
			}
			first, _, _ := live[0].Store().CommitLog().Message(off)
			if i > 0 && (m.Topic != first.Topic || string(m.Body) != string(first.Body) || m.SysFlag != first.SysFlag || rec.TotalSize != size) {
				t.Fatalf("the record at %d differs: %s has %s %q, %s has %s %q", off,
					live[0].replica.self.Name, first.Topic, first.Body, r.replica.self.Name, m.Topic, m.Body)
			}
			size = rec.TotalSize
		}
		off += int64(size)
	}
	if records == 0 {
		t.Fatal("no records compared")
	}
}

// TestReplicaFailedFailStops: a replica whose apply fails (here: its store was closed under it)
// stops, and the broker reports it through ReplicaFailed / ReplicaErr, which mqstore turns into
// a non-zero exit; a healthy replica's channel stays open, and single-node mode has none.
func TestReplicaFailedFailStops(t *testing.T) {
	replicas := startReplicas(t, 3)
	leader := leaderOf(t, replicas)
	_, follower := aFollower(replicas, leader)
	if err := follower.store.Close(); err != nil {
		t.Fatal(err)
	}
	expect(t, leader.send("FailStop", 0, "x", nil), remoting.ResponseSuccess)
	select {
	case <-follower.ReplicaFailed():
	case <-time.After(15 * time.Second):
		t.Fatal("the replica whose apply failed did not report it")
	}
	if follower.ReplicaErr() == nil {
		t.Fatal("ReplicaErr is nil after ReplicaFailed")
	}
	select {
	case <-leader.ReplicaFailed():
		t.Fatalf("the healthy leader reported a failure: %v", leader.ReplicaErr())
	default:
	}
	if single := startBroker(t, nil); single.ReplicaFailed() != nil {
		t.Fatal("a single-node broker has a ReplicaFailed channel")
	}
}

// shortReplicateTimeout makes a replica's sends give up waiting for their quorum after 300 ms.
func shortReplicateTimeout(o *Options) {
	inner := o.Store
	o.Store = func(so *store.Options) {
		if inner != nil {
			inner(so)
		}
		so.ReplicateTimeout = 300 * time.Millisecond
	}
}
