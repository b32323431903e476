package timer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mqstore/mqstore/internal/vfs"
)

// Defaults of Options (RocketMQ's MessageStoreConfig names in parentheses).
const (
	DefaultPrecision      = time.Second // timerPrecisionMs
	MinPrecision          = 100 * time.Millisecond
	DefaultMaxDelay       = 72 * time.Hour // timerMaxDelaySec
	DefaultSegmentEntries = 1 << 18        // 8 MiB timer-log segments
)

// Errors of Add.
var (
	// ErrFired: the entry's tick was already fired; deliver it now.
	ErrFired = errors.New("timer: tick already fired")
	// ErrTooFar: the entry's tick is a whole wheel ahead of the last fired tick; add it again
	// once the wheel has turned.
	ErrTooFar = errors.New("timer: tick beyond the wheel")
	// ErrClosed: the wheel was closed.
	ErrClosed = errors.New("timer: closed")
)

// Options configures Open. The zero value takes the defaults.
type Options struct {
	// Precision is the tick: timers are fired at the first tick at or after their due time.
	Precision time.Duration
	// MaxDelay is the longest delay the wheel holds without wrapping (the wheel has
	// 2 × MaxDelay / Precision slots).
	MaxDelay time.Duration
	// SegmentEntries is the number of entries of a timer-log segment.
	SegmentEntries int
	// FS is the file system (default vfs.OS).
	FS vfs.FS
}

func (o Options) withDefaults() Options {
	if o.Precision == 0 {
		o.Precision = DefaultPrecision
	}
	if o.MaxDelay == 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.SegmentEntries == 0 {
		o.SegmentEntries = DefaultSegmentEntries
	}
	o.FS = vfs.Default(o.FS)
	return o
}

// Validate reports the first invalid option.
func (o Options) Validate() error {
	d := o.withDefaults()
	switch {
	case d.Precision < MinPrecision || d.Precision%time.Millisecond != 0 || d.Precision > time.Hour:
		return fmt.Errorf("timer: precision %v must be whole milliseconds in [100ms, 1h]", d.Precision)
	case d.MaxDelay < d.Precision || d.MaxDelay > 400*24*time.Hour:
		return fmt.Errorf("timer: max delay %v must be in [precision, 400 days]", d.MaxDelay)
	case d.SegmentEntries < 1:
		return fmt.Errorf("timer: segment entries %d", d.SegmentEntries)
	}
	return nil
}

// segment is a mapped timer-log file.
type segment struct {
	start        int64
	f            vfs.File
	data         []byte
	maxDeliverMs int64 // of the entries written so far
}

// Wheel is the open timing wheel and timer log. Its methods are safe for concurrent use; one
// goroutine (the store's timer service) adds and fires, others read counters and list.
type Wheel struct {
	dir         string
	fs          vfs.FS
	precisionMs int64
	slots       int64
	segBytes    int64

	mu        sync.Mutex // guards the fields below and the mapped bytes
	wheelFile vfs.File
	wheel     []byte
	segs      []*segment // contiguous, by start
	logStart  int64
	logEnd    int64
	syncedEnd int64
	firedMs   int64 // the last fired tick
	pending   int64
	closed    bool
}

