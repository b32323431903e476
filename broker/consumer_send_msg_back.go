package broker

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
)

// CONSUMER_SEND_MSG_BACK (36): a consumer failed to consume a message and hands it back for a
// later retry (spec §7.10, clientgo.md §3.4). Header (ConsumerSendMsgBackRequestHeader): offset
// (the message's commitlog offset), group, delayLevel (0: the broker decides; < 0: straight to
// the dead-letter queue), originMsgId, originTopic, unitMode, maxReconsumeTimes.
//
// The broker reads the message at offset and stores a copy:
//   - in the group's retry topic %RETRY%<group> (created with the group config's
//     retryQueueNums queues, a random one taken), with DELAY = delayLevel, or 3 +
//     reconsumeTimes when delayLevel is 0 (10 s, 30 s, 1 m, ... with the default levels), so it
//     goes through the delay levels (schedule.go) before it is redelivered;
//   - or, once its reconsume times reach maxReconsumeTimes (the header's when given, else the
//     group's retryMaxTimes, 16 by default), or when delayLevel < 0, in the dead-letter topic
//     %DLQ%<group> (one queue, created on demand), undelayed; consumers do not subscribe to it.
//
// The copy keeps body, flag, properties, sysFlag, born time and host; it gets RECONSUMETIMES+1,
// RETRY_TOPIC = the original topic (set once) and ORIGIN_MESSAGE_ID = the first message's id
// (set once). The Go client restores the topic from RETRY_TOPIC when it consumes the retry
// topic. A group unknown with autoCreateSubscriptionGroup=false is refused with
// SUBSCRIPTION_GROUP_NOT_EXIST; a group whose retryQueueNums is 0 drops the message (SUCCESS),
// as RocketMQ does.
//
// A SEND of a message to a %RETRY% topic (the newest client's fallback when this request fails)
// follows the same rule: at maxReconsumeTimes it goes to the dead-letter topic instead.

func (b *Broker) handleConsumerSendMsgBack(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := parseSendBackHeader(req)
	if err != nil {
		return errorResponse(req, err)
	}
	if b.cfg.BrokerPermission&namesrv.PermWrite == 0 {
		return errorResponse(req, fmt.Errorf("%w: the broker[%s] sending message is forbidden", ErrNoPermission, b.cfg.BrokerName))
	}
	gc, ok, err := b.groups.ensure(h.group, b.cfg.AutoCreateSubscriptionGroup)
	if err != nil {
		return errorResponse(req, err)
	}
	if !ok {
		return errorResponse(req, fmt.Errorf("%w: subscription group[%s] not exist", ErrGroupNotExist, h.group))
	}
	if gc.RetryQueueNums <= 0 {
		return remoting.NewResponse(req, remoting.ResponseSuccess, "retryQueueNums is 0: message dropped")
	}
	sm, err := b.store.ReadAt(h.offset)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return remoting.NewResponse(req, remoting.ResponseSystemError, fmt.Sprintf("look message by offset failed, %d", h.offset))
		}
		return errorResponse(req, err)
	}
	m := sm.Message
	if _, ok := m.Properties.Lookup(message.PropertyRetryTopic); !ok {
		m.SetProperty(message.PropertyRetryTopic, m.Topic)
	}
	if _, ok := m.Properties.Lookup(message.PropertyOriginMessageID); !ok {
		origin := h.originMsgID
		if origin == "" {
			origin = m.UniqKey()
		}
		if origin == "" {
			origin = sm.MsgID
		}
		m.SetProperty(message.PropertyOriginMessageID, origin)
	}
	maxTimes := int32(gc.RetryMaxTimes)
	if h.maxReconsumeTimes >= 0 {
		maxTimes = h.maxReconsumeTimes
	}
	reconsumeTimes := m.ReconsumeTimes
	delayLevel := h.delayLevel
	if reconsumeTimes >= maxTimes || delayLevel < 0 {
		if err := b.toDeadLetter(h.group, m); err != nil {
			return errorResponse(req, err)
		}
	} else {
		tc, _, err := b.ensureTopic(retryTopicConfig(h.group, gc))
		if err != nil {
			return errorResponse(req, err)
		}
		if tc.Perm&namesrv.PermWrite == 0 {
			return errorResponse(req, fmt.Errorf("%w: the topic[%s] sending message is forbidden", ErrNoPermission, tc.TopicName))
		}
		if delayLevel == 0 {
			delayLevel = 3 + reconsumeTimes
		}
		m.Topic = tc.TopicName
		m.QueueID = rand.Int32N(int32(max(tc.WriteQueueNums, 1)))
		m.SetProperty(message.PropertyDelayLevel, strconv.Itoa(int(delayLevel)))
	}
	m.ReconsumeTimes = reconsumeTimes + 1
	m.StoreHost = b.storeHost()
	m.PreparedTransactionOffset = 0
	m.SetProperty(message.PropertyWait, "false")
	if _, err := b.putMessage(m); err != nil && !errors.Is(err, store.ErrFlushTimeout) {
		return errorResponse(req, err)
	}
	return remoting.NewResponse(req, remoting.ResponseSuccess, "")
}

