package grpcserver

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/message"
)

// Conversions between the protocol's Message and the store's. A 5.x message is stored as a 4.x
// one, so either generation consumes it:
//
//	system_properties.message_id       UNIQ_KEY (the id consumers see, and QUERY_MESSAGE finds)
//	system_properties.tag              TAGS
//	system_properties.keys             KEYS (space-separated)
//	system_properties.message_group    __SHARDINGKEY (broker.PropertyMessageGroup)
//	system_properties.delivery_timestamp  TIMER_DELIVER_MS (ms)
//	system_properties.trace_context    TRACE_CONTEXT
//	TRANSACTION type                   TRAN_MSG=true, PGROUP=producerGroupOf(topic),
//	                                   __TXN_CLIENT_ID=the sender's client id (send_message.go)
//	user_properties                    the same keys in the properties
//	body (GZIP encoding)               inflated: stored raw
//
// On delivery, a zlib body (sysflag bit 0, a 4.x producer's compression) is inflated, and the
// system properties above are taken back out of the user properties.

// propertyTraceContext keeps a 5.x message's trace context.
const propertyTraceContext = "TRACE_CONTEXT"

// propertyTxnClientID keeps, on a 5.x half message, the client id (x-mq-client-id) of the
// producer that sent it: transaction checks go to that client first, also after a restart
// (the property is part of the half record; docs/FORMAT.md, "Pop state", transactions). It
// stays on the committed message (as PGROUP does), hidden from 5.x consumers.
const propertyTxnClientID = "__TXN_CLIENT_ID"

// systemProperties are the stored properties that are not user properties of a 5.x message.
var systemProperties = map[string]bool{
	message.PropertyUniqKey: true, message.PropertyTags: true, message.PropertyKeys: true, message.PropertyWait: true,
	message.PropertyTransactionPrepared: true, message.PropertyProducerGroup: true, message.PropertyTimerDeliverMS: true,
	broker.PropertyMessageGroup: true, propertyTraceContext: true, message.PropertyDelayLevel: true,
	message.PropertyRealTopic: true, message.PropertyRealQueueID: true, message.PropertyMinOffset: true,
	message.PropertyMaxOffset: true, message.PropertyTransactionCheckTimes: true, message.PropertyRetryTopic: true,
	message.PropertyOriginMessageID: true, message.PropertyReconsumeTime: true, message.PropertyMaxReconsumeTimes: true,
	message.PropertyMsgRegion: true, message.PropertyTraceSwitch: true, message.PropertyTranPreparedQueueOffset: true,
	message.PropertyTransactionID: true, message.PropertyConsumeStartTime: true, propertyTxnClientID: true,
}

// producerGroupOf is the producer group a 5.x transactional message is stored with (5.x
// producers have no group): check-backs go to the producers publishing its topic.
func producerGroupOf(topic string) string { return "%GRPC_PRODUCER%" + topic }

// inflate reads r to its end, refusing more than limit bytes (a compressed body cannot expand
// past the message size limit).
func inflate(r io.Reader, limit int) ([]byte, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if n > int64(limit) {
		return nil, fmt.Errorf("%w: inflated body over %d bytes", errBodyTooLarge, limit)
	}
	return buf.Bytes(), nil
}

