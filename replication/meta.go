package replication

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mqstore/mqstore/internal/vfs"
)

// logMeta is the rarely changing part of a Log's state, kept in <dir>/raftmeta as JSON and
// replaced atomically (temp file, fsync, rename, fsync of the directory):
//
//   - First, PrevTerm, StartPhys: the log's base. Entries start at index First; PrevTerm is the
//     term of entry First-1 (0 for a new log); StartPhys is the commitlog offset where entry First
//     starts. A new log has First 1, PrevTerm 0, StartPhys 0; a snapshot moves the base.
//   - Voters, Learners: the ConfState, written when a configuration change is applied.
//   - Conf: the data of configuration-change entries by index. Nothing but RocketMQ records
//     goes into the commitlog, so these (a handful: the bootstrap's, one per membership change)
//     live here; their raftidx rows have size 0.
type logMeta struct {
	First     uint64            `json:"first"`
	PrevTerm  uint64            `json:"prevTerm"`
	StartPhys int64             `json:"startPhys"`
	Voters    []uint64          `json:"voters,omitempty"`
	Learners  []uint64          `json:"learners,omitempty"`
	Conf      map[uint64][]byte `json:"conf,omitempty"`
	// SegmentSize is the commitlog segment size the log was created with: every replica must
	// use the same one, or their commitlogs are not byte-identical.
	SegmentSize int64 `json:"segmentSize"`
	// BaseQueues is the queue table at entry First-1 (the next queue offset of every topic
	// queue that had one), set by compaction and snapshots: the records below First are gone.
	BaseQueues []QueueNext `json:"baseQueues,omitempty"`
	// RowsPerFile is the raftidx file size in rows the log was created with (a log written
	// before the field was added has none: it used 1 Mi).
	RowsPerFile int64 `json:"rowsPerFile,omitempty"`
	// SnapshotExtra is the application state (SnapshotState.Extra) of the snapshot the base
	// was installed from, kept until compaction moves the base: written with the base, so a
	// crash before the application restored it leaves it here for the next start
	// (InstalledSnapshot).
	SnapshotExtra json.RawMessage `json:"snapshotExtra,omitempty"`
}

// QueueNext is one row of a queue table: the next queue offset of a topic queue.
type QueueNext struct {
	Topic   string `json:"topic"`
	QueueID int32  `json:"queueId"`
	Next    int64  `json:"next"`
}

const metaName = "raftmeta"

func readMeta(dir string) (logMeta, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, metaName))
	if errors.Is(err, os.ErrNotExist) {
		return logMeta{}, false, nil
	}
	if err != nil {
		return logMeta{}, false, err
	}
	var m logMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return logMeta{}, false, fmt.Errorf("%w: %s: %w", ErrCorruptEntry, metaName, err)
	}
	return m, true, nil
}

func writeMeta(dir string, m *logMeta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return writeFileAtomic(dir, metaName, b)
}

// writeFileAtomic replaces dir/name with b durably (vfs.WriteFileAtomic: temp file, fsync,
// rename, fsync of dir).
func writeFileAtomic(dir, name string, b []byte) error {
	return vfs.WriteFileAtomic(vfs.OS, filepath.Join(dir, name), b, 0o644)
}

func syncDir(dir string) error { return vfs.OS.SyncDir(dir) }
