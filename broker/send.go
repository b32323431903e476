package broker

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/mqstore/mqstore/protocol"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/metrics"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
)

// SEND_MESSAGE (10): store one message. The header (SendMessageRequestHeader) names the topic,
// queue (< 0: the broker picks one at random), sysFlag (compression and transaction bits,
// stored as sent), born time, user flag and the encoded properties, stored byte for byte; the
// body is stored as sent (compressed or not). Unknown topics are created from defaultTopic
// (TBW102) when autoCreateTopicEnable allows it. The answer carries msgId (the offset message
// id, store host + commitlog offset), queueId and queueOffset, plus MSG_REGION and TRACE_ON.
//
// The send path below (sendHeader → prepareSend → putMessage → putResponse) is shared by
// SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE, and is meant for every other path that stores a
// message on behalf of a client (transaction half messages, CONSUMER_SEND_MSG_BACK).

func (b *Broker) handleSendMessage(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	return b.sendMessage(c, req, &sendFieldsV1)
}

// sendHeader is SendMessageRequestHeader, parsed.
type sendHeader struct {
	producerGroup         string
	topic                 string
	defaultTopic          string
	defaultTopicQueueNums int32
	queueID               int32
	sysFlag               int32
	bornTimestamp         int64
	flag                  int32
	properties            string
	reconsumeTimes        int32
	maxReconsumeTimes     int32
	batch                 bool
}

// parseSendHeader reads a send request's header in one pass over its fields (a field given
// twice: the first counts, as Fields.Get reads it). Missing or malformed required fields fail
// with ErrBadRequest; malformed optional numbers read as their defaults.
func parseSendHeader(req *remoting.Command, f *sendFields) (sendHeader, error) {
	var h sendHeader
	var values [sendFieldCount]string
	var present uint32
	for i := range req.ExtFields {
		field := &req.ExtFields[i]
		if j := f.index(field.Key); j >= 0 && present&(1<<j) == 0 {
			present |= 1 << j
			values[j] = field.Value
		}
	}
	has := func(j int) bool { return present&(1<<j) != 0 }
	required := func(j int) error {
		if !has(j) {
			return badField(f.names[j], fmt.Errorf("%w: %s", remoting.ErrMissingField, f.names[j]))
		}
		return nil
	}
	parse := func(j, bits int) (int64, error) {
		if err := required(j); err != nil {
			return 0, err
		}
		v, err := strconv.ParseInt(values[j], 10, bits)
		if err != nil {
			return 0, badField(f.names[j], fmt.Errorf("%w: %s=%q: %v", remoting.ErrBadField, f.names[j], values[j], err))
		}
		return v, nil
	}
	optional := func(j int, def int32) int32 {
		if !has(j) {
			return def
		}
		if v, err := strconv.ParseInt(values[j], 10, 32); err == nil {
			return int32(v)
		}
		return def
	}
	if err := required(sendProducerGroup); err != nil {
		return h, err
	}
	if err := required(sendTopic); err != nil {
		return h, err
	}
	h.producerGroup, h.topic = values[sendProducerGroup], values[sendTopic]
	h.defaultTopic = values[sendDefaultTopic]
	h.defaultTopicQueueNums = optional(sendDefaultTopicQueueNums, 4)
	v, err := parse(sendQueueID, 32)
	if err != nil {
		return h, err
	}
	h.queueID = int32(v)
	if v, err = parse(sendSysFlag, 32); err != nil {
		return h, err
	}
	h.sysFlag = int32(v)
	if h.bornTimestamp, err = parse(sendBornTimestamp, 64); err != nil {
		return h, err
	}
	if v, err = parse(sendFlag, 32); err != nil {
		return h, err
	}
	h.flag = int32(v)
	h.properties = values[sendProperties]
	h.reconsumeTimes = optional(sendReconsumeTimes, 0)
	h.maxReconsumeTimes = optional(sendMaxReconsumeTimes, 0)
	h.batch = remoting.ParseBool(values[sendBatch])
	return h, nil
}