// toStoreMessage converts a 5.x message for the store. maxBody is maxMessageSize.
func toStoreMessage(pm *v2.Message, maxBody int) (*message.Message, v2.MessageType, error) {
	topic := pm.GetTopic().GetName()
	if topic == "" {
		return nil, 0, fmt.Errorf("%w: message without topic", errBadRequest)
	}
	sp := pm.GetSystemProperties()
	if sp == nil {
		return nil, 0, fmt.Errorf("%w: message without system_properties", errBadRequest)
	}
	body := pm.GetBody()
	if len(body) > maxBody {
		return nil, 0, fmt.Errorf("%w: %d bytes, max %d", errBodyTooLarge, len(body), maxBody)
	}
	if sp.GetBodyEncoding() == v2.Encoding_GZIP {
		var r io.Reader
		if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
			r = zr
		} else if zr, err := zlib.NewReader(bytes.NewReader(body)); err == nil {
			r = zr
		} else {
			return nil, 0, fmt.Errorf("%w: GZIP body does not inflate: %v", errBadRequest, err)
		}
		b, err := inflate(r, maxBody)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: GZIP body: %w", errBadRequest, err)
		}
		body = b
	}
	m := message.New(topic, body)
	props := make(map[string]string, len(pm.GetUserProperties())+6)
	for k, v := range pm.GetUserProperties() {
		if !message.ValidProperty(k, v) {
			return nil, 0, fmt.Errorf("%w: property %q", errBadRequest, k)
		}
		if systemProperties[k] {
			return nil, 0, fmt.Errorf("%w: property %q is reserved", errBadRequest, k)
		}
		props[k] = v
	}
	set := func(k, v string) error {
		if !message.ValidProperty(k, v) {
			return fmt.Errorf("%w: bad %s %q", errBadRequest, k, v)
		}
		props[k] = v
		return nil
	}
	id := sp.GetMessageId()
	if id == "" {
		return nil, 0, fmt.Errorf("%w: message without message_id", errBadRequest)
	}
	if err := set(message.PropertyUniqKey, id); err != nil {
		return nil, 0, err
	}
	if t := sp.GetTag(); t != "" {
		if strings.ContainsAny(t, "|") {
			return nil, 0, fmt.Errorf("%w: tag %q contains '|'", errBadRequest, t)
		}
		if err := set(message.PropertyTags, t); err != nil {
			return nil, 0, err
		}
	}
	if keys := sp.GetKeys(); len(keys) > 0 {
		if err := set(message.PropertyKeys, strings.Join(keys, message.KeySeparator)); err != nil {
			return nil, 0, err
		}
	}
	if tc := sp.GetTraceContext(); tc != "" {
		if err := set(propertyTraceContext, tc); err != nil {
			return nil, 0, err
		}
	}
	typ := sp.GetMessageType()
	switch typ {
	case v2.MessageType_FIFO:
		if sp.GetMessageGroup() == "" {
			return nil, 0, fmt.Errorf("%w: FIFO message without message_group", errBadRequest)
		}
	case v2.MessageType_DELAY:
		if sp.GetDeliveryTimestamp() == nil {
			return nil, 0, fmt.Errorf("%w: DELAY message without delivery_timestamp", errBadRequest)
		}
	case v2.MessageType_TRANSACTION:
		props[message.PropertyTransactionPrepared] = "true"
		props[message.PropertyProducerGroup] = producerGroupOf(topic)
	case v2.MessageType_NORMAL, v2.MessageType_MESSAGE_TYPE_UNSPECIFIED:
	default:
		return nil, 0, fmt.Errorf("%w: message type %v", errBadRequest, typ)
	}
	if g := sp.GetMessageGroup(); g != "" {
		if err := set(broker.PropertyMessageGroup, g); err != nil {
			return nil, 0, err
		}
	}
	if ts := sp.GetDeliveryTimestamp(); ts != nil {
		if err := ts.CheckValid(); err != nil {
			return nil, 0, fmt.Errorf("%w: delivery_timestamp: %v", errBadRequest, err)
		}
		props[message.PropertyTimerDeliverMS] = strconv.FormatInt(ts.AsTime().UnixMilli(), 10)
	}
	m.Properties = message.EncodeProperties(props)
	if bt := sp.GetBornTimestamp(); bt != nil && bt.IsValid() {
		m.BornTimestamp = bt.AsTime().UnixMilli()
	} else {
		m.BornTimestamp = time.Now().UnixMilli()
	}
	return m, typ, nil
}

