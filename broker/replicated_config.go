package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/replication"
	"github.com/mqstore/mqstore/store"
)

// Metadata of a replicated group (enableDLegerCommitLog): topic configs, subscription groups
// and consumer offsets go through the Raft log, as replication.ConfigOp entries (records of
// replication.ConfigTopic; the envelope is described in replication/config.go), so every
// replica holds them and a new leader serves them.
//
//   - Topics and groups: a change made on the ready leader (UPDATE_AND_CREATE_TOPIC, a topic
//     auto-created by a SEND, DELETE_TOPIC_IN_BROKER, UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, a
//     group or retry topic created by a heartbeat, DELETE_SUBSCRIPTIONGROUP, ...) marks its row;
//     the table's commit, which every such request calls before it answers, proposes the marked
//     rows as one entry and waits until it committed and this replica applied it. A change made
//     on any other replica stays local (a heartbeat's auto-created group on a follower, as a
//     RocketMQ slave does; write requests reach the leader).
//   - Consumer offsets: UPDATE_CONSUMER_OFFSET (and pulls' and pops' commits, resets) change the
//     leader's table at once, as in single-node mode; the queues changed since the last batch
//     are proposed as one entry every offsetBatchInterval. A leader that dies loses at most the
//     commits of its last batch interval (plus the commit's Raft round): consumers then receive
//     those messages again, RocketMQ's at-least-once (its slaves copy offsets every 10 s).
//   - Applying (every replica, in log order, on the replica's goroutine): a row's value is set
//     or deleted; a topic's deletion also drops its queues from the store there, so queue
//     offsets restart at the same log position on every replica. A leader skips the rows of its
//     own entries (replication.PropertyProposer names the process): its table already holds
//     them, or newer changes.
//
// The config files stay a per-replica cache of the tables: the log is the durable truth. They
// are written before every store checkpoint (replicaGroup.BeforeCheckpoint), and a restarted
// replica re-applies the entries after that checkpoint over them.

// offsetBatchInterval is how often the ready leader proposes its changed consumer offsets.
const offsetBatchInterval = 200 * time.Millisecond

// maxOffsetsPerEntry bounds the ops of one offsets entry (the rest wait for the next one).
const maxOffsetsPerEntry = 4096

// configProposeTimeout bounds a config proposal's wait for its commit.
const configProposeTimeout = 5 * time.Second

// Kinds of ConfigOp the broker writes.
const (
	configKindTopic  = "topic"             // Key: topic name; Value: namesrv.TopicConfig
	configKindGroup  = "subscriptionGroup" // Key: group name; Value: GroupConfig
	configKindOffset = "consumerOffset"    // Key: group@topic@queueId; Value: the offset
)

// configRepl proposes a replicated broker's config changes.
type configRepl struct {
	rg       *replicaGroup
	proposer string // PropertyProposer of this process's entries
}

func newConfigRepl(rg *replicaGroup) *configRepl {
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &configRepl{rg: rg, proposer: hex.EncodeToString(id[:])}
}

// leading reports whether this replica is the ready leader (nil-safe: false; false before the
// replica started).
func (c *configRepl) leading() bool { return c != nil && c.rg.group != nil && c.rg.group.Role().Ready }

// propose commits ops as one entry and returns once this replica applied it.
func (c *configRepl) propose(ops []replication.ConfigOp) error {
	data, err := replication.EncodeConfigEntryFrom(ops, c.rg.host, time.Now().UnixMilli(), c.proposer)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), configProposeTimeout)
	defer cancel()
	p, err := c.rg.proposeWait(ctx, data)
	if err != nil {
		return fmt.Errorf("broker: replicate %d config changes: %w", len(ops), err)
	}
	c.rg.takeResults(p.Index)
	return nil
}

// dirtyRows are the rows of a topic or group table changed since they were last proposed,
// guarded by the table's lock. A row changed while this replica was not the ready leader is
// local: the next commit forgets it without proposing it.
type dirtyRows struct {
	rows map[string]dirtyRow
	gen  uint64
}

type dirtyRow struct {
	gen       uint64
	replicate bool
}

// mark records a change of key (table lock held); a no-op in single-node mode (repl nil).
func (d *dirtyRows) mark(repl *configRepl, key string) {
	if repl == nil {
		return
	}
	if d.rows == nil {
		d.rows = map[string]dirtyRow{}
	}
	d.gen++
	d.rows[key] = dirtyRow{gen: d.gen, replicate: repl.leading()}
}

