package broker

import (
	"bytes"
	"context"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/commitlog"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/replication"
	"github.com/mqstore/mqstore/txn"
)

// replicaState is what a replica derives from its group's committed entries beyond the store:
// the replicated metadata (replicated_config.go) and the dedupe table of recent sends; and the
// services that only the ready leader runs (the offsets batch, the transaction service and its
// check-back: leaderServices). Its goroutine is started by replicaGroup.start and joined by stop.
type replicaState struct {
	rg   *replicaGroup
	b    *Broker
	repl *configRepl

	sends dedupeTable

	// servicesReady: the leader services run (the transaction service rebuilt): with the
	// group's barrier, the replica serves as brokerId 0.
	servicesReady atomic.Bool

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
// config records change the tables, sends and transaction commits enter the dedupe table.
func (s *replicaState) applied(data []byte, res []commitlog.AppendResult) {
	var rec message.Record
	for pos := 0; pos < len(data); {
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
		}
	}
	s.remember(data, res)
}

// remember enters an applied entry's keyed records into the dedupe table.
func (s *replicaState) remember(data []byte, res []commitlog.AppendResult) {
	if keys, same, whole, ok := entryKeys(data); ok {
		s.sends.add(keys, same, whole, res)
	}
}

// dedupeWindow is how many recent sends the dedupe table remembers.
const dedupeWindow = 1 << 16

// Dedupe of retried sends. A send whose commit the leader could not confirm in time is
// answered with an error and retried by the client, while its entry may still commit: the
// retry would store the message twice. Every replica therefore remembers the last
// dedupeWindow sends it applied by (topic, UNIQ_KEY) with where they went, and the leader
// answers a send whose records are all remembered, with the same bodies (CRC), with the first
// copy's results instead of proposing it; a retry that arrives while the first copy is still in flight on this leader
// waits for its outcome. The table is derived from the log on every replica (a restarted
// replica rebuilds it from the entries before its resume point, then applies the rest), so a
// new leader has it once it passes its barrier (every committed entry applied).
//
// The key is (topic, UNIQ_KEY), not (producer group, UNIQ_KEY): a normal message's record does
// not carry its producer group, so a table keyed by it could not be rebuilt from the log, and
// the client makes UNIQ_KEY unique per producer process (address, pid, time, counter). Only
// first deliveries are keyed: not redeliveries (reconsumeTimes > 0, %RETRY%/%DLQ% topics),
// restored or rolled-back transaction records, or system records, which legitimately repeat a
// UNIQ_KEY. A timer message is keyed twice: in the timer topic when it is sent, and in its real
// topic when it is delivered, so a new leader does not deliver again what the old one did.
//
// A transaction's commit entry (restored message + op marker, txn.Options.AtomicCommit) is
// keyed as a whole by its half message's offset: a commit retried after an unknown outcome
// gets the first one's results and is not stored twice.
type dedupeTable struct {
	mu       sync.Mutex // guards the fields below
	results  map[dedupeID]dedupeEntry
	order    []dedupeID // ring of keys in results, oldest at next once full
	filled   int        // slots of order in use (they fill from 0)
	next     int
	inflight map[dedupeID]chan struct{} // keys of entries proposed on this leader, not yet resolved
}

// dedupeID is a dedupe key as the table holds it: a 128-bit hash of the key's bytes (topic,
// NUL, UNIQ_KEY, and a timer roll's count; or a commit entry's half-message offset), two 64-bit
// maphash sums under independent seeds of this process (the table lives in memory and is
// rebuilt from the log at start). A fixed-size key hashes and compares faster than the string it
// replaces and costs no allocation. Two keys would share an ID with a probability of about
// 2^-128 per pair, and a send is answered from the table only when its body CRC and queue match
// as well.
type dedupeID struct{ a, b uint64 }

var dedupeSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// dedupeIDOf is the ID of a key's bytes.
func dedupeIDOf(key []byte) dedupeID {
	return dedupeID{maphash.Bytes(dedupeSeeds[0], key), maphash.Bytes(dedupeSeeds[1], key)}
}

