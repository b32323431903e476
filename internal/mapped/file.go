package mapped

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/mqstore/mqstore/internal/vfs"
)

// Errors returned by File and Queue.
var (
	// ErrClosed is returned by operations on a closed or destroyed file or queue.
	ErrClosed = errors.New("mapped: closed")
	// ErrBadSize is returned when an existing file's length differs from the expected file size.
	ErrBadSize = errors.New("mapped: file has the wrong size")
	// ErrNoSpace is returned when an append does not fit in the file.
	ErrNoSpace = errors.New("mapped: not enough space in file")
	// ErrNotFound is returned when no file holds the requested offset.
	ErrNotFound = errors.New("mapped: no file holds the offset")
)

const pageSize = 4096

// File is a fixed-size file mapped into memory once, read-write and shared.
//
// One writer appends (the caller serialises writers); any number of readers read bytes below
// WrotePosition concurrently. A reader that keeps a slice of the mapping beyond the call that
// produced it must hold a reference (Retain / Release): the mapping is unmapped only when the
// last reference is released after Destroy or Close.
type File struct {
	fs         vfs.FS
	path       string
	fromOffset int64
	size       int64
	file       vfs.File
	data       []byte

	// wrote is the number of bytes appended; readers never read past it.
	wrote atomic.Int64
	// flushed is the number of bytes known to be on disk (msync returned).
	flushed atomic.Int64
	// stable: the pages below it lie in written blocks (not fallocated-unwritten extents): their
	// write-back needs no metadata change, so WriteOut may cover them (see WriteOut). Guarded by
	// flushMu. writeOut says whether WriteOut is possible at all (file-system blocks of one page).
	stable   int64
	writeOut bool
	// lastWrite is the unix-nanosecond time of the last append, for retention by age.
	lastWrite atomic.Int64
	// warmed is the offset up to which pages were faulted in ahead of the writer.
	warmed atomic.Int64
	// warmer, when set (before the file is shared), warms the file ahead of its writer;
	// warmAsked is set while a request to warm this file is queued or running.
	warmer    *warmer
	warmAsked atomic.Bool

	// refs counts the owner's reference (1) plus readers. When it reaches 0 the mapping is released.
	refs atomic.Int32
	// remove says whether the file is deleted from disk when the last reference goes.
	remove atomic.Bool
	// dropped is set once the owner's reference was given up (Close or Destroy).
	dropped atomic.Bool

	// flushMu serialises msync calls so flushed only moves forward.
	flushMu sync.Mutex
	// releaseErr is the error of the final unmap/close/remove, read after refs reached 0.
	releaseErr error
	released   chan struct{}
}

// Create makes a new file of exactly size bytes at path, preallocated with fallocate so the
// mapping has no sparse holes (a write into a hole on a full disk is SIGBUS, not an error), and maps it.
//
// The file is built under a temporary name (path + ".tmp"), fsynced (its size and allocation are
// durable) and renamed into place once it has its full size, then the directory is fsynced, so a
// crash never leaves a short file under a real name and a power loss never forgets a file whose
// name was handed out. fs nil means the real file system.
func Create(fs vfs.FS, path string, fromOffset, size int64) (*File, error) {
	fs = vfs.Default(fs)
	if size <= 0 {
		return nil, fmt.Errorf("mapped: create %s: invalid size %d", path, size)
	}
	if _, err := fs.Lstat(path); err == nil {
		return nil, fmt.Errorf("mapped: create: %w: %s", os.ErrExist, path)
	}
	tmp := path + TempSuffix
	f, err := fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("mapped: create: %w", err)
	}
	fail := func(err error, name string) (*File, error) {
		f.Close()
		fs.Remove(name)
		return nil, err
	}
	if err := fallocate(f, size); err != nil {
		return fail(fmt.Errorf("mapped: preallocate %s (%d bytes): %w", path, size, err), tmp)
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("mapped: sync %s: %w", tmp, err), tmp)
	}
	if err := fs.Rename(tmp, path); err != nil {
		return fail(fmt.Errorf("mapped: create: %w", err), tmp)
	}
	if err := fs.SyncDir(filepath.Dir(path)); err != nil {
		return fail(fmt.Errorf("mapped: create %s: %w", path, err), path)
	}
	mf, err := mapFile(fs, f, path, fromOffset, size)
	if err != nil {
		return fail(err, path)
	}
	return mf, nil
}

