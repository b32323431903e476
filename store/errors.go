package store

import (
	"errors"
	"fmt"
)

// Errors of Put, by cause. Test them with errors.Is; PutResult.Status says the same thing.
var (
	// ErrMessageIllegal: the message cannot be stored as given (body too large, bad topic name,
	// properties too long, bad queue id).
	ErrMessageIllegal = errors.New("store: message illegal")
	// ErrServiceNotAvailable: the store does not accept writes now (closed, disk full, read-only).
	ErrServiceNotAvailable = errors.New("store: service not available")
	// ErrFlushTimeout: under SYNC_FLUSH the message was stored but not known durable within
	// SyncFlushTimeout.
	ErrFlushTimeout = errors.New("store: flush disk timeout")
	// ErrFlushFailed: an msync/fsync of the commitlog, the consume queues or the index failed.
	// It is sticky: the flushed offset and the checkpoint stop where they were and every later
	// put fails with it (wrapping the first error) until the store is reopened. Store.Err
	// reports it. The status is PutUnknownError (the broker answers SYSTEM_ERROR).
	ErrFlushFailed = errors.New("store: flush to disk failed; writes refused until restart")
)

// Errors of Open and Close.
var (
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store: closed")
	// ErrLocked: another process holds the store directory.
	ErrLocked = errors.New("store: directory in use by another process")
	// ErrInvalidOptions: Options.Validate failed.
	ErrInvalidOptions = errors.New("store: invalid options")
)

// Errors of reads.
var (
	// ErrNotFound: no message at that offset, id or key.
	ErrNotFound = errors.New("store: message not found")
	// ErrBadMsgID: the message id is malformed.
	ErrBadMsgID = errors.New("store: malformed message id")
)

// PutStatus is the outcome of a Put, named as RocketMQ's PutMessageStatus.
type PutStatus int

const (
	PutOK PutStatus = iota
	PutFlushDiskTimeout
	PutMessageIllegal
	PutPropertiesSizeExceeded
	PutServiceNotAvailable
	PutUnknownError
)

var putStatusNames = [...]string{
	PutOK:                     "PUT_OK",
	PutFlushDiskTimeout:       "FLUSH_DISK_TIMEOUT",
	PutMessageIllegal:         "MESSAGE_ILLEGAL",
	PutPropertiesSizeExceeded: "PROPERTIES_SIZE_EXCEEDED",
	PutServiceNotAvailable:    "SERVICE_NOT_AVAILABLE",
	PutUnknownError:           "UNKNOWN_ERROR",
}

func (s PutStatus) String() string {
	if int(s) >= 0 && int(s) < len(putStatusNames) {
		return putStatusNames[s]
	}
	return fmt.Sprintf("PutStatus(%d)", int(s))
}

// GetStatus is the outcome of GetMessages, named as RocketMQ's GetMessageStatus.
type GetStatus int

const (
	// Found: at least one message is returned.
	Found GetStatus = iota
	// NoMatchedMessage: units were scanned but the filter matched none; NextBeginOffset moves past them.
	NoMatchedMessage
	// MessageWasRemoving: the units point below the commitlog's minimum (deleted by retention).
	MessageWasRemoving
	// OffsetFoundNull: the unit exists but its record could not be read.
	OffsetFoundNull
	// OffsetOverflowBadly: the offset is beyond the queue's max offset.
	OffsetOverflowBadly
	// OffsetOverflowOne: the offset equals the max offset: no new message yet.
	OffsetOverflowOne
	// OffsetTooSmall: the offset is below the queue's min offset (retention removed it).
	OffsetTooSmall
	// NoMatchedLogicQueue: the topic queue does not exist.
	NoMatchedLogicQueue
	// NoMessageInQueue: the queue exists but is empty.
	NoMessageInQueue
)

var getStatusNames = [...]string{
	Found:               "FOUND",
	NoMatchedMessage:    "NO_MATCHED_MESSAGE",
	MessageWasRemoving:  "MESSAGE_WAS_REMOVING",
	OffsetFoundNull:     "OFFSET_FOUND_NULL",
	OffsetOverflowBadly: "OFFSET_OVERFLOW_BADLY",
	OffsetOverflowOne:   "OFFSET_OVERFLOW_ONE",
	OffsetTooSmall:      "OFFSET_TOO_SMALL",
	NoMatchedLogicQueue: "NO_MATCHED_LOGIC_QUEUE",
	NoMessageInQueue:    "NO_MESSAGE_IN_QUEUE",
}

func (s GetStatus) String() string {
	if int(s) >= 0 && int(s) < len(getStatusNames) {
		return getStatusNames[s]
	}
	return fmt.Sprintf("GetStatus(%d)", int(s))
}
