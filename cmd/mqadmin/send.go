package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/message"
)

// quietLogger discards the client's logs.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func setupSendMessage(fs *flag.FlagSet) func(context.Context, *env) error {
	topic := fs.String("t", "", "topic (required)")
	body := fs.String("p", "", "message body (required)")
	keys := fs.String("k", "", "message keys, separated by spaces")
	tags := fs.String("c", "", "message tag")
	group := fs.String("g", "TOOLS_PRODUCER", "producer group")
	return func(ctx context.Context, e *env) error {
		if *topic == "" || *body == "" {
			return usagef("-t and -p are required")
		}
		p, err := client.NewProducer(client.WithNameServer(strings.Split(e.nameServer, ";")...), client.WithGroup(*group),
			client.WithSendTimeout(e.timeout), client.WithCallTimeout(e.timeout), client.WithLogger(quietLogger()))
		if err != nil {
			return err
		}
		defer p.Close()
		m := message.New(*topic, []byte(*body))
		if *keys != "" {
			m.SetKeys(strings.Fields(*keys)...)
		}
		if *tags != "" {
			m.SetTags(*tags)
		}
		res, err := p.Send(ctx, m)
		if err != nil {
			return fmt.Errorf("send to %s: %w", *topic, err)
		}
		if e.json {
			return e.printJSON(struct {
				Status      string `json:"status"`
				BrokerName  string `json:"brokerName"`
				QueueID     int32  `json:"queueId"`
				QueueOffset int64  `json:"queueOffset"`
				MsgID       string `json:"msgId"`
				OffsetMsgID string `json:"offsetMsgId"`
			}{res.Status.String(), res.Queue.BrokerName, res.Queue.QueueID, res.QueueOffset, res.MsgID, res.OffsetMsgID})
		}
		t := newTable(e.stdout, "#Broker Name", "#QID", "#Queue Offset", "#Send Result", "#MsgId", "#OffsetMsgId")
		t.row(res.Queue.BrokerName, res.Queue.QueueID, res.QueueOffset, res.Status, res.MsgID, res.OffsetMsgID)
		return t.flush()
	}
}

func setupConsumeMessage(fs *flag.FlagSet) func(context.Context, *env) error {
	topic := fs.String("t", "", "topic (required)")
	queue := fs.Int("q", -1, "queue id (default: every queue)")
	offset := fs.Int64("o", -1, "first queue offset (default: each queue's min offset)")
	count := fs.Int("c", 32, "at most this many messages in all")
	tags := fs.String("s", "*", `tag expression ("*", "a || b")`)
	return func(ctx context.Context, e *env) error {
		if *topic == "" {
			return usagef("-t is required")
		}
		if *count <= 0 {
			return usagef("-c must be positive")
		}
		// The tools group never commits: consuming here moves no group's offsets.
		c, err := client.NewPullConsumer(client.WithNameServer(strings.Split(e.nameServer, ";")...),
			client.WithGroup(client.ToolsConsumerGroup), client.WithCallTimeout(e.timeout), client.WithSuspendTimeout(0),
			client.WithLogger(quietLogger()))
		if err != nil {
			return err
		}
		defer c.Close()
		c.Subscribe(*topic, *tags)
		queues, err := c.Queues(ctx, *topic)
		if err != nil {
			return fmt.Errorf("topic %s: %w", *topic, err)
		}
		var msgs []client.MessageExt
		for _, mq := range queues {
			if *queue >= 0 && mq.QueueID != int32(*queue) {
				continue
			}
			next := *offset
			if next < 0 {
				if next, err = e.admin.MinOffset(ctx, mq); err != nil {
					return err
				}
			}
			end, err := e.admin.MaxOffset(ctx, mq)
			if err != nil {
				return err
			}
			for len(msgs) < *count && next < end { // a pull at the end would wait for new messages
				res, err := c.Pull(ctx, mq, next, min(*count-len(msgs), 32))
				if err != nil {
					return fmt.Errorf("pull %s queue %d: %w", mq.Topic, mq.QueueID, err)
				}
				if res.Status != client.PullFound {
					break
				}
				msgs = append(msgs, res.Messages...) // they alias the response, left to the garbage collector
				next = res.NextBeginOffset
			}
		}
		msgs = msgs[:min(len(msgs), *count)]
		if e.json {
			out := make([]messageJSON, 0, len(msgs))
			for i := range msgs {
				out = append(out, toMessageJSON(&msgs[i]))
			}
			return e.printJSON(out)
		}
		t := newTable(e.stdout, "#Broker Name", "#QID", "#Offset", "#MsgId", "#Tags", "#Keys", "#Body")
		for _, m := range msgs {
			t.row(m.BrokerName, m.QueueID, m.QueueOffset, m.MsgID(), m.Tags(), strings.Join(m.Keys(), " "), bodyText(m.Body))
		}
		return t.flush()
	}
}
