package txn

import "errors"

// Lifecycle.
var (
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("txn: service closed")
	// ErrNotStarted: CheckNow was called before Start gave the service a Checker.
	ErrNotStarted = errors.New("txn: check service not started")
	// ErrAlreadyStarted: Start was called twice.
	ErrAlreadyStarted = errors.New("txn: check service already started")
	// ErrInvalidOptions: an Options field is out of range (Validate).
	ErrInvalidOptions = errors.New("txn: invalid options")
)

// Prepare.
var (
	// ErrInvalidMessage: the message cannot be a half message (no topic, a
	// system transaction topic, or no producer group).
	ErrInvalidMessage = errors.New("txn: invalid transactional message")
	// ErrDelayedTransaction: the message carries a delay or timer property.
	// RocketMQ loops such messages between the schedule topic and the half
	// topic (apache/rocketmq#1540); mqstore refuses them.
	ErrDelayedTransaction = errors.New("txn: a transactional message cannot be delayed")
)

// Commit, Rollback and Resume: the request does not name a half message.
// These are RocketMQ's END_TRANSACTION checks (spec §6.4).
var (
	// ErrNotFound: no record at the given commitlog offset ("Find prepared
	// transaction message failed").
	ErrNotFound = errors.New("txn: prepared transaction message not found")
	// ErrNotHalfMessage: the record at the offset is not a half message.
	ErrNotHalfMessage = errors.New("txn: not a half message")
	// ErrGroupMismatch: the producer group differs from the half message's
	// PGROUP ("The producer group wrong").
	ErrGroupMismatch = errors.New("txn: producer group mismatch")
	// ErrQueueOffsetMismatch: the half-queue offset (tranStateTableOffset)
	// differs from the record's ("The transaction state table offset wrong").
	ErrQueueOffsetMismatch = errors.New("txn: transaction state table offset mismatch")
	// ErrCommitLogOffsetMismatch: the record read at the offset says it lives
	// elsewhere ("The commit log offset wrong").
	ErrCommitLogOffsetMismatch = errors.New("txn: commit log offset mismatch")
)

// Idempotence: the half message was already ended. Every one of these wraps
// ErrAlreadyEnded, so errors.Is(err, ErrAlreadyEnded) tells "nothing was
// done because the transaction is closed" from a failure.
var (
	// ErrAlreadyEnded: the transaction is closed; its outcome is not known
	// (an op marker written by RocketMQ, which does not record it).
	ErrAlreadyEnded = errors.New("txn: transaction already ended")
	// ErrAlreadyCommitted: the transaction was committed (or a commit of it
	// is in progress); nothing was written.
	ErrAlreadyCommitted = &wrapped{"txn: transaction already committed", ErrAlreadyEnded}
	// ErrAlreadyRolledBack: the transaction was rolled back; nothing was written.
	ErrAlreadyRolledBack = &wrapped{"txn: transaction already rolled back", ErrAlreadyEnded}
	// ErrDiscarded: the transaction was discarded to TRANS_CHECK_MAX_TIME_TOPIC
	// after too many checks or too long; Resume puts it back.
	ErrDiscarded = &wrapped{"txn: transaction discarded after too many checks", ErrAlreadyEnded}
	// ErrResumed: the transaction was discarded and then resumed as a new
	// half message (OpenTransaction.ResumedFrom names this one); end that one.
	ErrResumed = &wrapped{"txn: transaction resumed as a new half message", ErrAlreadyEnded}
)

// ErrNotDiscarded is returned by Resume for a half message that is not
// discarded (open, committed, rolled back or already resumed).
var ErrNotDiscarded = errors.New("txn: transaction not discarded")

// ErrNoProducerOnline is for Checker implementations: a check that could not
// be delivered because no producer of the group is online. Any error from
// Check means the check is not counted against CheckMax; this one is the
// common case (RocketMQ counts it, spec §6.6).
var ErrNoProducerOnline = errors.New("txn: no producer of the group online")

// ErrCorruptState marks a persisted txn file (progress) that fails its CRC
// or has the wrong size. New treats a corrupt progress file as absent and
// rebuilds from the beginning of the queues; it is exported so tools can
// test for it.
var ErrCorruptState = errors.New("txn: corrupt state file")

type wrapped struct {
	msg    string
	parent error
}

func (e *wrapped) Error() string { return e.msg }
func (e *wrapped) Unwrap() error { return e.parent }
