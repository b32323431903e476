package console

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/store"
)

// Message is one message of GET /console/api/messages. The body is the producer's (inflated
// when it was compressed), cut at maxBodyShown bytes: bodyText holds it when it is valid
// UTF-8, bodyHex always. The page escapes everything it shows.
type Message struct {
	MsgID           string            `json:"msgId"`   // offset message id
	UniqKey         string            `json:"uniqKey"` // the client's message id (UNIQ_KEY)
	Topic           string            `json:"topic"`
	QueueID         int32             `json:"queueId"`
	QueueOffset     int64             `json:"queueOffset"`
	CommitLogOffset int64             `json:"commitLogOffset"`
	Tags            string            `json:"tags"`
	Keys            []string          `json:"keys"`
	BornTimestamp   int64             `json:"bornTimestamp"`
	StoreTimestamp  int64             `json:"storeTimestamp"`
	BornHost        string            `json:"bornHost"`
	StoreHost       string            `json:"storeHost"`
	SysFlag         int32             `json:"sysFlag"`
	ReconsumeTimes  int32             `json:"reconsumeTimes"`
	StoredSize      int               `json:"storedBodySize"` // as stored (compressed or not)
	BodySize        int               `json:"bodySize"`       // as the producer sent it
	Compressed      bool              `json:"compressed"`
	Properties      map[string]string `json:"properties"`
	BodyText        string            `json:"bodyText"`
	BodyIsText      bool              `json:"bodyIsText"`
	BodyHex         string            `json:"bodyHex"`
	BodyTruncated   bool              `json:"bodyTruncated"`
	BodyError       string            `json:"bodyError,omitempty"` // inflating failed
	Consumers       []ConsumeStatus   `json:"consumers"`
}

// ConsumeStatus says whether a group has consumed a message: its committed offset on the
// message's queue is past the message's queue offset.
type ConsumeStatus struct {
	Group          string `json:"group"`
	ConsumerOffset int64  `json:"consumerOffset"` // -1 when the group committed nothing on the queue
	Consumed       bool   `json:"consumed"`
}

const (
	maxBodyShown    = 16 << 10
	maxInflated     = 8 << 20
	defaultKeyMax   = 64
	maxKeyMax       = 2000
	maxTopicsByUniq = 5000    // topics searched for a UNIQ_KEY given without a topic
	maxTimeSkip     = 100_000 // how many matches a time-range page may skip (offset)
)

// messages answers GET /console/api/messages: by id (offset message id or UNIQ_KEY; topic
// optional) or by topic and key (begin and end in ms optional, max ≤ 2000).
func (c *Console) messages(r *http.Request) (any, error) {
	q := r.URL.Query()
	topic, key, id := q.Get("topic"), q.Get("key"), q.Get("id")
	st := c.b.Store()
	var found []*store.StoredMessage
	switch {
	case id != "":
		if m, err := st.LookupByMsgID(id); err == nil && m.MsgID == id {
			found = append(found, m)
			break
		}
		topics := []string{topic}
		if topic == "" {
			topics = topics[:0]
			for _, tc := range c.b.TopicConfigs() {
				if topicKind(tc.TopicName) != "system" && len(topics) < maxTopicsByUniq {
					topics = append(topics, tc.TopicName)
				}
			}
		}
		for _, t := range topics {
			ms, err := st.QueryByKey(t, id, 32, 0, 0)
			if err != nil {
				return nil, err
			}
			for _, m := range ms {
				if m.UniqKey() == id {
					found = append(found, m)
				}
			}
		}
	case topic != "":
		maxNum, begin, end, skip := defaultKeyMax, int64(0), int64(0), 0
		var err error
		if v := q.Get("max"); v != "" {
			if maxNum, err = strconv.Atoi(v); err != nil || maxNum <= 0 {
				return nil, fmt.Errorf("%w: max %q", ErrBadRequest, v)
			}
			maxNum = min(maxNum, maxKeyMax)
		}
		if v := q.Get("begin"); v != "" {
			if begin, err = strconv.ParseInt(v, 10, 64); err != nil {
				return nil, fmt.Errorf("%w: begin %q", ErrBadRequest, v)
			}
		}
		if v := q.Get("end"); v != "" {
			if end, err = strconv.ParseInt(v, 10, 64); err != nil {
				return nil, fmt.Errorf("%w: end %q", ErrBadRequest, v)
			}
		}
		if v := q.Get("offset"); v != "" {
			if skip, err = strconv.Atoi(v); err != nil || skip < 0 || skip > maxTimeSkip {
				return nil, fmt.Errorf("%w: offset %q (0–%d)", ErrBadRequest, v, maxTimeSkip)
			}
		}
		if key == "" { // by time range: the topic's messages stored in [begin, end]
			found, more, err := c.byTime(topic, begin, end, skip, maxNum)
			if err != nil {
				return nil, err
			}
			return map[string]any{"messages": c.describeAll(found), "offset": skip, "more": more}, nil
		}
		if found, err = st.QueryByKey(topic, key, maxNum, begin, end); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: give id (and optionally topic), or topic with key and/or a time range", ErrBadRequest)
	}
	return map[string]any{"messages": c.describeAll(found)}, nil
}

