package broker

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/mqstore/mqstore/internal/vfs"
)

// offsetsFileContent is consumerOffset.json (ConsumerOffsetManager): committed offsets by
// "topic@group" and queue id. RocketMQ writes the queue ids unquoted ({0:12}); readJSONFile
// accepts that.
type offsetsFileContent struct {
	OffsetTable map[string]map[string]int64 `json:"offsetTable"`
}

// offsetKey names one group's progress on one topic.
type offsetKey struct {
	topic, group string
}

// offsetTable holds consumer groups' committed offsets (RocketMQ's ConsumerOffsetManager).
type offsetTable struct {
	fs   vfs.FS
	path string

	// repl batches changes into a replicated group's log (nil in single-node mode;
	// replicated_config.go).
	repl *configRepl

	// writeMu serialises persist: its callers (the persist loop, a replica's store checkpoint,
	// Close) would otherwise share the temp file, and an older table could replace a newer one.
	writeMu sync.Mutex
	mu      sync.Mutex // guards offsets, dirty, unreplicated
	offsets map[offsetKey]map[int32]int64
	dirty   bool
	// unreplicated: the queues whose offset changed on the ready leader since its last batch.
	unreplicated map[offsetQueue]struct{}
}

func newOffsetTable(fsys vfs.FS, path string) *offsetTable {
	return &offsetTable{fs: fsys, path: path, offsets: make(map[offsetKey]map[int32]int64)}
}

// load reads consumerOffset.json.
func (o *offsetTable) load() error {
	var f offsetsFileContent
	if err := readJSONFile(o.path, &f); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for key, queues := range f.OffsetTable {
		topic, group, ok := strings.Cut(key, "@")
		if !ok {
			return fmt.Errorf("%w: %s: key %q is not topic@group", ErrConfigFile, o.path, key)
		}
		m := make(map[int32]int64, len(queues))
		for q, off := range queues {
			id, err := strconv.ParseInt(q, 10, 32)
			if err != nil {
				return fmt.Errorf("%w: %s: queue id %q", ErrConfigFile, o.path, q)
			}
			m[int32(id)] = off
		}
		o.offsets[offsetKey{topic, group}] = m
	}
	return nil
}

// commit stores a group's offset for a queue. Negative offsets mean "none" and are ignored.
func (o *offsetTable) commit(group, topic string, queueID int32, offset int64) {
	if offset < 0 {
		return
	}
	k := offsetKey{topic, group}
	o.mu.Lock()
	m := o.offsets[k]
	if m == nil {
		m = make(map[int32]int64)
		o.offsets[k] = m
	}
	if old, ok := m[queueID]; !ok || old != offset {
		m[queueID] = offset
		o.dirty = true
		o.markLocked(k, queueID)
	}
	o.mu.Unlock()
}

// query returns a group's committed offset for a queue.
func (o *offsetTable) query(group, topic string, queueID int32) (int64, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	off, ok := o.offsets[offsetKey{topic, group}][queueID]
	return off, ok
}

// removeTopic forgets every group's offsets of a topic.
func (o *offsetTable) removeTopic(topic string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for k := range o.offsets {
		if k.topic == topic {
			o.markAllLocked(k)
			delete(o.offsets, k)
			o.dirty = true
		}
	}
}

// persist writes consumerOffset.json if it changed since the last write (or always when force).
func (o *offsetTable) persist(force bool) error {
	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	o.mu.Lock()
	if !o.dirty && !force {
		o.mu.Unlock()
		return nil
	}
	f := offsetsFileContent{OffsetTable: make(map[string]map[string]int64, len(o.offsets))}
	for k, queues := range o.offsets {
		m := make(map[string]int64, len(queues))
		for q, off := range queues {
			m[strconv.Itoa(int(q))] = off
		}
		f.OffsetTable[k.topic+"@"+k.group] = m
	}
	o.dirty = false
	o.mu.Unlock()
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := writeConfigFile(o.fs, o.path, data); err != nil {
		o.mu.Lock()
		o.dirty = true
		o.mu.Unlock()
		return fmt.Errorf("broker: write %s: %w", o.path, err)
	}
	return nil
}