// sendMessage serves SEND_MESSAGE and SEND_MESSAGE_V2.
func (b *Broker) sendMessage(c *remoting.Conn, req *remoting.Command, f *sendFields) *remoting.Command {
	h, err := parseSendHeader(req, f)
	if err != nil {
		return errorResponse(req, err)
	}
	queueID, err := b.prepareSend(c, &h)
	if err != nil {
		return errorResponse(req, err)
	}
	m := sendMessagePool.Get().(*message.Message)
	*m = message.Message{
		Topic:          h.topic,
		QueueID:        queueID,
		Flag:           h.flag,
		Body:           req.Body,
		SysFlag:        h.sysFlag,
		BornTimestamp:  h.bornTimestamp,
		BornHost:       bornHost(c),
		StoreHost:      b.storeHost(),
		ReconsumeTimes: h.reconsumeTimes,
		Properties:     propertiesOf(h.properties),
	}
	if isTransactional(m) {
		return b.prepareTransaction(c, req, &h, m)
	}
	if err := b.retryOrDeadLetter(&h, m); err != nil {
		return errorResponse(req, err)
	}
	if b.cfg.FlushDiskType == SyncFlush {
		// Answer from the group commit's callback instead of holding a worker until the sync.
		err := b.putMessageAsync(m, func(res store.PutResult, err error) {
			c.WriteResponse(b.putResponse(req, res, err, false))
			req.Release()
		})
		if err != nil {
			return b.putResponse(req, store.PutResult{}, err, false)
		}
		return nil
	}
	res, err := b.putMessageWith(m, false) // putResponse formats the message id itself
	if b.replica == nil {
		// A single broker's Put has encoded m into the log and keeps no reference to it (a
		// replicated put is not known not to): m serves the next send.
		*m = message.Message{}
		sendMessagePool.Put(m)
	}
	return b.putResponse(req, res, err, true)
}

// sendMessagePool recycles the Message of a plain send once the store has it (sendMessage).
var sendMessagePool = sync.Pool{New: func() any { return new(message.Message) }}

// prepareSend checks a send against the broker and topic, creates the topic when allowed, and
// returns the queue to store into.
func (b *Broker) prepareSend(c *remoting.Conn, h *sendHeader) (int32, error) {
	if b.cfg.BrokerPermission&namesrv.PermWrite == 0 {
		return 0, fmt.Errorf("%w: the broker[%s] sending message is forbidden", ErrNoPermission, b.cfg.BrokerName)
	}
	if err := validateTopic(h.topic); err != nil {
		return 0, err
	}
	if notAllowedSendTopics[h.topic] {
		return 0, fmt.Errorf("%w: sending message to topic[%s] is forbidden", ErrNoPermission, h.topic)
	}
	tc, err := b.topicForSend(h)
	if err != nil {
		return 0, err
	}
	if tc.Perm&namesrv.PermWrite == 0 {
		return 0, fmt.Errorf("%w: the topic[%s] sending message is forbidden", ErrNoPermission, h.topic)
	}
	if tc.WriteQueueNums <= 0 {
		return 0, fmt.Errorf("%w: topic[%s] has no write queue", ErrNoPermission, h.topic)
	}
	queueID := h.queueID
	if queueID < 0 {
		queueID = rand.Int32N(int32(tc.WriteQueueNums))
	}
	if int(queueID) >= tc.WriteQueueNums {
		return 0, fmt.Errorf("%w: request queueId[%d] is illegal, topic:[%s] topicConfig.writeQueueNums:[%d] producer:[%s]",
			ErrBadRequest, queueID, h.topic, tc.WriteQueueNums, c.RemoteAddrString())
	}
	return queueID, nil
}

