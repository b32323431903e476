package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
)

// batchSend is one SEND of the batching tests and its answer.
type batchSend struct {
	queue  int
	body   string
	props  message.Properties
	keyed  bool
	code   remoting.ResponseCode
	msgID  string
	offset int64
	err    error
}

// sendConcurrently sends every message of sends on tb from its own goroutine at once (so that
// the leader coalesces them into shared entries) and records the answers.
func sendConcurrently(tb *testBroker, topic string, sends []*batchSend) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, s := range sends {
		wg.Go(func() {
			<-start
			req := remoting.NewRequest(remoting.RequestSendMessage)
			args := sendArgs(topic, s.queue, s.props)
			for i := 0; i+1 < len(args); i += 2 {
				req.SetExt(args[i], args[i+1])
			}
			req.Body = []byte(s.body)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := tb.client.Invoke(ctx, tb.Addr(), req)
			if err != nil {
				s.err = err
				return
			}
			defer resp.Release()
			s.code = resp.ResponseCode()
			s.msgID = resp.Ext("msgId")
			s.offset, s.err = strconv.ParseInt(resp.Ext("queueOffset"), 10, 64)
			if s.code != remoting.ResponseSuccess {
				s.err = nil
			}
		})
	}
	close(start)
	wg.Wait()
}

// batchMessages returns n messages over queues 0..3, two in three of them with a UNIQ_KEY
// (dedupe keys them) and the rest without (runs of both classes are in flight together).
func batchMessages(tag string, n int) []*batchSend {
	var out []*batchSend
	for i := range n {
		s := &batchSend{queue: i % 4, body: fmt.Sprintf("%s-%03d", tag, i)}
		if i%3 != 2 {
			s.keyed = true
			s.props = props(message.PropertyUniqKey, fmt.Sprintf("AC11000100002A9F%016X", i))
		}
		out = append(out, s)
	}
	return out
}

// TestReplicatedBatchedSends: many concurrent SENDs to a replicated group's leader (coalesced
// into shared Raft entries) each get their own msgId and queue offset, offsets are dense per
// queue, each answered position holds that send's body; concurrent retries of the keyed ones
// are answered from their first copies (not stored again); the commitlogs are identical.
func TestReplicatedBatchedSends(t *testing.T) {
	replicas := startReplicas(t, 3)
	leader := leaderOf(t, replicas)
	expect(t, leader.call(remoting.RequestUpdateAndCreateTopic, nil, "topic", "Batched", "readQueueNums", "4", "writeQueueNums", "4"), remoting.ResponseSuccess)
	firstIndex, _ := leader.replica.rlog.LastIndex()
	sends := batchMessages("m", 96)
	sendConcurrently(leader, "Batched", sends)

	ids := map[string]*batchSend{}
	at := map[[2]int64]*batchSend{}
	for _, s := range sends {
		if s.err != nil || s.code != remoting.ResponseSuccess {
			t.Fatalf("send %s: code %v, err %v", s.body, s.code, s.err)
		}
		if o := ids[s.msgID]; o != nil || s.msgID == "" {
			t.Fatalf("sends %s and %v answered the same msgId %q", s.body, o, s.msgID)
		}
		ids[s.msgID] = s
		pos := [2]int64{int64(s.queue), s.offset}
		if o := at[pos]; o != nil {
			t.Fatalf("sends %s and %s answered the same position %v", s.body, o.body, pos)
		}
		at[pos] = s
	}
	for q := range 4 {
		got := leader.delivered("Batched", int32(q))
		if len(got) != len(sends)/4 {
			t.Fatalf("queue %d holds %d messages, want %d", q, len(got), len(sends)/4)
		}
		for off, rec := range got {
			s := at[[2]int64{int64(q), int64(off)}]
			if s == nil {
				t.Fatalf("queue %d offset %d holds %q, which no answer named (offsets not dense)", q, off, rec.Body)
			}
			if string(rec.Body) != s.body {
				t.Fatalf("queue %d offset %d holds %q, but the send answered with it was %q", q, off, rec.Body, s.body)
			}
			if id := message.OffsetMsgID(rec.StoreHost, rec.PhysicalOffset); id != s.msgID {
				t.Fatalf("send %q answered msgId %s, its record is %s", s.body, s.msgID, id)
			}
		}
	}
	lastIndex, _ := leader.replica.rlog.LastIndex()
	t.Logf("%d sends in %d entries", len(sends), lastIndex-firstIndex)

	// Concurrent retries of the keyed sends: answered with the first copies' positions.
	var retries []*batchSend
	for _, s := range sends {
		if s.keyed {
			retries = append(retries, &batchSend{queue: s.queue, body: s.body, props: s.props, keyed: true})
		}
	}
	sendConcurrently(leader, "Batched", retries)
	for i, r := range retries {
		first := sends[i+i/2] // two keyed sends in every three
		if r.err != nil || r.code != remoting.ResponseSuccess || r.msgID != first.msgID || r.offset != first.offset {
			t.Fatalf("retry of %s: code %v err %v msgId %s offset %d; first copy %s at %d", r.body, r.code, r.err, r.msgID, r.offset, first.msgID, first.offset)
		}
	}
	for q := range 4 {
		if n := leader.Store().MaxOffset("Batched", int32(q)); n != int64(len(sends)/4) {
			t.Fatalf("queue %d holds %d messages after the retries, want %d", q, n, len(sends)/4)
		}
	}
	for _, r := range replicas {
		waitLong(t, "every send on "+r.replica.self.Name, func() bool {
			total := int64(0)
			for q := range 4 {
				total += r.Store().MaxOffset("Batched", int32(q))
			}
			return total == int64(len(sends))
		})
	}
	sameCommitlogs(t, replicas...)
}

