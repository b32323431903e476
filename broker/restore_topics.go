package broker

import "github.com/mqstore/mqstore/namesrv"

// restoreTopics reconciles topics.json with the store after it opened: a topic that has queues
// in the store but no config entry (a config lost to a crash, a directory copied without its
// config) is restored with the default perm and as many queues as the store holds, and a topic
// whose config has fewer read queues than the store holds gets them back, so no stored message
// is unreachable. Config entries whose files were lost are kept. Each restoration is logged at
// WARN and written before the broker serves.
func (b *Broker) restoreTopics() error {
	for _, tq := range b.store.Topics() {
		if notAllowedSendTopics[tq.Topic] {
			continue // the store's own topics (half, op, schedule) are not broker topics
		}
		n := int(tq.Queues)
		tc, ok := b.topics.get(tq.Topic)
		switch {
		case !ok:
			tc = namesrv.TopicConfig{TopicName: tq.Topic, ReadQueueNums: n, WriteQueueNums: n,
				Perm: namesrv.PermRW, TopicFilterType: "SINGLE_TAG"}
			b.log.Warn("broker: restoring a topic missing from topics.json from its queues in the store",
				"topic", tq.Topic, "queues", n)
		case tc.ReadQueueNums < n:
			b.log.Warn("broker: restoring read queues missing from topics.json from the store",
				"topic", tq.Topic, "readQueueNums", tc.ReadQueueNums, "queuesInStore", n)
			tc.ReadQueueNums = n
		default:
			continue
		}
		b.topics.put(tc)
	}
	return b.topics.commit()
}
