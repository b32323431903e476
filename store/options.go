package store

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/mqstore/mqstore/commitlog"
	"github.com/mqstore/mqstore/internal/vfs"
	"github.com/mqstore/mqstore/txn"
)

// Defaults of Options (RocketMQ's MessageStoreConfig where it has one).
const (
	DefaultCommitLogSegmentSize = commitlog.DefaultSegmentSize // mappedFileSizeCommitLog, 1 GiB
	DefaultMaxMessageSize       = 4 << 20                      // maxMessageSize
	DefaultFileReservedTime     = 72 * time.Hour               // fileReservedTime
	DefaultCleanInterval        = 10 * time.Second             // cleanResourceInterval
	DefaultCheckpointInterval   = time.Second                  // flushIntervalConsumeQueue
	DefaultDiskMaxUsedRatio     = 0.75                         // diskMaxUsedSpaceRatio: delete old segments above it
	DefaultDiskFullRatio        = 0.90                         // diskSpaceWarningLevelRatio: refuse puts above it
	DefaultMaxTopicLength       = 127                          // TopicValidator.TOPIC_MAX_LENGTH
)

// Options configures a Store. The zero value is usable: every zero field takes its default.
type Options struct {
	// FlushMode is commitlog.AsyncFlush (default, RocketMQ's ASYNC_FLUSH) or commitlog.SyncFlush.
	FlushMode commitlog.FlushMode
	// FlushInterval is the async flusher's period (default 500 ms).
	FlushInterval time.Duration
	// SyncFlushTimeout bounds a SyncFlush put's wait (default 5 s).
	SyncFlushTimeout time.Duration
	// CommitLogSegmentSize is the commitlog segment size (default 1 GiB).
	CommitLogSegmentSize int64
	// CommitLogNoHugePages turns off huge-page mappings of commitlog segments under AsyncFlush
	// (see commitlog.Options.NoHugePages).
	CommitLogNoHugePages bool
	// CommitLogResidentBytes, when positive, evicts flushed commitlog pages more than this many
	// bytes behind the flushed offset (see commitlog.Options.ResidentBytes). Default 0: none.
	CommitLogResidentBytes int64
	// BackgroundNice, when positive, is the nice value of the commitlog's warm-up, allocator and
	// async flusher threads (default 0: the process's priority; see commitlog.Options.BackgroundNice).
	BackgroundNice int
	// ConsumeQueueUnits is the number of 20-byte units per consume-queue file (default 300,000).
	ConsumeQueueUnits int
	// IndexHashSlots and IndexMaxEntries size the index files (defaults 5,000,000 and 20,000,000).
	IndexHashSlots  int
	IndexMaxEntries int
	// DisableIndex turns off the key index (RocketMQ's messageIndexEnable=false).
	DisableIndex bool
	// MaxMessageSize is the largest body accepted (default 4 MiB).
	MaxMessageSize int
	// MaxTopicLength is the longest topic name accepted (default 127, RocketMQ's limit; longer
	// topics would need V2 records, which RocketMQ 4.x clients cannot decode).
	MaxTopicLength int
	// FileReservedTime is how long commitlog segments are kept after their last write (default 72 h).
	FileReservedTime time.Duration
	// CleanInterval is the retention service's period (default 10 s).
	CleanInterval time.Duration
	// CheckpointInterval is how often queue units and index entries are flushed and the checkpoint
	// written (default 1 s).
	CheckpointInterval time.Duration
	// DiskMaxUsedRatio: above this disk usage the oldest segments are deleted whatever their age
	// (default 0.75).
	DiskMaxUsedRatio float64
	// DiskFullRatio: above this disk usage Put fails with ErrServiceNotAvailable (default 0.90).
	DiskFullRatio float64
	// ReadOnly refuses every Put with ErrServiceNotAvailable.
	ReadOnly bool
	// StoreHost is stamped into every record and makes message ids (default 127.0.0.1:10911).
	StoreHost netip.AddrPort
	// DelayLevels are the delays of RocketMQ's delay levels 1, 2, ... (messageDelayLevel; default
	// DefaultDelayLevels). A record of ScheduleTopic in queue n gets the deliver time
	// storeTimestamp + DelayLevels[n] in its queue unit's tags field (schedule.go).
	DelayLevels []time.Duration
	// Transactions configures the transactional-message service (timeouts, check interval and
	// max, its own files under <root>/transaction by default).
	Transactions txn.Options
	// Timer configures timer messages and delay levels (timerMaxDelaySec, timerPrecisionMs, ...).
	Timer TimerOptions
	// OnArrival, if set, is called by the dispatcher after each message's queue unit is written,
	// with the queue's new max offset (used to wake long-polling pulls). It must not block.
	OnArrival func(topic string, queueID int32, maxOffset int64, tagsCode int64)
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// DiskUsage reports the used fraction of the disk holding the store (tests); default statfs
	// through FS.
	DiskUsage func(dir string) (float64, error)
	// FS is the file system every store file goes through (tests inject ENOSPC, EIO, failed
	// renames and power loss: vfs.FaultFS, vfs.PowerLossFS). nil means the real file system.
	// The lock file is flocked on the real file system whatever FS says.
	FS vfs.FS
	// Replicator, when set, puts the store in replicated mode: a put encodes and stamps its
	// records and hands them to the Replicator (a consensus group) instead of appending them;
	// the group appends every committed entry on every replica with ApplyEncoded, so the
	// commitlog, queues, index, timers and transactions are those of the committed log. Nil
	// (the default) is single-node mode, unchanged. See replicated.go.
	Replicator Replicator
	// ReplicateTimeout bounds a replicated put's wait for its commit (default 5 s); past it the
	// outcome is unknown and the put fails with PutUnknownError.
	ReplicateTimeout time.Duration
	// EventListener is told about errors of the background services (checkpoint, retention,
	// disk measurement, dispatch), which have no caller to return them to.
	EventListener EventListener
}

