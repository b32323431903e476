package broker

import (
	"context"
	"fmt"
	"strings"

	"github.com/mqstore/mqstore/protocol"

	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/remoting"
)

// UPDATE_AND_CREATE_TOPIC (17): create or update a topic (ext topic, readQueueNums,
// writeQueueNums, perm, topicFilterType, topicSysFlag, order, and RocketMQ 5's attributes:
// "+message.type=FIFO,-key", applied to the topic's current attributes). The topic is written to
// config/topics.json at once and registered with the name server before the answer, so its
// route is there when the caller asks next.
func (b *Broker) handleUpdateAndCreateTopic(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	topic, err := req.GetString(protocol.FieldTopic)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldTopic, err))
	}
	if err := validateTopic(topic); err != nil {
		return errorResponse(req, err)
	}
	if topic == b.cfg.BrokerClusterName {
		return remoting.NewResponse(req, remoting.ResponseSystemError,
			fmt.Sprintf("the topic[%s] is conflict with the cluster name", topic))
	}
	tc := namesrv.TopicConfig{TopicName: topic, Perm: namesrv.PermRW, TopicFilterType: "SINGLE_TAG"}
	read, err1 := req.GetInt32(protocol.FieldReadQueueNums)
	write, err2 := req.GetInt32(protocol.FieldWriteQueueNums)
	if err1 != nil || err2 != nil {
		return remoting.NewResponse(req, remoting.ResponseSystemError, "readQueueNums and writeQueueNums are required")
	}
	if read <= 0 || write <= 0 || read > maxQueueNums || write > maxQueueNums {
		return remoting.NewResponse(req, remoting.ResponseInvalidParameter,
			fmt.Sprintf("queue numbers must be within 1..%d (read %d, write %d)", maxQueueNums, read, write))
	}
	tc.ReadQueueNums, tc.WriteQueueNums = int(read), int(write)
	if perm, err := req.GetInt32(protocol.FieldPerm); err == nil {
		if perm&^7 != 0 {
			return remoting.NewResponse(req, remoting.ResponseInvalidParameter, fmt.Sprintf("bad perm %d", perm))
		}
		tc.Perm = int(perm)
	}
	if f := req.Ext(protocol.FieldTopicFilterType); f != "" {
		tc.TopicFilterType = f
	}
	if v, err := req.GetInt32(protocol.FieldTopicSysFlag); err == nil {
		tc.TopicSysFlag = int(v)
	}
	tc.Order, _ = req.GetBool(protocol.FieldOrder)
	old, exists, err := b.TopicConfig(topic)
	if err != nil {
		return errorResponse(req, err)
	}
	if tc.Attributes, err = namesrv.AlterAttributes(old.Attributes, req.Ext(protocol.FieldAttributes), !exists); err != nil {
		return remoting.NewResponse(req, remoting.ResponseInvalidParameter, err.Error())
	}
	if b.topics.put(tc) {
		b.log.Info("broker: topic updated", "topic", topic, "read", read, "write", write, "perm", tc.Perm)
	}
	if err := b.topics.commit(); err != nil {
		return errorResponse(req, err)
	}
	b.prepareQueues(tc)
	if err := b.registerNow(context.Background()); err != nil {
		b.log.Warn("broker: registration after topic update failed", "topic", topic, "err", err)
	}
	return remoting.NewResponse(req, remoting.ResponseSuccess, "")
}

// prepareQueues creates the store's consume-queue files of a topic that was just created or
// updated (and is durable in topics.json), so that its first messages are not dispatched behind
// the creation of those files (docs/BENCHMARKS.md, "Session 4"). A failure is only logged: the
// dispatcher creates whatever is missing, as before. Retry and dead-letter topics are left to
// their first message, as before: most never get one, and a consumer's first heartbeat creates
// its group's retry topic.
func (b *Broker) prepareQueues(tc namesrv.TopicConfig) {
	if strings.HasPrefix(tc.TopicName, RetryTopicPrefix) || strings.HasPrefix(tc.TopicName, DLQTopicPrefix) {
		return
	}
	if err := b.store.PrepareTopic(tc.TopicName, int32(tc.WriteQueueNums)); err != nil {
		b.log.Warn("broker: creating the topic's queue files failed", "topic", tc.TopicName, "err", err)
	}
}