// topicForSend returns the topic's config, creating the topic from its default topic
// (TopicConfigManager.createTopicInSendMessageMethod) or, for a retry topic, with one queue.
func (b *Broker) topicForSend(h *sendHeader) (namesrv.TopicConfig, error) {
	if tc, ok, err := b.topics.getDurable(h.topic); ok || err != nil {
		return tc, err
	}
	if strings.HasPrefix(h.topic, RetryTopicPrefix) {
		tc, _, err := b.ensureTopic(namesrv.TopicConfig{TopicName: h.topic, ReadQueueNums: 1, WriteQueueNums: 1, Perm: namesrv.PermRW})
		return tc, err
	}
	def, ok := b.topics.get(h.defaultTopic)
	if h.defaultTopic == "" || !ok || !b.cfg.AutoCreateTopicEnable && h.defaultTopic == namesrv.AutoCreateTopic {
		return namesrv.TopicConfig{}, fmt.Errorf("%w: topic[%s] not exist, apply first please!", ErrTopicNotExist, h.topic)
	}
	if def.Perm&namesrv.PermInherit == 0 {
		return namesrv.TopicConfig{}, fmt.Errorf("%w: topic[%s] not exist and the default topic[%s] does not allow creating it",
			ErrNoPermission, h.topic, h.defaultTopic)
	}
	queues := min(max(int(h.defaultTopicQueueNums), 1), def.WriteQueueNums)
	tc, _, err := b.ensureTopic(namesrv.TopicConfig{
		TopicName:       h.topic,
		ReadQueueNums:   queues,
		WriteQueueNums:  queues,
		Perm:            def.Perm &^ namesrv.PermInherit,
		TopicFilterType: "SINGLE_TAG",
	})
	return tc, err
}

// putMessage stores a message for a client (sends, send-backs). Half messages do not come here:
// sendMessage routes them to the transaction service (transaction.go).
// A message with DELAY > 0 or a delivery time is kept by the store's timer (schedule.go); the
// result still names the queue asked for, as RocketMQ answers.
// putMessageAsync is putMessage for the SYNC_FLUSH send path: done gets the result once a group
// commit covers the message (see store.PutAsync). An error returned here means nothing was
// stored and done is not called.
func (b *Broker) putMessageAsync(m *message.Message, done func(store.PutResult, error)) error {
	start := time.Now()
	topic, kind, bodyLen := m.Topic, messageType(m), len(m.Body)
	_, err := b.store.PutAsync(m, func(res store.PutResult, err error) {
		if err == nil || errors.Is(err, store.ErrFlushTimeout) {
			b.stats.putMessages.Add(1)
			if mt := b.opts.Metrics; mt != nil {
				mt.PutLatency(time.Since(start))
				mt.MessagesIn(topic, 1, bodyLen, kind)
			}
		}
		done(res, err)
	})
	return err
}

func (b *Broker) putMessage(m *message.Message) (store.PutResult, error) {
	return b.putMessageWith(m, true)
}

// putMessageWith is putMessage; without withID the result's MsgID is left empty
// (store.PutWithoutMsgID: its caller formats it with AppendMsgID).
func (b *Broker) putMessageWith(m *message.Message, withID bool) (store.PutResult, error) {
	put := b.store.Put
	if !withID {
		put = b.store.PutWithoutMsgID
	}
	mt := b.opts.Metrics
	if mt == nil { // the clock and the message's kind are for the metrics only
		res, err := put(m)
		if err == nil || errors.Is(err, store.ErrFlushTimeout) {
			b.stats.putMessages.Add(1)
		}
		return res, err
	}
	start := time.Now()
	topic, kind, bodyLen := m.Topic, messageType(m), len(m.Body)
	res, err := put(m)
	if err == nil || errors.Is(err, store.ErrFlushTimeout) {
		b.stats.putMessages.Add(1)
		mt.PutLatency(time.Since(start))
		mt.MessagesIn(topic, 1, bodyLen, kind)
	}
	return res, err
}

