package mapped

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mqstore/mqstore/internal/vfs"
)

// NameLen is the length of a file name: the start offset as 20 zero-padded decimal digits.
const NameLen = 20

// FileName returns the 20-digit name of the file starting at offset.
func FileName(offset int64) string {
	return fmt.Sprintf("%020d", offset)
}

// QueueOptions configures a Queue.
type QueueOptions struct {
	// FileSize is the fixed size of every file. Required.
	FileSize int64
	// Preallocate creates the next file in the background as soon as a file is started, so a
	// roll finds it ready.
	Preallocate bool
	// Warm faults in pages of the files ahead of their writer on a background goroutine (see
	// File.WarmTo), including the first window of a preallocated file.
	Warm bool
	// HugePages asks the kernel to back each file's mapping with transparent huge pages
	// (madvise MADV_HUGEPAGE; effective where the file system caches the file in large folios, as
	// ext4 does since Linux 6.16). A warmed 2 MiB region is then one PMD mapping: the writer takes
	// no page faults and warming costs a fault per 2 MiB instead of one per 4 KiB. Write-back is
	// per folio, so a partial msync writes the whole 2 MiB folio: right for a log flushed every few
	// hundred milliseconds, wrong for one synced after every few KiB (SYNC_FLUSH).
	HugePages bool
	// BackgroundNice, when positive, is the nice value (1-19) of the threads that run the
	// allocator and the warmer (see LowerPriority); 0 leaves them at the process's priority.
	BackgroundNice int
	// FS is the file system (nil: the real one).
	FS vfs.FS
}

// Queue is an ordered list of contiguous fixed-size files in one directory, named by the global
// offset of their first byte. One goroutine writes (appends, rolls, truncates, deletes); readers
// use the snapshot returned by Files or take a reference with Acquire.
type Queue struct {
	dir  string
	opts QueueOptions
	fs   vfs.FS

	// mu serialises changes of the file list (files) made by the writer, truncation and retention.
	mu sync.Mutex
	// files is the current immutable snapshot of the file list, oldest first.
	files atomic.Pointer[[]*File]

	// flushedWhere is the global offset up to which data is durable.
	flushedWhere atomic.Int64

	// allocMu guards the background allocator's state: allocPending, allocReady, allocErr.
	allocMu      sync.Mutex
	allocCond    *sync.Cond
	allocPending int64 // offset being created in the background, or -1
	allocReady   *File // a created file not yet in the list
	allocErr     error
	allocKick    chan struct{}
	// warmer, when Warm is set, warms files ahead of their writer; warmDone closes when it stops.
	warmer   *warmer
	warmDone chan struct{}
	quit     chan struct{}
	done     chan struct{}
	closed   atomic.Bool
}

// OpenQueue opens (creating it if needed) the directory dir and maps every file in it. Every
// file must have exactly opts.FileSize bytes, and files must be contiguous. Loaded files count
// as full; the owner's recovery moves the end back with Truncate.
func OpenQueue(dir string, opts QueueOptions) (*Queue, error) {
	if opts.FileSize <= 0 {
		return nil, fmt.Errorf("mapped: queue %s: file size must be positive", dir)
	}
	fs := vfs.Default(opts.FS)
	if err := vfs.MkdirAllSync(fs, dir, 0o755); err != nil {
		return nil, fmt.Errorf("mapped: queue: %w", err)
	}
	q := &Queue{
		dir:          dir,
		opts:         opts,
		fs:           fs,
		allocPending: -1,
		allocKick:    make(chan struct{}, 1),
		quit:         make(chan struct{}),
		done:         make(chan struct{}),
	}
	q.allocCond = sync.NewCond(&q.allocMu)
	if opts.Warm {
		q.warmer = &warmer{kicks: make(chan *File, 1)}
		q.warmDone = make(chan struct{})
	}
	files, err := q.load()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		q.adopt(f)
	}
	q.files.Store(&files)
	if len(files) > 0 {
		last := files[len(files)-1]
		q.flushedWhere.Store(last.FromOffset() + last.FlushedPosition())
	}
	if opts.Preallocate {
		go q.allocator()
	} else {
		close(q.done)
	}
	if q.warmer != nil {
		go q.warm()
	}
	return q, nil
}

