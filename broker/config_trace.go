package broker

import "github.com/mqstore/mqstore/namesrv"

// TraceTopic is where clients' message traces go (RocketMQ's TopicValidator.RMQ_SYS_TRACE_TOPIC):
// rocketmq-client-go's WithTrace and the Java client's enableMsgTrace send one trace message per
// batch of sends or consumes, keyed by the traced messages' ids and keys, so a trace is found by
// QUERY_MESSAGE on this topic with a message's key or id.
const TraceTopic = "RMQ_SYS_TRACE_TOPIC"

// initTraceTopic creates TraceTopic (one queue, read and write, as RocketMQ's
// TopicConfigManager does) when traceTopicEnable is set. Without it, clients find no route for
// the topic and drop every trace.
func (b *Broker) initTraceTopic() {
	if !b.cfg.TraceTopicEnable {
		return
	}
	b.topics.createIfAbsent(namesrv.TopicConfig{
		TopicName:       TraceTopic,
		ReadQueueNums:   1,
		WriteQueueNums:  1,
		Perm:            namesrv.PermRW,
		TopicFilterType: "SINGLE_TAG",
	})
}
