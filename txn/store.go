package txn

import "github.com/mqstore/mqstore/message"

// Store is what txn needs from the storage engine. The store package
// implements it over its commitlog and consume queues; txn's tests use an
// in-memory fake.
//
// Dispatch may be asynchronous: a unit can appear in a consume queue shortly
// after Append returned. txn never relies on ScanQueue seeing a record it
// just appended; it updates its own tables directly. New reads the queues and
// assumes the store has dispatched everything it recovered before New is
// called.
type Store interface {
	// Append stores m as given (topic, queue id, sysflag, properties) and
	// returns where it went. Durability follows the store's flush mode. It
	// returns an error only when m was not stored: a record stored whose
	// flush timed out is a success (RocketMQ counts FLUSH_DISK_TIMEOUT as
	// SUCCESS on END_TRANSACTION); an error after storing would make a
	// commit look failed, and the transaction would be committed again.
	// Transaction type PREPARED/ROLLBACK records get no queue offset and no
	// consume-queue unit; NOT and COMMIT get both. Append keeps neither m nor
	// its slices once it returns: txn reuses them (and may pass slices a
	// Viewer lent).
	Append(m *message.Message) (Appended, error)
	// Read returns an owned copy of the message stored at a commitlog
	// offset, plus its stored fields (QueueOffset, PhysicalOffset,
	// StoreTimestamp, SysFlag, ...). txn reads topic, body and properties
	// from the Message only: the Record's Body, Topic and Properties may be
	// nil. It fails for an offset that holds no record.
	Read(physicalOffset int64) (*message.Message, message.Record, error)
	// ScanQueue calls fn for the units of a consume queue from queue offset
	// from, in order, while fn returns true.
	ScanQueue(topic string, queueID int32, from int64, fn func(queueOffset, physicalOffset int64, size int32) bool) error
	// MinQueueOffset and MaxQueueOffset of a consume queue (0 and 0 when it
	// does not exist). MaxQueueOffset is one past the last unit.
	MinQueueOffset(topic string, queueID int32) int64
	MaxQueueOffset(topic string, queueID int32) int64
}

// Appended is where Store.Append put a message.
type Appended struct {
	PhysicalOffset int64  // commitlog offset of the record
	QueueOffset    int64  // offset in its consume queue
	MsgID          string // offset message id (store host + physical offset)
	StoreTimestamp int64  // ms since the Unix epoch, the store's clock
}

// Viewer is implemented by a Store that can lend a stored record without
// copying it. When the Store has it, Commit and Rollback read the half
// message through View: a commit then copies the body once (from the half
// record into the restored one) instead of three times, and allocates
// nothing for the read.
type Viewer interface {
	// View decodes the record at a commitlog offset into r and calls
	// v.Visit(r). r's Body, Topic and Properties alias the store's memory
	// (capacity capped at their length) and are valid only until Visit
	// returns; Visit may call Append. View returns Visit's error, or an
	// error when the offset holds no record (then Visit is not called).
	View(physicalOffset int64, r *message.Record, v Visitor) error
}

// Visitor receives a record lent by Viewer.View.
type Visitor interface {
	Visit(r *message.Record) error
}

// PairAppender is a Store that can append two messages as one unit: both
// are stored, or neither (Options.AtomicCommit). Append's rules apply to
// each.
type PairAppender interface {
	AppendPair(first, second *message.Message) (Appended, Appended, error)
}
