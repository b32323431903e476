package index

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/mqstore/mqstore/internal/mapped"
)

// file is one index file: the mapping plus the header fields kept in memory as atomics, so
// readers never read the header bytes the writer rewrites on every put.
type file struct {
	name       string
	mapped     *mapped.File
	data       []byte // the whole mapping; valid while a reference on mapped is held
	hashSlots  int
	maxEntries int

	// Header fields. Written only by the Index writer (under Index.mu); read by anyone.
	beginTimestamp atomic.Int64
	endTimestamp   atomic.Int64
	beginPhyOffset atomic.Int64
	endPhyOffset   atomic.Int64
	hashSlotCount  atomic.Int32
	indexCount     atomic.Int32

	// puts counts the puts into this file since it was opened or created; guarded by Index.mu.
	puts int64
	// syncedPuts is the value of puts covered by the last successful msync; guarded by Index.flushMu.
	syncedPuts int64
}

func newFile(name string, mf *mapped.File, hashSlots, maxEntries int) *file {
	return &file{
		name:       name,
		mapped:     mf,
		data:       mf.Bytes(),
		hashSlots:  hashSlots,
		maxEntries: maxEntries,
	}
}

// setHeader loads h into the in-memory header fields.
func (f *file) setHeader(h Header) {
	f.beginTimestamp.Store(h.BeginTimestamp)
	f.endTimestamp.Store(h.EndTimestamp)
	f.beginPhyOffset.Store(h.BeginPhyOffset)
	f.endPhyOffset.Store(h.EndPhyOffset)
	f.hashSlotCount.Store(h.HashSlotCount)
	f.indexCount.Store(h.IndexCount)
}

// header returns the in-memory header fields.
func (f *file) header() Header {
	return Header{
		BeginTimestamp: f.beginTimestamp.Load(),
		EndTimestamp:   f.endTimestamp.Load(),
		BeginPhyOffset: f.beginPhyOffset.Load(),
		EndPhyOffset:   f.endPhyOffset.Load(),
		HashSlotCount:  f.hashSlotCount.Load(),
		IndexCount:     f.indexCount.Load(),
	}
}

// writeHeaderLocked encodes the in-memory header into the mapping. Writer only.
func (f *file) writeHeaderLocked() {
	h := f.header()
	h.AppendTo(f.data[:0:HeaderSize])
}

// load reads the header of a file opened from disk and checks it against the geometry. A
// header of zeros (a file created but never written, or whose header page was lost) is an
// empty file, seeded like a new one from prev.
func (f *file) load(prev *file) error {
	h, err := ParseHeader(f.data)
	if err != nil {
		return err
	}
	if h == (Header{}) {
		f.seed(prev)
		return nil
	}
	if h.IndexCount < 1 || int(h.IndexCount) > f.maxEntries {
		return fmt.Errorf("%w: %s: indexCount %d outside [1, %d]", ErrCorrupt, f.name, h.IndexCount, f.maxEntries)
	}
	// hashSlotCount is statistics only (no lookup reads it). A crash between a put's slot and
	// header writes can make it drift, so an out-of-range value is clamped, not refused: the
	// file's entries and chains are intact.
	h.HashSlotCount = max(0, min(h.HashSlotCount, int32(f.hashSlots)))
	if h.EndPhyOffset < 0 || h.BeginPhyOffset < 0 {
		return fmt.Errorf("%w: %s: negative commitlog offset in header", ErrCorrupt, f.name)
	}
	f.setHeader(h)
	return nil
}

// seed initialises the header of a new, empty file: begin = end = the previous file's end
// values (so the idempotence check and the time filter work before the first put), and
// indexCount 1.
func (f *file) seed(prev *file) {
	var h Header
	if prev != nil {
		h.BeginTimestamp = prev.endTimestamp.Load()
		h.EndTimestamp = h.BeginTimestamp
		h.BeginPhyOffset = prev.endPhyOffset.Load()
		h.EndPhyOffset = h.BeginPhyOffset
	}
	h.IndexCount = 1
	f.setHeader(h)
}

// full reports whether no entry can be added.
func (f *file) full() bool { return int(f.indexCount.Load()) >= f.maxEntries }

// putLocked adds one entry; the file must not be full. Writer only (Index.mu held).
//
// Order matters for concurrent readers: the entry bytes first, then the slot (an atomic
// store, which publishes the entry), then the header fields. A reader that loads the slot sees
// a complete entry, and every entry reachable from it through prevIndex.
//
// Unlike RocketMQ, the first entry of a file sets beginTimestamp before its timeDiff is
// computed, so it gets timeDiff 0 instead of a difference to the seeded beginTimestamp that
// the same put then overwrites.
func (f *file) putLocked(keyHash int32, phyOffset, storeTimestamp int64) {
	data := f.data
	idx := f.indexCount.Load()
	slotOff := slotOffset(int(keyHash) % f.hashSlots)
	prev := loadSlot(data, slotOff)
	if prev == idx {
		// A put that was killed after publishing its entry but before counting it in the
		// header: the entry is complete (it was written before the slot), so keep its chain.
		prev = int32(binary.BigEndian.Uint32(data[entryOffset(f.hashSlots, int(idx))+16:]))
	}
	if prev <= 0 || prev >= idx {
		prev = 0 // empty, or stale (points at or past the next entry)
	}
	if idx <= 1 {
		f.beginTimestamp.Store(storeTimestamp)
		f.beginPhyOffset.Store(phyOffset)
	}
	off := entryOffset(f.hashSlots, int(idx))
	entry := data[off : off+EntrySize]
	binary.BigEndian.PutUint32(entry[0:], uint32(keyHash))
	binary.BigEndian.PutUint64(entry[4:], uint64(phyOffset))
	binary.BigEndian.PutUint32(entry[12:], uint32(TimeDiff(f.beginTimestamp.Load(), storeTimestamp)))
	binary.BigEndian.PutUint32(entry[16:], uint32(prev))
	storeSlot(data, slotOff, idx)
	if prev == 0 {
		n := min(f.hashSlotCount.Load()+1, int32(f.hashSlots))
		f.hashSlotCount.Store(n)
		binary.BigEndian.PutUint32(data[32:], uint32(n))
	}
	f.indexCount.Store(idx + 1)
	// The keys of one message share offset and time: store them once.
	if f.endPhyOffset.Load() != phyOffset {
		f.endPhyOffset.Store(phyOffset)
		binary.BigEndian.PutUint64(data[24:], uint64(phyOffset))
	}
	if f.endTimestamp.Load() != storeTimestamp {
		f.endTimestamp.Store(storeTimestamp)
		binary.BigEndian.PutUint64(data[8:], uint64(storeTimestamp))
	}
	binary.BigEndian.PutUint32(data[36:], uint32(idx+1))
	if idx <= 1 {
		f.writeHeaderLocked() // the whole header once: begin fields, and seeded values
	}
	f.puts++
}