// TempSuffix names a file still being created; such files are left over only by a crash and
// are removed when their directory is loaded.
const TempSuffix = ".tmp"

// Open maps an existing file, which must be exactly size bytes long. Its write and flushed
// positions start at size (the file counts as full); recovery moves them back with Truncate.
func Open(fs vfs.FS, path string, fromOffset, size int64) (*File, error) {
	fs = vfs.Default(fs)
	f, err := fs.OpenFile(path, os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("mapped: open: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mapped: stat %s: %w", path, err)
	}
	if st.Size() != size {
		f.Close()
		return nil, fmt.Errorf("%w: %s is %d bytes, want %d", ErrBadSize, path, st.Size(), size)
	}
	mf, err := mapFile(fs, f, path, fromOffset, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	mf.wrote.Store(size)
	mf.flushed.Store(size)
	mf.lastWrite.Store(st.ModTime().UnixNano())
	return mf, nil
}

func mapFile(fs vfs.FS, f vfs.File, path string, fromOffset, size int64) (*File, error) {
	data, err := f.Map(int(size))
	if err != nil {
		return nil, fmt.Errorf("mapped: mmap %s: %w", path, err)
	}
	mf := &File{
		fs:         fs,
		path:       path,
		fromOffset: fromOffset,
		size:       size,
		file:       f,
		data:       data,
		released:   make(chan struct{}),
	}
	if st, err := f.Stat(); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Blksize == pageSize {
			mf.writeOut = true
		}
	}
	mf.refs.Store(1)
	return mf, nil
}

func fallocate(f vfs.File, size int64) error {
	err := f.Fallocate(0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		// File systems without fallocate (tmpfs on old kernels): write zeros instead so
		// that no block is left unallocated.
		return writeZeros(f, size)
	}
	return err
}

func writeZeros(f vfs.File, size int64) error {
	zero := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(zero)) {
		n := min(int64(len(zero)), size-off)
		if _, err := f.WriteAt(zero[:n], off); err != nil {
			return err
		}
	}
	return nil
}

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// FromOffset is the global offset of the file's first byte (its name).
func (f *File) FromOffset() int64 { return f.fromOffset }

// Size is the fixed file size.
func (f *File) Size() int64 { return f.size }

// WrotePosition is the number of bytes appended to the file.
func (f *File) WrotePosition() int64 { return f.wrote.Load() }

// FlushedPosition is the number of bytes known to be durable.
func (f *File) FlushedPosition() int64 { return f.flushed.Load() }

// Remaining is the number of bytes that can still be appended.
func (f *File) Remaining() int64 { return f.size - f.wrote.Load() }

// IsFull reports whether nothing more can be appended.
func (f *File) IsFull() bool { return f.wrote.Load() >= f.size }

// LastWrite returns the time of the last append (unix nanoseconds), or the file's modification
// time for a file opened from disk.
func (f *File) LastWrite() int64 { return f.lastWrite.Load() }

// Bytes returns the whole mapping. Bytes at or beyond WrotePosition are not published yet.
// The slice is valid while the caller holds a reference.
func (f *File) Bytes() []byte { return f.data }

// Readable returns the published bytes [pos, WrotePosition). Valid while a reference is held.
func (f *File) Readable(pos int64) []byte {
	w := f.wrote.Load()
	if pos < 0 || pos >= w {
		return nil
	}
	return f.data[pos:w:w]
}

// Append copies b at the write position and publishes it. Only one goroutine may append at a time.
func (f *File) Append(b []byte) error {
	w := f.wrote.Load()
	if int64(len(b)) > f.size-w {
		return ErrNoSpace
	}
	copy(f.data[w:], b)
	f.wrote.Store(w + int64(len(b)))
	if f.warmer != nil && f.needsWarm(w+int64(len(b))) {
		f.askWarm()
	}
	return nil
}

