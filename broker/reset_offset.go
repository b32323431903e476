package broker

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// INVOKE_BROKER_TO_RESET_OFFSET (222): move a consumer group's position on one topic to a point
// in time ("skip the backlog", "replay from time T"). Header (ResetOffsetRequestHeader): topic,
// group, timestamp (ms; -1 = the end of each queue), isForce. For each read queue of the topic
// on this broker the new offset is the first message stored at or after timestamp (the
// SEARCH_OFFSET_BY_TIMESTAMP rule); without isForce a queue only moves backwards (RocketMQ:
// "timeStampOffset < consumerOffset"), so a reset never skips messages unless forced.
//
// The new offsets are committed in the broker's offset table and written to
// consumerOffset.json before the reply, and every live consumer of the group is sent
// RESET_CONSUMER_CLIENT_OFFSET (220, oneway; header topic, group, timestamp; the same body). An
// unmodified rocketmq-client-go push consumer then suspends, drops its queues of the topic, waits
// 10 s, takes the offsets and pulls from them. RocketMQ refuses a reset when no consumer is online
// (the Java mqadmin then falls back to committing offsets itself); mqstore commits them either
// way, so the group starts there when it comes back, and says how many clients it notified (ext
// notified, an mqstore addition, and the remark).
//
// The reply body is RocketMQ's ResetOffsetBody as fastjson writes it (MessageQueue keys unquoted,
// see get_topic_stats_info.go), which both RocketMQ's clients and rocketmq-client-go read:
//
//	{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:12,...}}
func (b *Broker) handleInvokeBrokerToResetOffset(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	topic, err := req.GetString(protocol.FieldTopic)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldTopic, err))
	}
	group, err := req.GetString(protocol.FieldGroup)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldGroup, err))
	}
	ts, err := req.GetInt64(protocol.FieldTimestamp)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldTimestamp, err))
	}
	force := req.Ext(protocol.FieldIsForce) != "false"
	res, err := b.ResetOffset(group, topic, ts, force, c.RemoteAddrString())
	switch {
	case errors.Is(err, ErrTopicNotExist):
		return remoting.NewResponse(req, remoting.ResponseTopicNotExist,
			fmt.Sprintf("[reset-offset] reset offset failed, no topic in this broker. topic=%s", topic))
	case err != nil:
		return remoting.NewResponse(req, remoting.ResponseSystemError, err.Error())
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "notified "+strconv.Itoa(res.Notified)+" consumer(s)")
	resp.SetExtInt64(protocol.FieldNotified, int64(res.Notified))
	resp.Body = res.body
	return resp
}

// appendResetOffsetBody appends ResetOffsetBody (see handleInvokeBrokerToResetOffset).
func appendResetOffsetBody(dst []byte, brokerName, topic string, offsets []QueueOffset) []byte {
	dst = append(dst, `{"offsetTable":{`...)
	for i, q := range offsets {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendMessageQueueKey(dst, brokerName, topic, q.QueueID)
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, q.Offset, 10)
	}
	return append(dst, "}}"...)
}
