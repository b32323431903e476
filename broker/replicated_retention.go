package broker

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/replication"
	"github.com/mqstore/mqstore/store"
	"github.com/mqstore/mqstore/txn"
)

// Retention and snapshots of a replicated group.
//
// The store's retention service (store.Store.Clean) picks the expired segments of its commitlog,
// which is the Raft log (store.LogOwner), and hands their end to ReleaseSegments: the log is
// compacted (replication.Log.Compact) up to the last entry they hold that is
//   - applied on this replica, and covered by its store's last checkpoint (a restart resumes
//     applying after that checkpoint: the entries after it must still be there);
//   - on a leader, and unless the disk is above diskMaxUsedSpaceRatio (forced), held by every
//     follower: the smallest match index the followers reported in this term (a follower that
//     has not answered an append in this term holds everything back).
//
// A follower compacts by its own clock; a replica that leads later and meets a follower behind
// its first entry, or a leader that compacted by force, sends that follower a snapshot: the
// log's base (offset where the next entry goes, queue table) and, as its Extra, the replicated
// config (topics, subscription groups, consumer offsets as JSON rows by kind and key, the
// form of replication.ConfigOp). The follower's log restarts empty at that offset, its store
// restarts there (store.Store.RestartAt: its queues start at once at the snapshot's queue
// offsets) and its config tables become the snapshot's rows (rows it lacks are deleted); history
// before it is absent on that replica, as after retention, and consumers below it get the
// usual offset correction. The log keeps the snapshot's config with its base (raftmeta, one
// atomic write with the base), and a start whose store resumes at or below that base installs
// it again (resumeSnapshot): a crash between the log's accepting the snapshot and the store's
// checkpoint at its base loses none of it.

// matchTracker remembers, per follower, the highest index it acknowledged (MsgAppResp) and in
// which term: a leader's view of what its followers hold, read from the messages it receives.
type matchTracker struct {
	mu    sync.Mutex // guards match
	match map[uint64]termIndex
}

type termIndex struct{ term, index uint64 }

// observe notes an append response (called for every received message, before Raft steps it).
func (m *matchTracker) observe(msg *pb.Message) {
	if msg.GetType() != pb.MessageType_MsgAppResp || msg.GetReject() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.match == nil {
		m.match = map[uint64]termIndex{}
	}
	cur := m.match[msg.GetFrom()]
	if msg.GetTerm() > cur.term || (msg.GetTerm() == cur.term && msg.GetIndex() > cur.index) {
		m.match[msg.GetFrom()] = termIndex{msg.GetTerm(), msg.GetIndex()}
	}
}

// min is the smallest index the peers (but self) acknowledged in term; 0 when one has not.
func (m *matchTracker) min(peers []uint64, self, term uint64) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := ^uint64(0)
	for _, p := range peers {
		if p == self {
			continue
		}
		ti := m.match[p]
		if ti.term != term {
			return 0
		}
		out = min(out, ti.index)
	}
	return out
}

// ReleaseSegments implements store.LogOwner (see the comment at the top of the file).
func (rg *replicaGroup) ReleaseSegments(below int64, force bool) error {
	if !rg.started.Load() {
		return nil // the store's retention may run before the replica started
	}
	select {
	case <-rg.quit:
		return nil // or after it closed
	default:
	}
	// below may be the store's checkpoint, inside a segment: the entries ending there may be
	// followed by the segment's end blank and the next entry in the next segment, and compacting
	// them would delete the segment the store's dispatch still reads (the blank, to step over it:
	// "offset out of range ... below the log's minimum"). Only whole segments below below go.
	if seg := rg.b.cfg.MappedFileSizeCommitLog; seg > 0 {
		below -= below % seg
	}
	i := min(rg.rlog.IndexAt(below), rg.applied.Load())
	if r := rg.group.Role(); r.State == raft.StateLeader && !force {
		i = min(i, rg.matches.min(rg.peerIDs, rg.self.ID, r.Term))
	}
	if first, _ := rg.rlog.FirstIndex(); i < first {
		return nil
	}
	if err := rg.rlog.Compact(i); err != nil {
		return fmt.Errorf("broker: compact the replicated log to %d: %w", i, err)
	}
	first, _ := rg.rlog.FirstIndex()
	rg.log.Info("broker: replicated log compacted", "first", first, "base", rg.rlog.Base(), "forced", force)
	return nil
}

