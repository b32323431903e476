package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mqstore/mqstore/client"
)

// maxBodyShown caps the body bytes a table shows.
const maxBodyShown = 4096

// messageJSON is a message in -json output.
type messageJSON struct {
	MsgID           string            `json:"msgId"`
	OffsetMsgID     string            `json:"offsetMsgId"`
	Topic           string            `json:"topic"`
	BrokerName      string            `json:"brokerName,omitempty"`
	QueueID         int32             `json:"queueId"`
	QueueOffset     int64             `json:"queueOffset"`
	CommitLogOffset int64             `json:"commitLogOffset"`
	Tags            string            `json:"tags,omitempty"`
	Keys            []string          `json:"keys,omitempty"`
	ReconsumeTimes  int32             `json:"reconsumeTimes"`
	BornTimestamp   int64             `json:"bornTimestamp"`
	StoreTimestamp  int64             `json:"storeTimestamp"`
	BornHost        string            `json:"bornHost"`
	StoreHost       string            `json:"storeHost"`
	SysFlag         int32             `json:"sysFlag"`
	StoreSize       int32             `json:"storeSize"`
	Properties      map[string]string `json:"properties"`
	Body            string            `json:"body"`
}

func toMessageJSON(m *client.MessageExt) messageJSON {
	return messageJSON{
		MsgID: m.MsgID(), OffsetMsgID: m.OffsetMsgID(), Topic: m.Topic, BrokerName: m.BrokerName, QueueID: m.QueueID,
		QueueOffset: m.QueueOffset, CommitLogOffset: m.CommitLogOffset, Tags: m.Tags(), Keys: m.Keys(),
		ReconsumeTimes: m.ReconsumeTimes, BornTimestamp: m.BornTimestamp, StoreTimestamp: m.StoreTimestamp,
		BornHost: m.BornHost.String(), StoreHost: m.StoreHost.String(), SysFlag: m.SysFlag, StoreSize: m.StoreSize,
		Properties: m.Properties.Map(), Body: string(m.Body),
	}
}

// printMessage shows one message as "Key: value" lines (RocketMQ's queryMsgById layout), or
// as JSON.
func printMessage(e *env, m *client.MessageExt) error {
	if e.json {
		return e.printJSON(toMessageJSON(m))
	}
	props := m.Properties.Map()
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	slices.Sort(names)
	pairs := make([]string, 0, len(names))
	for _, k := range names {
		pairs = append(pairs, k+"="+props[k])
	}
	t := newTable(e.stdout, "Message ID:", m.MsgID())
	t.row("OffsetMsgId:", m.OffsetMsgID())
	t.row("Topic:", m.Topic)
	t.row("Tags:", "["+m.Tags()+"]")
	t.row("Keys:", "["+strings.Join(m.Keys(), " ")+"]")
	t.row("Queue ID:", m.QueueID)
	t.row("Queue Offset:", m.QueueOffset)
	t.row("CommitLog Offset:", m.CommitLogOffset)
	t.row("Reconsume Times:", m.ReconsumeTimes)
	t.row("Born Timestamp:", fmtTime(time.UnixMilli(m.BornTimestamp)))
	t.row("Store Timestamp:", fmtTime(time.UnixMilli(m.StoreTimestamp)))
	t.row("Born Host:", m.BornHost)
	t.row("Store Host:", m.StoreHost)
	t.row("System Flag:", m.SysFlag)
	t.row("Properties:", "{"+strings.Join(pairs, ", ")+"}")
	t.row("Message Body:", bodyText(m.Body))
	return t.flush()
}

// bodyText shows a body safely: quoted (escapes control characters and invalid UTF-8), capped.
func bodyText(b []byte) string {
	suffix := ""
	if len(b) > maxBodyShown {
		b, suffix = b[:maxBodyShown], fmt.Sprintf(" ... (%d bytes)", len(b))
	}
	if !utf8.Valid(b) {
		return fmt.Sprintf("%q%s", b, suffix)
	}
	return fmt.Sprintf("%q%s", string(b), suffix)
}

func setupQueryMsgByID(fs *flag.FlagSet) func(context.Context, *env) error {
	id := fs.String("i", "", "message id (required): the offset message id or the client's message id (UNIQ_KEY)")
	topic := fs.String("t", "", "topic to look a UNIQ_KEY up in (default: every topic)")
	return func(ctx context.Context, e *env) error {
		if *id == "" {
			return usagef("-i is required")
		}
		m, form, err := findMessage(ctx, e, *id, *topic)
		if err != nil {
			return fmt.Errorf("message %s: %w", *id, err)
		}
		noteForm(e, *id, form)
		return printMessage(e, &m)
	}
}

func setupQueryMsgByKey(fs *flag.FlagSet) func(context.Context, *env) error {
	topic := fs.String("t", "", "topic (required)")
	key := fs.String("k", "", "message key (required)")
	maxNum := fs.Int("c", 64, "at most this many messages")
	begin := fs.Int64("b", 0, "stored at or after this time (ms since the epoch)")
	end := fs.Int64("e", 0, "stored at or before this time (ms since the epoch; 0 now)")
	return func(ctx context.Context, e *env) error {
		if *topic == "" || *key == "" {
			return usagef("-t and -k are required")
		}
		var endTime time.Time
		if *end > 0 {
			endTime = time.UnixMilli(*end)
		}
		msgs, err := e.admin.QueryMessageByKey(ctx, *topic, *key, *maxNum, time.UnixMilli(*begin), endTime)
		if err != nil {
			return topicError(*topic, err)
		}
		if e.json {
			out := make([]messageJSON, 0, len(msgs))
			for i := range msgs {
				out = append(out, toMessageJSON(&msgs[i]))
			}
			return e.printJSON(struct {
				Messages []messageJSON `json:"messages"`
			}{out})
		}
		t := newTable(e.stdout, "#Message ID", "#Offset Msg ID", "#QID", "#Offset", "#Store Time", "#Body Size")
		for i := range msgs {
			m := &msgs[i]
			t.row(m.MsgID(), m.OffsetMsgID(), m.QueueID, m.QueueOffset, fmtTime(time.UnixMilli(m.StoreTimestamp)), len(m.Body))
		}
		return t.flush()
	}
}

func setupQueryMsgByOffset(fs *flag.FlagSet) func(context.Context, *env) error {
	topic := fs.String("t", "", "topic (required)")
	broker := fs.String("b", "", "broker name (required)")
	queueID := fs.Int("i", -1, "queue id (required)")
	offset := fs.Int64("o", -1, "queue offset (required)")
	return func(ctx context.Context, e *env) error {
		if *topic == "" || *broker == "" || *queueID < 0 || *offset < 0 {
			return usagef("-t, -b, -i and -o are required")
		}
		mq := client.MessageQueue{Topic: *topic, BrokerName: *broker, QueueID: int32(*queueID)}
		m, err := e.admin.ViewMessageByQueueOffset(ctx, mq, *offset)
		if err != nil {
			return topicError(*topic, err)
		}
		return printMessage(e, &m)
	}
}
