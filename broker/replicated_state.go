package broker

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/mqstore/mqstore/commitlog"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/replication"
	"github.com/mqstore/mqstore/store"
	"github.com/mqstore/mqstore/txn"
)

// replicaState is what a replica derives from its group's committed entries beyond the store:
// the replicated metadata (replicated_config.go) and the dedupe table of recent sends; and the
// services that only the ready leader runs (the offsets batch here, the transaction check-back
// in replicated_txn.go). Its goroutine is started by replicaGroup.start and joined by stop.
type replicaState struct {
	rg   *replicaGroup
	b    *Broker
	repl *configRepl

	sends dedupeTable

	quit chan struct{}
	done chan struct{}
}

func newReplicaState(rg *replicaGroup, b *Broker) *replicaState {
	s := &replicaState{rg: rg, b: b, repl: newConfigRepl(rg), quit: make(chan struct{}), done: make(chan struct{})}
	s.sends.init(dedupeWindow)
	// Before the replica applies anything: the tables route their changes from here on.
	b.topics.repl, b.groups.repl, b.offsets.repl = s.repl, s.repl, s.repl
	return s
}

// start runs the leader's services loop.
func (s *replicaState) start() { go s.run() }

// stop joins the loop (the leader's last offsets batch is proposed first).
func (s *replicaState) stop() {
	select {
	case <-s.quit:
		return
	default:
	}
	close(s.quit)
	<-s.done
}

func (s *replicaState) run() {
	defer close(s.done)
	t := time.NewTicker(offsetBatchInterval)
	defer t.Stop()
	var leader leaderServices
	defer leader.stop(s)
	for {
		roles := s.rg.group.RoleChanged()
		ready := s.rg.group.Role().Ready
		if ready {
			leader.start(s)
		} else {
			leader.stop(s)
		}
		select {
		case <-t.C:
			if err := s.b.offsets.replicateBatch(); err != nil {
				s.rg.log.Warn("broker: replicating consumer offsets failed; the next batch retries", "err", err)
			}
		case <-roles:
		case <-s.quit:
			if err := s.b.offsets.replicateBatch(); err != nil {
				s.rg.log.Warn("broker: replicating the last consumer offsets failed", "err", err)
			}
			return
		}
	}
}

// applied runs after a committed entry went into the store (on the replica's goroutine):
// config records change the tables, sends enter the dedupe table.
func (s *replicaState) applied(data []byte, res []commitlog.AppendResult) {
	var rec message.Record
	for i, pos := 0, 0; pos < len(data); i++ {
		n, err := message.DecodeRecord(data[pos:], &rec, false)
		if err != nil {
			return // ApplyEncoded decoded the same bytes: cannot happen
		}
		pos += n
		if string(rec.Topic) == replication.ConfigTopic {
			if err := s.b.applyConfigRecord(&rec, s.repl.proposer); err != nil {
				// Every replica meets the same entry: log it, never stop the group over it.
				s.rg.log.Error("broker: replicated config entry not applied", "offset", rec.PhysicalOffset, "err", err)
			}
			continue
		}
		if key, ok := dedupeKey(&rec); ok && i < len(res) {
			s.sends.add(key, res[i])
		}
	}
}

// dedupeWindow is how many recent sends the dedupe table remembers.
const dedupeWindow = 1 << 16

// Dedupe of retried sends. A send whose commit the leader could not confirm in time is
// answered with an error and retried by the client, while its entry may still commit: the
// retry would store the message twice. Every replica therefore remembers the last
// dedupeWindow sends it applied by (topic, UNIQ_KEY) with where they went, and the leader
// answers a send whose records are all remembered with the first copy's results instead of
// proposing it; a retry that arrives while the first copy is still in flight on this leader
// waits for its outcome. The table is derived from the log on every replica (a restarted
// replica re-applies the log from its first entry), so a new leader has it once it passes its
// barrier (every committed entry applied).
//
// The key is (topic, UNIQ_KEY), not (producer group, UNIQ_KEY): a normal message's record does
// not carry its producer group, so a table keyed by it could not be rebuilt from the log, and
// the client makes UNIQ_KEY unique per producer process (address, pid, time, counter). Only
// first deliveries are keyed: not redeliveries (reconsumeTimes > 0, %RETRY%/%DLQ% topics),
// restored or rolled-back transaction records, or system records, which legitimately repeat a
// UNIQ_KEY.
type dedupeTable struct {
	mu       sync.Mutex // guards the fields below
	results  map[string]commitlog.AppendResult
	order    []string // ring of keys in results, oldest at next
	next     int
	inflight map[string]chan struct{} // keys of sends proposed on this leader, not yet resolved
}