// dedupeEntry is where a keyed record (or a whole commit entry) went, and what a retry must
// match to be answered with it.
type dedupeEntry struct {
	res  []commitlog.AppendResult
	same dedupeMatch
}

// dedupeMatch is what a send must share with a remembered record to be answered as its retry:
// the body's CRC (a send with the same key but another body is not a retry: a client that
// reuses a message object with a new body keeps its UNIQ_KEY) and the queue. A client retries
// on another queue (rocketmq-client-go picks the next one), and the send's answer names the
// queue of the request with the remembered record's queue offset (store.putReplicated), so a
// retry on another queue answered from the table would acknowledge a position another message
// holds (the chaos harness found it: docs/CHAOS.md). Such a retry is stored again: a duplicate
// the client's retry explains, at the position its answer names (the table keeps answering for
// the first copy's queue).
type dedupeMatch struct {
	bodyCRC uint32
	queueID int32
}

func (d *dedupeTable) init(window int) {
	d.results = make(map[dedupeID]dedupeEntry)
	d.order = make([]dedupeID, window)
	d.inflight = make(map[dedupeID]chan struct{})
}

// add remembers an applied entry's keys (with their records' body CRCs): one per record, or one
// for the whole entry.
func (d *dedupeTable) add(keys []dedupeID, same []dedupeMatch, whole bool, res []commitlog.AppendResult) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, key := range keys {
		var r []commitlog.AppendResult
		switch {
		case whole:
			r = res
		case i < len(res):
			r = res[i : i+1 : i+1]
		default:
			continue
		}
		if old, ok := d.results[key]; ok {
			if old.same.bodyCRC != same[i].bodyCRC { // another message under a reused key: it answers now
				d.results[key] = dedupeEntry{res: r, same: same[i]}
			} // else a copy that got in anyway (stored before dedupe): the first one answers
			continue
		}
		if d.filled == len(d.order) {
			delete(d.results, d.order[d.next])
		} else {
			d.filled++
		}
		d.order[d.next] = key
		d.next = (d.next + 1) % len(d.order)
		d.results[key] = dedupeEntry{res: r, same: same[i]}
	}
}

// dedupeKey is a record's key in the dedupe table, if it has one.
func dedupeKey(rec *message.Record) (dedupeID, bool) {
	if rec.ReconsumeTimes > 0 {
		return dedupeID{}, false
	}
	switch message.TransactionType(rec.SysFlag) {
	case message.TransactionCommitType, message.TransactionRollbackType:
		return dedupeID{}, false
	}
	topic := rec.Topic
	if bytes.HasPrefix(topic, []byte(RetryTopicPrefix)) || bytes.HasPrefix(topic, []byte(DLQTopicPrefix)) ||
		string(topic) == txn.OpTopic || string(topic) == txn.DiscardTopic || string(topic) == replication.ConfigTopic {
		return dedupeID{}, false
	}
	uniq, ok := rec.Properties.Lookup(message.PropertyUniqKey)
	if !ok || len(uniq) == 0 {
		return dedupeID{}, false
	}
	var buf [160]byte
	key := append(append(append(buf[:0], topic...), 0), uniq...)
	if rolls, ok := rec.Properties.Lookup(message.PropertyTimerRollTimes); ok {
		// A timer's roll (store/timer.go) puts its record again, same key and body: keyed by
		// its roll count, so it is not taken for a retry of the first put, while a new leader's
		// roll of the same record is.
		key = append(append(key, "\x00roll"...), rolls...)
	}
	return dedupeIDOf(key), true
}

// commitDedupeID is the key of a transaction's commit entry: its half message's offset.
func commitDedupeID(preparedOffset int64) dedupeID {
	var buf [32]byte
	return dedupeIDOf(strconv.AppendInt(append(buf[:0], "\x00commit\x00"...), preparedOffset, 10))
}