// Open opens the wheel in dir from its checkpoint (cp; FiredMs is the tick fired last). It
// drops log entries past cp.LogEnd, recreates the wheel and links every logged entry due after
// cp.FiredMs for which keep returns true. It fails with ErrCorrupt when the log does not hold
// [start, cp.LogEnd) intact; the caller then removes the log (RemoveLog) and rebuilds from its
// sources.
func Open(dir string, opts Options, cp Checkpoint, keep func(Entry) bool) (*Wheel, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	p := opts.Precision.Milliseconds()
	w := &Wheel{
		dir:         dir,
		fs:          opts.FS,
		precisionMs: p,
		slots:       2 * (opts.MaxDelay.Milliseconds() + p - 1) / p,
		segBytes:    int64(opts.SegmentEntries) * EntrySize,
		logEnd:      cp.LogEnd,
		syncedEnd:   cp.LogEnd,
		firedMs:     cp.FiredMs / p * p,
	}
	if err := vfs.MkdirAllSync(w.fs, w.logDir(), 0o755); err != nil {
		return nil, fmt.Errorf("timer: %w", err)
	}
	if err := w.openWheelFile(); err != nil {
		w.Close()
		return nil, err
	}
	if err := w.openLog(cp.LogEnd); err != nil {
		w.Close()
		return nil, err
	}
	if err := w.relink(keep); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

func (w *Wheel) logDir() string { return filepath.Join(w.dir, "log") }

// RemoveLog deletes the timer log of dir (after Open reported ErrCorrupt).
func RemoveLog(fsys vfs.FS, dir string) error {
	fsys = vfs.Default(fsys)
	if err := fsys.RemoveAll(filepath.Join(dir, "log")); err != nil {
		return fmt.Errorf("timer: remove log: %w", err)
	}
	return fsys.SyncDir(dir)
}

func (w *Wheel) openWheelFile() error {
	name := filepath.Join(w.dir, "wheel")
	if err := w.fs.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("timer: wheel: %w", err)
	}
	f, err := w.fs.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("timer: wheel: %w", err)
	}
	w.wheelFile = f
	size := w.slots * slotSize
	if err := allocate(f, size); err != nil {
		return fmt.Errorf("timer: wheel: %w", err)
	}
	if w.wheel, err = f.Map(int(size)); err != nil {
		return fmt.Errorf("timer: map wheel: %w", err)
	}
	return nil
}

// allocate gives a file size bytes of real blocks (no holes: a write to an mmap'd hole on a
// full disk is SIGBUS), falling back to a plain size change where fallocate is missing.
func allocate(f vfs.File, size int64) error {
	err := f.Fallocate(0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) {
		err = f.Truncate(size)
	}
	return err
}

func (w *Wheel) openLog(end int64) error {
	ents, err := w.fs.ReadDir(w.logDir())
	if err != nil {
		return fmt.Errorf("timer: log: %w", err)
	}
	next := int64(-1)
	for _, ent := range ents {
		start, err := strconv.ParseInt(ent.Name(), 10, 64)
		if err != nil || len(ent.Name()) != 20 {
			continue // a temporary or foreign file
		}
		name := filepath.Join(w.logDir(), ent.Name())
		if start >= end {
			// Written after the checkpoint: not promised, and rebuilt from the sources.
			if err := w.fs.Remove(name); err != nil {
				return fmt.Errorf("timer: log: %w", err)
			}
			continue
		}
		if start%w.segBytes != 0 || next >= 0 && start != next {
			return fmt.Errorf("%w: log segment %s out of sequence", ErrCorrupt, name)
		}
		if err := w.mapSegment(name, start, false); err != nil {
			return err
		}
		next = start + w.segBytes
	}
	w.logStart = end
	if len(w.segs) > 0 {
		w.logStart = w.segs[0].start
		if next < end {
			return fmt.Errorf("%w: log ends at %d, checkpoint says %d", ErrCorrupt, next, end)
		}
	} else if end%w.segBytes != 0 {
		return fmt.Errorf("%w: log missing below %d", ErrCorrupt, end)
	}
	return nil
}

func (w *Wheel) mapSegment(name string, start int64, create bool) error {
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE | os.O_TRUNC
	}
	f, err := w.fs.OpenFile(name, flag, 0o644)
	if err != nil {
		return fmt.Errorf("timer: log: %w", err)
	}
	if create {
		if err := allocate(f, w.segBytes); err != nil {
			f.Close()
			return fmt.Errorf("timer: log %s: %w", name, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("timer: log %s: %w", name, err)
		}
		if err := w.fs.SyncDir(w.logDir()); err != nil {
			f.Close()
			return fmt.Errorf("timer: log %s: %w", name, err)
		}
	} else if st, err := f.Stat(); err != nil || st.Size() != w.segBytes {
		f.Close()
		return fmt.Errorf("%w: log segment %s is not %d bytes", ErrCorrupt, name, w.segBytes)
	}
	data, err := f.Map(int(w.segBytes))
	if err != nil {
		f.Close()
		return fmt.Errorf("timer: map %s: %w", name, err)
	}
	w.segs = append(w.segs, &segment{start: start, f: f, data: data, maxDeliverMs: -1})
	return nil
}