// Reserve returns the unpublished space [WrotePosition, WrotePosition+n) for the single writer to fill
// in place; Publish(n) then makes it readable. It returns nil when n bytes do not fit.
func (f *File) Reserve(n int) []byte {
	w := f.wrote.Load()
	if int64(n) > f.size-w {
		return nil
	}
	return f.data[w : w+int64(n) : w+int64(n)]
}

// Publish advances the write position by n bytes written through Reserve.
func (f *File) Publish(n int) {
	w := f.wrote.Add(int64(n))
	if f.warmer != nil && f.needsWarm(w) {
		f.askWarm()
	}
}

// Touch records an append time (used by writers that Publish many appends at once).
func (f *File) Touch(unixNano int64) { f.lastWrite.Store(unixNano) }

// SetWrotePosition moves the write and flushed positions (used by recovery and truncation). It
// does not touch the bytes: ZeroFrom clears a tail.
func (f *File) SetWrotePosition(pos int64) {
	pos = max(0, min(pos, f.size))
	f.wrote.Store(pos)
	if f.flushed.Load() > pos {
		f.flushed.Store(pos)
	}
	if f.warmed.Load() > pos {
		f.warmed.Store(pos)
	}
}

// ZeroFrom clears the bytes from pos to the end of the file, so that stale bytes beyond a
// truncation point (a torn tail after a crash) can never line up as valid data after new writes.
// Whole pages are zeroed by the file system (fallocate FALLOC_FL_ZERO_RANGE: no data is written and
// the blocks stay allocated), in time proportional to the extents, not the bytes; the partial first
// page is cleared in memory. Without ZERO_RANGE it clears, in memory, the pages that are not zero.
func (f *File) ZeroFrom(pos int64) error {
	if pos < 0 || pos >= f.size {
		return nil
	}
	pageEnd := min(f.size, (pos+pageSize-1)&^(pageSize-1))
	if head := f.data[pos:pageEnd]; !isZero(head) {
		clear(head)
	}
	if pageEnd < f.size {
		err := f.file.Fallocate(unix.FALLOC_FL_ZERO_RANGE|unix.FALLOC_FL_KEEP_SIZE, pageEnd, f.size-pageEnd)
		if err != nil && !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("mapped: zero %s from %d: %w", f.path, pageEnd, err)
		}
		if err != nil {
			for start := pageEnd; start < f.size; start += pageSize {
				page := f.data[start:min(f.size, start+pageSize)]
				if !isZero(page) {
					clear(page)
				}
			}
		}
	}
	// The zeros must be as durable as the data written after them: stale records that came back
	// after a power loss could otherwise line up behind new ones and pass verification.
	if err := f.file.Msync(pos&^(pageSize-1), f.size-pos&^(pageSize-1)); err != nil {
		return fmt.Errorf("mapped: sync zeroed tail of %s: %w", f.path, err)
	}
	if err := f.file.Sync(); err != nil {
		return fmt.Errorf("mapped: sync zeroed tail of %s: %w", f.path, err)
	}
	// The fsync made every page below pos that holds data a written block; the pages from pos on
	// are zeroed (whole pages become unwritten extents) or share pos's page, which may hold none.
	f.flushMu.Lock()
	f.stable = min(pos, f.flushed.Load()) &^ (pageSize - 1)
	f.flushMu.Unlock()
	return nil
}

func isZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Flush makes the written bytes durable with msync(MS_SYNC) of the dirty range and returns the
// new flushed position. The flushed position is published only after msync returned.
func (f *File) Flush() (int64, error) {
	pos, _, err := f.flush()
	return pos, err
}

