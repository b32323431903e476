package broker

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/remoting"
)

// readAll reads every message of topic's queue 0 on r and returns their bodies in queue order.
func readAll(t *testing.T, r *testBroker, topic string) []string {
	t.Helper()
	r.sync()
	var out []string
	for offset := int64(0); ; {
		res, err := r.Store().GetMessages(topic, 0, offset, 64, 1<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range res.Messages {
			var rec message.Record
			if _, err := message.DecodeRecord(raw, &rec, true); err != nil {
				t.Fatal(err)
			}
			out = append(out, string(rec.Body))
		}
		n := len(res.Messages)
		offset = res.NextBeginOffset
		res.Release()
		if n == 0 {
			return out
		}
	}
}

// segmentBytes concatenates the commitlog segments of a replica's Raft log (which starts at 0)
// and returns its first end bytes (a preallocated next segment is not content).
func segmentBytes(t *testing.T, r *testBroker, end int64) []byte {
	t.Helper()
	dir := filepath.Join(r.dir, "raft", "commitlog")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	if int64(len(out)) < end {
		t.Fatalf("%s holds %d bytes of commitlog, want %d", r.replica.self.Name, len(out), end)
	}
	return out[:end]
}

// TestReplicaRestartResumes: a replica's store reads the Raft log's own segments (no second
// copy under replica/), and a restarted replica resumes applying after what its store had
// dispatched instead of re-applying the log from entry 1; it then serves every message, old and
// new, and its config; the commitlogs stay byte-identical.
func TestReplicaRestartResumes(t *testing.T) {
	replicas := startReplicas(t, 3)
	leader := leaderOf(t, replicas)
	const before, after = 40, 10
	var want []string
	for i := range before {
		body := fmt.Sprintf("m%03d", i)
		want = append(want, body)
		expect(t, leader.send("Resume", 0, body, props(message.PropertyUniqKey, fmt.Sprintf("AC110001000000000000000000%06d", i))), remoting.ResponseSuccess)
	}
	idx, follower := aFollower(replicas, leader)
	waitLong(t, "the follower's copy", func() bool { return follower.Store().MaxOffset("Resume", 0) == before })
	for _, r := range replicas {
		if _, err := os.Stat(filepath.Join(r.dir, "replica", "commitlog")); !os.IsNotExist(err) {
			t.Fatalf("%s keeps a second commitlog under replica/ (%v)", r.replica.self.Name, err)
		}
	}
	dir, peers := follower.dir, follower.cfg.DLegerPeers
	if err := follower.Close(); err != nil {
		t.Fatal(err)
	}
	restarted := startReplica(t, peers, idx, dir)
	if got := restarted.replica.startApplied; got < before {
		t.Fatalf("the restarted replica resumed after entry %d, want at least %d (the entries its store had dispatched): it re-applies the log", got, before)
	}
	if info := restarted.Store().Recovery(); info.Redispatched != 0 {
		t.Fatalf("a clean restart re-dispatched %d bytes", info.Redispatched)
	}
	// The dedupe table knows the sends before the resume point (rebuilt from the log's tail):
	// a retry of the first one would be answered with its first copy's place.
	var firstSend []byte
	firstIndex, _ := restarted.replica.rlog.FirstIndex()
	for i := firstIndex; firstSend == nil; i++ {
		restarted.replica.rlog.EntryRecords(i, func(_ int64, records []byte) {
			if len(records) > 0 && strings.Contains(string(records), "m000") {
				firstSend = append([]byte(nil), records...)
			}
		})
	}
	if res, _, ok, err := restarted.replica.state.dedupe(context.Background(), firstSend); err != nil || !ok || len(res) != 1 || res[0].QueueOffset != 0 {
		t.Fatalf("the restarted replica's dedupe table does not know the first send: %v %v %+v", ok, err, res)
	}
	replicas[idx] = restarted
	leader = leaderOf(t, replicas)
	for i := range after {
		body := fmt.Sprintf("n%03d", i)
		want = append(want, body)
		expect(t, leader.send("Resume", 0, body, nil), remoting.ResponseSuccess)
	}
	for _, r := range replicas {
		waitLong(t, "every message on "+r.replica.self.Name, func() bool { return r.Store().MaxOffset("Resume", 0) == before+after })
		if got := readAll(t, r, "Resume"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s serves %v, want %v", r.replica.self.Name, got, want)
		}
		if _, ok := r.topics.get("Resume"); !ok {
			t.Fatalf("%s lost the topic's config", r.replica.self.Name)
		}
	}
	end := leader.replica.rlog.End()
	for _, r := range replicas {
		waitLong(t, "the whole log on "+r.replica.self.Name, func() bool { return r.replica.rlog.End() == end })
	}
	first := segmentBytes(t, replicas[0], end)
	for _, r := range replicas[1:] {
		if other := segmentBytes(t, r, end); !bytes.Equal(first, other) {
			t.Fatalf("the commitlogs of %s and %s differ", replicas[0].replica.self.Name, r.replica.self.Name)
		}
	}
}