// BaseQueues implements store.LogOwner: the log's queue table at its base, but the queues of
// topics the group deleted (the log's table keeps a deleted topic's queue offsets, the stores
// drop its queues): once the broker runs, only queues of topics it has a config for, or of the
// store's own topics, as restoreTopics keeps them.
//
// Nor the queues the snapshot installed last names empty (snapshotKindEmptyQueue): a topic
// deleted and created again after its last record has its queues dropped on the replicas that
// applied the deletion, and reads from queue offset 0 there until its next record, which the
// log puts after the deleted topic's last one (every replica then holds it there).
func (rg *replicaGroup) BaseQueues() []store.QueueStart {
	b := rg.broker.Load()
	empty := rg.emptyQueues.Load()
	var out []store.QueueStart
	for _, r := range rg.rlog.BaseQueues() {
		if b != nil && !notAllowedSendTopics[r.Topic] {
			if _, ok := b.topics.get(r.Topic); !ok {
				continue
			}
		}
		if empty != nil && (*empty)[emptyQueueKey(r.Topic, r.QueueID)] {
			continue
		}
		out = append(out, store.QueueStart{Topic: r.Topic, QueueID: r.QueueID, Next: r.Next})
	}
	return out
}

// snapshotRows is the replicated config a snapshot carries: kind → key → value, each row as
// a ConfigOp of that kind would set it; and, as kind snapshotKindEmptyQueue, the queues of the
// log's base queue table that the sender's store holds empty.
type snapshotRows map[string]map[string]json.RawMessage

// snapshotKindEmptyQueue lists (key topic, value the queue ids) the queues of the sender's
// topics that its store holds empty. A queue of the snapshot's queue table among them belongs to
// a topic deleted after its last record and created again: the sender's store dropped it at the
// deletion (it had dispatched every record below the base, which only a checkpoint-covered
// compaction moves), so an installing replica leaves it empty too (BaseQueues) instead of
// starting it at the table's next offset.
const snapshotKindEmptyQueue = "emptyQueue"

// emptyQueueKey is a queue's key in snapshotKindEmptyQueue.
func emptyQueueKey(topic string, queueID int32) string {
	return topic + "@" + strconv.Itoa(int(queueID))
}

// snapshotExtra encodes the config tables for a snapshot (Log.SetSnapshotExtra). They may be
// newer than the snapshot's index: the entries after it set whole rows again.
func (rg *replicaGroup) snapshotExtra() ([]byte, error) {
	b := rg.broker.Load()
	if b == nil {
		return nil, nil
	}
	rows := snapshotRows{configKindTopic: {}, configKindGroup: {}, configKindOffset: {}, snapshotKindEmptyQueue: {}}
	var err error
	put := func(kind, key string, v any) {
		if err != nil {
			return
		}
		var raw []byte
		if raw, err = json.Marshal(v); err == nil {
			rows[kind][key] = raw
		}
	}
	b.topics.mu.RLock()
	for name, tc := range b.topics.topics {
		put(configKindTopic, name, tc)
		// The log's lock is held (Log.Snapshot): every topic's empty queues, not only those
		// of its base table.
		var ids []int32
		for q := range int32(max(tc.ReadQueueNums, tc.WriteQueueNums)) {
			if b.store.MaxOffset(name, q) == 0 {
				ids = append(ids, q)
			}
		}
		if len(ids) > 0 {
			put(snapshotKindEmptyQueue, name, ids)
		}
	}
	b.topics.mu.RUnlock()
	b.groups.mu.RLock()
	for name, gc := range b.groups.groups {
		put(configKindGroup, name, gc)
	}
	b.groups.mu.RUnlock()
	b.offsets.mu.Lock()
	for k, queues := range b.offsets.offsets {
		for q, off := range queues {
			rows[configKindOffset][offsetQueue{k, q}.configKey()] = strconv.AppendInt(nil, off, 10)
		}
	}
	b.offsets.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return json.Marshal(rows)
}

// replicatedKeys lists the rows this replica's table of kind holds (ConfigOp keys).
func (b *Broker) replicatedKeys(kind string) []string {
	var keys []string
	switch kind {
	case configKindTopic:
		b.topics.mu.RLock()
		keys = slices.Collect(maps.Keys(b.topics.topics))
		b.topics.mu.RUnlock()
	case configKindGroup:
		b.groups.mu.RLock()
		keys = slices.Collect(maps.Keys(b.groups.groups))
		b.groups.mu.RUnlock()
	case configKindOffset:
		b.offsets.mu.Lock()
		for k, queues := range b.offsets.offsets {
			for q := range queues {
				keys = append(keys, offsetQueue{k, q}.configKey())
			}
		}
		b.offsets.mu.Unlock()
	}
	return keys
}

