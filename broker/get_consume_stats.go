package broker

import (
	"slices"
	"strconv"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// GET_CONSUME_STATS (208): a consumer group's progress on this broker, what mqadmin
// consumerProgress and the dashboard's consumer page show. Header (GetConsumeStatsRequestHeader):
// consumerGroup, topic (optional). Without a topic, the topics are those the group has committed
// offsets for on this broker (its retry topic included), as RocketMQ's whichTopicByConsumer; a
// topic the broker does not know is skipped. A group with no progress gets an empty table.
//
// The body is RocketMQ's ConsumeStats as fastjson writes it: a map keyed by MessageQueue objects
// written unquoted (see get_topic_stats_info.go), fields sorted:
//
//	{"consumeTps":0.0,"offsetTable":{
//	  {"brokerName":"broker-a","queueId":0,"topic":"T"}:{"brokerOffset":12,"consumerOffset":10,"lastTimestamp":1700000000000}}}
//
// One entry per read queue of each topic, topics in name order, queues in id order.
// brokerOffset is the queue's max offset, consumerOffset the group's committed offset (0 when
// none), lastTimestamp the store time of the last consumed message (consumerOffset-1; 0 when
// none). The lag of a queue is brokerOffset - consumerOffset. consumeTps is not measured (0.0).

func (b *Broker) handleGetConsumeStats(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	group, err := req.GetString(protocol.FieldConsumerGroup)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldConsumerGroup, err))
	}
	var topics []string
	if topic := req.Ext(protocol.FieldTopic); topic != "" {
		topics = []string{topic}
	} else {
		topics = b.offsets.topicsOf(group)
	}
	stats := b.queueProgress(group, topics, false)
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.Body = appendConsumeStats(nil, b.cfg.BrokerName, stats)
	return resp
}

// queueProgress is the group's progress on every readable queue of topics (unknown topics are
// skipped), for GET_CONSUME_STATS and the console; oldest also looks up the store time of the
// first unconsumed message (one more queue-unit read per queue).
func (b *Broker) queueProgress(group string, topics []string, oldest bool) []QueueProgress {
	var out []QueueProgress
	for _, topic := range topics {
		tc, ok := b.topics.get(topic)
		if !ok {
			continue
		}
		for i := range int32(tc.ReadQueueNums) {
			p := QueueProgress{Topic: topic, QueueID: i, BrokerOffset: max(b.store.MaxOffset(topic, i), 0)}
			if off, ok := b.offsets.query(group, topic, i); ok {
				p.ConsumerOffset = off
			}
			if p.ConsumerOffset > 0 {
				if u, ok := b.store.QueueUnit(topic, i, p.ConsumerOffset-1); ok {
					p.LastTimestamp, _ = b.store.CommitLog().StoreTimestamp(u.CommitLogOffset)
				}
			}
			if oldest && p.ConsumerOffset < p.BrokerOffset {
				if u, ok := b.store.QueueUnit(topic, i, max(p.ConsumerOffset, b.store.MinOffset(topic, i))); ok && !u.IsBlank() {
					p.OldestUnconsumed, _ = b.store.CommitLog().StoreTimestamp(u.CommitLogOffset)
				}
			}
			out = append(out, p)
		}
	}
	return out
}

// appendConsumeStats appends the ConsumeStats body of stats (see above).
func appendConsumeStats(dst []byte, brokerName string, stats []QueueProgress) []byte {
	dst = append(dst, `{"consumeTps":0.0,"offsetTable":{`...)
	for i, s := range stats {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendMessageQueueKey(dst, brokerName, s.Topic, s.QueueID)
		dst = append(dst, `:{"brokerOffset":`...)
		dst = strconv.AppendInt(dst, s.BrokerOffset, 10)
		dst = append(dst, `,"consumerOffset":`...)
		dst = strconv.AppendInt(dst, s.ConsumerOffset, 10)
		dst = append(dst, `,"lastTimestamp":`...)
		dst = strconv.AppendInt(dst, s.LastTimestamp, 10)
		dst = append(dst, '}')
	}
	return append(dst, "}}"...)
}

// topicsOf returns the topics group has committed offsets for, sorted.
func (o *offsetTable) topicsOf(group string) []string {
	o.mu.Lock()
	var out []string
	for k := range o.offsets {
		if k.group == group {
			out = append(out, k.topic)
		}
	}
	o.mu.Unlock()
	slices.Sort(out)
	return out
}
