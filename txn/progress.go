package txn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path/filepath"

	"github.com/mqstore/mqstore/internal/vfs"
)

// The progress file, <Dir>/progress, is txn's "consumer offset" of the half
// and op queues: where New starts reading them.
//
//	 0        4                12               20               28       32
//	+--------+----------------+----------------+----------------+--------+
//	| magic  | half watermark | op watermark   | horizon        | CRC    |
//	| "MQTP" | int64          | int64          | int64          | u32    |
//	+--------+----------------+----------------+----------------+--------+
//
// All big-endian; CRC is the IEEE CRC32 of bytes 0-27. Frozen.
//
//   - half watermark W: every half message with a queue offset below W is
//     closed (committed, rolled back, discarded or resumed). New reads the
//     half queue from W.
//   - op watermark O: every op message marking a half message at or above
//     W sits at op-queue offset O or later. New reads the op queue from O.
//   - horizon H: every commit whose restored message sits below commitlog
//     offset H has its op marker in the op queue (below or at the op queue's
//     end at the time of capture). It bounds the search for commits whose
//     op marker was lost, like the op messages' MQSTORE_TRAN_HORIZON.
//
// The file is replaced atomically (progress.tmp, sync, rename, sync dir)
// at the end of each check round and on Close. It holds the values captured
// at the end of the previous round (or at New), never the current ones, so
// it lags the store's flushed state by a whole check interval: whatever it
// claims closed was closed by records the store's flusher has long made
// durable (async flush syncs every 500 ms by default). A missing or corrupt
// file makes New read both queues from their start.
const (
	progressSize     = 32
	progressMagic    = 0x4D515450 // "MQTP"
	progressFileName = "progress"
)

// progress is the content of the progress file.
type progress struct {
	halfWatermark int64
	opWatermark   int64
	horizon       int64
}

func appendProgress(dst []byte, p progress) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, progressMagic)
	dst = binary.BigEndian.AppendUint64(dst, uint64(p.halfWatermark))
	dst = binary.BigEndian.AppendUint64(dst, uint64(p.opWatermark))
	dst = binary.BigEndian.AppendUint64(dst, uint64(p.horizon))
	return binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:start+28]))
}

func decodeProgress(b []byte) (progress, error) {
	be := binary.BigEndian
	if len(b) != progressSize || be.Uint32(b) != progressMagic || be.Uint32(b[28:]) != crc32.ChecksumIEEE(b[:28]) {
		return progress{}, ErrCorruptState
	}
	p := progress{
		halfWatermark: int64(be.Uint64(b[4:])),
		opWatermark:   int64(be.Uint64(b[12:])),
		horizon:       int64(be.Uint64(b[20:])),
	}
	if p.halfWatermark < 0 || p.opWatermark < 0 || p.horizon < 0 {
		return progress{}, ErrCorruptState
	}
	return p, nil
}

// readProgress reads <dir>/progress; ok is false when it is missing or
// corrupt (then the queues are read from their start).
func readProgress(files vfs.FS, dir string) (p progress, ok bool, err error) {
	b, err := vfs.Default(files).ReadFile(filepath.Join(dir, progressFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return progress{}, false, nil
	}
	if err != nil {
		return progress{}, false, fmt.Errorf("txn: read progress: %w", err)
	}
	p, err = decodeProgress(b)
	if err != nil {
		return progress{}, false, nil
	}
	return p, true, nil
}

// writeProgress replaces <dir>/progress atomically (vfs.WriteFileAtomic).
func writeProgress(files vfs.FS, dir string, p progress) error {
	data := appendProgress(make([]byte, 0, progressSize), p)
	if err := vfs.WriteFileAtomic(files, filepath.Join(dir, progressFileName), data, 0o644); err != nil {
		return fmt.Errorf("txn: progress: %w", err)
	}
	return nil
}