// entryBytes returns the bytes of the entry at pos (in the log).
func (w *Wheel) entryBytesLocked(pos int64) []byte {
	s := w.segs[(pos-w.logStart)/w.segBytes]
	off := pos - s.start
	return s.data[off : off+EntrySize]
}

func (w *Wheel) relink(keep func(Entry) bool) error {
	for pos := w.logStart; pos < w.logEnd; pos += EntrySize {
		b := w.entryBytesLocked(pos)
		e, _, ok := readEntry(b)
		if !ok {
			return fmt.Errorf("%w: timer-log entry at %d", ErrCorrupt, pos)
		}
		s := w.segs[(pos-w.logStart)/w.segBytes]
		s.maxDeliverMs = max(s.maxDeliverMs, e.DeliverMs)
		if w.tick(e.DeliverMs) > w.firedMs && (keep == nil || keep(e)) {
			if w.tick(e.DeliverMs)-w.firedMs >= w.slots*w.precisionMs {
				// The wheel turned more than once since this was added (the precision or the
				// maximum delay changed): not reachable by the wheel; report corruption so the
				// caller rebuilds from the sources, which re-adds it when its turn comes.
				return fmt.Errorf("%w: entry at %d is beyond the wheel", ErrCorrupt, pos)
			}
			w.linkLocked(pos, b, e)
		}
	}
	return nil
}

// tick is the first tick at or after ms.
func (w *Wheel) tick(ms int64) int64 {
	t := ms / w.precisionMs * w.precisionMs
	if t < ms {
		t += w.precisionMs
	}
	return t
}

func (w *Wheel) slotBytesLocked(tick int64) []byte {
	i := (tick / w.precisionMs) % w.slots
	if i < 0 {
		i += w.slots
	}
	return w.wheel[i*slotSize : (i+1)*slotSize]
}

func (w *Wheel) linkLocked(pos int64, b []byte, e Entry) {
	t := w.tick(e.DeliverMs)
	sb := w.slotBytesLocked(t)
	s := getSlot(sb)
	if s.tickMs != t || s.count == 0 {
		s = slot{tickMs: t, first: pos, last: noPos}
	}
	setPrev(b, s.last)
	s.last = pos
	s.count++
	putSlot(sb, s)
	w.pending++
}

// Add appends a timer to the log and links it into its tick's slot. It fails with ErrFired
// when that tick was fired already and with ErrTooFar when it is a whole wheel ahead.
func (w *Wheel) Add(e Entry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	t := w.tick(e.DeliverMs)
	if t <= w.firedMs {
		return ErrFired
	}
	if t-w.firedMs >= w.slots*w.precisionMs {
		return ErrTooFar
	}
	if n := len(w.segs); n == 0 || w.logEnd >= w.segs[n-1].start+w.segBytes {
		if n == 0 {
			w.logStart = w.logEnd
		}
		name := filepath.Join(w.logDir(), fmt.Sprintf("%020d", w.logEnd))
		if err := w.mapSegment(name, w.logEnd, true); err != nil {
			return err
		}
	}
	pos := w.logEnd
	b := w.entryBytesLocked(pos)
	putEntry(b, e, noPos)
	s := w.segs[len(w.segs)-1]
	s.maxDeliverMs = max(s.maxDeliverMs, e.DeliverMs)
	w.linkLocked(pos, b, e)
	w.logEnd += EntrySize
	return nil
}

// Precision is the tick in milliseconds.
func (w *Wheel) Precision() int64 { return w.precisionMs }

// Tick is the first tick at or after ms.
func (w *Wheel) Tick(ms int64) int64 { return w.tick(ms) }

// NextTick is the tick to fire next.
func (w *Wheel) NextTick() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.firedMs + w.precisionMs
}

// FiredMs is the last fired tick.
func (w *Wheel) FiredMs() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.firedMs
}

// Pending is the number of timers linked in the wheel.
func (w *Wheel) Pending() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending
}