// entryKeys returns the dedupe keys of an entry and the body CRCs of the records they key: for
// a transaction's commit entry (its first record a restored COMMIT message) one key for the
// whole entry; otherwise one per record, and ok is false unless every record has one.
func entryKeys(records []byte) (keys []dedupeID, same []dedupeMatch, whole, ok bool) {
	var rec message.Record
	for pos := 0; pos < len(records); {
		n, err := message.DecodeRecord(records[pos:], &rec, false)
		if err != nil {
			return nil, nil, false, false
		}
		if pos == 0 && message.TransactionType(rec.SysFlag) == message.TransactionCommitType && rec.PreparedTransactionOffset > 0 {
			return []dedupeID{commitDedupeID(rec.PreparedTransactionOffset)}, []dedupeMatch{{rec.BodyCRC, rec.QueueID}}, true, true
		}
		pos += n
		key, ok := dedupeKey(&rec)
		if !ok {
			return nil, nil, false, false
		}
		keys = append(keys, key)
		same = append(same, dedupeMatch{rec.BodyCRC, rec.QueueID})
	}
	return keys, same, false, len(keys) > 0
}

// dedupe answers an entry whose keys were all applied recently with their results (ok). An
// entry whose copy is in flight on this leader waits for that copy first. Otherwise it marks
// the entry's keys in flight and returns them: proposed(keys) must follow.
func (s *replicaState) dedupe(ctx context.Context, records []byte) (res []commitlog.AppendResult, keys []dedupeID, ok bool, err error) {
	keys, same, _, ok := entryKeys(records)
	if !ok {
		return nil, nil, false, nil
	}
	return s.dedupeKeys(ctx, keys, same)
}

// dedupeKeys is dedupe for an entry whose keys entryKeys returned (ok).
func (s *replicaState) dedupeKeys(ctx context.Context, keys []dedupeID, same []dedupeMatch) (res []commitlog.AppendResult, _ []dedupeID, ok bool, err error) {
	d := &s.sends
	for {
		d.mu.Lock()
		var wait chan struct{}
		var out []commitlog.AppendResult
		found := 0
		for i, k := range keys {
			if r, ok := d.results[k]; ok && r.same == same[i] {
				out = append(out, r.res...)
				found++
			} else if ch := d.inflight[k]; ch != nil {
				wait = ch
			}
		}
		if found == len(keys) {
			d.mu.Unlock()
			return out, nil, true, nil
		}
		if wait == nil {
			ch := make(chan struct{})
			for _, k := range keys {
				d.inflight[k] = ch
			}
			d.mu.Unlock()
			return nil, keys, false, nil
		}
		d.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, nil, false, ctx.Err()
		}
	}
}

// proposed ends the in-flight mark dedupe set on keys: their entry committed and was applied
// (the keys are in the table), or it failed.
func (s *replicaState) proposed(keys []dedupeID) {
	if len(keys) == 0 {
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

// leaderServices are the services only the ready leader runs, started after its barrier and
// stopped synchronously when it steps down: the transaction service, rebuilt from the store
// (every committed entry applied and dispatched) so its open transactions are the group's, with
// its check-back (timed from each half message's store time, so a new leader does not check
// every transaction at once, nor late). A replica that does not lead has its transaction
// service closed: its prepares and ends fail with SERVICE_NOT_AVAILABLE.
type leaderServices struct {
	running bool
}

func (l *leaderServices) start(s *replicaState) {
	if l.running {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tx, err := s.b.store.ReopenTransactions(ctx)
	if err == nil {
		err = tx.Start(s.b.checker)
	}
	if err != nil {
		s.rg.log.Error("broker: the new leader's transaction service did not start; retried at the next role change or batch tick", "err", err)
		return
	}
	l.running = true
	s.servicesReady.Store(true)
	s.b.triggerRegister()
	s.rg.log.Info("broker: leader services started", "openTransactions", len(tx.Open()))
}

func (l *leaderServices) stop(s *replicaState) {
	s.servicesReady.Store(false)
	if err := s.b.store.CloseTransactions(); err != nil {
		s.rg.log.Warn("broker: closing the transaction service on step-down", "err", err)
	}
	if l.running {
		l.running = false
		s.rg.log.Info("broker: leader services stopped")
	}
}