// describeAll describes messages (see describe).
func (c *Console) describeAll(found []*store.StoredMessage) []Message {
	groups := c.b.ConsumerGroups()
	out := make([]Message, 0, len(found))
	for _, m := range found {
		out = append(out, c.describe(m, groups))
	}
	return out
}

// describe turns a stored message into its JSON, with its consume status per group.
func (c *Console) describe(m *store.StoredMessage, groups []broker.ConsumerGroup) Message {
	out := Message{
		MsgID: m.MsgID, UniqKey: m.UniqKey(), Topic: m.Topic, QueueID: m.QueueID, QueueOffset: m.QueueOffset,
		CommitLogOffset: m.PhysicalOffset, Tags: m.Tags(), Keys: m.Keys(), BornTimestamp: m.BornTimestamp,
		StoreTimestamp: m.StoreTimestamp, BornHost: m.BornHost.String(), StoreHost: m.StoreHost.String(),
		SysFlag: m.SysFlag, ReconsumeTimes: m.ReconsumeTimes, StoredSize: len(m.Body),
		Compressed: m.SysFlag&message.SysFlagCompressed != 0, Properties: m.Properties.Map(), Consumers: []ConsumeStatus{},
	}
	if out.Keys == nil {
		out.Keys = []string{}
	}
	body, err := inflate(m.Body, m.SysFlag)
	if err != nil {
		out.BodyError = err.Error()
		body = m.Body
	}
	out.BodySize = len(body)
	if len(body) > maxBodyShown {
		body, out.BodyTruncated = body[:maxBodyShown], true
	}
	out.BodyHex = hex.EncodeToString(body)
	if utf8.Valid(body) {
		out.BodyText, out.BodyIsText = string(body), true
	}
	for _, g := range groups {
		if !slices.Contains(g.Topics, m.Topic) &&
			!slices.ContainsFunc(g.Subscriptions, func(s broker.Subscription) bool { return s.Topic == m.Topic }) {
			continue
		}
		s := ConsumeStatus{Group: g.Name, ConsumerOffset: -1}
		if off, ok := c.b.ConsumerOffset(g.Name, m.Topic, m.QueueID); ok {
			s.ConsumerOffset, s.Consumed = off, off > m.QueueOffset
		}
		out.Consumers = append(out.Consumers, s)
	}
	return out
}

// inflate returns the body as the producer sent it: zlib or zstd bodies inflated (at most
// maxInflated bytes), others as they are.
func inflate(body []byte, sysFlag int32) ([]byte, error) {
	if sysFlag&message.SysFlagCompressed == 0 {
		return body, nil
	}
	var r io.Reader
	switch message.CompressionType(sysFlag) {
	case message.CompressionZLIB:
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("zlib body: %w", err)
		}
		defer zr.Close()
		r = zr
	case message.CompressionZSTD:
		zr, err := zstd.NewReader(bytes.NewReader(body), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxInflated))
		if err != nil {
			return nil, fmt.Errorf("zstd body: %w", err)
		}
		defer zr.Close()
		r = zr
	default:
		return nil, fmt.Errorf("compression type %#x not supported", message.CompressionType(sysFlag))
	}
	out, err := io.ReadAll(io.LimitReader(r, maxInflated))
	if err != nil {
		return nil, fmt.Errorf("inflating body: %w", err)
	}
	return out, nil
}