// messageTypeOf classifies a stored message for a 5.x consumer.
func messageTypeOf(m *message.Message) v2.MessageType {
	if v, _ := m.Properties.Get(message.PropertyTransactionPrepared); strings.EqualFold(v, "true") {
		return v2.MessageType_TRANSACTION
	}
	if message.TransactionType(m.SysFlag) == message.TransactionCommitType {
		return v2.MessageType_TRANSACTION
	}
	if _, ok := m.Properties.Lookup(broker.PropertyMessageGroup); ok {
		return v2.MessageType_FIFO
	}
	if _, ok := m.Properties.Lookup(message.PropertyTimerDeliverMS); ok {
		return v2.MessageType_DELAY
	}
	if _, ok := m.Properties.Lookup(message.PropertyTimerOutMS); ok {
		return v2.MessageType_DELAY
	}
	if v, _ := m.Properties.Get(message.PropertyDelayLevel); v != "" && v != "0" {
		return v2.MessageType_DELAY
	}
	return v2.MessageType_NORMAL
}

// bodyOf returns a stored message's body as a 5.x consumer gets it: inflated when a 4.x
// producer zlib-compressed it.
func bodyOf(m *message.Message, maxBody int) []byte {
	if m.SysFlag&message.SysFlagCompressed == 0 {
		return m.Body
	}
	zr, err := zlib.NewReader(bytes.NewReader(m.Body))
	if err != nil {
		return m.Body
	}
	defer zr.Close()
	b, err := inflate(zr, max(maxBody, 4<<20)*8)
	if err != nil {
		return m.Body
	}
	return b
}

// toProtoMessage converts a stored message for a 5.x client. topic overrides the stored topic
// when not empty (a half message's real topic).
func toProtoMessage(m *message.Message, topic string, storeTimestamp int64, offsetMsgID string, maxBody int) *v2.Message {
	if topic == "" {
		topic = m.Topic
	}
	body := bodyOf(m, maxBody)
	user := make(map[string]string)
	m.Properties.Range(func(name, value []byte) bool {
		if !systemProperties[string(name)] {
			user[string(name)] = string(value)
		}
		return true
	})
	id := m.UniqKey()
	if id == "" {
		id = offsetMsgID
	}
	sp := &v2.SystemProperties{
		MessageId:      id,
		Keys:           m.Keys(),
		BodyDigest:     &v2.Digest{Type: v2.DigestType_CRC32, Checksum: strconv.FormatInt(int64(crc32.ChecksumIEEE(body)), 16)},
		BodyEncoding:   v2.Encoding_IDENTITY,
		MessageType:    messageTypeOf(m),
		BornTimestamp:  timestamppb.New(time.UnixMilli(m.BornTimestamp)),
		BornHost:       hostString(m.BornHost),
		StoreTimestamp: timestamppb.New(time.UnixMilli(storeTimestamp)),
		StoreHost:      hostString(m.StoreHost),
		QueueId:        m.QueueID,
	}
	if t := m.Tags(); t != "" {
		sp.Tag = &t
	}
	if g, ok := m.Properties.Get(broker.PropertyMessageGroup); ok && g != "" {
		sp.MessageGroup = &g
	}
	if tc, ok := m.Properties.Get(propertyTraceContext); ok && tc != "" {
		sp.TraceContext = &tc
	}
	// A delivered timer message keeps TIMER_OUT_MS, when it was due (as RocketMQ 5's proxy).
	for _, name := range []string{message.PropertyTimerOutMS, message.PropertyTimerDeliverMS} {
		if v, ok := m.Properties.Get(name); ok {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
				sp.DeliveryTimestamp = timestamppb.New(time.UnixMilli(ms))
				break
			}
		}
	}
	return &v2.Message{Topic: &v2.Resource{Name: topic}, UserProperties: user, SystemProperties: sp, Body: body}
}

// withDelivery adds a POP delivery's fields.
func withDelivery(pm *v2.Message, p *broker.Popped, invisible time.Duration) *v2.Message {
	sp := pm.SystemProperties
	rh := p.Receipt.String()
	off := p.Receipt.QueueOffset
	attempt := p.Receipt.Attempt
	sp.ReceiptHandle = &rh
	sp.QueueOffset = &off
	sp.QueueId = p.Receipt.QueueID
	sp.DeliveryAttempt = &attempt
	sp.InvisibleDuration = durationpb.New(invisible)
	return pm
}

func hostString(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