func (q *Queue) load() ([]*File, error) {
	entries, err := q.fs.ReadDir(q.dir)
	if err != nil {
		return nil, fmt.Errorf("mapped: queue: %w", err)
	}
	var offsets []int64
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && strings.HasSuffix(name, TempSuffix) {
			// A creation cut short by a crash. Not synced: if the removal is lost it is redone.
			q.fs.Remove(filepath.Join(q.dir, name))
			continue
		}
		if e.IsDir() || len(name) != NameLen {
			continue
		}
		off, err := strconv.ParseInt(name, 10, 64)
		if err != nil || off < 0 {
			continue
		}
		offsets = append(offsets, off)
	}
	slices.Sort(offsets)
	files := make([]*File, 0, len(offsets))
	for i, off := range offsets {
		if i > 0 && off != offsets[i-1]+q.opts.FileSize {
			closeAll(files)
			return nil, fmt.Errorf("mapped: queue %s: gap between files %s and %s", q.dir, FileName(offsets[i-1]), FileName(off))
		}
		f, err := Open(q.fs, filepath.Join(q.dir, FileName(off)), off, q.opts.FileSize)
		if err != nil {
			closeAll(files)
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func closeAll(files []*File) {
	for _, f := range files {
		f.Close()
	}
}

// Dir returns the queue's directory.
func (q *Queue) Dir() string { return q.dir }

// FileSize returns the size of every file.
func (q *Queue) FileSize() int64 { return q.opts.FileSize }

// Files returns the current snapshot of files, oldest first. The slice must not be modified.
// A reader that keeps a file's bytes must Retain it.
func (q *Queue) Files() []*File { return *q.files.Load() }

// Last returns the newest file, or nil.
func (q *Queue) Last() *File {
	files := q.Files()
	if len(files) == 0 {
		return nil
	}
	return files[len(files)-1]
}

// First returns the oldest file, or nil.
func (q *Queue) First() *File {
	files := q.Files()
	if len(files) == 0 {
		return nil
	}
	return files[0]
}

// MinOffset is the start offset of the oldest file, or -1 when the queue is empty.
func (q *Queue) MinOffset() int64 {
	if f := q.First(); f != nil {
		return f.FromOffset()
	}
	return -1
}

// MaxOffset is the global offset one past the last published byte (0 when empty).
func (q *Queue) MaxOffset() int64 {
	if f := q.Last(); f != nil {
		return f.FromOffset() + f.WrotePosition()
	}
	return 0
}

// FlushedOffset is the global offset up to which data is durable.
func (q *Queue) FlushedOffset() int64 { return q.flushedWhere.Load() }

// SetFlushedOffset records the durable offset (used by recovery).
func (q *Queue) SetFlushedOffset(off int64) { q.flushedWhere.Store(off) }

// Find returns the file that holds offset, without taking a reference, or nil.
func (q *Queue) Find(offset int64) *File {
	return findIn(q.Files(), offset, q.opts.FileSize)
}

func findIn(files []*File, offset, size int64) *File {
	if len(files) == 0 {
		return nil
	}
	first := files[0].FromOffset()
	if offset < first {
		return nil
	}
	i := (offset - first) / size
	if i >= int64(len(files)) {
		return nil
	}
	f := files[i]
	if offset < f.FromOffset() || offset >= f.FromOffset()+size {
		return nil
	}
	return f
}

// Acquire returns the file that holds offset with a reference taken; the caller must Release it.
func (q *Queue) Acquire(offset int64) (*File, error) {
	for range 3 {
		f := q.Find(offset)
		if f == nil {
			return nil, fmt.Errorf("%w: %d in %s", ErrNotFound, offset, q.dir)
		}
		if f.Retain() {
			return f, nil
		}
		// Deleted concurrently: the snapshot is stale, look again.
	}
	return nil, fmt.Errorf("%w: %d in %s", ErrNotFound, offset, q.dir)
}

// LastOrCreate returns the newest file if it has room, or starts the next one. When the queue is
// empty the first file starts at startOffset rounded down to a file boundary.
func (q *Queue) LastOrCreate(startOffset int64) (*File, error) {
	if last := q.Last(); last != nil && !last.IsFull() {
		return last, nil
	}
	return q.Roll(startOffset)
}

// Roll starts a new file after the newest one (or at startOffset rounded down when empty),
// taking the preallocated file when it is ready.
func (q *Queue) Roll(startOffset int64) (*File, error) {
	if q.closed.Load() {
		return nil, ErrClosed
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	files := q.Files()
	var offset int64
	if n := len(files); n > 0 {
		last := files[n-1]
		if !last.IsFull() {
			return last, nil
		}
		offset = last.FromOffset() + q.opts.FileSize
	} else {
		offset = startOffset - startOffset%q.opts.FileSize
	}
	f, err := q.takeOrCreate(offset)
	if err != nil {
		return nil, err
	}
	next := make([]*File, len(files), len(files)+1)
	copy(next, files)
	next = append(next, f)
	q.files.Store(&next)
	if q.opts.Preallocate {
		q.requestAlloc(offset + q.opts.FileSize)
	}
	return f, nil
}

// Prepare readies the queue for its writer ahead of the first write, so that write finds its
// file created and mapped: when the queue is empty it creates the first file at startOffset
// (rounded down to a file boundary), which then counts as the newest file with nothing written;
// with Preallocate it asks for the file after the newest one; with Warm it asks for the window
// after the write position to be faulted in. It never waits for the background work. On a queue
// whose newest file has room it only asks for the preallocation and the warming; when that file
// is full it starts the next one, as the writer's next LastOrCreate would.
//
// A prepared first file holds nothing: after a crash it is loaded like any file (counting as
// full) and the owner's recovery truncates it to its valid end, 0.
func (q *Queue) Prepare(startOffset int64) error {
	f, err := q.LastOrCreate(startOffset)
	if err != nil {
		return err
	}
	if q.opts.Preallocate {
		q.requestAlloc(f.FromOffset() + q.opts.FileSize)
	}
	if f.warmer != nil && f.needsWarm(f.WrotePosition()) {
		f.askWarm()
	}
	return nil
}

// takeOrCreate returns the file starting at offset, the preallocated one when it is ready.
func (q *Queue) takeOrCreate(offset int64) (f *File, err error) {
	q.allocMu.Lock()
	for q.allocPending == offset {
		q.allocCond.Wait()
	}
	ready := q.allocReady
	q.allocReady = nil
	q.allocErr = nil
	q.allocMu.Unlock()
	if ready != nil {
		if ready.FromOffset() == offset {
			ready.Touch(time.Now().UnixNano())
			return ready, nil
		}
		ready.Destroy()
	}
	path := filepath.Join(q.dir, FileName(offset))
	f, err = Create(q.fs, path, offset, q.opts.FileSize)
	if errors.Is(err, os.ErrExist) {
		// A file left by an earlier preallocation that was not in the list (stale): replace it.
		q.fs.Remove(path)
		f, err = Create(q.fs, path, offset, q.opts.FileSize)
	}
	if err != nil {
		return nil, err
	}
	q.adopt(f)
	f.Touch(time.Now().UnixNano())
	return f, nil
}

// adopt prepares a newly mapped file for this queue, before it is shared: its warmer and the
// huge-page advice.
func (q *Queue) adopt(f *File) {
	f.warmer = q.warmer
	if q.opts.HugePages {
		// A hint: kernels or file systems without file huge pages refuse it or ignore it.
		_ = f.Advise(unix.MADV_HUGEPAGE)
	}
}

// warm faults in pages ahead of the writers of this queue's files.
func (q *Queue) warm() {
	defer close(q.warmDone)
	LowerPriority(q.opts.BackgroundNice)
	for {
		select {
		case <-q.quit:
			select {
			case f := <-q.warmer.kicks:
				f.Release()
			default:
			}
			return
		case f := <-q.warmer.kicks:
			f.WarmTo(f.WrotePosition() + warmWindow)
			f.warmAsked.Store(false)
			f.Release()
		}
	}
}

func (q *Queue) requestAlloc(offset int64) {
	q.allocMu.Lock()
	if q.allocReady == nil && q.allocPending < 0 {
		q.allocPending = offset
		select {
		case q.allocKick <- struct{}{}:
		default:
		}
	}
	q.allocMu.Unlock()
}

// allocator creates the requested next file in the background.
func (q *Queue) allocator() {
	defer close(q.done)
	LowerPriority(q.opts.BackgroundNice)
	for {
		select {
		case <-q.quit:
			return
		case <-q.allocKick:
		}
		q.allocMu.Lock()
		offset := q.allocPending
		q.allocMu.Unlock()
		if offset < 0 {
			continue
		}
		path := filepath.Join(q.dir, FileName(offset))
		q.fs.Remove(path) // a stale preallocated file from an earlier run
		f, err := Create(q.fs, path, offset, q.opts.FileSize)
		warm := false
		if err == nil {
			q.adopt(f)
			warm = q.warmer != nil && f.Retain()
		}
		q.allocMu.Lock()
		q.allocPending = -1
		if err != nil {
			q.allocErr = err
		} else {
			q.allocReady = f
		}
		q.allocCond.Broadcast()
		q.allocMu.Unlock()
		if warm {
			// Warm its first window after handing it over: a roll never waits for warming.
			f.WarmTo(warmWindow)
			f.Release()
		}
	}
}

// Truncate drops every byte at or after offset: files starting after it are deleted, the file
// holding it is cut (and its tail zeroed).
func (q *Queue) Truncate(offset int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	files := q.Files()
	keep := make([]*File, 0, len(files))
	var drop []*File
	var firstErr error
	for _, f := range files {
		switch {
		case f.FromOffset()+q.opts.FileSize <= offset:
			keep = append(keep, f)
		case f.FromOffset() <= offset:
			f.SetWrotePosition(offset - f.FromOffset())
			if err := f.ZeroFrom(offset - f.FromOffset()); err != nil && firstErr == nil {
				firstErr = err
			}
			keep = append(keep, f)
		default:
			drop = append(drop, f)
		}
	}
	q.files.Store(&keep)
	if q.flushedWhere.Load() > offset {
		q.flushedWhere.Store(offset)
	}
	for _, f := range drop {
		if err := f.Destroy(); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// DeleteFront deletes files from the oldest while keep returns false for them, never the newest
// file, at most max files (max <= 0: no limit). A deleted file disappears from disk once no
// reader holds it. It returns the number of files deleted.
func (q *Queue) DeleteFront(max int, expired func(*File) bool) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	files := q.Files()
	n := 0
	for n < len(files)-1 && (max <= 0 || n < max) && expired(files[n]) {
		n++
	}
	if n == 0 {
		return 0, nil
	}
	// Publish the shorter list before destroying, so readers never meet a listed file that
	// refuses references.
	rest := slices.Clone(files[n:])
	q.files.Store(&rest)
	var firstErr error
	for _, f := range files[:n] {
		if err := f.Destroy(); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return n, firstErr
}

// DeleteOlderThan deletes files (never the newest) whose last write is before t.
func (q *Queue) DeleteOlderThan(t time.Time, max int) (int, error) {
	limit := t.UnixNano()
	return q.DeleteFront(max, func(f *File) bool { return f.LastWrite() < limit })
}

// DeleteBelow deletes files (never the newest) that end at or before offset.
func (q *Queue) DeleteBelow(offset int64, max int) (int, error) {
	size := q.opts.FileSize
	return q.DeleteFront(max, func(f *File) bool { return f.FromOffset()+size <= offset })
}

// Flush msyncs every file holding unflushed bytes and returns the new flushed offset.
func (q *Queue) Flush() (int64, error) {
	where, _, err := q.FlushCount()
	return where, err
}

// FlushCount is Flush that also says how many msyncs this call issued: 0 when nothing was left
// to flush (or another flusher covered it), so no device cache flush began in this call.
func (q *Queue) FlushCount() (int64, int, error) {
	files := q.Files()
	synced := 0
	where := q.flushedWhere.Load()
	for _, f := range files {
		end := f.FromOffset() + q.opts.FileSize
		if end <= where && f.FlushedPosition() >= f.WrotePosition() {
			continue
		}
		if !f.Retain() {
			continue
		}
		pos, n, err := f.flush()
		f.Release()
		synced += n
		if err != nil {
			return q.flushedWhere.Load(), synced, err
		}
		if off := f.FromOffset() + pos; off > where {
			where = off
		}
	}
	q.advanceFlushed(where)
	return q.flushedWhere.Load(), synced, nil
}

func (q *Queue) advanceFlushed(where int64) {
	for {
		cur := q.flushedWhere.Load()
		if where <= cur || q.flushedWhere.CompareAndSwap(cur, where) {
			break
		}
	}
}

// WriteOut writes back every file's bytes appended since its last flush (File.WriteOut) and
// returns the offset written out. ok is false when a file's bytes cannot be covered by another
// file's flush (File.WriteOut): the caller uses Flush instead. Durable only after a device cache
// flush that begins after WriteOut returned; MarkFlushed then records it.
func (q *Queue) WriteOut() (where int64, ok bool, err error) {
	where = q.flushedWhere.Load()
	for _, f := range q.Files() {
		if f.FlushedPosition() >= f.WrotePosition() {
			continue
		}
		if !f.Retain() {
			continue
		}
		pos, fok, err := f.WriteOut()
		f.Release()
		if err != nil || !fok {
			return where, false, err
		}
		where = max(where, f.FromOffset()+pos)
	}
	return where, true, nil
}

// MarkFlushed records that the bytes below where (as WriteOut returned) are durable.
func (q *Queue) MarkFlushed(where int64) {
	for _, f := range q.Files() {
		if f.FromOffset() < where {
			f.MarkFlushed(where - f.FromOffset())
		}
	}
	q.advanceFlushed(min(where, q.MaxOffset()))
}

// Close stops the allocator, removes an unused preallocated file and unmaps every file (each
// goes once its readers release it).
func (q *Queue) Close() error {
	if !q.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	close(q.quit)
	<-q.done
	if q.warmDone != nil {
		<-q.warmDone
		select {
		case f := <-q.warmer.kicks:
			f.Release()
		default:
		}
	}
	q.allocMu.Lock()
	ready := q.allocReady
	q.allocReady = nil
	q.allocMu.Unlock()
	if ready != nil {
		ready.Destroy()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	var firstErr error
	for _, f := range q.Files() {
		if err := f.Close(); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	empty := []*File{}
	q.files.Store(&empty)
	return firstErr
}

// Reset deletes every file, keeping the queue open: the next file is created where the next
// LastOrCreate or Roll says. Files readers hold disappear when released.
func (q *Queue) Reset() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	files := q.Files()
	empty := []*File{}
	q.files.Store(&empty)
	q.flushedWhere.Store(0)
	var firstErr error
	for _, f := range files {
		if err := f.Destroy(); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if err := q.fs.SyncDir(q.dir); err != nil && firstErr == nil {
		firstErr = fmt.Errorf("mapped: reset queue: %w", err)
	}
	return firstErr
}

// Destroy closes the queue and deletes all its files and its directory.
func (q *Queue) Destroy() error {
	files := q.Files()
	q.Close()
	for _, f := range files {
		f.Destroy()
	}
	if err := q.fs.RemoveAll(q.dir); err != nil {
		return fmt.Errorf("mapped: destroy queue: %w", err)
	}
	if err := q.fs.SyncDir(filepath.Dir(q.dir)); err != nil {
		return fmt.Errorf("mapped: destroy queue: %w", err)
	}
	return nil
}
