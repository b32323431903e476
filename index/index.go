package index

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/internal/mapped"
	"github.com/mqstore/mqstore/internal/vfs"
)

// Errors returned by Index.
var (
	// ErrClosed is returned by every method after Close, and by a second Close.
	ErrClosed = errors.New("index: closed")
	// ErrCorrupt marks an index file whose header does not fit its geometry. Test with errors.Is.
	ErrCorrupt = errors.New("index: corrupt file")
	// ErrInvalidOptions is returned by Options.Validate and Open for unusable options.
	ErrInvalidOptions = errors.New("index: invalid options")
	// ErrInvalidArgument is returned by Put and PutMessage for a negative commitlog offset.
	ErrInvalidArgument = errors.New("index: invalid argument")
)

// DefaultMaxQueryNum is the default cap on Query results (RocketMQ's maxMsgsNumBatch).
const DefaultMaxQueryNum = 64

// Options configures an Index. The zero value gives RocketMQ's defaults.
type Options struct {
	// HashSlots is the number of hash slots per file. 0 means DefaultHashSlots.
	HashSlots int
	// MaxEntries is the number of entries per file, counting the unused entry 0, so a file holds
	// MaxEntries-1 keys. 0 means DefaultMaxEntries; otherwise at least 2.
	MaxEntries int
	// MaxQueryNum caps the results of one Query. 0 means DefaultMaxQueryNum (64).
	MaxQueryNum int
	// Now is the clock that names new files; nil means time.Now. File names use the location of
	// the time it returns (RocketMQ uses local time).
	Now func() time.Time
	// FS is the file system (nil: the real one).
	FS vfs.FS
}

