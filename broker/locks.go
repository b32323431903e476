package broker

import (
	"sync"
	"time"
)

// lockLifetime is how long a queue lock lasts without renewal (RocketMQ's
// rebalance.lockMaxLiveTime, 60 s); orderly consumers renew every 20 s.
const lockLifetime = 60 * time.Second

// messageQueue is a queue as clients name it in lock requests (MessageQueue JSON).
type messageQueue struct {
	Topic      string `json:"topic"`
	BrokerName string `json:"brokerName"`
	QueueID    int32  `json:"queueId"`
}

// lockBody is LockBatchRequestBody and UnlockBatchRequestBody.
type lockBody struct {
	ConsumerGroup  string         `json:"consumerGroup"`
	ClientID       string         `json:"clientId"`
	OnlyThisBroker bool           `json:"onlyThisBroker"`
	MQSet          []messageQueue `json:"mqSet"`
}

type lockEntry struct {
	clientID   string
	lastUpdate time.Time
}

// lockTable holds orderly consumers' queue locks (RocketMQ's RebalanceLockManager): a queue is
// locked by at most one client of a group at a time.
type lockTable struct {
	mu    sync.Mutex // guards locks
	locks map[string]map[messageQueue]*lockEntry
}

func newLockTable() *lockTable {
	return &lockTable{locks: make(map[string]map[messageQueue]*lockEntry)}
}

// tryLock locks (or renews) each queue for clientID unless another live client holds it, and
// returns the queues clientID now holds.
func (t *lockTable) tryLock(group, clientID string, mqs []messageQueue, now time.Time) []messageQueue {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.locks[group]
	if m == nil {
		m = make(map[messageQueue]*lockEntry)
		t.locks[group] = m
	}
	locked := make([]messageQueue, 0, len(mqs))
	for _, mq := range mqs {
		e := m[mq]
		switch {
		case e == nil:
			m[mq] = &lockEntry{clientID: clientID, lastUpdate: now}
		case e.clientID == clientID || now.Sub(e.lastUpdate) > lockLifetime:
			e.clientID, e.lastUpdate = clientID, now
		default:
			continue
		}
		locked = append(locked, mq)
	}
	return locked
}

// unlock releases the queues clientID holds.
func (t *lockTable) unlock(group, clientID string, mqs []messageQueue) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.locks[group]
	for _, mq := range mqs {
		if e := m[mq]; e != nil && e.clientID == clientID {
			delete(m, mq)
		}
	}
	if len(m) == 0 {
		delete(t.locks, group)
	}
}
