package broker

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mqstore/mqstore/remoting"
)

// copyTree copies the files under src to dst as a SIGKILLed process leaves them: what every
// write reached (the page cache, mmap'd segments included), files removed meanwhile skipped.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		in, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		return errors.Join(err, out.Close())
	})
}

// TestSnapshotInstallCrash: a follower that a forced compaction left behind installs a
// snapshot and "crashes" at the worst moment: its log has accepted the snapshot (raftmeta holds
// the new base) and nothing else of it is restored (its config files and store checkpoint are
// the old ones). The files as they are then (copied while the replica's goroutine waits in the
// hook, what a SIGKILL leaves) start a replica again: it finishes the install from what the log
// kept, so it holds the snapshot's topics, subscription groups and consumer offsets, not the
// ones the group deleted meanwhile.
func TestSnapshotInstallCrash(t *testing.T) {
	rig := newRetentionRig(t, 161)
	replicas, leader := rig.startGroup()
	send := func(n int) { rig.sendNumbered(leader, "Snap", "s", n) }
	send(10)
	for i := range 3 {
		expect(t, leader.send("SnapRe", 0, fmt.Sprintf("a message of a topic re-created while the follower is down %d", i), nil), remoting.ResponseSuccess)
	}
	// Config the follower holds and the group deletes while it is down.
	expect(t, leader.send("SnapOld", 0, "a topic deleted while the follower is down", nil), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestUpdateAndCreateSubscriptionGroup, []byte(`{"groupName":"gSnapOld"}`)), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestUpdateConsumerOffset, nil, "consumerGroup", "gSnapOld", "topic", "Snap", "queueId", "0",
		"commitOffset", "5"), remoting.ResponseSuccess)
	idx, stopped := aFollower(replicas, leader)
	waitLong(t, "the config on the follower", func() bool {
		_, topic := stopped.topics.get("SnapOld")
		_, offset := stopped.offsets.query("gSnapOld", "Snap", 0)
		return topic && offset
	})
	dir := stopped.dir
	if err := stopped.Close(); err != nil {
		t.Fatal(err)
	}
	// Config the group changes while the follower is down.
	expect(t, leader.call(remoting.RequestDeleteTopicInBroker, nil, "topic", "SnapOld"), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestDeleteSubscriptionGroup, nil, "groupName", "gSnapOld", "removeOffset", "true"), remoting.ResponseSuccess)
	expect(t, leader.send("SnapNew", 0, "a topic created while the follower is down", nil), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestUpdateAndCreateSubscriptionGroup, []byte(`{"groupName":"gSnapNew"}`)), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestUpdateConsumerOffset, nil, "consumerGroup", "gSnapNew", "topic", "Snap", "queueId", "0",
		"commitOffset", "7"), remoting.ResponseSuccess)
	// A topic deleted and created again reads from queue offset 0 on the leader until its next
	// message (which the log gives the queue offset after the deleted topic's last one).
	expect(t, leader.call(remoting.RequestDeleteTopicInBroker, nil, "topic", "SnapRe"), remoting.ResponseSuccess)
	expect(t, leader.call(remoting.RequestUpdateAndCreateTopic, nil, "topic", "SnapRe", "readQueueNums", "1", "writeQueueNums", "1"),
		remoting.ResponseSuccess)
	configLast, _ := leader.replica.rlog.LastIndex()
	send(200)                              // about 3 segments
	rig.usage.Store(math.Float64bits(0.8)) // above diskMaxUsedSpaceRatio: the leader compacts past the follower
	waitLong(t, "a forced compaction past the config changes", func() bool {
		first, _ := leader.replica.rlog.FirstIndex()
		return first > configLast+1
	})
	rig.usage.Store(0)
	rig.keep.Store(true)

	// The follower comes back, installs a snapshot and is copied at the hook.
	image := t.TempDir()
	accepted := make(chan error, 1)
	var once sync.Once
	errCrashed := errors.New("crashed at the hook")
	testHookSnapshotAccepted = func(rg *replicaGroup) error {
		// The replica stops here (an error from Restore): it acknowledges nothing more, as a
		// SIGKILLed one.
		once.Do(func() { accepted <- copyTree(rg.b.cfg.StorePathRootDir, image) })
		return errCrashed
	}
	back := rig.start(idx, dir)
	select {
	case err := <-accepted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the follower installed no snapshot")
	}
	select {
	case <-back.ReplicaFailed():
	case <-time.After(15 * time.Second):
		t.Fatal("the follower's replica did not stop at the hook")
	}
	sameQueue := func(r *testBroker, what string) {
		t.Helper()
		lo, hi := r.Store().MinOffset("SnapRe", 0), r.Store().MaxOffset("SnapRe", 0)
		wantLo, wantHi := leader.Store().MinOffset("SnapRe", 0), leader.Store().MaxOffset("SnapRe", 0)
		if lo != wantLo || hi != wantHi {
			t.Errorf("%s: the re-created topic's queue is [%d, %d) on the follower, [%d, %d) on the leader", what, lo, hi, wantLo, wantHi)
		}
	}
	if err := back.Close(); err != nil && !errors.Is(err, errCrashed) {
		t.Fatal(err)
	}
	testHookSnapshotAccepted = nil

	// The crash image: the log at the snapshot's base, the store and config files before it.
	again := rig.start(idx, image)
	if again.replica.rlog.Base() == 0 {
		t.Fatal("the crash image's log is not at a snapshot's base")
	}
	send(5)
	waitLong(t, "every message on the restarted follower", func() bool { return again.Store().MaxOffset("Snap", 0) == int64(rig.sent) })
	if _, ok := again.topics.get("SnapNew"); !ok {
		t.Error("the follower lacks a topic of the snapshot")
	}
	if _, ok := again.topics.get("SnapOld"); ok {
		t.Error("the follower holds a topic the snapshot deleted")
	}
	if _, ok := again.groups.get("gSnapNew"); !ok {
		t.Error("the follower lacks a subscription group of the snapshot")
	}
	if _, ok := again.groups.get("gSnapOld"); ok {
		t.Error("the follower holds a subscription group the snapshot deleted")
	}
	if off, ok := again.offsets.query("gSnapNew", "Snap", 0); !ok || off != 7 {
		t.Errorf("the follower's offset of gSnapNew is %d (%v), want 7", off, ok)
	}
	if _, ok := again.offsets.query("gSnapOld", "Snap", 0); ok {
		t.Error("the follower holds a consumer offset the snapshot deleted")
	}
	sameQueue(again, "after the crashed install")
	expect(t, leader.send("SnapRe", 0, "the re-created topic's first message", nil), remoting.ResponseSuccess)
	waitLong(t, "the re-created topic's message on the follower", func() bool {
		return again.Store().MaxOffset("SnapRe", 0) == leader.Store().MaxOffset("SnapRe", 0)
	})
	sameQueue(again, "after the re-created topic's first message")
	if lo, hi := again.Store().MinOffset("SnapNew", 0), again.Store().MaxOffset("SnapNew", 0); lo != 1 || hi != 1 {
		t.Errorf("the follower's SnapNew queue is [%d, %d), want [1, 1)", lo, hi)
	}
}