// TestReplicatedBatchedSendsWithoutQuorum: concurrent SENDs to a leader that lost its quorum
// all fail, none with SUCCESS: those in entries it stored time out (SYSTEM_ERROR, outcome
// unknown), later ones are refused (SERVICE_NOT_AVAILABLE). Once a follower is back the stored
// entries commit, and the clients' retries (same keys, bodies, queues) leave each message
// stored exactly once.
func TestReplicatedBatchedSendsWithoutQuorum(t *testing.T) {
	replicas := startReplicas(t, 3, shortReplicateTimeout)
	leader := leaderOf(t, replicas)
	expect(t, leader.call(remoting.RequestUpdateAndCreateTopic, nil, "topic", "NoQuorum", "readQueueNums", "4", "writeQueueNums", "4"), remoting.ResponseSuccess)
	var down []int
	for i, r := range replicas {
		if r != leader {
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			down = append(down, i)
		}
	}
	var sends []*batchSend
	for _, s := range batchMessages("q", 48) {
		if s.keyed { // only keyed sends: an unkeyed retry is a new message by design
			sends = append(sends, s)
		}
	}
	sendConcurrently(leader, "NoQuorum", sends)
	for _, s := range sends {
		switch {
		case s.err != nil:
			t.Fatalf("send %s: %v", s.body, s.err)
		case s.code != remoting.ResponseSystemError && s.code != remoting.ResponseServiceNotAvailable:
			t.Fatalf("send %s without a quorum answered %v, want SYSTEM_ERROR or SERVICE_NOT_AVAILABLE", s.body, s.code)
		}
	}
	// Retries are deduplicated once the first copies are applied (a retry that arrives while a
	// timed-out copy is still uncommitted is stored again: TestReplicatedSendRetryAfterTimeout):
	// wait until the stored entries committed and were applied on both.
	stored, _ := leader.replica.rlog.LastIndex()
	back := startReplica(t, leader.cfg.DLegerPeers, down[0], replicas[down[0]].dir, shortReplicateTimeout)
	waitLong(t, "the stored entries applied", func() bool {
		for _, r := range []*testBroker{leader, back} {
			st, err := r.replica.group.Status(context.Background())
			if err != nil || st.Applied < stored {
				return false
			}
		}
		return true
	})
	next := leaderOf(t, []*testBroker{leader, back})
	retries := make([]*batchSend, len(sends))
	for i, s := range sends {
		retries[i] = &batchSend{queue: s.queue, body: s.body, props: s.props, keyed: true}
	}
	waitLong(t, "retries answered", func() bool {
		sendConcurrently(next, "NoQuorum", retries)
		for _, r := range retries {
			if r.err != nil || r.code != remoting.ResponseSuccess {
				return false
			}
		}
		return true
	})
	for q := range 4 {
		seen := map[string]bool{}
		for _, rec := range next.delivered("NoQuorum", int32(q)) {
			if seen[string(rec.Body)] {
				t.Fatalf("queue %d holds %q twice", q, rec.Body)
			}
			seen[string(rec.Body)] = true
		}
		if len(seen) != len(sends)/4 {
			t.Fatalf("queue %d holds %d messages, want %d", q, len(seen), len(sends)/4)
		}
	}
}

