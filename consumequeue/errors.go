package consumequeue

import "errors"

// Errors of Put (the dispatcher's write).
var (
	// ErrGap is returned by Put for a queue offset beyond MaxOffset of a non-empty queue: writing it
	// would shift every later offset, so it is refused.
	ErrGap = errors.New("consumequeue: queue offset beyond the end of the queue")
	// ErrConflict is returned by Put when a different unit is already stored at the queue offset,
	// or when the unit's record overlaps the last record already in the queue.
	ErrConflict = errors.New("consumequeue: a different unit is stored at this queue offset")
	// ErrInvalidUnit is returned by Put for a unit that cannot point at a record: a negative
	// offset, a size that is not in (0, MaxUnitSize], or a blank unit.
	ErrInvalidUnit = errors.New("consumequeue: invalid unit")
)

// Errors of Open, OpenTable and Table.
var (
	// ErrInvalidName is returned for a topic name that cannot be a directory ("", ".", "..", a '/'
	// or a NUL byte, longer than MaxTopicLen) or a negative queue id.
	ErrInvalidName = errors.New("consumequeue: invalid topic name or queue id")
	// ErrInvalidOptions is returned by Options.Validate.
	ErrInvalidOptions = errors.New("consumequeue: invalid options")
)

// ErrClosed is returned by every operation on a closed queue or table.
var ErrClosed = errors.New("consumequeue: closed")
