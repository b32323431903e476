package commitlog

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/message"
)

// Slice is a view of published commitlog bytes that stays valid, even if its segment is deleted
// meanwhile, until Release. It aliases the mapping: never write to it.
type Slice struct {
	Bytes []byte
	file  *mapped.File
}

// Release lets the segment go; Bytes must not be used afterwards.
func (s *Slice) Release() {
	if s.file != nil {
		s.file.Release()
		s.file = nil
		s.Bytes = nil
	}
}

// Slice returns size published bytes at offset with a reference held on their segment.
func (c *CommitLog) Slice(offset int64, size int) (Slice, error) {
	if c.view != nil && offset < c.MinOffset() {
		return Slice{}, fmt.Errorf("%w: %d is below the log's minimum %d", ErrOffset, offset, c.MinOffset())
	}
	f, err := c.queue.Acquire(offset)
	if err != nil {
		return Slice{}, fmt.Errorf("%w: %d (log holds [%d, %d))", ErrOffset, offset, c.MinOffset(), c.MaxOffset())
	}
	pos := offset - f.FromOffset()
	if size < 0 || pos+int64(size) > f.WrotePosition() || (c.view != nil && offset+int64(size) > c.limit()) {
		f.Release()
		return Slice{}, fmt.Errorf("%w: %d+%d beyond the published end %d", ErrOffset, offset, size, f.FromOffset()+f.WrotePosition())
	}
	return Slice{Bytes: f.Bytes()[pos : pos+int64(size) : pos+int64(size)], file: f}, nil
}

// Read decodes the record at offset into r (body, topic and properties alias the mapping) and
// returns the slice holding it; the caller must Release the slice when done with r.
func (c *CommitLog) Read(offset int64, r *message.Record) (Slice, error) {
	if c.view != nil && offset < c.MinOffset() {
		return Slice{}, fmt.Errorf("%w: %d is below the log's minimum %d", ErrOffset, offset, c.MinOffset())
	}
	f, err := c.queue.Acquire(offset)
	if err != nil {
		return Slice{}, fmt.Errorf("%w: %d (log holds [%d, %d))", ErrOffset, offset, c.MinOffset(), c.MaxOffset())
	}
	avail := f.Readable(offset - f.FromOffset())
	if c.view != nil {
		if lim := c.limit() - offset; lim <= 0 {
			avail = nil
		} else if int64(len(avail)) > lim {
			avail = avail[:lim]
		}
	}
	if avail == nil {
		f.Release()
		return Slice{}, fmt.Errorf("%w: %d is beyond the published end", ErrOffset, offset)
	}
	n, err := message.DecodeRecord(avail, r, false)
	if err != nil {
		f.Release()
		return Slice{}, fmt.Errorf("commitlog: read at %d: %w", offset, err)
	}
	return Slice{Bytes: avail[:n:n], file: f}, nil
}

// Message reads the record at offset and returns an owned copy of it as a Message, with the
// record's store fields (queue offset, physical offset, store time) in the returned Record copy.
func (c *CommitLog) Message(offset int64) (*message.Message, message.Record, error) {
	var r message.Record
	s, err := c.Read(offset, &r)
	if err != nil {
		return nil, message.Record{}, err
	}
	defer s.Release()
	m := r.Message()
	out := r
	out.Body, out.Topic, out.Properties = nil, nil, nil
	return m, out, nil
}

// StoreTimestamp returns the store time of the record at offset.
func (c *CommitLog) StoreTimestamp(offset int64) (int64, error) {
	var r message.Record
	s, err := c.Read(offset, &r)
	if err != nil {
		return 0, err
	}
	ts := r.StoreTimestamp
	s.Release()
	return ts, nil
}

// ScanFunc receives each record found by Scan: its offset, its raw bytes and its decoded form
// (both alias the mapping and are valid only during the call). Returning false stops the scan.
type ScanFunc func(offset int64, raw []byte, r *message.Record) bool

// Scan walks the published records from offset (which must start a record or a segment) and
// calls fn for each, jumping over blank end-of-segment records. It returns the offset where it
// stopped: the end of the published log, the record fn refused, or the first invalid record
// (then err wraps message.ErrCorrupt).
func (c *CommitLog) Scan(offset int64, verifyCRC bool, fn ScanFunc) (int64, error) {
	var r message.Record
	for {
		if offset >= c.MaxOffset() {
			return offset, nil
		}
		f, err := c.queue.Acquire(offset)
		if err != nil {
			if offset < c.MinOffset() {
				return offset, fmt.Errorf("%w: %d is below the log's minimum %d", ErrOffset, offset, c.MinOffset())
			}
			return offset, nil
		}
		limit := int64(-1)
		if c.view != nil {
			limit = c.limit()
		}
		next, stop, err := scanFile(f, offset, limit, verifyCRC, &r, fn)
		f.Release()
		if err != nil || stop {
			return next, err
		}
		offset = next
	}
}

// scanFile scans one segment from offset. It returns the next offset, whether to stop, and an
// error for an invalid record.
// With limit >= 0 nothing at or past it is read (a view's visible bound).
func scanFile(f *mapped.File, offset, limit int64, verifyCRC bool, r *message.Record, fn ScanFunc) (int64, bool, error) {
	base := f.FromOffset()
	data := f.Bytes()
	for {
		pos := offset - base
		wrote := f.WrotePosition()
		if limit >= 0 && limit-base < wrote {
			wrote = max(limit-base, 0)
		}
		if pos >= wrote {
			if wrote == f.Size() {
				return base + f.Size(), false, nil // next segment
			}
			return offset, true, nil // end of the published log
		}
		n, err := message.DecodeRecord(data[pos:wrote], r, verifyCRC)
		switch {
		case errors.Is(err, message.ErrBlank):
			return base + f.Size(), false, nil
		case err != nil:
			return offset, true, fmt.Errorf("commitlog: record at %d: %w", offset, err)
		case r.PhysicalOffset != offset:
			return offset, true, fmt.Errorf("commitlog: record at %d claims offset %d: %w", offset, r.PhysicalOffset, message.ErrCorrupt)
		case verifyCRC && !wholeTail(r):
			return offset, true, fmt.Errorf("commitlog: record at %d has a torn topic or properties: %w", offset, message.ErrCorrupt)
		}
		if !fn(offset, data[pos:pos+int64(n):pos+int64(n)], r) {
			return offset, true, nil
		}
		offset += int64(n)
	}
}

// wholeTail checks the parts of a record the body CRC does not cover against a zeroed suffix, the
// shape of a write torn by a crash (the mapping's unwritten bytes are zero): a topic never holds a
// NUL byte, and encoded properties always end with the 0x02 separator.
func wholeTail(r *message.Record) bool {
	if bytes.IndexByte(r.Topic, 0) >= 0 {
		return false
	}
	if n := len(r.Properties); n > 0 && r.Properties[n-1] != 0x02 {
		return false
	}
	return true
}
