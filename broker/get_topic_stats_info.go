package broker

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// GET_TOPIC_STATS_INFO (202): per-queue offsets of a topic on this broker, what mqadmin
// topicStatus and the dashboard's topic status page show. Header (GetTopicStatsInfoRequestHeader):
// topic. A topic the broker does not know is answered TOPIC_NOT_EXIST, as RocketMQ does.
//
// The body is RocketMQ's TopicStatsTable as fastjson writes it: a map keyed by MessageQueue
// objects, written unquoted (not valid JSON; RocketMQ's Java tools read it), fields sorted:
//
//	{"offsetTable":{
//	  {"brokerName":"broker-a","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":1700000000000,"maxOffset":12,"minOffset":0},
//	  {"brokerName":"broker-a","queueId":1,"topic":"T"}:{"lastUpdateTimestamp":0,"maxOffset":0,"minOffset":0}}}
//
// One entry per write queue (0..writeQueueNums-1), in queue order. lastUpdateTimestamp is the
// store time of the queue's last message (ms), 0 for an empty queue.

func (b *Broker) handleGetTopicStatsInfo(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	topic, err := req.GetString(protocol.FieldTopic)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldTopic, err))
	}
	tc, ok := b.topics.get(topic)
	if !ok {
		return remoting.NewResponse(req, remoting.ResponseTopicNotExist, fmt.Sprintf("topic[%s] not exist", topic))
	}
	stats := make([]topicOffset, tc.WriteQueueNums)
	for i := range stats {
		stats[i].queueID = int32(i)
		if st, ok := b.store.QueueStat(topic, int32(i)); ok {
			stats[i].minOffset, stats[i].maxOffset, stats[i].lastUpdate = st.MinOffset, st.MaxOffset, st.LastUpdateTime
		}
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.Body = appendTopicStatsTable(nil, b.cfg.BrokerName, topic, stats)
	return resp
}

// topicOffset is one queue's TopicOffset.
type topicOffset struct {
	queueID              int32
	minOffset, maxOffset int64
	lastUpdate           int64 // ms
}

// appendTopicStatsTable appends the TopicStatsTable body of stats (see above).
func appendTopicStatsTable(dst []byte, brokerName, topic string, stats []topicOffset) []byte {
	dst = append(dst, `{"offsetTable":{`...)
	for i, s := range stats {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendMessageQueueKey(dst, brokerName, topic, s.queueID)
		dst = append(dst, `:{"lastUpdateTimestamp":`...)
		dst = strconv.AppendInt(dst, s.lastUpdate, 10)
		dst = append(dst, `,"maxOffset":`...)
		dst = strconv.AppendInt(dst, s.maxOffset, 10)
		dst = append(dst, `,"minOffset":`...)
		dst = strconv.AppendInt(dst, s.minOffset, 10)
		dst = append(dst, '}')
	}
	return append(dst, "}}"...)
}

// appendMessageQueueKey appends a MessageQueue as fastjson writes it as a map key: an object
// with the fields sorted, unquoted.
func appendMessageQueueKey(dst []byte, brokerName, topic string, queueID int32) []byte {
	dst = append(dst, `{"brokerName":`...)
	dst = appendJSONText(dst, brokerName)
	dst = append(dst, `,"queueId":`...)
	dst = strconv.AppendInt(dst, int64(queueID), 10)
	dst = append(dst, `,"topic":`...)
	dst = appendJSONText(dst, topic)
	return append(dst, '}')
}

// appendJSONText appends s as a JSON string.
func appendJSONText(dst []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(dst, q...)
}
