package broker

import (
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
	tc, ok := b.topics.get(topic)
	if !ok {
		return remoting.NewResponse(req, remoting.ResponseTopicNotExist,
			fmt.Sprintf("[reset-offset] reset offset failed, no topic in this broker. topic=%s", topic))
	}
	offsets := make([]queueOffset, 0, tc.ReadQueueNums)
	for i := range int32(tc.ReadQueueNums) {
		target := max(b.store.MaxOffset(topic, i), 0)
		if ts != -1 {
			if target, err = b.store.OffsetByTime(topic, i, ts); err != nil {
				return errorResponse(req, err)
			}
		}
		if current, ok := b.offsets.query(group, topic, i); ok && !force && target >= current {
			target = current
		}
		offsets = append(offsets, queueOffset{queueID: i, offset: target})
	}
	for _, q := range offsets {
		b.offsets.commit(group, topic, q.queueID, q.offset)
	}
	if err := b.offsets.persist(false); err != nil {
		return remoting.NewResponse(req, remoting.ResponseSystemError, fmt.Sprintf("[reset-offset] offsets not saved: %v", err))
	}
	body := appendResetOffsetBody(nil, b.cfg.BrokerName, topic, offsets)
	members := b.clients.consumerMembers(group)
	notified := 0
	for _, m := range members {
		note := remoting.NewRequest(remoting.RequestResetConsumerClientOffset)
		note.SetExt(protocol.FieldTopic, topic)
		note.SetExt(protocol.FieldGroup, group)
		note.SetExtInt64(protocol.FieldTimestamp, ts)
		note.Body = body
		if err := m.conn.InvokeOneway(note); err != nil {
			b.log.Warn("broker: reset offset: notifying a consumer failed", "group", group, "client", m.clientID, "err", err)
			continue
		}
		notified++
	}
	b.log.Info("broker: consumer offsets reset", "group", group, "topic", topic, "timestamp", ts, "force", force,
		"queues", len(offsets), "notified", notified, "from", c.RemoteAddrString())
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "notified "+strconv.Itoa(notified)+" consumer(s)")
	resp.SetExtInt64(protocol.FieldNotified, int64(notified))
	resp.Body = body
	return resp
}

// queueOffset is a queue id and an offset in it.
type queueOffset struct {
	queueID int32
	offset  int64
}

// appendResetOffsetBody appends ResetOffsetBody (see handleInvokeBrokerToResetOffset).
func appendResetOffsetBody(dst []byte, brokerName, topic string, offsets []queueOffset) []byte {
	dst = append(dst, `{"offsetTable":{`...)
	for i, q := range offsets {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendMessageQueueKey(dst, brokerName, topic, q.queueID)
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, q.offset, 10)
	}
	return append(dst, "}}"...)
}
