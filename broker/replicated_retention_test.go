package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqstore/mqstore/consumequeue"
	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
)

// readLogRange reads [from, to) of r's Raft commitlog from its segment files (named by their
// start offset); an error wraps
// fs.ErrNotExist when retention removed a segment meanwhile.
func readLogRange(r *testBroker, from, to int64) ([]byte, error) {
	seg := r.cfg.MappedFileSizeCommitLog
	var out []byte
	for off := from; off < to; {
		start := off - off%seg
		b, err := os.ReadFile(filepath.Join(r.dir, "raft", "commitlog", mapped.FileName(start)))
		if err != nil {
			return nil, err
		}
		end := min(to, start+seg)
		out = append(out, b[off-start:end-start]...)
		off = end
	}
	return out, nil
}

// hasFile reports whether dir holds the file of the segment or raftidx file starting at 0.
func hasFirstFile(t *testing.T, dir string) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(dir, mapped.FileName(0)))
	return err == nil
}

// TestReplicatedRetention: with small segments and a short fileReservedTime, retention compacts
// the Raft log on every replica (old segments and raftidx files deleted) while the group keeps
// working and consumers below the minimum get the offset correction; a follower stopped while
// the leader compacted past it by force (the disk above diskMaxUsedSpaceRatio) comes back
// through a snapshot and serves the messages after it, byte-identical to the others.
func TestReplicatedRetention(t *testing.T) {
	rig := newRetentionRig(t, 31)
	replicas, leader := rig.startGroup()
	send := func(n int) { rig.sendNumbered(leader, "Ret", "r", n) }
	send(1400) // about 22 segments, 1400 raftidx rows (1024 per file)
	for _, r := range replicas {
		// Longer than waitLong: under a loaded -race run a replica's retention passes lag.
		deadline := time.Now().Add(45 * time.Second)
		for {
			first, _ := r.replica.rlog.FirstIndex()
			if first > 1024 && !hasFirstFile(t, filepath.Join(r.dir, "raft", "commitlog")) &&
				!hasFirstFile(t, filepath.Join(r.dir, "raft", "raftidx")) {
				break
			}
			if time.Now().After(deadline) {
				last, _ := r.replica.rlog.LastIndex()
				st := r.Store()
				t.Fatalf("timed out waiting for compaction on %s: first index %d, last %d, applied %d, %d segments, role %+v; "+
					"store: visible %d, dispatched %d, min %d, Ret max %d of %d, err %v",
					r.replica.self.Name, first, last, r.replica.applied.Load(), st.CommitLog().Segments(), r.replica.group.Role(),
					st.MaxPhysicalOffset(), st.DispatchedOffset(), st.MinPhysicalOffset(), st.MaxOffset("Ret", 0), rig.sent, st.Err())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	send(20) // the group goes on
	for _, r := range replicas {
		waitLong(t, "every message on "+r.replica.self.Name, func() bool { return r.Store().MaxOffset("Ret", 0) == int64(rig.sent) })
		res, err := r.Store().GetMessages("Ret", 0, 0, 1, 1<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != store.OffsetTooSmall || res.NextBeginOffset <= 0 || res.NextBeginOffset != r.Store().MinOffset("Ret", 0) {
			t.Fatalf("%s answered a read below the minimum with %v, next %d (queue minimum %d)", r.replica.self.Name,
				res.Status, res.NextBeginOffset, r.Store().MinOffset("Ret", 0))
		}
		res.Release()
	}

	// Config the follower holds and the leader deletes while it is down.
	expect(t, leader.send("RetOld", 0, "a topic deleted while the follower is down", nil), remoting.ResponseSuccess)
	expect(t, leader.send("RetRe", 0, "a topic deleted and created again while the follower is down", nil), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestUpdateAndCreateSubscriptionGroup, []byte(`{"groupName":"gOld"}`)), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestUpdateConsumerOffset, nil, "consumerGroup", "gOld", "topic", "Ret", "queueId", "0",
		"commitOffset", "5"), remoting.ResponseSuccess)
	oldConfig := func(r *testBroker) (topic, group, offset bool) {
		_, topic = r.topics.get("RetOld")
		_, group = r.groups.get("gOld")
		_, offset = r.offsets.query("gOld", "Ret", 0)
		return
	}
	// A follower stops; the leader compacts past it only by force.
	idx, stopped := aFollower(replicas, leader)
	waitLong(t, "the config on the follower", func() bool {
		topic, group, offset := oldConfig(stopped)
		return topic && group && offset
	})
	stoppedLast, _ := stopped.replica.rlog.LastIndex()
	dir := stopped.dir
	if err := stopped.Close(); err != nil {
		t.Fatal(err)
	}
	expect(t, leader.send("RetNew", 0, "a topic created while the follower is down", nil), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestDeleteTopicInBroker, nil, "topic", "RetOld"), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestDeleteSubscriptionGroup, nil, "groupName", "gOld", "removeOffset", "true"), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestDeleteTopicInBroker, nil, "topic", "RetRe"), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestUpdateAndCreateTopic, nil, "topic", "RetRe", "readQueueNums", "1", "writeQueueNums", "1"),
		remoting.ResponseSuccess)
	retNewLast, _ := leader.replica.rlog.LastIndex()
	send(200)
	time.Sleep(300 * time.Millisecond) // several retention passes
	if first, _ := leader.replica.rlog.FirstIndex(); first > stoppedLast+1 {
		t.Fatalf("the leader compacted to %d past the stopped follower's last entry %d without force", first, stoppedLast)
	}
	rig.usage.Store(math.Float64bits(0.8)) // above diskMaxUsedSpaceRatio (0.75), below the full ratio
	waitLong(t, "a forced compaction past the stopped follower", func() bool {
		first, _ := leader.replica.rlog.FirstIndex()
		return first > max(stoppedLast, retNewLast)+1
	})
	rig.usage.Store(0)
	// The follower keeps its segments from now on: its queue minimum stays where the snapshot
	// put it (its own retention would move it, as on any replica).
	rig.keep.Store(true)
	back := rig.start(idx, dir)
	replicas[idx] = back
	waitLong(t, "the follower back through a snapshot", func() bool {
		return back.replica.rlog.Base() > 0 && back.Store().MaxOffset("Ret", 0) == int64(rig.sent)
	})
	if _, ok := back.topics.get("RetNew"); !ok {
		t.Fatal("the follower lacks the config of a topic created before its snapshot")
	}
	if topic, group, offset := oldConfig(back); topic || group || offset {
		t.Fatalf("after the snapshot the follower still holds config the leader deleted: topic %v, group %v, offset %v", topic, group, offset)
	}
	// A queue whose records all lie below the snapshot starts at the snapshot's queue offset at
	// once (it gets no record after it), as on the leader.
	if lo, hi := back.Store().MinOffset("RetNew", 0), back.Store().MaxOffset("RetNew", 0); lo != 1 || hi != 1 {
		t.Fatalf("after the snapshot the follower's RetNew queue is [%d, %d), want [1, 1) (leader [%d, %d))", lo, hi,
			leader.Store().MinOffset("RetNew", 0), leader.Store().MaxOffset("RetNew", 0))
	}
	// A topic deleted and created again reads from 0 until its next message, on the leader as
	// on the follower.
	if lo, hi := back.Store().MinOffset("RetRe", 0), back.Store().MaxOffset("RetRe", 0); lo != 0 || hi != 0 {
		t.Fatalf("after the snapshot the follower's re-created RetRe queue is [%d, %d), want [0, 0) (leader [%d, %d))", lo, hi,
			leader.Store().MinOffset("RetRe", 0), leader.Store().MaxOffset("RetRe", 0))
	}
	send(10)
	waitLong(t, "the new messages on the follower", func() bool { return back.Store().MaxOffset("Ret", 0) == int64(rig.sent) })
	// Every message after the snapshot reads on the follower as it was rig.sent (its body starts
	// with its queue offset: the leader's, whose own retention goes on meanwhile).
	minOff := back.Store().MinOffset("Ret", 0)
	if minOff <= 0 {
		t.Fatalf("the follower's queue starts at %d after a snapshot", minOff)
	}
	back.sync()
	for off := minOff; off < int64(rig.sent); {
		res, err := back.Store().GetMessages("Ret", 0, off, 64, 1<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Messages) == 0 {
			t.Fatalf("the follower has no message at %d (status %v)", off, res.Status)
		}
		for i, raw := range res.Messages {
			if got, want := string(records(t, raw)[0].Body[:6]), fmt.Sprintf("%06d", off+int64(i)); got != want {
				t.Fatalf("the follower serves message %s at queue offset %s", got, want)
			}
		}
		off = res.NextBeginOffset
		res.Release()
	}
	end := leader.replica.rlog.End()
	for _, r := range replicas {
		waitLong(t, "the whole log on "+r.replica.self.Name, func() bool { return r.replica.rlog.End() == end })
	}
	// The leader's retention goes on (1 ms reserved time): compare from the higher of the two
	// minimums, again if a segment went meanwhile.
	for attempt := 0; ; attempt++ {
		from := max(back.replica.rlog.Base(), back.Store().MinPhysicalOffset(), leader.Store().MinPhysicalOffset())
		a, errA := readLogRange(back, from, end)
		b, errB := readLogRange(leader, from, end)
		if err := errors.Join(errA, errB); err != nil {
			if errors.Is(err, fs.ErrNotExist) && attempt < 20 {
				continue
			}
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("the follower's commitlog [%d, %d) differs from the leader's", from, end)
		}
		break
	}
	// Restarted, the follower reopens at its snapshot's base with the same queue and config.
	if err := back.Close(); err != nil {
		t.Fatal(err)
	}
	again := rig.start(idx, dir)
	if again.replica.rlog.Base() != back.replica.rlog.Base() || again.Store().MinOffset("Ret", 0) != minOff ||
		again.Store().MaxOffset("Ret", 0) != int64(rig.sent) {
		t.Fatalf("after a restart: base %d (was %d), queue [%d, %d) (want [%d, %d))", again.replica.rlog.Base(), back.replica.rlog.Base(),
			again.Store().MinOffset("Ret", 0), again.Store().MaxOffset("Ret", 0), minOff, rig.sent)
	}
	if _, ok := again.topics.get("RetNew"); !ok {
		t.Fatal("the restarted follower lost the topic config it got from the snapshot")
	}
	if topic, group, offset := oldConfig(again); topic || group || offset {
		t.Fatalf("the restarted follower's config files hold what the snapshot deleted: topic %v, group %v, offset %v", topic, group, offset)
	}
	if lo, hi := again.Store().MinOffset("RetNew", 0), again.Store().MaxOffset("RetNew", 0); lo != 1 || hi != 1 {
		t.Fatalf("after a restart the follower's RetNew queue is [%d, %d), want [1, 1)", lo, hi)
	}
}

