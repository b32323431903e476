package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	iofs "io/fs"

	"github.com/mqstore/mqstore/internal/vfs"
)

// The checkpoint file records how far the store is known durable. Its first 40 bytes are
// RocketMQ's StoreCheckpoint layout (4.9 uses 24 bytes, 5.x 40); mqstore gives the two 5.x
// offset slots its own meaning and adds a magic and a CRC, in a 4096-byte file:
//
//	offset  size  field
//	     0     8  physicMsgTimestamp   store time (ms) of the last record covered by a commitlog flush
//	     8     8  logicsMsgTimestamp   store time (ms) of the last record whose queue units were flushed
//	    16     8  indexMsgTimestamp    store time (ms) of the last record whose index entries were flushed
//	    24     8  commitlogFlushed     commitlog offset up to which records were msync'ed (5.x: masterFlushedOffset)
//	    32     8  dispatchedFlushed    commitlog offset up to which queue units and index entries were
//	                                   msync'ed (5.x: confirmPhyOffset)
//	    40     4  magic                0x4D515343 ("MQSC")
//	    44     4  crc                  CRC-32 (IEEE) of bytes [0, 44)
//	    48  4048  zero
//
// All integers are big-endian. The constants are frozen: changing them makes existing stores
// recover from scratch. The file is replaced atomically (vfs.WriteFileAtomic: checkpoint.tmp,
// fsync, rename, fsync of the directory), so a crash leaves the old or the new checkpoint; a torn
// or foreign checkpoint fails its CRC and recovery then starts from the beginning of the log
// (slow, safe).
const (
	checkpointSize  = 4096
	checkpointMagic = 0x4D515343
	checkpointUsed  = 48
)

// checkpoint is the decoded checkpoint file.
type checkpoint struct {
	physicMsgTimestamp int64
	logicsMsgTimestamp int64
	indexMsgTimestamp  int64
	commitlogFlushed   int64
	dispatchedFlushed  int64
}

func (c checkpoint) encode() []byte {
	b := make([]byte, checkpointSize)
	binary.BigEndian.PutUint64(b[0:], uint64(c.physicMsgTimestamp))
	binary.BigEndian.PutUint64(b[8:], uint64(c.logicsMsgTimestamp))
	binary.BigEndian.PutUint64(b[16:], uint64(c.indexMsgTimestamp))
	binary.BigEndian.PutUint64(b[24:], uint64(c.commitlogFlushed))
	binary.BigEndian.PutUint64(b[32:], uint64(c.dispatchedFlushed))
	binary.BigEndian.PutUint32(b[40:], checkpointMagic)
	binary.BigEndian.PutUint32(b[44:], crc32.ChecksumIEEE(b[:44]))
	return b
}

// decodeCheckpoint returns the checkpoint and whether it is valid.
func decodeCheckpoint(b []byte) (checkpoint, bool) {
	if len(b) < checkpointUsed ||
		binary.BigEndian.Uint32(b[40:]) != checkpointMagic ||
		binary.BigEndian.Uint32(b[44:]) != crc32.ChecksumIEEE(b[:44]) {
		return checkpoint{}, false
	}
	c := checkpoint{
		physicMsgTimestamp: int64(binary.BigEndian.Uint64(b[0:])),
		logicsMsgTimestamp: int64(binary.BigEndian.Uint64(b[8:])),
		indexMsgTimestamp:  int64(binary.BigEndian.Uint64(b[16:])),
		commitlogFlushed:   int64(binary.BigEndian.Uint64(b[24:])),
		dispatchedFlushed:  int64(binary.BigEndian.Uint64(b[32:])),
	}
	if c.commitlogFlushed < 0 || c.dispatchedFlushed < 0 {
		return checkpoint{}, false
	}
	return c, true
}

// readCheckpoint reads the checkpoint file; ok is false when it is missing or invalid.
func readCheckpoint(fs vfs.FS, path string) (checkpoint, bool, error) {
	b, err := fs.ReadFile(path)
	if errors.Is(err, iofs.ErrNotExist) {
		return checkpoint{}, false, nil
	}
	if err != nil {
		return checkpoint{}, false, fmt.Errorf("store: checkpoint: %w", err)
	}
	cp, ok := decodeCheckpoint(b)
	return cp, ok, nil
}

// writeCheckpointFile replaces the checkpoint file durably.
func writeCheckpointFile(fs vfs.FS, path string, cp checkpoint) error {
	if err := vfs.WriteFileAtomic(fs, path, cp.encode(), 0o644); err != nil {
		return fmt.Errorf("store: checkpoint: %w", err)
	}
	return nil
}
