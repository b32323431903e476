package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/mqstore/mqstore/internal/vfs"
)

// The pop log: <storePathRootDir>/config/pop.log, the durable state of POP-style consumption
// (pop.go). An append-only sequence of records; a compaction rewrites the live state as a
// new log (pop.log.tmp, fsync, rename, directory fsync). Layout of one record (frozen):
//
//	+---------+---------+------------------------------------------------+
//	| len u32 | crc u32 | payload (len bytes)                            |
//	+---------+---------+------------------------------------------------+
//	payload = kind u8 | group (u16 len + bytes) | topic (u16 len + bytes) | queueId i32 | body
//	  kind 1 POP     body = queueOffset i64 | physicalOffset i64 | attempt i32 | deadline ms i64 |
//	                        messageGroup (u16 len + bytes)
//	  kind 2 ACK     body = queueOffset i64
//	  kind 3 BASE    body = committed i64   (compaction: the queue's committed offset)
//
// Integers are big-endian; crc is CRC-32C (Castagnoli) of the payload. A POP record is written
// for every delivery (first or redelivery) and every invisible-time change, an ACK for every
// ack, filtered-out message and dead-lettered message. Replay: the last BASE of a queue sets
// its committed offset; POP records make an offset in flight with that attempt and deadline
// (the last one wins); ACK removes it and marks it done. Recovery stops at the first record
// that is short or fails its CRC (a torn tail) and truncates the file there. docs/FORMAT.md
// ("Pop state") argues crash safety.

const (
	popKindPop  = 1
	popKindAck  = 2
	popKindBase = 3

	popHeaderSize    = 8
	popMaxRecordSize = 1 << 16 // names are at most 255 (topic) and 65535 bytes: a bigger length is corruption
)

var popCRC = crc32.MakeTable(crc32.Castagnoli)

// popRecord is one decoded pop log record.
type popRecord struct {
	kind           byte
	group, topic   string
	queueID        int32
	queueOffset    int64 // POP, ACK; committed for BASE
	physicalOffset int64
	attempt        int32
	deadline       int64 // ms since the epoch
	messageGroup   string
}

func appendString16(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// appendPopRecord encodes r, framed, at the end of dst.
func appendPopRecord(dst []byte, r *popRecord) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, popHeaderSize)...)
	dst = append(dst, r.kind)
	dst = appendString16(dst, r.group)
	dst = appendString16(dst, r.topic)
	dst = binary.BigEndian.AppendUint32(dst, uint32(r.queueID))
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.queueOffset))
	if r.kind == popKindPop {
		dst = binary.BigEndian.AppendUint64(dst, uint64(r.physicalOffset))
		dst = binary.BigEndian.AppendUint32(dst, uint32(r.attempt))
		dst = binary.BigEndian.AppendUint64(dst, uint64(r.deadline))
		dst = appendString16(dst, r.messageGroup)
	}
	payload := dst[start+popHeaderSize:]
	binary.BigEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, popCRC))
	return dst
}

// errPopCorrupt marks a pop log record that does not decode.
var errPopCorrupt = errors.New("broker: corrupt pop log record")

// popReader decodes a payload with a sticky error.
type popReader struct {
	b   []byte
	err error
}

func (r *popReader) take(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.err = errPopCorrupt
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
func (r *popReader) u16() int {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(b))
}
func (r *popReader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}
func (r *popReader) u64() uint64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}
func (r *popReader) str() string { return string(r.take(r.u16())) }

// decodePopRecord decodes the record at the start of b and returns its size; 0 and an error
// for a torn or corrupt record.
func decodePopRecord(b []byte, rec *popRecord) (int, error) {
	if len(b) < popHeaderSize {
		return 0, errPopCorrupt
	}
	n := int(binary.BigEndian.Uint32(b))
	if n <= 0 || n > popMaxRecordSize || len(b) < popHeaderSize+n {
		return 0, errPopCorrupt
	}
	payload := b[popHeaderSize : popHeaderSize+n]
	if crc32.Checksum(payload, popCRC) != binary.BigEndian.Uint32(b[4:]) {
		return 0, errPopCorrupt
	}
	r := popReader{b: payload}
	k := r.take(1)
	if k == nil {
		return 0, errPopCorrupt
	}
	*rec = popRecord{kind: k[0]}
	rec.group = r.str()
	rec.topic = r.str()
	rec.queueID = int32(r.u32())
	rec.queueOffset = int64(r.u64())
	switch rec.kind {
	case popKindPop:
		rec.physicalOffset = int64(r.u64())
		rec.attempt = int32(r.u32())
		rec.deadline = int64(r.u64())
		rec.messageGroup = r.str()
	case popKindAck, popKindBase:
	default:
		return 0, fmt.Errorf("%w: kind %d", errPopCorrupt, rec.kind)
	}
	if r.err != nil {
		return 0, r.err
	}
	return popHeaderSize + n, nil
}

