package commitlog

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/mqstore/mqstore/internal/vfs"
)

// FlushMode says when appended records are made durable.
type FlushMode int

const (
	// AsyncFlush (RocketMQ's ASYNC_FLUSH): Append returns once the record is in the mapping; a
	// flusher msyncs dirty pages every FlushInterval. A crash of the machine (not of the process)
	// may lose the last interval.
	AsyncFlush FlushMode = iota
	// SyncFlush (RocketMQ's SYNC_FLUSH): Append returns only after an msync covering the record
	// returned. Concurrent appenders share syncs (group commit).
	SyncFlush
)

func (m FlushMode) String() string {
	switch m {
	case AsyncFlush:
		return "ASYNC_FLUSH"
	case SyncFlush:
		return "SYNC_FLUSH"
	}
	return fmt.Sprintf("FlushMode(%d)", int(m))
}

// ParseFlushMode accepts RocketMQ's names (ASYNC_FLUSH, SYNC_FLUSH) and the short forms async, sync.
func ParseFlushMode(s string) (FlushMode, error) {
	switch s {
	case "ASYNC_FLUSH", "async", "ASYNC":
		return AsyncFlush, nil
	case "SYNC_FLUSH", "sync", "SYNC":
		return SyncFlush, nil
	}
	return 0, fmt.Errorf("commitlog: unknown flush mode %q (want ASYNC_FLUSH or SYNC_FLUSH)", s)
}

// Defaults of Options. The zero value of every field means its default.
const (
	DefaultSegmentSize      = 1 << 30 // mappedFileSizeCommitLog
	DefaultFlushInterval    = 500 * time.Millisecond
	DefaultSyncFlushTimeout = 5 * time.Second
	DefaultMaxMessageSize   = 4 << 20 // maxMessageSize: limit on the body
	// minSegmentSize is the smallest segment accepted. A record larger than a segment is refused
	// with ErrMessageTooLarge whatever MaxMessageSize says.
	minSegmentSize = 64 << 10
)

// Options configures a CommitLog. The zero value is usable: every zero field takes its default.
type Options struct {
	// SegmentSize is the size of every segment file (default 1 GiB). A record never spans two
	// segments, so SegmentSize must exceed the largest record.
	SegmentSize int64
	// FlushMode is AsyncFlush (default) or SyncFlush.
	FlushMode FlushMode
	// FlushInterval is the async flusher's period (default 500 ms).
	FlushInterval time.Duration
	// SyncFlushTimeout bounds how long a SyncFlush append waits for its sync (default 5 s); past
	// it Append returns ErrFlushTimeout (the record is stored but not known durable).
	SyncFlushTimeout time.Duration
	// MaxMessageSize is the largest body accepted (default 4 MiB).
	MaxMessageSize int
	// StoreHost is stamped into records whose StoreHost is not set, and makes message ids.
	StoreHost netip.AddrPort
	// NoPreallocate turns off creating the next segment in the background.
	NoPreallocate bool
	// NoWarm turns off faulting in segment pages ahead of the writer. Warming (MADV_POPULATE_WRITE
	// on a background goroutine) moves the page-fault cost off the append path: on this class of
	// machine a first write to a fresh page costs ~4 µs, ten times a 1 KiB copy.
	NoWarm bool
	// NoHugePages turns off transparent huge pages for segment mappings under AsyncFlush (see
	// mapped.QueueOptions.HugePages): with them the writer copies into warmed 2 MiB mappings
	// without page faults (measured 50 ns instead of 500-900 ns per 1 KiB record after warming on
	// ext4, Linux 6.18). Never used under SyncFlush: each group-commit msync would write back a
	// whole 2 MiB folio.
	NoHugePages bool
	// ResidentBytes, when positive, bounds how much flushed log stays in memory: after each flush
	// the pages more than ResidentBytes (rounded to 2 MiB) behind the flushed offset are evicted
	// (mapped.File.Evict). Reads of older records then come from disk. Default 0: no eviction,
	// the page cache keeps everything the kernel does not reclaim by itself. On a VM that hands
	// freed memory back to its host (free page reporting), the warm-up of new segment pages
	// costs 3-9x less when it reuses pages freed moments before (docs/BENCHMARKS.md).
	ResidentBytes int64
	// BackgroundNice, when positive (1-19), is the nice value of the threads that warm and
	// preallocate segments and, under AsyncFlush, of the flusher's; 0 or negative (default)
	// leaves them at the process's priority. Lowering them keeps their in-kernel work (page
	// allocation, write-back submission) from taking the appending thread's core on a machine with
	// few cores, and helps the commitlog alone; but a lowered thread that holds one of Go's Ps
	// (GOMAXPROCS) is scheduled late by the kernel while the P's goroutines wait, and a writer that
	// catches up with a lowered warmer waits for its folio: in the store (dispatcher running) it
	// cut put and transaction throughput 2-5x on a loaded 2-core machine (docs/BENCHMARKS.md).
	// Under SyncFlush the flusher always keeps the process's priority (appenders wait for it).
	BackgroundNice int
	// RecoverFrom is a commitlog offset known to be durable and to start a record (for example
	// the checkpoint's flushed offset); recovery verifies records from there. A negative value
	// (or one outside the log) makes recovery start at the third-newest segment, as RocketMQ does.
	RecoverFrom int64
	// Now is the clock for store timestamps (tests); default time.Now.
	Now func() time.Time
	// FS is the file system (tests inject faults and power loss); nil means the real one.
	FS vfs.FS
}

func (o Options) withDefaults() Options {
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.SyncFlushTimeout == 0 {
		o.SyncFlushTimeout = DefaultSyncFlushTimeout
	}
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if !o.StoreHost.IsValid() {
		o.StoreHost = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 10911)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Validate reports the first invalid option.
func (o Options) Validate() error {
	d := o.withDefaults()
	switch {
	case d.SegmentSize < minSegmentSize:
		return fmt.Errorf("commitlog: SegmentSize %d is below the minimum %d", d.SegmentSize, minSegmentSize)
	case d.FlushMode != AsyncFlush && d.FlushMode != SyncFlush:
		return fmt.Errorf("commitlog: invalid FlushMode %d", d.FlushMode)
	case d.FlushInterval < 0:
		return fmt.Errorf("commitlog: negative FlushInterval %v", d.FlushInterval)
	case d.SyncFlushTimeout < 0:
		return fmt.Errorf("commitlog: negative SyncFlushTimeout %v", d.SyncFlushTimeout)
	case d.ResidentBytes < 0:
		return fmt.Errorf("commitlog: negative ResidentBytes %d", d.ResidentBytes)
	case d.BackgroundNice > 19:
		return fmt.Errorf("commitlog: BackgroundNice %d is above 19", d.BackgroundNice)
	case d.MaxMessageSize < 0:
		return fmt.Errorf("commitlog: negative MaxMessageSize %d", d.MaxMessageSize)
	}
	return nil
}
