package replication

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mqstore/mqstore/consumequeue"
	"github.com/mqstore/mqstore/message"
)

// DispatcherOptions configure a Dispatcher.
type DispatcherOptions struct {
	// Queues configures the consume queues (RocketMQ's defaults).
	Queues consumequeue.Options
	// TagsCode returns a record's consume-queue tags code; default message.Record.TagsCode (the
	// broker passes the store's rule, which gives delayed messages their delivery time).
	TagsCode func(r *message.Record) int64
	// CheckpointEvery flushes the queues and records the dispatched index every so many
	// entries (4096); Close does it too.
	CheckpointEvery uint64
	// OnConfig, when set, hears every committed metadata change (a ConfigTopic record's ops)
	// after the Dispatcher applied it to its table, in log order, on the applying goroutine,
	// while the Log is locked for the read: it must not call the Log or the Group.
	OnConfig func(index uint64, op ConfigOp) error
}

// Dispatcher is a replicated group's reput service: it turns committed entries, and only
// committed entries, into consume-queue units (RocketMQ's format, under <dir>/consumequeue),
// in log order. It is a replica's Options.Apply: Raft hands it an entry once a quorum stored it,
// so a suffix truncated after a leader change never reaches a consume queue, and consumers
// (on the leader or on a follower) never see a record that can vanish.
//
// Records of ConfigTopic are metadata changes (ConfigOp): the Dispatcher keeps the resulting
// table (kind → key → value), so every replica holds the same topic configs, groups and
// consumer offsets as of its applied index.
//
// Restart: the config table (<dir>/config.json) and then the dispatched index
// (<dir>/dispatched) are checkpointed after the queues are flushed; a replica restarts with
// Options.Applied = Applied(), and re-dispatching the entries after it is idempotent
// (consumequeue.Put accepts a unit it already holds; a ConfigOp sets or deletes its row).
type Dispatcher struct {
	dir   string
	opts  DispatcherOptions
	table *consumequeue.Table

	applied    atomic.Uint64 // last dispatched index
	dispatched atomic.Int64  // commitlog offset one past the last dispatched record
	checkpoint uint64        // applied index of the last checkpoint (dispatch goroutine only)

	// configMu guards config: kind → key → value.
	configMu sync.RWMutex
	config   map[string]map[string]json.RawMessage

	// mu guards round, closed every time dispatch moves.
	mu    sync.Mutex
	round chan struct{}
}

// OpenDispatcher opens (recovering) the consume queues under dir/consumequeue and the
// checkpoint.
func OpenDispatcher(dir string, opts DispatcherOptions) (*Dispatcher, error) {
	if opts.TagsCode == nil {
		opts.TagsCode = (*message.Record).TagsCode
	}
	if opts.CheckpointEvery == 0 {
		opts.CheckpointEvery = 4096
	}
	table, err := consumequeue.OpenTable(filepath.Join(dir, "consumequeue"), opts.Queues)
	if err != nil {
		return nil, fmt.Errorf("replication: dispatcher: %w", err)
	}
	d := &Dispatcher{dir: dir, opts: opts, table: table, round: make(chan struct{}), config: map[string]map[string]json.RawMessage{}}
	index, offset, err := readCheckpoint(filepath.Join(dir, "dispatched"))
	if err == nil {
		err = d.readConfig()
	}
	if err != nil {
		table.Close()
		return nil, fmt.Errorf("replication: dispatcher: %w", err)
	}
	d.applied.Store(index)
	d.dispatched.Store(offset)
	d.checkpoint = index
	return d, nil
}

// Table is the consume queues.
func (d *Dispatcher) Table() *consumequeue.Table { return d.table }

// Applied is the last dispatched index: a restarted replica's Options.Applied.
func (d *Dispatcher) Applied() uint64 { return d.applied.Load() }

// DispatchedOffset is the commitlog offset up to which records are in their queues.
func (d *Dispatcher) DispatchedOffset() int64 { return d.dispatched.Load() }

// Apply dispatches the records of committed entry index (its data as the log stores it:
// patched records). It is the replica's Options.Apply.
func (d *Dispatcher) Apply(index uint64, data []byte) error {
	var rec message.Record
	end := d.dispatched.Load()
	for pos := 0; pos < len(data); {
		n, err := message.DecodeRecord(data[pos:], &rec, false)
		if err != nil {
			return fmt.Errorf("%w: entry %d at %d: %w", ErrBadEntry, index, pos, err)
		}
		if getsQueueOffset(rec.SysFlag) {
			q, err := d.table.GetOrCreate(string(rec.Topic), rec.QueueID)
			if err != nil {
				return err
			}
			u := consumequeue.Unit{CommitLogOffset: rec.PhysicalOffset, Size: rec.TotalSize, TagsCode: d.opts.TagsCode(&rec)}
			if err := q.Put(rec.QueueOffset, u); err != nil {
				return fmt.Errorf("replication: dispatch entry %d: %w", index, err)
			}
		}
		if string(rec.Topic) == ConfigTopic {
			if err := d.applyConfig(index, rec.Body); err != nil {
				return err
			}
		}
		end = rec.PhysicalOffset + int64(rec.TotalSize)
		pos += n
	}
	d.dispatched.Store(end)
	d.applied.Store(index)
	d.mu.Lock()
	close(d.round)
	d.round = make(chan struct{})
	d.mu.Unlock()
	if index >= d.checkpoint+d.opts.CheckpointEvery {
		return d.Checkpoint()
	}
	return nil
}