// popLog is the open pop log file.
type popLog struct {
	fs   vfs.FS
	path string
	f    vfs.File
	size int64
	buf  []byte
}

// openPopLog reads every valid record of the log at path (calling fn for each), truncates a
// torn tail and opens the file for appending. Every file operation goes through fsys (the
// store's file-system seam), so fault and power-loss tests cover the log.
func openPopLog(fsys vfs.FS, path string, fn func(*popRecord)) (*popLog, error) {
	data, err := fsys.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("broker: read pop log: %w", err)
	}
	var rec popRecord
	off := 0
	for off < len(data) {
		n, err := decodePopRecord(data[off:], &rec)
		if err != nil {
			break
		}
		fn(&rec)
		off += n
	}
	if err := fsys.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := fsys.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("broker: open pop log: %w", err)
	}
	if data == nil {
		// A new file: its directory entry must be durable before records synced into it are.
		if err := fsys.SyncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("broker: sync the pop log's directory: %w", err)
		}
	}
	if off < len(data) {
		if err := f.Truncate(int64(off)); err != nil {
			f.Close()
			return nil, fmt.Errorf("broker: truncate the pop log's torn tail: %w", err)
		}
	}
	if _, err := f.Seek(int64(off), io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return &popLog{fs: fsys, path: path, f: f, size: int64(off)}, nil
}

// append writes records with one write(2): once it returns they survive a process crash
// (they are in the page cache); sync makes them survive a power loss.
func (l *popLog) append(recs ...*popRecord) error {
	if l.f == nil {
		return errPopLogGone
	}
	l.buf = l.buf[:0]
	for _, r := range recs {
		l.buf = appendPopRecord(l.buf, r)
	}
	n, err := l.f.Write(l.buf)
	l.size += int64(n)
	if err != nil {
		return fmt.Errorf("broker: append to the pop log: %w", err)
	}
	return nil
}

func (l *popLog) sync() error {
	if l.f == nil {
		return errPopLogGone
	}
	return l.f.Sync()
}

// rewrite replaces the log with recs (a compaction): a new file is written and synced, renamed
// over the old one, and the directory synced.
func (l *popLog) rewrite(recs []*popRecord) error {
	tmp := l.path + ".tmp"
	var buf []byte
	for _, r := range recs {
		buf = appendPopRecord(buf, r)
	}
	f, err := l.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := l.fs.Rename(tmp, l.path); err != nil {
		return err
	}
	// The rename is durable once the directory is synced; until then a power loss leaves the
	// old log, which holds the same state. The new log is reopened by its final name.
	l.f.Close()
	l.f = nil // until reopened: appends fail with errPopLogGone
	dirErr := l.fs.SyncDir(filepath.Dir(l.path))
	if f, err = l.fs.OpenFile(l.path, os.O_RDWR, 0); err != nil {
		return errors.Join(dirErr, err)
	}
	if _, err := f.Seek(int64(len(buf)), io.SeekStart); err != nil {
		f.Close()
		return errors.Join(dirErr, err)
	}
	l.f = f
	l.size = int64(len(buf))
	if dirErr != nil {
		return fmt.Errorf("sync the pop log's directory: %w", dirErr)
	}
	return nil
}

// errPopLogGone: a compaction failed after the old log was closed and before the new one
// was open; POP state changes are refused (the service needs a restart).
var errPopLogGone = errors.New("broker: the pop log is not open after a failed compaction")

func (l *popLog) close() error {
	if l.f == nil {
		return nil
	}
	return errors.Join(l.f.Sync(), l.f.Close())
}