// EventListener receives events of the store's background work (pebble's EventListener).
// Nil fields are ignored. The functions are called from the store's goroutines and must not
// block or call back into the store.
type EventListener struct {
	// BackgroundError is called with every error of a background service: a checkpoint that
	// could not be written, a failed retention deletion, a statfs failure, a dispatch failure.
	BackgroundError func(error)
}

// backgroundError reports err to the event listener.
func (s *Store) backgroundError(err error) {
	if f := s.opts.EventListener.BackgroundError; f != nil && err != nil {
		f(err)
	}
}

func (o Options) withDefaults() Options {
	if o.CommitLogSegmentSize == 0 {
		o.CommitLogSegmentSize = DefaultCommitLogSegmentSize
	}
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.MaxTopicLength == 0 {
		o.MaxTopicLength = DefaultMaxTopicLength
	}
	if o.FileReservedTime == 0 {
		o.FileReservedTime = DefaultFileReservedTime
	}
	if o.CleanInterval == 0 {
		o.CleanInterval = DefaultCleanInterval
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.DiskMaxUsedRatio == 0 {
		o.DiskMaxUsedRatio = DefaultDiskMaxUsedRatio
	}
	if o.DiskFullRatio == 0 {
		o.DiskFullRatio = DefaultDiskFullRatio
	}
	if !o.StoreHost.IsValid() {
		o.StoreHost = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 10911)
	}
	if len(o.DelayLevels) == 0 {
		o.DelayLevels = DefaultDelayLevels
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DiskUsage == nil {
		o.DiskUsage = diskUsage(o.FS)
	}
	o.FS = vfs.Default(o.FS)
	return o
}

// Validate reports the first invalid option.
func (o Options) Validate() error {
	d := o.withDefaults()
	if err := d.Transactions.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	if err := d.Timer.validate(d.DelayLevels); err != nil {
		return err
	}
	if err := d.commitLogOptions().Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	switch {
	case d.MaxMessageSize < 0 || int64(d.MaxMessageSize) >= d.CommitLogSegmentSize:
		return fmt.Errorf("%w: MaxMessageSize %d must be positive and below the segment size %d", ErrInvalidOptions, d.MaxMessageSize, d.CommitLogSegmentSize)
	case d.MaxTopicLength < 1 || d.MaxTopicLength > 255:
		return fmt.Errorf("%w: MaxTopicLength %d not in [1, 255]", ErrInvalidOptions, d.MaxTopicLength)
	case d.ConsumeQueueUnits < 0:
		return fmt.Errorf("%w: negative ConsumeQueueUnits", ErrInvalidOptions)
	case d.IndexHashSlots < 0 || d.IndexMaxEntries < 0 || d.IndexMaxEntries == 1:
		return fmt.Errorf("%w: index sizes %d/%d", ErrInvalidOptions, d.IndexHashSlots, d.IndexMaxEntries)
	case d.FileReservedTime < 0 || d.CleanInterval < 0 || d.CheckpointInterval < 0:
		return fmt.Errorf("%w: negative interval", ErrInvalidOptions)
	case !validDelayLevels(d.DelayLevels):
		return fmt.Errorf("%w: DelayLevels must be positive, at most %d of them", ErrInvalidOptions, maxDelayLevels)
	case d.DiskMaxUsedRatio <= 0 || d.DiskMaxUsedRatio > 1 || d.DiskFullRatio <= 0 || d.DiskFullRatio > 1:
		return fmt.Errorf("%w: disk ratios must be in (0, 1]", ErrInvalidOptions)
	}
	return nil
}

func (o Options) commitLogOptions() commitlog.Options {
	return commitlog.Options{
		SegmentSize:      o.CommitLogSegmentSize,
		NoHugePages:      o.CommitLogNoHugePages,
		ResidentBytes:    o.CommitLogResidentBytes,
		BackgroundNice:   o.BackgroundNice,
		FlushMode:        o.FlushMode,
		FlushInterval:    o.FlushInterval,
		SyncFlushTimeout: o.SyncFlushTimeout,
		MaxMessageSize:   o.MaxMessageSize,
		StoreHost:        o.StoreHost,
		Now:              o.Now,
		FS:               o.FS,
	}
}