func (d *Dispatcher) applyConfig(index uint64, body []byte) error {
	ops, err := decodeConfigOps(body)
	if err != nil {
		return fmt.Errorf("entry %d: %w", index, err)
	}
	d.configMu.Lock()
	for _, op := range ops {
		rows := d.config[op.Kind]
		if op.Value == nil {
			delete(rows, op.Key)
			continue
		}
		if rows == nil {
			rows = map[string]json.RawMessage{}
			d.config[op.Kind] = rows
		}
		rows[op.Key] = slices.Clone(op.Value)
	}
	d.configMu.Unlock()
	if d.opts.OnConfig != nil {
		for _, op := range ops {
			if err := d.opts.OnConfig(index, op); err != nil {
				return fmt.Errorf("entry %d: config %s %s: %w", index, op.Kind, op.Key, err)
			}
		}
	}
	return nil
}

// Config returns the value of a metadata row as of the applied index.
func (d *Dispatcher) Config(kind, key string) (json.RawMessage, bool) {
	d.configMu.RLock()
	defer d.configMu.RUnlock()
	v, ok := d.config[kind][key]
	return v, ok
}

// ConfigRows returns a copy of every row of one kind (a new leader loads its topic configs,
// groups and offsets from here).
func (d *Dispatcher) ConfigRows(kind string) map[string]json.RawMessage {
	d.configMu.RLock()
	defer d.configMu.RUnlock()
	return maps.Clone(d.config[kind])
}

func (d *Dispatcher) readConfig() error {
	b, err := os.ReadFile(filepath.Join(d.dir, "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &d.config); err != nil {
		return fmt.Errorf("%w: config.json: %w", ErrCorruptEntry, err)
	}
	if d.config == nil {
		d.config = map[string]map[string]json.RawMessage{}
	}
	return nil
}

// SnapshotExtra returns the config table as JSON: the application state a snapshot carries
// (Log.SetSnapshotExtra). It may be newer than the snapshot's index: replaying the entries after
// that index on top of it gives the same table, because each op overwrites its whole row.
func (d *Dispatcher) SnapshotExtra() ([]byte, error) {
	d.configMu.RLock()
	defer d.configMu.RUnlock()
	return json.Marshal(d.config)
}

// Restore replaces the dispatcher's state with a snapshot's (Options.Restore): every consume
// queue is deleted (the next units start at the snapshot's queue offsets, with blank units
// below them, as RocketMQ's queues do after retention), the config table comes from the
// snapshot, and dispatch continues after index.
func (d *Dispatcher) Restore(index uint64, data []byte) error {
	var snap snapshotData
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("%w: snapshot data: %w", ErrCorruptEntry, err)
	}
	config := map[string]map[string]json.RawMessage{}
	if len(snap.Extra) > 0 {
		if err := json.Unmarshal(snap.Extra, &config); err != nil {
			return fmt.Errorf("%w: snapshot config: %w", ErrCorruptEntry, err)
		}
	}
	var topics []string
	d.table.Range(func(q *consumequeue.ConsumeQueue) bool {
		if !slices.Contains(topics, q.Topic()) {
			topics = append(topics, q.Topic())
		}
		return true
	})
	for _, topic := range topics {
		if err := d.table.Delete(topic); err != nil {
			return fmt.Errorf("replication: restore: %w", err)
		}
	}
	d.configMu.Lock()
	d.config = config
	d.configMu.Unlock()
	d.applied.Store(index)
	d.dispatched.Store(snap.StartPhys)
	return d.Checkpoint()
}

// WaitApplied waits until entry index is dispatched.
func (d *Dispatcher) WaitApplied(ctx context.Context, index uint64) error {
	for {
		d.mu.Lock()
		round := d.round
		d.mu.Unlock()
		if d.applied.Load() >= index {
			return nil
		}
		select {
		case <-round:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Checkpoint flushes the queues, then records the dispatched index. Call it from the goroutine
// that applies (or after it stopped).
func (d *Dispatcher) Checkpoint() error {
	index, offset := d.applied.Load(), d.dispatched.Load()
	if err := d.table.Flush(); err != nil {
		return fmt.Errorf("replication: checkpoint: %w", err)
	}
	d.configMu.RLock()
	config, err := json.Marshal(d.config)
	d.configMu.RUnlock()
	if err == nil {
		err = writeFileAtomic(d.dir, "config.json", config)
	}
	if err != nil {
		return fmt.Errorf("replication: checkpoint config: %w", err)
	}
	if err := writeCheckpoint(d.dir, index, offset); err != nil {
		return fmt.Errorf("replication: checkpoint: %w", err)
	}
	d.checkpoint = index
	return nil
}

// Close checkpoints and closes the queues. The replica must be stopped first.
func (d *Dispatcher) Close() error {
	err := d.Checkpoint()
	if e := d.table.Close(); err == nil {
		err = e
	}
	return err
}

// The checkpoint file, 20 bytes big-endian: INDEX uint64 | OFFSET int64 | CRC32-C of the 16.
func writeCheckpoint(dir string, index uint64, offset int64) error {
	var b [20]byte
	binary.BigEndian.PutUint64(b[0:], index)
	binary.BigEndian.PutUint64(b[8:], uint64(offset))
	binary.BigEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	return writeFileAtomic(dir, "dispatched", b[:])
}

func readCheckpoint(path string) (uint64, int64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	if len(b) != 20 || binary.BigEndian.Uint32(b[16:]) != crc32.Checksum(b[:16], castagnoli) {
		return 0, 0, fmt.Errorf("%w: dispatch checkpoint %s", ErrCorruptEntry, path)
	}
	return binary.BigEndian.Uint64(b[0:]), int64(binary.BigEndian.Uint64(b[8:])), nil
}
