package store

import (
	"time"

	"github.com/mqstore/mqstore/message"
)

// ScheduleTopic holds delayed messages until they are due (RocketMQ's SCHEDULE_TOPIC_XXXX): a
// message of delay level L is stored in queue L-1 with its destination in REAL_TOPIC/REAL_QID.
// The store computes each unit's deliver time; a delivery service (the broker's) moves due
// messages back to their topic.
const ScheduleTopic = "SCHEDULE_TOPIC_XXXX"

// DefaultDelayLevels are RocketMQ's messageDelayLevel "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m
// 10m 20m 30m 1h 2h".
var DefaultDelayLevels = []time.Duration{
	time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute, 5 * time.Minute,
	6 * time.Minute, 7 * time.Minute, 8 * time.Minute, 9 * time.Minute, 10 * time.Minute,
	20 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
}

// maxDelayLevels caps the number of delay levels (queues of ScheduleTopic).
const maxDelayLevels = 64

// unknownLevelDelay is the delay of a schedule queue beyond the configured levels (RocketMQ's
// computeDeliverTimestamp falls back to 1 s).
const unknownLevelDelay = time.Second

func validDelayLevels(levels []time.Duration) bool {
	if len(levels) > maxDelayLevels {
		return false
	}
	for _, d := range levels {
		if d <= 0 {
			return false
		}
	}
	return true
}

// DelayOf returns the delay of a level (1-based) of the store's DelayLevels, and false for a
// level out of range.
func (s *Store) DelayOf(level int) (time.Duration, bool) {
	if level < 1 || level > len(s.opts.DelayLevels) {
		return 0, false
	}
	return s.opts.DelayLevels[level-1], true
}

// MaxDelayLevel is the number of delay levels.
func (s *Store) MaxDelayLevel() int { return len(s.opts.DelayLevels) }

// deliverTime is the tags field of a ScheduleTopic unit: when its message is due, in ms.
func (s *Store) deliverTime(r *message.Record) int64 {
	d, ok := s.DelayOf(int(r.QueueID) + 1)
	if !ok {
		d = unknownLevelDelay
	}
	return r.StoreTimestamp + d.Milliseconds()
}