// flush is Flush, also returning how many msyncs it issued (0 or 1).
func (f *File) flush() (int64, int, error) {
	f.flushMu.Lock()
	defer f.flushMu.Unlock()
	w := f.wrote.Load()
	fl := f.flushed.Load()
	if w <= fl {
		return fl, 0, nil
	}
	start := fl &^ (pageSize - 1)
	if err := f.file.Msync(start, w-start); err != nil {
		return fl, 1, fmt.Errorf("mapped: msync %s: %w", f.path, err)
	}
	if f.stable >= start {
		// The msync wrote the pages [start, w) back whole and committed their extents.
		f.stable = max(f.stable, (w+pageSize-1)&^(pageSize-1))
	}
	f.flushed.Store(w)
	return w, 1, nil
}

// WriteOut writes the bytes appended since the last flush back to the device and waits for the
// writes (vfs.File.WriteOut: sync_file_range), without making them durable: they become durable
// at the next msync or fsync of any file of the same file system, whose device cache flush
// covers every completed write — provided their write-back needed no metadata change. That holds
// for pages in blocks that already hold durably written data inside the file's fixed size, and
// not for the first write-back of a page of the fallocated file (an unwritten extent is converted,
// which only the file's own msync commits) nor after ZeroFrom (zeroed extents are unwritten
// again). So WriteOut writes nothing and returns ok false when some of the bytes lie in pages no
// Flush made written yet (or on a file system whose blocks are not one page): the caller then
// uses Flush, which makes those pages written for the next time.
//
// It returns the position written out; after the flush of another file that makes them durable,
// MarkFlushed(pos) records it. The flushed position does not move until then.
func (f *File) WriteOut() (pos int64, ok bool, err error) {
	f.flushMu.Lock()
	defer f.flushMu.Unlock()
	w := f.wrote.Load()
	fl := f.flushed.Load()
	if w <= fl {
		return fl, true, nil
	}
	if !f.writeOut || w > f.stable {
		return fl, false, nil
	}
	start := fl &^ (pageSize - 1)
	if err := f.file.WriteOut(start, w-start); err != nil {
		return fl, false, fmt.Errorf("mapped: write out %s: %w", f.path, err)
	}
	return w, true, nil
}

// MarkFlushed records that the bytes below pos (a position WriteOut returned) are durable: a
// device cache flush (an msync or fsync of another file of the same file system) began after
// WriteOut returned.
func (f *File) MarkFlushed(pos int64) {
	f.flushMu.Lock()
	defer f.flushMu.Unlock()
	pos = min(pos, f.wrote.Load())
	if pos > f.flushed.Load() {
		f.flushed.Store(pos)
	}
}

// Msync makes the mapped bytes [offset, offset+length) durable, whatever the write position
// (for files whose writer tracks its own positions, like the index).
func (f *File) Msync(offset, length int64) error {
	if err := f.file.Msync(offset, length); err != nil {
		return fmt.Errorf("mapped: msync %s: %w", f.path, err)
	}
	return nil
}

// Evict drops the pages of [offset, offset+length) from memory (madvise MADV_PAGEOUT: unmapped and
// reclaimed). Call it only for bytes already made durable (Flush): a later read faults them in from
// disk. offset and length are rounded inward to whole pages.
func (f *File) Evict(offset, length int64) error {
	start := min(f.size, (max(offset, 0)+pageSize-1)&^(pageSize-1))
	end := min(f.size, (offset+length)&^(pageSize-1))
	if end <= start {
		return nil
	}
	if err := unix.Madvise(f.data[start:end], unix.MADV_PAGEOUT); err != nil {
		return fmt.Errorf("mapped: evict %s [%d, %d): %w", f.path, start, end, err)
	}
	return nil
}

// Advise passes a madvise hint (for example unix.MADV_SEQUENTIAL or unix.MADV_WILLNEED) for the whole file.
func (f *File) Advise(advice int) error {
	return unix.Madvise(f.data, advice)
}

// Warming. On this class of machine the first store into a fresh page of a shared file mapping
// costs a few microseconds (fault, page-cache allocation, page_mkwrite), ten times the copy of a
// 1 KiB record. A file that belongs to a warming Queue is faulted in ahead of its writer by a
// background goroutine, a window at a time, so the append path meets pages already mapped for
// writing. Warming only the window ahead of the writer (not the whole file) keeps the zero pages
// it dirties from being written back before the real data lands on them.
const (
	warmWindow   = 32 << 20 // bytes kept warm ahead of the write position
	warmLowWater = 16 << 20 // the writer asks for more when fewer bytes than this are warm
	warmChunk    = 2 << 20  // one madvise call
)