func (d *dedupeTable) init(window int) {
	d.results = make(map[string]commitlog.AppendResult)
	d.order = make([]string, window)
	d.inflight = make(map[string]chan struct{})
}

func (d *dedupeTable) add(key string, r commitlog.AppendResult) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.results[key]; ok {
		return // a duplicate that got in anyway (from before dedupe): the first copy answers
	}
	if old := d.order[d.next]; old != "" {
		delete(d.results, old)
	}
	d.order[d.next] = key
	d.next = (d.next + 1) % len(d.order)
	d.results[key] = r
}

// dedupeKey is a record's key in the dedupe table, if it has one.
func dedupeKey(rec *message.Record) (string, bool) {
	if rec.ReconsumeTimes > 0 {
		return "", false
	}
	switch message.TransactionType(rec.SysFlag) {
	case message.TransactionCommitType, message.TransactionRollbackType:
		return "", false
	}
	topic := string(rec.Topic)
	if strings.HasPrefix(topic, RetryTopicPrefix) || strings.HasPrefix(topic, DLQTopicPrefix) ||
		topic == txn.OpTopic || topic == txn.DiscardTopic || topic == replication.ConfigTopic || topic == store.TimerTopic {
		return "", false
	}
	uniq, ok := rec.Properties.Lookup(message.PropertyUniqKey)
	if !ok || len(uniq) == 0 {
		return "", false
	}
	return topic + "\x00" + string(uniq), true
}

// recordKeys returns the dedupe keys of an entry's records; ok is false unless every record
// has one.
func recordKeys(records []byte) (keys []string, ok bool) {
	var rec message.Record
	for pos := 0; pos < len(records); {
		n, err := message.DecodeRecord(records[pos:], &rec, false)
		if err != nil {
			return nil, false
		}
		pos += n
		key, ok := dedupeKey(&rec)
		if !ok {
			return nil, false
		}
		keys = append(keys, key)
	}
	return keys, len(keys) > 0
}

// dedupe answers a send whose records were all applied recently with their results (ok). A
// send whose copy is in flight on this leader waits for that copy first. Otherwise it marks the
// send's keys in flight (proposed must follow) and returns ok false.
func (s *replicaState) dedupe(ctx context.Context, records []byte) ([]commitlog.AppendResult, bool, error) {
	keys, ok := recordKeys(records)
	if !ok {
		return nil, false, nil
	}
	d := &s.sends
	for {
		d.mu.Lock()
		var wait chan struct{}
		out := make([]commitlog.AppendResult, 0, len(keys))
		for _, k := range keys {
			if r, ok := d.results[k]; ok {
				out = append(out, r)
			} else if ch := d.inflight[k]; ch != nil {
				wait = ch
			}
		}
		if len(out) == len(keys) {
			d.mu.Unlock()
			return out, true, nil
		}
		if wait == nil {
			ch := make(chan struct{})
			for _, k := range keys {
				d.inflight[k] = ch
			}
			d.mu.Unlock()
			return nil, false, nil
		}
		d.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// proposed ends the in-flight mark dedupe set for records: their entry committed and was
// applied (its keys are in the table), or it failed.
func (s *replicaState) proposed(records []byte, _ replication.Proposal, _ error) {
	keys, ok := recordKeys(records)
	if !ok {
		return
	}
	d := &s.sends
	d.mu.Lock()
	defer d.mu.Unlock()
	var ch chan struct{}
	for _, k := range keys {
		if c := d.inflight[k]; c != nil {
			ch = c
			delete(d.inflight, k)
		}
	}
	if ch != nil {
		close(ch)
	}
}

// leaderServices are the services the ready leader runs: started after the barrier, stopped
// (synchronously) when the replica steps down.
type leaderServices struct {
	running bool
}

func (l *leaderServices) start(s *replicaState) {
	if l.running {
		return
	}
	l.running = true
}

func (l *leaderServices) stop(s *replicaState) {
	if !l.running {
		return
	}
	l.running = false
}
