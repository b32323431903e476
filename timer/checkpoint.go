package timer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/mqstore/mqstore/internal/vfs"
)

// Checkpoint is <dir>/checkpoint.json, replaced atomically (vfs.WriteFileAtomic):
//
//	{"firedMs":1700000000000,"logEnd":3200,"sources":{"rmq_sys_wheel_timer/0":100}}
//
// Its promises, each made durable before the file names it:
//   - FiredMs: every timer due at or before it whose source unit is below Sources was delivered,
//     and the delivered copies are flushed in the commitlog;
//   - LogEnd: the timer log is msync'ed up to this position;
//   - Sources: the units of each source queue below this offset are in the log [0, LogEnd), or
//     were fired (late ones are delivered at once instead of entering the log);
//   - Replay: see the field.
type Checkpoint struct {
	FiredMs int64            `json:"firedMs"`
	LogEnd  int64            `json:"logEnd"`
	Sources map[string]int64 `json:"sources"`
	// Replay is set while the log is rebuilt from the sources after it was lost: units below
	// these offsets were moved into the lost log, so those whose tick is fired are skipped.
	Replay map[string]int64 `json:"replay,omitempty"`
}

const checkpointFile = "checkpoint.json"

// ErrCorrupt marks a timer file that fails its checks.
var ErrCorrupt = errors.New("timer: corrupt")

// ReadCheckpoint reads the checkpoint of dir; found is false when there is none.
func ReadCheckpoint(fsys vfs.FS, dir string) (cp Checkpoint, found bool, err error) {
	data, err := vfs.Default(fsys).ReadFile(filepath.Join(dir, checkpointFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Checkpoint{Sources: map[string]int64{}}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("timer: read checkpoint: %w", err)
	}
	if err := json.Unmarshal(data, &cp); err != nil || cp.LogEnd < 0 || cp.LogEnd%EntrySize != 0 {
		return Checkpoint{}, false, fmt.Errorf("%w: checkpoint %s", ErrCorrupt, filepath.Join(dir, checkpointFile))
	}
	if cp.Sources == nil {
		cp.Sources = map[string]int64{}
	}
	return cp, true, nil
}

// WriteCheckpoint replaces the checkpoint of dir (Wheel.Checkpoint also syncs the log first).
func WriteCheckpoint(fsys vfs.FS, dir string, cp Checkpoint) error {
	data, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	if err := vfs.WriteFileAtomic(fsys, filepath.Join(dir, checkpointFile), data, 0o644); err != nil {
		return fmt.Errorf("timer: checkpoint: %w", err)
	}
	return nil
}