// Validate reports whether the options are usable.
func (o Options) Validate() error {
	switch {
	case o.HashSlots < 0 || o.HashSlots > math.MaxInt32:
		return fmt.Errorf("%w: HashSlots %d", ErrInvalidOptions, o.HashSlots)
	case o.MaxEntries < 0 || o.MaxEntries == 1 || o.MaxEntries > math.MaxInt32:
		return fmt.Errorf("%w: MaxEntries %d (0 for the default, or at least 2)", ErrInvalidOptions, o.MaxEntries)
	case o.MaxQueryNum < 0:
		return fmt.Errorf("%w: MaxQueryNum %d", ErrInvalidOptions, o.MaxQueryNum)
	}
	o = o.withDefaults()
	if size := FileSize(o.HashSlots, o.MaxEntries); size > math.MaxInt {
		return fmt.Errorf("%w: file size %d bytes cannot be mapped", ErrInvalidOptions, size)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.HashSlots == 0 {
		o.HashSlots = DefaultHashSlots
	}
	if o.MaxEntries == 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxQueryNum == 0 {
		o.MaxQueryNum = DefaultMaxQueryNum
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// FileInfo describes one index file.
type FileInfo struct {
	// Name is the file name (creation time, yyyyMMddHHmmssSSS).
	Name string
	// Header holds the file's current header fields.
	Header Header
}

// Index is the set of index files in one directory (<root>/index), oldest first.
type Index struct {
	dir      string
	opts     Options
	fileSize int64

	// files is the current immutable snapshot of the file list, oldest first. It is replaced
	// (never modified) under mu; Query loads it without locking.
	files  atomic.Pointer[[]*file]
	closed atomic.Bool

	// flushMu serialises Flush and Close; it guards file.syncedPuts. Taken before mu.
	flushMu sync.Mutex
	// flushedTimestamp is the endTimestamp covered by the last successful Flush.
	flushedTimestamp atomic.Int64

	// mu serialises the writer: Put, PutMessage, TruncateAfter, DeleteBelow, the state capture
	// of Flush, and Close. It guards lastName, the replacement of files, and file.puts; the
	// mapping bytes beyond the published slots are written only with mu held.
	mu sync.Mutex
	// lastName is the greatest file name this Index has loaded or created; new names are
	// greater, so name order is creation order even within one millisecond.
	lastName string
}

// Open opens the index directory dir (RocketMQ's <root>/index), creating it if needed, and maps
// every file in it whose name is 17 digits, in name order; other names are ignored. A file
// whose size does not match the options' geometry fails with mapped.ErrBadSize, one whose
// header does not fit it with ErrCorrupt. The files count as written up to their header's
// indexCount; after a crash the caller drops the unsafe ones with TruncateAfter.
func Open(dir string, opts Options) (*Index, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := vfs.MkdirAllSync(opts.FS, dir, 0o755); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	dirEntries, err := vfs.Default(opts.FS).ReadDir(dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	ix := &Index{
		dir:      dir,
		opts:     opts,
		fileSize: FileSize(opts.HashSlots, opts.MaxEntries),
	}
	var files []*file
	closeAll := func() {
		for _, f := range files {
			f.mapped.Close()
		}
	}
	for _, de := range dirEntries {
		name := de.Name()
		if !de.Type().IsRegular() || !isFileName(name) {
			continue
		}
		mf, err := mapped.Open(opts.FS, filepath.Join(dir, name), 0, ix.fileSize)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("index: %w", err)
		}
		f := newFile(name, mf, opts.HashSlots, opts.MaxEntries)
		var prev *file
		if len(files) > 0 {
			prev = files[len(files)-1]
		}
		if err := f.load(prev); err != nil {
			mf.Close()
			closeAll()
			return nil, err
		}
		files = append(files, f)
		ix.lastName = name
	}
	ix.files.Store(&files)
	return ix, nil
}

func isFileName(name string) bool {
	if len(name) != FileNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			return false
		}
	}
	return true
}

// Put indexes key (already "topic#key") for the message at commitlog offset phyOffset stored
// at storeTimestamp (Unix ms). It is a no-op when phyOffset is below the newest file's
// endPhyOffset, so re-dispatching messages after recovery is idempotent; several keys of one
// message share phyOffset, so an equal offset is indexed. A full file is followed by a new
// one, seeded with the previous file's end values. One writer at a time (Put and PutMessage
// serialise on a mutex).
func (ix *Index) Put(key string, phyOffset, storeTimestamp int64) error {
	if phyOffset < 0 {
		return fmt.Errorf("%w: commitlog offset %d", ErrInvalidArgument, phyOffset)
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	f, err := ix.currentLocked()
	if err != nil || phyOffset < f.endPhyOffset.Load() {
		return err
	}
	_, err = ix.putLocked(f, KeyHash(key), phyOffset, storeTimestamp)
	return err
}

// Transaction type bits of a message's sysFlag (RocketMQ MessageSysFlag).
const (
	transactionTypeMask     = 0xC
	transactionRollbackType = 0xC
)

// PutMessage indexes what RocketMQ indexes for one message (IndexService.buildIndex):
// topic#uniqKey when uniqKey is not empty, then topic#k for each non-empty k of keys split on
// single spaces. Nothing is indexed for a ROLLBACK transaction type in sysFlag, nor when
// phyOffset is below the newest file's endPhyOffset (see Put). It does not allocate.
func (ix *Index) PutMessage(topic, uniqKey, keys string, sysFlag int32, phyOffset, storeTimestamp int64) error {
	if sysFlag&transactionTypeMask == transactionRollbackType {
		return nil
	}
	if phyOffset < 0 {
		return fmt.Errorf("%w: commitlog offset %d", ErrInvalidArgument, phyOffset)
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	f, err := ix.currentLocked()
	if err != nil || phyOffset < f.endPhyOffset.Load() {
		return err
	}
	if uniqKey != "" {
		if f, err = ix.putLocked(f, topicKeyHash(topic, uniqKey), phyOffset, storeTimestamp); err != nil {
			return err
		}
	}
	for keys != "" {
		key := keys
		if i := strings.IndexByte(keys, ' '); i >= 0 {
			key, keys = keys[:i], keys[i+1:]
		} else {
			keys = ""
		}
		if key == "" {
			continue
		}
		if f, err = ix.putLocked(f, topicKeyHash(topic, key), phyOffset, storeTimestamp); err != nil {
			return err
		}
	}
	return nil
}

// Prepare creates the first index file when there is none, so that the first put does not
// (a file of the default geometry is 420 MB to allocate). The new file is empty: its header is
// seeded but not flushed, and a file whose header is zeros loads as empty (see file.load), so a
// crash right after Prepare leaves an index that opens empty. Later files are still created by
// the put that fills the newest one.
func (ix *Index) Prepare() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	_, err := ix.currentLocked()
	return err
}

// currentLocked returns the newest file, creating the first one if there is none.
func (ix *Index) currentLocked() (*file, error) {
	if ix.closed.Load() {
		return nil, ErrClosed
	}
	files := *ix.files.Load()
	if len(files) > 0 {
		return files[len(files)-1], nil
	}
	return ix.createLocked(nil)
}

// putLocked adds one entry to f, or to a new file when f is full, and returns the file used.
func (ix *Index) putLocked(f *file, keyHash int32, phyOffset, storeTimestamp int64) (*file, error) {
	if f.full() {
		var err error
		if f, err = ix.createLocked(f); err != nil {
			return nil, err
		}
	}
	f.putLocked(keyHash, phyOffset, storeTimestamp)
	return f, nil
}

// createLocked creates a new file after prev (nil for the first), seeds its header and appends
// it to the file list.
func (ix *Index) createLocked(prev *file) (*file, error) {
	name := ix.nextNameLocked()
	mf, err := mapped.Create(ix.opts.FS, filepath.Join(ix.dir, name), 0, ix.fileSize)
	if err != nil {
		return nil, fmt.Errorf("index: new file: %w", err)
	}
	f := newFile(name, mf, ix.opts.HashSlots, ix.opts.MaxEntries)
	f.seed(prev)
	f.writeHeaderLocked()
	f.puts++ // the header needs a flush
	old := *ix.files.Load()
	files := make([]*file, len(old), len(old)+1)
	copy(files, old)
	files = append(files, f)
	ix.files.Store(&files)
	ix.lastName = name
	return f, nil
}

// nextNameLocked names a new file after the clock, and one millisecond after the last name if
// the clock has not moved past it.
func (ix *Index) nextNameLocked() string {
	now := ix.opts.Now()
	name := FileName(now)
	if name <= ix.lastName {
		if last, ok := parseFileName(ix.lastName, now.Location()); ok {
			name = FileName(last.Add(time.Millisecond))
		}
	}
	return name
}

// Query returns the commitlog offsets of messages indexed under topic#key whose store time
// may lie in [begin, end] (Unix ms), newest first, at most maxNum (0, negative or above
// Options.MaxQueryNum means MaxQueryNum). Files are read newest first, skipping those whose
// [beginTimestamp, endTimestamp] does not overlap [begin, end], and stopping after the first
// file that begins before begin.
//
// The results are candidates: the index keeps only a 31-bit hash of the key (two keys may
// collide) and the store time to the second relative to the file's first entry, so an entry is
// returned when its second overlaps [begin, end]. The caller decodes each message and checks
// its topic, keys and store time, as RocketMQ's client does. Query may run concurrently with
// the writer and with other queries.
func (ix *Index) Query(topic, key string, maxNum int, begin, end int64) ([]int64, error) {
	return ix.AppendQuery(nil, topic, key, maxNum, begin, end)
}

// AppendQuery is Query appending to dst; it does not allocate when dst has room.
func (ix *Index) AppendQuery(dst []int64, topic, key string, maxNum int, begin, end int64) ([]int64, error) {
	if ix.closed.Load() {
		return dst, ErrClosed
	}
	if maxNum <= 0 || maxNum > ix.opts.MaxQueryNum {
		maxNum = ix.opts.MaxQueryNum
	}
	keyHash := topicKeyHash(topic, key)
	files := *ix.files.Load()
	start := len(dst)
	for i := len(files) - 1; i >= 0; i-- {
		f := files[i]
		if !f.mapped.Retain() {
			continue // deleted and unmapped since the snapshot
		}
		beginTs, endTs := f.beginTimestamp.Load(), f.endTimestamp.Load()
		if beginTs <= end && endTs >= begin {
			dst = f.appendOffsets(dst, start, keyHash, maxNum, begin, end)
		}
		f.mapped.Release()
		if beginTs < begin || len(dst)-start >= maxNum {
			break
		}
	}
	return dst, nil
}

// MaxPhysicalOffset is the endPhyOffset of the newest file (0 if there is none): messages below
// it are already indexed and Put skips them.
func (ix *Index) MaxPhysicalOffset() int64 {
	files := *ix.files.Load()
	if len(files) == 0 {
		return 0
	}
	return files[len(files)-1].endPhyOffset.Load()
}

// LastTimestamp is the endTimestamp of the newest file (0 if there is none).
func (ix *Index) LastTimestamp() int64 {
	files := *ix.files.Load()
	if len(files) == 0 {
		return 0
	}
	return files[len(files)-1].endTimestamp.Load()
}

// FlushedTimestamp is the newest store time whose entries the last successful Flush made
// durable (RocketMQ's checkpoint indexMsgTimestamp), 0 before the first Flush.
func (ix *Index) FlushedTimestamp() int64 { return ix.flushedTimestamp.Load() }

// Files describes the files, oldest first.
func (ix *Index) Files() []FileInfo {
	files := *ix.files.Load()
	infos := make([]FileInfo, len(files))
	for i, f := range files {
		infos[i] = f.info()
	}
	return infos
}

// TruncateAfter destroys the files whose endTimestamp is greater than ts, for recovery after a
// crash with ts = the checkpoint's indexMsgTimestamp (RocketMQ IndexService.load). It destroys
// from the first such file to the newest, so the remaining files stay contiguous; the caller
// re-dispatches the commitlog from before ts to rebuild them. Readers still holding a file
// finish first; then it is deleted.
func (ix *Index) TruncateAfter(ts int64) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed.Load() {
		return ErrClosed
	}
	files := *ix.files.Load()
	cut := len(files)
	for i, f := range files {
		if f.endTimestamp.Load() > ts {
			cut = i
			break
		}
	}
	if cut == len(files) {
		return nil
	}
	kept := files[:cut:cut]
	ix.files.Store(&kept)
	return destroyAll(files[cut:])
}

// TruncateFrom removes the index entries of messages at commitlog offsets >= phyOffset, for
// recovery after the commitlog's tail was cut at phyOffset (DESIGN §6): files whose entries all
// go are destroyed, the newest remaining file loses its tail entries (each unlinked from its
// slot chain) and can be appended to again. The caller then re-dispatches from
// MaxPhysicalOffset. Its cost is proportional to the removed entries.
//
// It relies on the mapping's contents, which survive a process crash (the page cache is
// intact). After a power loss, unflushed entries may be lost while slots that point at them
// survive; RocketMQ's answer is TruncateAfter(checkpoint's indexMsgTimestamp), which drops
// whole files. Queries running meanwhile stay memory-safe but may return stale candidates.
func (ix *Index) TruncateFrom(phyOffset int64) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed.Load() {
		return ErrClosed
	}
	files := *ix.files.Load()
	cut := len(files)
	for ; cut > 0; cut-- {
		f := files[cut-1]
		if f.indexCount.Load() <= 1 {
			// Empty: its seeded end is the previous file's last message.
			if f.endPhyOffset.Load() >= phyOffset {
				continue
			}
			break
		}
		if f.beginPhyOffset.Load() >= phyOffset {
			continue
		}
		f.truncateLocked(phyOffset)
		break
	}
	if cut == len(files) {
		return nil
	}
	kept := files[:cut:cut]
	ix.files.Store(&kept)
	return destroyAll(files[cut:])
}

