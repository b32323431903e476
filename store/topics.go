package store

import (
	"slices"
	"strings"

	"github.com/mqstore/mqstore/consumequeue"
)

// TopicQueues names a topic the store holds consume queues of.
type TopicQueues struct {
	Topic string
	// Queues is the highest id of a queue that holds or held a message, plus one.
	Queues int32
}

// Topics returns every topic the store holds messages of, sorted by name, with its queue count
// (the highest id of a queue that holds or held a message, + 1; retention keeps a queue's
// offsets). Open re-dispatches every recovered record before it returns, so after a crash this
// is what the commitlog and the queues on disk say exists: an owner whose own table of topics
// lost an entry (a broker's config/topics.json) restores it from here. Queues that never had a
// message (made ahead by PrepareTopic, whose caller made the topic durable first) do not count.
func (s *Store) Topics() []TopicQueues {
	counts := make(map[string]int32)
	s.queues.Range(func(q *consumequeue.ConsumeQueue) bool {
		if q.MaxOffset() > 0 {
			counts[q.Topic()] = max(counts[q.Topic()], q.QueueID()+1)
		}
		return true
	})
	out := make([]TopicQueues, 0, len(counts))
	for topic, n := range counts {
		out = append(out, TopicQueues{Topic: topic, Queues: n})
	}
	slices.SortFunc(out, func(a, b TopicQueues) int { return strings.Compare(a.Topic, b.Topic) })
	return out
}
