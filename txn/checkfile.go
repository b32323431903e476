package txn

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/mqstore/mqstore/internal/vfs"
)

// The check-count file, <Dir>/checks, records how often each open half
// message was checked. RocketMQ keeps that count in the half message's
// TRANSACTION_CHECK_TIMES property and re-appends the whole half message to
// persist it (N checks, N+1 copies; spec §6.5); mqstore appends one 32-byte
// record per delivered check instead:
//
//	 0                8                16               24      26  27  28      32
//	+----------------+----------------+----------------+-------+---+---+-------+
//	| queue offset   | half offset    | check time     | count |res|rsv| CRC   |
//	| int64          | int64          | int64 (ms)     | u16   |u8 | 0 | u32   |
//	+----------------+----------------+----------------+-------+---+---+-------+
//
// All big-endian. queue offset and half offset are the half message's
// offsets in the half queue and in the commitlog (both, so a record can
// never be applied to another message); check time is when the check was
// delivered, count the number of checks delivered so far (this one
// included), res the CheckResult of the last check. CRC is the IEEE CRC32
// of bytes 0-27. The layout and sizes are frozen.
//
// The file is append-only between compactions. Reading stops at the first
// record whose CRC does not match or that is cut short (a torn tail after a
// crash); the file is truncated there. The last record of a message wins.
// At the end of a check round, when the file holds more than twice as many
// records as there are open transactions (and at least compactMinRecords),
// it is rewritten with one record per checked open transaction into
// checks.tmp, synced, and renamed over checks. Records of closed
// transactions are ignored when read, so a stale record is harmless.
//
// Records are synced at the end of each check round. A crash may lose the
// records of the round in progress: those checks are then delivered again
// and counted once more (a count may fall short by one round, never run
// ahead of the checks delivered).
const (
	checkRecordSize   = 32
	checkFileName     = "checks"
	compactMinRecords = 4096
	// maxCheckCount is the largest count a record holds (u16).
	maxCheckCount = 1<<16 - 1
)

// checkRecord is one record of the check-count file.
type checkRecord struct {
	queueOffset int64
	halfOffset  int64
	checkTime   int64 // unix ms
	count       int
	result      CheckResult
}

// appendCheckRecord appends r's 32 bytes to dst.
func appendCheckRecord(dst []byte, r checkRecord) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.queueOffset))
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.halfOffset))
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.checkTime))
	count := min(max(r.count, 0), maxCheckCount)
	dst = binary.BigEndian.AppendUint16(dst, uint16(count))
	dst = append(dst, byte(r.result), 0)
	return binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:start+28]))
}

// errBadCheckRecord: a check record's CRC does not match.
var errBadCheckRecord = errors.New("txn: bad check record")

// decodeCheckRecord decodes the record at the start of b (at least
// checkRecordSize bytes).
func decodeCheckRecord(b []byte) (checkRecord, error) {
	if len(b) < checkRecordSize {
		return checkRecord{}, errBadCheckRecord
	}
	be := binary.BigEndian
	if be.Uint32(b[28:]) != crc32.ChecksumIEEE(b[:28]) {
		return checkRecord{}, errBadCheckRecord
	}
	return checkRecord{
		queueOffset: int64(be.Uint64(b[0:])),
		halfOffset:  int64(be.Uint64(b[8:])),
		checkTime:   int64(be.Uint64(b[16:])),
		count:       int(be.Uint16(b[24:])),
		result:      CheckResult(b[26]),
	}, nil
}

// checkFile is the open check-count file. Not safe for concurrent use: the
// check round (under Service.roundMu) and New use it.
type checkFile struct {
	fs      vfs.FS
	dir     string
	f       vfs.File
	records int    // records in the file
	buf     []byte // records appended since the last sync
}

// openCheckFile opens (creating) <dir>/checks, calls fn for each valid
// record in order, and truncates a torn or corrupt tail.
func openCheckFile(files vfs.FS, dir string, fn func(checkRecord)) (*checkFile, error) {
	files = vfs.Default(files)
	path := filepath.Join(dir, checkFileName)
	f, err := files.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("txn: open check file: %w", err)
	}
	// The file may have just been created: its name must survive a power loss before any
	// record synced into it counts.
	if err := files.SyncDir(dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("txn: open check file: %w", err)
	}
	r := bufio.NewReaderSize(f, 64<<10)
	var rec [checkRecordSize]byte
	var n int
	for {
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			break // EOF or a short tail
		}
		cr, err := decodeCheckRecord(rec[:])
		if err != nil {
			break
		}
		fn(cr)
		n++
	}
	valid := int64(n) * checkRecordSize
	if err := f.Truncate(valid); err != nil {
		f.Close()
		return nil, fmt.Errorf("txn: truncate check file: %w", err)
	}
	if _, err := f.Seek(valid, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("txn: seek check file: %w", err)
	}
	return &checkFile{fs: files, dir: dir, f: f, records: n}, nil
}

// add buffers one record.
func (c *checkFile) add(r checkRecord) {
	c.buf = appendCheckRecord(c.buf, r)
	c.records++
}

// sync writes the buffered records and syncs the file.
func (c *checkFile) sync() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.f.Write(c.buf)
	c.buf = c.buf[:0]
	if err != nil {
		return fmt.Errorf("txn: write check file: %w", err)
	}
	if err := c.f.Sync(); err != nil {
		return fmt.Errorf("txn: sync check file: %w", err)
	}
	return nil
}

// needsCompaction reports whether the file is worth rewriting for open
// open transactions.
func (c *checkFile) needsCompaction(open int) bool {
	return c.records >= compactMinRecords && c.records > 2*open
}

// compact replaces the file with recs (written to checks.tmp, synced,
// renamed over checks, directory synced).
func (c *checkFile) compact(recs []checkRecord) error {
	if err := c.sync(); err != nil {
		return err
	}
	buf := make([]byte, 0, len(recs)*checkRecordSize)
	for _, r := range recs {
		buf = appendCheckRecord(buf, r)
	}
	path := filepath.Join(c.dir, checkFileName)
	if err := vfs.WriteFileAtomic(c.fs, path, buf, 0o644); err != nil {
		return fmt.Errorf("txn: compact check file: %w", err)
	}
	f, err := c.fs.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("txn: reopen check file: %w", err)
	}
	c.f.Close()
	c.f = f
	c.records = len(recs)
	return nil
}

// close syncs and closes the file.
func (c *checkFile) close() error {
	err := c.sync()
	if cerr := c.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("txn: close check file: %w", cerr)
	}
	return err
}