// ownSystemTopic reports whether this broker creates topic itself at start-up
// (initSystemTopics): a snapshot that lacks it (a leader configured otherwise) does not delete it.
func (b *Broker) ownSystemTopic(topic string) bool {
	switch topic {
	case namesrv.AutoCreateTopic:
		return b.cfg.AutoCreateTopicEnable
	case TraceTopic:
		return b.cfg.TraceTopicEnable
	case txn.DiscardTopic:
		return true
	}
	return false
}

// restore installs a snapshot this replica received (replication Options.Restore, on the
// replica's goroutine, after the log restarted empty at the snapshot's base): the replicated
// config tables become the snapshot's (rows it lacks are deleted: the group deleted them while
// this replica was behind, or they were this replica's own, as a follower's heartbeat-created
// group, which the next heartbeat creates again), then the store restarts at the base (and
// checkpoints, writing the config files first: they follow the tables).
func (rg *replicaGroup) restore(index uint64, data []byte) error {
	snap, err := replication.DecodeSnapshot(data)
	if err != nil {
		return err
	}
	if testHookSnapshotAccepted != nil {
		if err := testHookSnapshotAccepted(rg); err != nil {
			return err
		}
	}
	return rg.restoreState(index, snap)
}

// testHookSnapshotAccepted, when set (tests), runs when the log has accepted a snapshot and
// nothing of it is restored yet, the worst moment for a crash; its error stops the replica.
var testHookSnapshotAccepted func(rg *replicaGroup) error

// resumeSnapshot finishes a snapshot install a crash interrupted (at start, before the replica
// applies anything): the log accepted the snapshot (its raftmeta holds the base and the
// snapshot's config, written in one atomic step) but the store did not checkpoint past the
// base, so the config files may predate the snapshot. The install runs again from what the log
// kept; a replica whose store resumes after the base (the install completed and the replica
// went on) has nothing to do.
func (rg *replicaGroup) resumeSnapshot(resumeAfter uint64) error {
	index, snap, ok := rg.rlog.InstalledSnapshot()
	if !ok || resumeAfter > index {
		return nil
	}
	rg.log.Info("broker: restoring the snapshot the log installed before the last stop", "index", index, "base", snap.StartPhys)
	return rg.restoreState(index, snap)
}

func (rg *replicaGroup) restoreState(index uint64, snap replication.SnapshotState) error {
	if b := rg.broker.Load(); b != nil && len(snap.Extra) > 0 {
		var rows snapshotRows
		if err := json.Unmarshal(snap.Extra, &rows); err != nil {
			return fmt.Errorf("broker: snapshot %d config: %w", index, err)
		}
		empty := map[string]bool{}
		for topic, v := range rows[snapshotKindEmptyQueue] {
			var ids []int32
			if err := json.Unmarshal(v, &ids); err != nil {
				return fmt.Errorf("broker: snapshot %d empty queues of %s: %w", index, topic, err)
			}
			for _, q := range ids {
				empty[emptyQueueKey(topic, q)] = true
			}
		}
		rg.emptyQueues.Store(&empty)
		registered := false
		apply := func(kind, key string, v json.RawMessage) {
			if err := b.applyConfigOp(replication.ConfigOp{Kind: kind, Key: key, Value: v}, false, &registered); err != nil {
				rg.log.Error("broker: snapshot config row not applied", "kind", kind, "key", key, "err", err)
			}
		}
		for _, kind := range []string{configKindTopic, configKindGroup, configKindOffset} {
			for _, key := range b.replicatedKeys(kind) {
				if _, ok := rows[kind][key]; !ok && !(kind == configKindTopic && b.ownSystemTopic(key)) {
					apply(kind, key, nil)
				}
			}
			for key, v := range rows[kind] {
				apply(kind, key, v)
			}
		}
	}
	if err := rg.st.RestartAt(snap.StartPhys); err != nil {
		return err
	}
	rg.applied.Store(index)
	rg.log.Info("broker: installed a snapshot", "index", index, "base", snap.StartPhys, "queues", len(snap.Queues))
	return nil
}