// keyedRun encodes one message of topic with a UNIQ_KEY, stamped as a leader's put stamps it.
func keyedRun(t *testing.T, tb *testBroker, topic string, i int) []byte {
	t.Helper()
	m := &message.Message{Topic: topic, QueueID: int32(i % 4), Body: []byte(fmt.Sprintf("r-%03d", i)),
		BornTimestamp: time.Now().UnixMilli(), BornHost: tb.replica.host, StoreHost: tb.replica.host}
	m.SetProperty(message.PropertyUniqKey, fmt.Sprintf("AC11000100002A9FC0DE%012X", i))
	rec, err := message.AppendRecord(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	message.PatchRecord(rec, 0, 0, m.BornTimestamp)
	return rec
}

// replicateConcurrently calls tb's Replicator with every run at once, each with its own
// timeout, and returns the errors.
func replicateConcurrently(tb *testBroker, runs [][]byte, timeout func(i int) time.Duration) []error {
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, run := range runs {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), timeout(i))
			defer cancel()
			res, err := tb.replica.Replicate(ctx, run)
			if err == nil && len(res) != 1 {
				err = fmt.Errorf("%d results for one record", len(res))
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// TestReplicatedBatchCallers: the batcher through the store's seam (store.Replicator): on a
// follower every concurrent caller is refused with ErrServiceNotAvailable (a retry is safe);
// on the leader, callers whose deadline passes while they queue or wait give up without
// stalling the others, and the proposer's turn survives them: every later call succeeds.
func TestReplicatedBatchCallers(t *testing.T) {
	replicas := startReplicas(t, 3)
	leader := leaderOf(t, replicas)
	expect(t, leader.call(remoting.RequestUpdateAndCreateTopic, nil, "topic", "Callers", "readQueueNums", "4", "writeQueueNums", "4"), remoting.ResponseSuccess)
	var runs [][]byte
	for i := range 64 {
		runs = append(runs, keyedRun(t, leader, "Callers", i))
	}
	long := func(int) time.Duration { return 10 * time.Second }
	for _, r := range replicas {
		if r == leader {
			continue
		}
		for i, err := range replicateConcurrently(r, runs[:16], long) {
			if !errors.Is(err, store.ErrServiceNotAvailable) {
				t.Fatalf("follower %s, caller %d: %v, want ErrServiceNotAvailable", r.replica.self.Name, i, err)
			}
		}
	}
	// Half the callers with a deadline that passes while they queue or wait.
	short := func(i int) time.Duration {
		if i%2 == 0 {
			return time.Duration(i%5) * 100 * time.Microsecond
		}
		return 10 * time.Second
	}
	errs := replicateConcurrently(leader, runs[16:48], short)
	for i, err := range errs {
		if i%2 == 1 && err != nil {
			t.Fatalf("caller %d with time to spare: %v", 16+i, err)
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("caller %d: %v, want success or its deadline", 16+i, err)
		}
	}
	for i, err := range replicateConcurrently(leader, runs[48:], long) {
		if err != nil {
			t.Fatalf("caller %d after the cancelled ones: %v", 48+i, err)
		}
	}
}