// WarmTo faults in, for writing, the pages from what is already warm (or the write position) up to
// end. It uses MADV_POPULATE_WRITE, which writes no data; on kernels without it, it reads one byte
// per page (a store would race with the writer), leaving only the cheaper write-protect fault.
// Bytes already written are left alone. Safe to run while the single writer appends; only one
// goroutine may warm a file at a time.
func (f *File) WarmTo(end int64) {
	end = min((end+pageSize-1)&^(pageSize-1), f.size)
	start := max(f.warmed.Load(), (f.wrote.Load()+pageSize-1)&^(pageSize-1))
	for start < end {
		stop := min(start+warmChunk, end)
		region := f.data[start:stop]
		if err := unix.Madvise(region, unix.MADV_POPULATE_WRITE); err != nil {
			var sink byte
			for off := 0; off < len(region); off += pageSize {
				sink |= region[off]
			}
			warmSink.Store(int32(sink))
		}
		for {
			cur := f.warmed.Load()
			if cur >= stop || f.warmed.CompareAndSwap(cur, stop) {
				break
			}
		}
		start = stop
	}
}

// warmSink keeps the fallback's reads from being optimised away.
var warmSink atomic.Int32

// warmer warms the files of one queue ahead of their writer.
type warmer struct {
	kicks chan *File
}

func (f *File) needsWarm(wrote int64) bool {
	warmed := f.warmed.Load()
	return warmed < f.size && warmed < wrote+warmLowWater && !f.warmAsked.Load()
}

// askWarm requests warming of the window after the write position; it never blocks, and at most
// one request per file is outstanding.
func (f *File) askWarm() {
	if !f.warmAsked.CompareAndSwap(false, true) {
		return
	}
	if !f.Retain() {
		f.warmAsked.Store(false)
		return
	}
	select {
	case f.warmer.kicks <- f:
	default:
		f.warmAsked.Store(false)
		f.Release()
	}
}

// Retain takes a reader reference. It returns false when the file is already released.
func (f *File) Retain() bool {
	for {
		n := f.refs.Load()
		if n <= 0 {
			return false
		}
		if f.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release drops a reference. The last release unmaps the file (and deletes it after Destroy).
func (f *File) Release() {
	if f.refs.Add(-1) == 0 {
		f.releaseErr = f.free()
		close(f.released)
	}
}

func (f *File) free() error {
	err := f.file.Unmap()
	if cerr := f.file.Close(); err == nil {
		err = cerr
	}
	if f.remove.Load() {
		if rerr := f.removeFromDisk(); err == nil {
			err = rerr
		}
	}
	return err
}

// removeFromDisk deletes the file and fsyncs its directory, so a power loss cannot bring back a
// file that was cut off (truncation) or retired.
func (f *File) removeFromDisk() error {
	if err := f.fs.Remove(f.path); err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("mapped: remove %s: %w", f.path, err)
	}
	if err := f.fs.SyncDir(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("mapped: remove %s: %w", f.path, err)
	}
	return nil
}

// Close drops the owner's reference: the mapping goes away once no reader holds it. It returns
// the unmap error if the mapping was released right away.
func (f *File) Close() error {
	return f.drop(false)
}

// Destroy drops the owner's reference and deletes the file once no reader holds it.
func (f *File) Destroy() error {
	return f.drop(true)
}

func (f *File) drop(remove bool) error {
	if remove {
		f.remove.Store(true)
	}
	if !f.dropped.CompareAndSwap(false, true) {
		if remove {
			select {
			case <-f.released:
				return f.removeFromDisk()
			default:
			}
		}
		return nil
	}
	f.Release()
	select {
	case <-f.released:
		return f.releaseErr
	default:
		return nil
	}
}

// Released is closed when the mapping has been released.
func (f *File) Released() <-chan struct{} { return f.released }
