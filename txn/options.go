package txn

import (
	"fmt"
	"time"

	"github.com/mqstore/mqstore/internal/vfs"
)

// Defaults, RocketMQ's (BrokerConfig; spec §6.1).
const (
	DefaultTransactionTimeout = 6 * time.Second
	DefaultCheckInterval      = 60 * time.Second
	DefaultCheckMax           = 15
	DefaultFileReservedTime   = 72 * time.Hour
)

// Options configure a Service. The zero value is usable: every zero field
// takes its default.
type Options struct {
	// TransactionTimeout (transactionTimeOut): a half message younger than
	// this is not checked. Default 6 s. A message's
	// CHECK_IMMUNITY_TIME_IN_SECONDS replaces it for that message, as in
	// RocketMQ.
	TransactionTimeout time.Duration
	// CheckInterval (transactionCheckInterval): time between check rounds.
	// Default 60 s (RocketMQ 4.9; 5.1.1+ uses 30 s).
	CheckInterval time.Duration
	// CheckMax (transactionCheckMax): after this many delivered checks the
	// half message is discarded to TRANS_CHECK_MAX_TIME_TOPIC. Default 15.
	CheckMax int
	// FileReservedTime (fileReservedTime): a half message older than this is
	// discarded without a check. Default 72 h.
	FileReservedTime time.Duration
	// Dir holds txn's own files: the check counts (checks) and the check
	// progress (progress). It is created if missing. Empty means no files:
	// check counts live in memory only and New rebuilds from the start of
	// the half and op queues.
	Dir string
	// OnRound, if set, is called after every round of the check service's own loop (not
	// CheckNow) with what it did: metrics count checks and discards from it.
	OnRound func(RoundStats)
	// Now is the clock (test seam). Default time.Now. Ages are measured
	// against the half message's store timestamp, which the store takes
	// from its own clock.
	Now func() time.Time
	// FS is the file system of the files in Dir (nil: the real one).
	FS vfs.FS
	// AtomicCommit makes Commit store the restored message and its op marker
	// together, with one PairAppender.AppendPair (a replicated group's single
	// Raft entry), instead of the restored message first and the op marker
	// later, batched: a failover then never finds a commit half done
	// (RocketMQ's two writes duplicate on failover, apache/rocketmq#10199).
	// The Store must implement PairAppender. Rollback then also returns once
	// its op marker is stored (Flush).
	AtomicCommit bool
}

// Validate reports an out-of-range field (negative durations or CheckMax).
// Zero fields are valid: they take the defaults.
func (o *Options) Validate() error {
	switch {
	case o.TransactionTimeout < 0:
		return fmt.Errorf("%w: TransactionTimeout %v < 0", ErrInvalidOptions, o.TransactionTimeout)
	case o.CheckInterval < 0:
		return fmt.Errorf("%w: CheckInterval %v < 0", ErrInvalidOptions, o.CheckInterval)
	case o.CheckMax < 0 || o.CheckMax > maxCheckCount:
		return fmt.Errorf("%w: CheckMax %d not in [0, %d]", ErrInvalidOptions, o.CheckMax, maxCheckCount)
	case o.FileReservedTime < 0:
		return fmt.Errorf("%w: FileReservedTime %v < 0", ErrInvalidOptions, o.FileReservedTime)
	}
	return nil
}

// withDefaults returns o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.TransactionTimeout == 0 {
		o.TransactionTimeout = DefaultTransactionTimeout
	}
	if o.CheckInterval == 0 {
		o.CheckInterval = DefaultCheckInterval
	}
	if o.CheckMax == 0 {
		o.CheckMax = DefaultCheckMax
	}
	if o.FileReservedTime == 0 {
		o.FileReservedTime = DefaultFileReservedTime
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