// sendBackHeader is ConsumerSendMsgBackRequestHeader, parsed.
type sendBackHeader struct {
	offset            int64
	group             string
	delayLevel        int32
	originMsgID       string
	originTopic       string
	maxReconsumeTimes int32 // -1 when absent
}

func parseSendBackHeader(req *remoting.Command) (sendBackHeader, error) {
	h := sendBackHeader{maxReconsumeTimes: -1}
	var err error
	if h.offset, err = req.GetInt64(protocol.FieldOffset); err != nil {
		return h, badField(protocol.FieldOffset, err)
	}
	if h.group, err = req.GetString(protocol.FieldGroup); err != nil {
		return h, badField(protocol.FieldGroup, err)
	}
	if h.delayLevel, err = req.GetInt32(protocol.FieldDelayLevel); err != nil {
		return h, badField(protocol.FieldDelayLevel, err)
	}
	h.originMsgID = req.Ext(protocol.FieldOriginMsgID)
	h.originTopic = req.Ext(protocol.FieldOriginTopic)
	if v, err := req.GetInt32(protocol.FieldMaxReconsumeTimes); err == nil && v >= 0 {
		h.maxReconsumeTimes = v
	}
	return h, nil
}

// retryTopicConfig is the config of a group's retry topic.
func retryTopicConfig(group string, gc GroupConfig) namesrv.TopicConfig {
	n := max(gc.RetryQueueNums, 1)
	return namesrv.TopicConfig{TopicName: RetryTopicPrefix + group, ReadQueueNums: n, WriteQueueNums: n,
		Perm: namesrv.PermRW, TopicFilterType: "SINGLE_TAG"}
}

// toDeadLetter turns m into a message of the group's dead-letter topic (created on demand),
// undelayed.
func (b *Broker) toDeadLetter(group string, m *message.Message) error {
	tc, _, err := b.ensureTopic(namesrv.TopicConfig{TopicName: DLQTopicPrefix + group, ReadQueueNums: 1, WriteQueueNums: 1,
		Perm: namesrv.PermRW, TopicFilterType: "SINGLE_TAG"})
	if err != nil {
		return err
	}
	if tc.Perm&namesrv.PermWrite == 0 {
		return fmt.Errorf("%w: the topic[%s] sending message is forbidden", ErrNoPermission, tc.TopicName)
	}
	origin, _ := m.Properties.Get(message.PropertyRetryTopic)
	if origin == "" {
		origin = m.Topic
	}
	m.Topic = tc.TopicName
	m.QueueID = rand.Int32N(int32(max(tc.WriteQueueNums, 1)))
	m.DeleteProperty(message.PropertyDelayLevel)
	b.log.Info("broker: message sent to the dead-letter queue", "group", group, "topic", origin, "uniqKey", m.UniqKey(),
		"reconsumeTimes", m.ReconsumeTimes)
	if mt := b.opts.Metrics; mt != nil {
		mt.SentToDLQ(origin, group)
	}
	return nil
}

// retryOrDeadLetter applies the dead-letter rule to a SEND into a retry topic: at
// maxReconsumeTimes (the header's when positive, else the group's retryMaxTimes) the message
// goes to the group's dead-letter topic instead.
func (b *Broker) retryOrDeadLetter(h *sendHeader, m *message.Message) error {
	group, ok := strings.CutPrefix(m.Topic, RetryTopicPrefix)
	if !ok {
		return nil
	}
	gc, ok, err := b.groups.ensure(group, b.cfg.AutoCreateSubscriptionGroup)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: subscription group[%s] not exist", ErrGroupNotExist, group)
	}
	maxTimes := int32(gc.RetryMaxTimes)
	if h.maxReconsumeTimes > 0 {
		maxTimes = h.maxReconsumeTimes
	}
	if h.reconsumeTimes < maxTimes {
		return nil
	}
	return b.toDeadLetter(group, m)
}
