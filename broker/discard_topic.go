package broker

import (
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/txn"
)

// initDiscardTopic creates the config of TRANS_CHECK_MAX_TIME_TOPIC, where transactions
// discarded unresolved go (one queue, read and write, as RocketMQ's check listener creates it),
// so the topic has a route and operators can read it (mqadmin txnList -discarded). Producers
// still may not send to it (notAllowedSendTopics).
func (b *Broker) initDiscardTopic() {
	b.topics.createIfAbsent(namesrv.TopicConfig{
		TopicName:       txn.DiscardTopic,
		ReadQueueNums:   1,
		WriteQueueNums:  1,
		Perm:            namesrv.PermRW,
		TopicFilterType: "SINGLE_TAG",
	})
}