// TestReplicatedTimerRoll: in a replicated group whose retention removes segments 4 s after
// their last write, a timer due in 6.5 s is rolled by the leader (its record put again, as an
// entry, every 2 s: the roll window is half the reserved time) and delivered once, on every
// replica, although the segment of its first record is gone. Each roll is a new put of the same
// UNIQ_KEY and body: the group's dedupe keys it by its roll count, or it would take the roll for
// a retry of the first put and store nothing.
func TestReplicatedTimerRoll(t *testing.T) {
	retention := func(o *Options) {
		o.Store = func(so *store.Options) {
			so.ConsumeQueueUnits = 1000
			so.FileReservedTime = 4 * time.Second
			so.CleanInterval = 50 * time.Millisecond
			so.CheckpointInterval = 50 * time.Millisecond
			so.DiskUsage = func(string) (float64, error) { return 0.1, nil } // retention by age only
		}
	}
	var peers []string
	for i := range 3 {
		peers = append(peers, fmt.Sprintf("n%d-%s", i, freeAddr(t, 164+i)))
	}
	var replicas []*testBroker
	for i := range 3 {
		replicas = append(replicas, startBroker(t, func(c *Config) {
			c.BrokerName = "rs"
			c.EnableDLegerCommitLog = true
			c.DLegerPeers = strings.Join(peers, ";")
			c.DLegerSelfID = fmt.Sprintf("n%d", i)
			c.MappedFileSizeCommitLog = 64 << 10
			c.MaxMessageSize = 16 << 10
			c.TimerPrecisionMs = 100
		}, retention))
	}
	leader := leaderOf(t, replicas)
	expect(t, leader.call(remoting.RequestUpdateAndCreateTopic, nil, "topic", "Roll", "readQueueNums", "1", "writeQueueNums", "1"), remoting.ResponseSuccess)
	sent := time.Now().UnixMilli()
	expect(t, leader.send("Roll", 0, "rolled", props(message.PropertyUniqKey, "AC11000100002A9F00000000000000B1", message.PropertyTimerDelayMS, "6500")),
		remoting.ResponseSuccess)
	var first int64 = -1
	waitLong(t, "the timer record", func() bool {
		leader.Store().ScanQueue(store.TimerTopic, 0, 0, func(_ int64, u consumequeue.Unit) bool { first = u.CommitLogOffset; return false })
		return first >= 0
	})
	// Filler traffic: a segment every ~0.3 s, so retention has expired segments to remove.
	stop := make(chan struct{})
	fillerDone := make(chan struct{})
	go func() {
		defer close(fillerDone)
		body := []byte(strings.Repeat("f", 4<<10))
		for {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			req := remoting.NewRequest(remoting.RequestSendMessage)
			args := sendArgs("Fill", 0, nil)
			for i := 0; i+1 < len(args); i += 2 {
				req.SetExt(args[i], args[i+1])
			}
			req.Body = body
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if resp, err := leader.client.Invoke(ctx, leader.Addr(), req); err == nil {
				resp.Release()
			}
			cancel()
		}
	}()
	defer func() { close(stop); <-fillerDone }()
	for _, r := range replicas {
		deadline := time.Now().Add(20 * time.Second)
		for len(restoredMessages(t, r, "Roll")) < 1 {
			if time.Now().After(deadline) {
				t.Fatalf("the timer is not delivered on %s: leader %s timer stats %+v, timer queue [%d, %d), commitlog minimum %d",
					r.replica.self.Name, leader.replica.self.Name, leader.Store().TimerStats(), leader.Store().MinOffset(store.TimerTopic, 0),
					leader.Store().MaxOffset(store.TimerTopic, 0), leader.Store().MinPhysicalOffset())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(500 * time.Millisecond) // a second copy would be in by now
	for _, r := range replicas {
		units := restoredMessages(t, r, "Roll")
		if len(units) != 1 {
			t.Fatalf("%d copies on %s, want 1", len(units), r.replica.self.Name)
		}
		m, rec, err := r.Store().CommitLog().Message(units[0].CommitLogOffset)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := m.Property(message.PropertyTimerOutMS)
		due, _ := strconv.ParseInt(out, 10, 64)
		if string(m.Body) != "rolled" || due < sent+6500 || rec.StoreTimestamp < due {
			t.Fatalf("copy on %s: %q stored at %d, due %d (sent at %d + 6.5 s)", r.replica.self.Name, m.Body, rec.StoreTimestamp, due, sent)
		}
	}
	if st := leader.Store().TimerStats(); st.Rolled < 2 || st.Skipped != 0 {
		t.Errorf("leader's timer stats %+v: want at least 2 rolls and no skip", st)
	}
	if min := leader.Store().MinPhysicalOffset(); min <= first {
		t.Errorf("retention kept the timer's first record at %d (minimum %d): the roll was not needed", first, min)
	}
}

// retentionRig starts the replicas of a 3-replica group whose store reclaims segments at once
// (fileReservedTime 1 ms) and measures the disk usage the test sets; replicas started after
// keep is set keep their segments for an hour.
type retentionRig struct {
	t     *testing.T
	usage atomic.Uint64 // math.Float64bits of the disk usage every replica measures
	keep  atomic.Bool
	peers []string
	sent  int // messages sendNumbered sent
}

func newRetentionRig(t *testing.T, firstAlias int) *retentionRig {
	r := &retentionRig{t: t}
	for i := range 3 {
		r.peers = append(r.peers, fmt.Sprintf("n%d-%s", i, freeAddr(t, firstAlias+i)))
	}
	return r
}

func (r *retentionRig) start(i int, dir string) *testBroker {
	return startBroker(r.t, func(c *Config) {
		c.StorePathRootDir = dir
		c.BrokerName = "rs"
		c.EnableDLegerCommitLog = true
		c.DLegerPeers = strings.Join(r.peers, ";")
		c.DLegerSelfID = fmt.Sprintf("n%d", i)
		c.MappedFileSizeCommitLog = 64 << 10
		c.MaxMessageSize = 16 << 10
	}, func(o *Options) {
		reserved := time.Millisecond
		if r.keep.Load() {
			reserved = time.Hour
		}
		o.Store = func(so *store.Options) {
			so.ConsumeQueueUnits = 1000
			so.FileReservedTime = reserved
			so.CleanInterval = 50 * time.Millisecond
			so.CheckpointInterval = 50 * time.Millisecond
			so.DiskUsage = func(string) (float64, error) { return math.Float64frombits(r.usage.Load()), nil }
		}
	})
}

// startGroup starts the three replicas and waits for a leader.
func (r *retentionRig) startGroup() (replicas []*testBroker, leader *testBroker) {
	replicas = []*testBroker{r.start(0, r.t.TempDir()), r.start(1, r.t.TempDir()), r.start(2, r.t.TempDir())}
	return replicas, leaderOf(r.t, replicas)
}

// sendNumbered sends n messages of about 1 KB to queue 0 of topic through leader, each body the
// count of messages sent so far (6 digits) and fill; sent counts them.
func (r *retentionRig) sendNumbered(leader *testBroker, topic, fill string, n int) {
	r.t.Helper()
	body := strings.Repeat(fill, 900)
	for range n {
		expect(r.t, leader.send(topic, 0, fmt.Sprintf("%06d%s", r.sent, body), nil), remoting.ResponseSuccess)
		r.sent++
	}
}