// commitRows proposes the marked rows of a table (kind) as one entry, row giving each one's
// current value (false: deleted). A row proposed successfully, or whose proposal failed on a
// replica that no longer leads, is unmarked; a row changed again meanwhile stays marked.
// It fails with store.ErrServiceNotAvailable when rows changed on the leader must be
// replicated but this replica no longer leads.
func (c *configRepl) commitRows(commitMu *sync.Mutex, tableMu *sync.RWMutex, d *dirtyRows, kind string, row func(key string) (any, bool)) error {
	if c == nil {
		return nil
	}
	commitMu.Lock()
	defer commitMu.Unlock()
	tableMu.Lock()
	taken := map[string]uint64{}
	var ops []replication.ConfigOp
	var encErr error
	for key, r := range d.rows {
		if !r.replicate {
			delete(d.rows, key)
			continue
		}
		taken[key] = r.gen
		op := replication.ConfigOp{Kind: kind, Key: key}
		if v, ok := row(key); ok {
			if op.Value, encErr = json.Marshal(v); encErr != nil {
				break
			}
		}
		ops = append(ops, op)
	}
	tableMu.Unlock()
	if encErr != nil {
		return fmt.Errorf("broker: encode %s: %w", kind, encErr)
	}
	if len(ops) == 0 {
		return nil
	}
	var err error
	if c.leading() {
		err = c.propose(ops)
	} else {
		err = fmt.Errorf("%w: %d %s changes were made on the leader, which stepped down before replicating them", store.ErrServiceNotAvailable, len(ops), kind)
	}
	unmark := err == nil || !c.leading()
	tableMu.Lock()
	for key, gen := range taken {
		if r, ok := d.rows[key]; ok && r.gen == gen && unmark {
			delete(d.rows, key)
		}
	}
	tableMu.Unlock()
	return err
}

// replicate proposes the topic rows changed on the ready leader (a no-op in single-node mode).
func (t *topicTable) replicate() error {
	return t.repl.commitRows(&t.commitMu, &t.mu, &t.dirty, configKindTopic, func(name string) (any, bool) {
		tc, ok := t.topics[name]
		return tc, ok
	})
}

// replicate proposes the group rows changed on the ready leader (a no-op in single-node mode).
func (g *groupTable) replicate() error {
	return g.repl.commitRows(&g.commitMu, &g.mu, &g.dirty, configKindGroup, func(name string) (any, bool) {
		gc, ok := g.groups[name]
		return gc, ok
	})
}

// applyRow sets (tc non-nil) or deletes a topic's config as a replicated entry says; it
// reports whether the table changed.
func (t *topicTable) applyRow(name string, tc *namesrv.TopicConfig) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	old, ok := t.topics[name]
	switch {
	case tc == nil && !ok, tc != nil && ok && old.Equal(*tc):
		return false
	case tc == nil:
		delete(t.topics, name)
	default:
		t.topics[name] = *tc
	}
	t.version = namesrv.DataVersion{Timestamp: t.now().UnixMilli(), Counter: t.version.Counter + 1}
	t.file.changed()
	return true
}

// applyRow sets (gc non-nil) or deletes a group's config as a replicated entry says.
func (g *groupTable) applyRow(name string, gc *GroupConfig) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gc == nil {
		if _, ok := g.groups[name]; !ok {
			return
		}
		delete(g.groups, name)
	} else {
		g.groups[name] = *gc
	}
	g.version = namesrv.DataVersion{Timestamp: g.now().UnixMilli(), Counter: g.version.Counter + 1}
	g.file.changed()
}

// offsetQueue names one group's offset of one queue.
type offsetQueue struct {
	offsetKey
	queueID int32
}

// configKey is the ConfigOp key of an offset: group@topic@queueId (topic and group names
// cannot hold '@').
func (q offsetQueue) configKey() string {
	return q.group + "@" + q.topic + "@" + strconv.Itoa(int(q.queueID))
}

func parseOffsetConfigKey(s string) (offsetQueue, bool) {
	group, rest, ok1 := strings.Cut(s, "@")
	i := strings.LastIndexByte(rest, '@')
	if !ok1 || i < 0 {
		return offsetQueue{}, false
	}
	id, err := strconv.ParseInt(rest[i+1:], 10, 32)
	if err != nil {
		return offsetQueue{}, false
	}
	return offsetQueue{offsetKey{topic: rest[:i], group: group}, int32(id)}, true
}

// markLocked records a changed offset for the next batch, on the ready leader only.
func (o *offsetTable) markLocked(k offsetKey, queueID int32) {
	if !o.repl.leading() {
		return
	}
	if o.unreplicated == nil {
		o.unreplicated = map[offsetQueue]struct{}{}
	}
	o.unreplicated[offsetQueue{k, queueID}] = struct{}{}
}