// DeleteBelow deletes the oldest files whose endPhyOffset is below phyOffset (the commitlog's
// new minimum offset after retention), always keeping the newest file, and returns how many it
// deleted (RocketMQ IndexService.deleteExpiredFile).
func (ix *Index) DeleteBelow(phyOffset int64) (int, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed.Load() {
		return 0, ErrClosed
	}
	files := *ix.files.Load()
	n := 0
	for n < len(files)-1 && files[n].endPhyOffset.Load() < phyOffset {
		n++
	}
	if n == 0 {
		return 0, nil
	}
	kept := files[n:]
	ix.files.Store(&kept)
	return n, destroyAll(files[:n])
}

func destroyAll(files []*file) error {
	var errs []error
	for _, f := range files {
		if err := f.mapped.Destroy(); err != nil {
			errs = append(errs, fmt.Errorf("index: delete %s: %w", f.name, err))
		}
	}
	return errors.Join(errs...)
}

// Flush makes every entry and header written so far durable (msync), and then publishes
// FlushedTimestamp. The writer is held only while the state is captured, not during msync.
func (ix *Index) Flush() error {
	ix.flushMu.Lock()
	defer ix.flushMu.Unlock()
	if ix.closed.Load() {
		return ErrClosed
	}
	return ix.flushLocked()
}

