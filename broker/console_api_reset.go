package broker

import (
	"fmt"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// ResetResult is what ResetOffset did.
type ResetResult struct {
	Offsets  []QueueOffset // the group's new committed offset per read queue
	Notified int           // live consumers sent RESET_CONSUMER_CLIENT_OFFSET
	body     []byte        // ResetOffsetBody, the wire reply's body
}

// QueueOffset is a queue id and an offset in it.
type QueueOffset struct {
	QueueID int32 `json:"queueId"`
	Offset  int64 `json:"offset"`
}

// ResetOffset moves group's position on topic to the first message stored at or after ts (ms;
// -1 = the end of each queue), as INVOKE_BROKER_TO_RESET_OFFSET does (reset_offset.go): without
// force a queue only moves backwards; the offsets are durable before it returns and the
// group's live consumers are told. caller is logged. ErrTopicNotExist for an unknown topic.
func (b *Broker) ResetOffset(group, topic string, ts int64, force bool, caller string) (ResetResult, error) {
	tc, ok := b.topics.get(topic)
	if !ok {
		return ResetResult{}, fmt.Errorf("%w: %s", ErrTopicNotExist, topic)
	}
	offsets := make([]QueueOffset, 0, tc.ReadQueueNums)
	for i := range int32(tc.ReadQueueNums) {
		target := max(b.store.MaxOffset(topic, i), 0)
		if ts != -1 {
			var err error
			if target, err = b.store.OffsetByTime(topic, i, ts); err != nil {
				return ResetResult{}, err
			}
		}
		if current, ok := b.offsets.query(group, topic, i); ok && !force && target >= current {
			target = current
		}
		offsets = append(offsets, QueueOffset{QueueID: i, Offset: target})
	}
	for _, q := range offsets {
		b.offsets.commit(group, topic, q.QueueID, q.Offset)
	}
	if err := b.offsets.persist(false); err != nil {
		return ResetResult{}, fmt.Errorf("[reset-offset] offsets not saved: %w", err)
	}
	res := ResetResult{Offsets: offsets, body: appendResetOffsetBody(nil, b.cfg.BrokerName, topic, offsets)}
	for _, m := range b.clients.consumerMembers(group) {
		note := remoting.NewRequest(remoting.RequestResetConsumerClientOffset)
		note.SetExt(protocol.FieldTopic, topic)
		note.SetExt(protocol.FieldGroup, group)
		note.SetExtInt64(protocol.FieldTimestamp, ts)
		note.Body = res.body
		if err := m.conn.InvokeOneway(note); err != nil {
			b.log.Warn("broker: reset offset: notifying a consumer failed", "group", group, "client", m.clientID, "err", err)
			continue
		}
		res.Notified++
	}
	b.log.Info("broker: consumer offsets reset", "group", group, "topic", topic, "timestamp", ts, "force", force,
		"queues", len(offsets), "notified", res.Notified, "from", caller)
	return res, nil
}