// propertiesOf returns the bytes of s, a field of a decoded request header, as Properties
// without copying them. Safe because Properties are never modified in place (Set and Delete
// return new encodings; the slice's capacity is its length, so an append copies) and the
// header's strings are immutable heap memory that lives as long as the message refers to it.
func propertiesOf(s string) message.Properties {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// putResponse answers a send from the store's result. With inPlace, a success turns req itself
// into the answer (remoting.ReplyInPlace: no second command per message); only for a
// handler that returns the answer and uses req no more.
func (b *Broker) putResponse(req *remoting.Command, res store.PutResult, err error, inPlace bool) *remoting.Command {
	var resp *remoting.Command
	switch {
	case err == nil && inPlace:
		resp = remoting.ReplyInPlace(req, remoting.ResponseSuccess, "")
	case err == nil:
		resp = remoting.NewResponse(req, remoting.ResponseSuccess, "")
	case errors.Is(err, store.ErrFlushTimeout):
		resp = remoting.NewResponse(req, remoting.ResponseFlushDiskTimeout, err.Error())
	default:
		return errorResponse(req, err)
	}
	// A fresh response has no fields: append them (SetExt would scan for each key). The message
	// id and the queue offset are formatted into the command's own buffer (no string per answer;
	// res.MsgID may be empty: store.PutWithoutMsgID).
	var id [message.OffsetMsgIDLenV6]byte
	resp.AddExtBytes(protocol.FieldMsgID, res.AppendMsgID(id[:0]))
	resp.ExtFields = append(resp.ExtFields, remoting.Field{Key: protocol.FieldQueueID, Value: itoa32(res.QueueID)})
	resp.AddExtInt64(protocol.FieldQueueOffset, res.QueueOffset)
	b.setSendExt(resp)
	return resp
}

// setSendExt adds the ext fields every send answer carries.
func (b *Broker) setSendExt(resp *remoting.Command) {
	resp.SetExt(protocol.FieldMsgRegion, b.cfg.RegionID)
	resp.SetExtBool(protocol.FieldTraceOn, b.cfg.TraceOn)
}

// errorResponse maps an error to its response code (the one table of error → code).
func errorResponse(req *remoting.Command, err error) *remoting.Command {
	code := remoting.ResponseSystemError
	switch {
	case errors.Is(err, ErrBadRequest):
		code = remoting.ResponseSystemError
	case errors.Is(err, ErrInvalidTopic):
		code = remoting.ResponseInvalidParameter
	case errors.Is(err, ErrTopicNotExist):
		code = remoting.ResponseTopicNotExist
	case errors.Is(err, ErrNoPermission):
		code = remoting.ResponseNoPermission
	case errors.Is(err, ErrGroupNotExist):
		code = remoting.ResponseSubscriptionGroupNotExist
	case errors.Is(err, store.ErrMessageIllegal):
		code = remoting.ResponseMessageIllegal
	case errors.Is(err, store.ErrServiceNotAvailable):
		code = remoting.ResponseServiceNotAvailable
	case errors.Is(err, store.ErrFlushTimeout):
		code = remoting.ResponseFlushDiskTimeout
	}
	return remoting.NewResponse(req, code, err.Error())
}

// bornHost is the client's address as a record's BORNHOST.
func bornHost(c *remoting.Conn) netip.AddrPort {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// messageType classifies a message for the metrics as RocketMQ does: transactional, delayed or
// normal.
func messageType(m *message.Message) metrics.MessageType {
	switch {
	case message.TransactionType(m.SysFlag) == message.TransactionPreparedType:
		return metrics.MessageTransaction
	case hasProperty(m, message.PropertyTransactionPrepared):
		return metrics.MessageTransaction
	case hasProperty(m, message.PropertyDelayLevel), hasAnyProperty(m, message.TimerProperties[:4]):
		return metrics.MessageDelay
	}
	return metrics.MessageNormal
}

func hasAnyProperty(m *message.Message, names []string) bool {
	for _, name := range names {
		if _, ok := m.Properties.Lookup(name); ok {
			return true
		}
	}
	return false
}

func hasProperty(m *message.Message, name string) bool {
	v, ok := m.Properties.Lookup(name)
	return ok && len(v) > 0 && string(v) != "0" && string(v) != "false"
}