// flushLocked needs flushMu.
func (ix *Index) flushLocked() error {
	type pending struct {
		f    *file
		puts int64
	}
	var todo []pending
	ix.mu.Lock()
	files := *ix.files.Load()
	var ts int64
	if len(files) > 0 {
		ts = files[len(files)-1].endTimestamp.Load()
	}
	for _, f := range files {
		if f.puts != f.syncedPuts && f.mapped.Retain() {
			todo = append(todo, pending{f, f.puts})
		}
	}
	ix.mu.Unlock()

	var err error
	for _, p := range todo {
		if err == nil {
			if err = p.f.msync(); err == nil {
				p.f.syncedPuts = p.puts
			}
		}
		p.f.mapped.Release()
	}
	if err != nil {
		return err
	}
	ix.flushedTimestamp.Store(ts)
	return nil
}

// Close flushes, then unmaps the files once no reader holds them. Later calls fail with
// ErrClosed.
func (ix *Index) Close() error {
	ix.flushMu.Lock()
	defer ix.flushMu.Unlock()
	if ix.closed.Load() {
		return ErrClosed
	}
	err := ix.flushLocked()
	ix.mu.Lock()
	ix.closed.Store(true)
	files := *ix.files.Load()
	empty := []*file{}
	ix.files.Store(&empty)
	ix.mu.Unlock()
	errs := []error{err}
	for _, f := range files {
		if cerr := f.mapped.Close(); cerr != nil {
			errs = append(errs, fmt.Errorf("index: close %s: %w", f.name, cerr))
		}
	}
	return errors.Join(errs...)
}