// LogEnd is the end of the timer log.
func (w *Wheel) LogEnd() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.logEnd
}

// Entries appends the timers of tick (NextTick) to buf, in due order (ties in log order).
func (w *Wheel) Entries(tick int64, buf []Entry) []Entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return buf
	}
	start := len(buf)
	buf = w.appendSlotLocked(tick, buf)
	out := buf[start:]
	// The chain runs newest first: reverse into log order, then sort stably by due time.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].DeliverMs < out[j].DeliverMs })
	return buf
}

func (w *Wheel) appendSlotLocked(tick int64, buf []Entry) []Entry {
	s := getSlot(w.slotBytesLocked(tick))
	if s.tickMs != tick {
		return buf
	}
	pos := s.last
	for n := int32(0); n < s.count && pos >= w.logStart && pos < w.logEnd; n++ {
		e, prev, _ := readEntry(w.entryBytesLocked(pos))
		buf = append(buf, e)
		pos = prev
	}
	return buf
}

// Fired records that every timer of tick was delivered: the wheel turns to the next tick.
func (w *Wheel) Fired(tick int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if tick <= w.firedMs {
		return
	}
	sb := w.slotBytesLocked(tick)
	if s := getSlot(sb); s.tickMs == tick {
		w.pending -= int64(s.count)
		putSlot(sb, slot{})
	}
	w.firedMs = tick
}

// Range calls fn for every pending timer, in tick order, while fn returns true. It holds the
// wheel for its whole run (an admin listing: O(slots + pending)).
func (w *Wheel) Range(fn func(Entry) bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var buf []Entry
	for i, t := int64(1), w.firedMs+w.precisionMs; i <= w.slots; i, t = i+1, t+w.precisionMs {
		buf = w.appendSlotLocked(t, buf[:0])
		for j := len(buf) - 1; j >= 0; j-- {
			if !fn(buf[j]) {
				return
			}
		}
	}
}

// Checkpoint makes the log durable up to cp.LogEnd, writes the checkpoint, and then removes the
// log segments whose every entry is due at or before cp.FiredMs.
func (w *Wheel) Checkpoint(cp Checkpoint) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if cp.LogEnd > w.logEnd || cp.FiredMs > w.firedMs {
		return fmt.Errorf("timer: checkpoint beyond the wheel (log %d > %d or fired %d > %d)", cp.LogEnd, w.logEnd, cp.FiredMs, w.firedMs)
	}
	for _, s := range w.segs {
		from, to := max(w.syncedEnd, s.start), min(cp.LogEnd, s.start+w.segBytes)
		if from < to {
			if err := s.f.Msync(from-s.start, to-from); err != nil {
				return fmt.Errorf("timer: sync log: %w", err)
			}
		}
	}
	w.syncedEnd = max(w.syncedEnd, cp.LogEnd)
	if err := WriteCheckpoint(w.fs, w.dir, cp); err != nil {
		return err
	}
	removed := false
	for len(w.segs) > 1 || len(w.segs) == 1 && w.segs[0].start+w.segBytes <= w.logEnd {
		s := w.segs[0]
		if s.start+w.segBytes > cp.LogEnd || s.maxDeliverMs > cp.FiredMs {
			break
		}
		s.f.Unmap()
		s.f.Close()
		if err := w.fs.Remove(s.f.Name()); err != nil {
			return fmt.Errorf("timer: remove log segment: %w", err)
		}
		w.segs = w.segs[1:]
		w.logStart = s.start + w.segBytes
		removed = true
	}
	if removed {
		// Not needed for correctness: a segment that comes back after a crash holds only
		// fired entries, which Open skips.
		return w.fs.SyncDir(w.logDir())
	}
	return nil
}

// Segments is the number of timer-log segments on disk.
func (w *Wheel) Segments() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.segs)
}

// Close unmaps and closes the files. It does not checkpoint.
func (w *Wheel) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for _, s := range w.segs {
		keep(s.f.Unmap())
		keep(s.f.Close())
	}
	w.segs = nil
	if w.wheelFile != nil {
		keep(w.wheelFile.Unmap())
		keep(w.wheelFile.Close())
	}
	return first
}
