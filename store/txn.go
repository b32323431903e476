package store

import (
	"errors"
	"fmt"

	"github.com/mqstore/mqstore/consumequeue"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/txn"
)

// txnBackend is the store as package txn sees it (txn.Store).
type txnBackend struct{ s *Store }

var (
	_ txn.Store  = txnBackend{}
	_ txn.Viewer = txnBackend{}
)

func (b txnBackend) Append(m *message.Message) (txn.Appended, error) {
	res, err := b.s.Put(m)
	if err != nil && !errors.Is(err, ErrFlushTimeout) {
		// A flush timeout still stored the record (RocketMQ counts it as sent): txn must see it
		// as appended, or a commit would look failed and be applied again later.
		return txn.Appended{}, err
	}
	return txn.Appended{
		PhysicalOffset: res.PhysicalOffset,
		QueueOffset:    res.QueueOffset,
		MsgID:          res.MsgID,
		StoreTimestamp: res.StoreTimestamp,
	}, nil
}

func (b txnBackend) Read(physicalOffset int64) (*message.Message, message.Record, error) {
	return b.s.commitLog.Message(physicalOffset)
}

// View lends the record at physicalOffset to v without copying it (txn.Viewer).
func (b txnBackend) View(physicalOffset int64, r *message.Record, v txn.Visitor) error {
	sl, err := b.s.commitLog.Read(physicalOffset, r)
	if err != nil {
		return err
	}
	defer sl.Release()
	return v.Visit(r)
}

func (b txnBackend) ScanQueue(topic string, queueID int32, from int64, fn func(queueOffset, physicalOffset int64, size int32) bool) error {
	b.s.ScanQueue(topic, queueID, from, func(qo int64, u consumequeue.Unit) bool {
		if u.IsBlank() {
			return true
		}
		return fn(qo, u.CommitLogOffset, u.Size)
	})
	return nil
}

func (b txnBackend) MinQueueOffset(topic string, queueID int32) int64 {
	return b.s.MinOffset(topic, queueID)
}
func (b txnBackend) MaxQueueOffset(topic string, queueID int32) int64 {
	return b.s.MaxOffset(topic, queueID)
}

// Transactions returns the store's transactional-message service (half messages, commit,
// rollback, check-back, the open-transaction table). Start its check service with
// Transactions().Start(checker).
func (s *Store) Transactions() *txn.Service { return s.txn.Load() }

// AppendPair stores two messages as one unit (txn.PairAppender): one batch, which in
// replicated mode is one entry.
func (b txnBackend) AppendPair(first, second *message.Message) (txn.Appended, txn.Appended, error) {
	res, err := b.s.PutBatch([]*message.Message{first, second})
	if err != nil && !errors.Is(err, ErrFlushTimeout) {
		return txn.Appended{}, txn.Appended{}, err
	}
	if len(res) != 2 {
		return txn.Appended{}, txn.Appended{}, fmt.Errorf("store: a pair stored as %d records", len(res))
	}
	app := func(r PutResult) txn.Appended {
		return txn.Appended{PhysicalOffset: r.PhysicalOffset, QueueOffset: r.QueueOffset, MsgID: r.MsgID, StoreTimestamp: r.StoreTimestamp}
	}
	return app(res[0]), app(res[1]), nil
}