// appendOffsets appends to dst the commitlog offsets of entries with hash keyHash whose
// second of store time overlaps [begin, end], newest first, until dst holds maxNum offsets
// beyond start. An offset equal to the last one appended since start is not repeated (several
// keys of one message with the same hash, or a re-indexed message). The caller holds a
// reference on the file.
func (f *file) appendOffsets(dst []int64, start int, keyHash int32, maxNum int, begin, end int64) []int64 {
	slot := loadSlot(f.data, slotOffset(int(keyHash)%f.hashSlots))
	count := f.indexCount.Load() // loaded after the slot: count >= any published slot value
	if slot <= 0 || slot > count || int(slot) >= f.maxEntries {
		return dst
	}
	beginTs := f.beginTimestamp.Load()
	for cur := slot; len(dst)-start < maxNum; {
		b := f.data[entryOffset(f.hashSlots, int(cur)):]
		b = b[:EntrySize]
		hash := int32(binary.BigEndian.Uint32(b[0:]))
		phyOffset := int64(binary.BigEndian.Uint64(b[4:]))
		timeDiff := int32(binary.BigEndian.Uint32(b[12:]))
		prev := int32(binary.BigEndian.Uint32(b[16:]))
		if timeDiff < 0 {
			break
		}
		// The entry was stored during the second [t, t+999].
		t := beginTs + int64(timeDiff)*1000
		if hash == keyHash && t <= end && t+999 >= begin {
			if len(dst) == start || dst[len(dst)-1] != phyOffset {
				dst = append(dst, phyOffset)
			}
		}
		// prev < cur always holds for entries this package writes; requiring it bounds the
		// walk on a damaged file.
		if prev <= 0 || prev >= cur || t+999 < begin {
			break
		}
		cur = prev
	}
	return dst
}

// msync writes the file's dirty pages to disk.
func (f *file) msync() error {
	if err := f.mapped.Msync(0, int64(len(f.data))); err != nil {
		return fmt.Errorf("index: msync %s: %w", f.name, err)
	}
	return nil
}

// info describes the file.
func (f *file) info() FileInfo {
	return FileInfo{Name: f.name, Header: f.header()}
}

// truncateLocked removes the entries of messages at commitlog offsets >= phyOffset, which
// are the newest ones since offsets only grow with the entry index. Each removed entry is
// unlinked newest first, so its slot gets back the head it had before. The file must keep at
// least its first entry (the caller destroys files that lose all). Writer only.
func (f *file) truncateLocked(phyOffset int64) {
	data := f.data
	count := f.indexCount.Load()
	from := count // entries [keep, from] are removed
	if int(count) < f.maxEntries {
		// An entry published in its slot by a put killed before the header counted it.
		e := f.entry(count)
		if e.KeyHash >= 0 && loadSlot(data, slotOffset(int(e.KeyHash)%f.hashSlots)) == count {
			from = count + 1
		}
	}
	keep := count
	for keep > 1 && f.entry(keep-1).PhyOffset >= phyOffset {
		keep--
	}
	if keep == count && from == count {
		return
	}
	hashSlotCount := f.hashSlotCount.Load()
	for j := from - 1; j >= keep; j-- {
		e := f.entry(j)
		if e.KeyHash < 0 {
			continue // not written by this package; no slot can hold it
		}
		slotOff := slotOffset(int(e.KeyHash) % f.hashSlots)
		if loadSlot(data, slotOff) != j {
			continue
		}
		prev := e.PrevIndex
		if prev <= 0 || prev >= j {
			prev = 0
		}
		storeSlot(data, slotOff, prev)
		if prev == 0 && hashSlotCount > 0 {
			hashSlotCount--
		}
	}
	f.hashSlotCount.Store(hashSlotCount)
	f.indexCount.Store(keep)
	last := f.entry(keep - 1)
	f.endPhyOffset.Store(last.PhyOffset)
	// The last kept entry's time is known to the second: round up, so the file still
	// overlaps every query range that holds the entry.
	if t := f.beginTimestamp.Load() + int64(last.TimeDiff)*1000 + 999; t < f.endTimestamp.Load() {
		f.endTimestamp.Store(t)
	}
	f.writeHeaderLocked()
	f.puts++
}

// entry decodes entry i.
func (f *file) entry(i int32) Entry {
	off := entryOffset(f.hashSlots, int(i))
	e, _ := ParseEntry(f.data[off : off+EntrySize])
	return e
}