// markAllLocked records every queue of k (about to be removed) for the next batch.
func (o *offsetTable) markAllLocked(k offsetKey) {
	for q := range o.offsets[k] {
		o.markLocked(k, q)
	}
}

// replicateBatch proposes the offsets changed since the last batch (at most maxOffsetsPerEntry)
// as one entry. When this replica does not lead, the changes are forgotten: they were made
// under an earlier leadership, and the log has moved on since.
func (o *offsetTable) replicateBatch() error {
	if o.repl == nil {
		return nil
	}
	leading := o.repl.leading()
	o.mu.Lock()
	if !leading {
		clear(o.unreplicated)
		o.mu.Unlock()
		return nil
	}
	var ops []replication.ConfigOp
	var taken []offsetQueue
	for q := range o.unreplicated {
		if len(ops) == maxOffsetsPerEntry {
			break
		}
		delete(o.unreplicated, q)
		taken = append(taken, q)
		op := replication.ConfigOp{Kind: configKindOffset, Key: q.configKey()}
		if off, ok := o.offsets[q.offsetKey][q.queueID]; ok {
			op.Value = strconv.AppendInt(nil, off, 10)
		}
		ops = append(ops, op)
	}
	o.mu.Unlock()
	if len(ops) == 0 {
		return nil
	}
	err := o.repl.propose(ops)
	if err != nil && o.repl.leading() {
		o.mu.Lock()
		if o.unreplicated == nil {
			o.unreplicated = map[offsetQueue]struct{}{}
		}
		for _, q := range taken {
			o.unreplicated[q] = struct{}{}
		}
		o.mu.Unlock()
	}
	return err
}

// applyRow sets (off non-nil) or deletes one queue's offset as a replicated entry says.
func (o *offsetTable) applyRow(q offsetQueue, off *int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := o.offsets[q.offsetKey]
	if off == nil {
		if _, ok := m[q.queueID]; ok {
			delete(m, q.queueID)
			if len(m) == 0 {
				delete(o.offsets, q.offsetKey)
			}
			o.dirty = true
		}
		return
	}
	if m == nil {
		m = make(map[int32]int64)
		o.offsets[q.offsetKey] = m
	}
	if old, ok := m[q.queueID]; !ok || old != *off {
		m[q.queueID] = *off
		o.dirty = true
	}
}

// applyConfigRecord applies a committed ConfigTopic record (on the replica's goroutine).
func (b *Broker) applyConfigRecord(rec *message.Record, proposer string) error {
	ops, from, err := replication.DecodeConfigRecord(rec)
	if err != nil {
		return err
	}
	own := from != "" && from == proposer
	registered := false
	for _, op := range ops {
		if err := b.applyConfigOp(op, own, &registered); err != nil {
			return fmt.Errorf("%s %s: %w", op.Kind, op.Key, err)
		}
	}
	return nil
}

func (b *Broker) applyConfigOp(op replication.ConfigOp, own bool, registered *bool) error {
	switch op.Kind {
	case configKindTopic:
		var tc *namesrv.TopicConfig
		if op.Value != nil {
			tc = new(namesrv.TopicConfig)
			if err := json.Unmarshal(op.Value, tc); err != nil {
				return err
			}
		} else if err := b.store.DeleteTopic(op.Key); err != nil {
			// The queues go on every replica at this log position (also on the leader that
			// proposed it), so queue offsets restart identically.
			return err
		}
		if !own && b.topics.applyRow(op.Key, tc) && !*registered {
			*registered = true
			b.triggerRegister()
		}
	case configKindGroup:
		var gc *GroupConfig
		if op.Value != nil {
			gc = new(GroupConfig)
			if err := json.Unmarshal(op.Value, gc); err != nil {
				return err
			}
		}
		if !own {
			b.groups.applyRow(op.Key, gc)
		}
	case configKindOffset:
		q, ok := parseOffsetConfigKey(op.Key)
		if !ok {
			return errors.New("bad key")
		}
		var off *int64
		if op.Value != nil {
			v, err := strconv.ParseInt(string(op.Value), 10, 64)
			if err != nil {
				return err
			}
			off = &v
		}
		if !own {
			b.offsets.applyRow(q, off)
		}
	default:
		b.log.Warn("broker: replicated config entry of an unknown kind ignored", "kind", op.Kind, "key", op.Key)
	}
	return nil
}

// deleteTopicQueues drops a deleted topic's queues from the store. In a replicated group the
// deletion's entry does that on every replica (applyConfigOp): not here, where it would move
// this replica's queue offsets at another log position than the others'.
func (b *Broker) deleteTopicQueues(topic string) error {
	if b.replica != nil {
		return nil
	}
	return b.store.DeleteTopic(topic)
}
