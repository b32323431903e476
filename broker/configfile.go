package broker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/mqstore/mqstore/internal/fastjsonkeys"
	"github.com/mqstore/mqstore/internal/vfs"
)

// The broker's config files live under <storePathRootDir>/config (RocketMQ's names and JSON
// shapes, so a directory moves between RocketMQ and mqstore):
//
//	topics.json             {"topicConfigTable":{"T":{"topicName":"T","readQueueNums":4,...}},
//	                         "dataVersion":{"timestamp":1700000000000,"counter":3}}
//	consumerOffset.json     {"offsetTable":{"T@group":{"0":12,"1":34}}}
//	subscriptionGroup.json  {"subscriptionGroupTable":{"g":{"groupName":"g",...}},"dataVersion":{...}}
//
// RocketMQ (fastjson) writes integer map keys unquoted ({0:12}); readJSONFile accepts both forms
// and mqstore writes standard JSON, which RocketMQ reads too. Files are replaced atomically:
// written to <name>.tmp, fsynced, renamed over <name>, and the directory fsynced, so a crash
// leaves the old or the new content, never a torn file. Like RocketMQ, the previous content is
// kept in <name>.bak, which is read when <name> is missing.
const (
	topicsFile         = "topics.json"
	consumerOffsetFile = "consumerOffset.json"
	subscriptionFile   = "subscriptionGroup.json"
)

// maxConfigFileSize caps a config file read at start.
const maxConfigFileSize = 256 << 20

// configFile is one of the broker's config files, written whole (see writeConfigFile) and with
// group commit: a caller that changed its table calls commit before it answers, and concurrent
// callers share one write. Nothing that depends on a config change (a SEND to a topic it
// created, a heartbeat that created a group) is acknowledged before the change is durable.
type configFile struct {
	fs   vfs.FS
	path string

	// changes counts changes made to the table; the table bumps it under its own lock, after
	// the change, so a snapshot taken after reading it covers every change it counts.
	changes atomic.Uint64

	writeMu sync.Mutex    // serialises writes of the file and the updates of written
	written atomic.Uint64 // changes covered by the last successful write
}

// changed records a change of the table (call with the table's lock held, after changing it).
func (f *configFile) changed() { f.changes.Add(1) }

// durable reports whether every recorded change is written (two atomic loads: the fast path of
// readers that answer from the table).
func (f *configFile) durable() bool { return f.written.Load() >= f.changes.Load() }

// commit returns once every change recorded before the call is durable, writing the file
// unless a concurrent or earlier write already covered them. snapshot encodes the table.
func (f *configFile) commit(snapshot func() ([]byte, error)) error {
	want := f.changes.Load()
	if f.written.Load() >= want {
		return nil
	}
	f.writeMu.Lock()
	defer f.writeMu.Unlock()
	if f.written.Load() >= want {
		return nil
	}
	return f.writeLocked(snapshot)
}

// persist writes the file if a change was not written yet, or always when force.
func (f *configFile) persist(force bool, snapshot func() ([]byte, error)) error {
	f.writeMu.Lock()
	defer f.writeMu.Unlock()
	if !force && f.durable() {
		return nil
	}
	return f.writeLocked(snapshot)
}

func (f *configFile) writeLocked(snapshot func() ([]byte, error)) error {
	seen := f.changes.Load()
	data, err := snapshot()
	if err != nil {
		return fmt.Errorf("broker: encode %s: %w", f.path, err)
	}
	if err := writeConfigFile(f.fs, f.path, data); err != nil {
		return fmt.Errorf("broker: write %s: %w", f.path, err)
	}
	f.written.Store(seen)
	return nil
}

// writeConfigFile replaces path with data atomically and durably (vfs.WriteFileAtomic: temp
// file, fsync, rename, directory fsync), keeping the previous content in path.bak first.
func writeConfigFile(fsys vfs.FS, path string, data []byte) error {
	fsys = vfs.Default(fsys)
	if err := vfs.MkdirAllSync(fsys, filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if old, err := fsys.ReadFile(path); err == nil && !bytes.Equal(old, data) {
		// Best effort, as RocketMQ's MixAll.string2File: the .bak is only a fallback, read
		// when the file itself is missing.
		_ = vfs.WriteFileAtomic(fsys, path+".bak", old, 0o644)
	}
	return vfs.WriteFileAtomic(fsys, path, data, 0o644)
}

// readJSONFile decodes path (or its .bak when path is missing) into v. A missing file leaves v
// untouched and returns nil.
func readJSONFile(path string, v any) error {
	data, err := readCapped(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = readCapped(path + ".bak")
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(quoteBareKeys(data), v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrConfigFile, path, err)
	}
	return nil
}

func readCapped(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxConfigFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrConfigFile, path, maxConfigFileSize)
	}
	return os.ReadFile(path)
}

// quoteBareKeys returns b with fastjson's non-string object keys ({0:"a"}, or an object as a
// key) quoted as JSON strings (fastjsonkeys.Quote). Text it cannot read is returned as it is,
// for the JSON parser to reject with its own error.
func quoteBareKeys(b []byte) []byte {
	out, err := fastjsonkeys.Quote(b)
	if err != nil {
		return b
	}
	return out
}
