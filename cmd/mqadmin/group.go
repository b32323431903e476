package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mqstore/mqstore/protocol"
)

// brokerTargets returns the brokers a -b / -c pair names (exactly one of them is required).
func brokerTargets(ctx context.Context, e *env, broker, cluster string) ([]string, error) {
	if (broker == "") == (cluster == "") {
		return nil, usagef("one of -b or -c is required")
	}
	if broker != "" {
		return []string{broker}, nil
	}
	return masterAddrs(ctx, e, cluster)
}

func setupUpdateSubGroup(fs *flag.FlagSet) func(context.Context, *env) error {
	group := fs.String("g", "", "consumer group (required)")
	broker := fs.String("b", "", "broker address (host:port)")
	cluster := fs.String("c", "", "cluster name: every master broker of it")
	def := protocol.DefaultSubscriptionGroupConfig("")
	consume := fs.Bool("s", def.ConsumeEnable, "consume enabled (false: pulls are refused)")
	fromMin := fs.Bool("m", def.ConsumeFromMinEnable, "consume from the min offset when the group has none")
	broadcast := fs.Bool("d", def.ConsumeBroadcastEnable, "broadcast consumption enabled")
	retryQueues := fs.Int("q", def.RetryQueueNums, "retry queue count")
	retryMax := fs.Int("r", def.RetryMaxTimes, "retries before a message goes to the dead-letter queue")
	notify := fs.Bool("a", def.NotifyConsumerIdsChangedEnable, "tell consumers to rebalance when members change")
	orderly := fs.Bool("o", def.ConsumeMessageOrderly, "consume message groups in order (RocketMQ 5 FIFO: one in-flight message per group)")
	return func(ctx context.Context, e *env) error {
		if *group == "" {
			return usagef("-g is required")
		}
		addrs, err := brokerTargets(ctx, e, *broker, *cluster)
		if err != nil {
			return err
		}
		cfg := protocol.DefaultSubscriptionGroupConfig(*group)
		cfg.ConsumeEnable, cfg.ConsumeFromMinEnable, cfg.ConsumeBroadcastEnable = *consume, *fromMin, *broadcast
		cfg.RetryQueueNums, cfg.RetryMaxTimes, cfg.NotifyConsumerIdsChangedEnable = *retryQueues, *retryMax, *notify
		cfg.ConsumeMessageOrderly = *orderly
		for _, addr := range addrs {
			if err := e.admin.UpdateSubscriptionGroup(ctx, addr, cfg); err != nil {
				return fmt.Errorf("broker %s: %w", addr, err)
			}
		}
		if e.json {
			return e.printJSON(struct {
				Brokers []string                         `json:"brokers"`
				Config  protocol.SubscriptionGroupConfig `json:"config"`
			}{addrs, cfg})
		}
		t := newTable(e.stdout, "#Broker Addr", "#Group", "#Consume", "#Retry Queues", "#Retry Max", "#Broadcast")
		for _, addr := range addrs {
			t.row(addr, cfg.GroupName, cfg.ConsumeEnable, cfg.RetryQueueNums, cfg.RetryMaxTimes, cfg.ConsumeBroadcastEnable)
		}
		return t.flush()
	}
}

func setupDeleteSubGroup(fs *flag.FlagSet) func(context.Context, *env) error {
	group := fs.String("g", "", "consumer group (required)")
	broker := fs.String("b", "", "broker address (host:port)")
	cluster := fs.String("c", "", "cluster name: every master broker of it")
	removeOffset := fs.Bool("r", false, "also remove the group's committed offsets")
	return func(ctx context.Context, e *env) error {
		if *group == "" {
			return usagef("-g is required")
		}
		addrs, err := brokerTargets(ctx, e, *broker, *cluster)
		if err != nil {
			return err
		}
		type row struct {
			BrokerAddr string `json:"brokerAddr"`
			Existed    bool   `json:"existed"`
		}
		var rows []row
		for _, addr := range addrs {
			existed, err := e.admin.DeleteSubscriptionGroup(ctx, addr, *group, *removeOffset)
			if err != nil {
				return fmt.Errorf("broker %s: %w", addr, err)
			}
			rows = append(rows, row{addr, existed})
		}
		if e.json {
			return e.printJSON(struct {
				Group        string `json:"group"`
				RemoveOffset bool   `json:"removeOffset"`
				Brokers      []row  `json:"brokers"`
			}{*group, *removeOffset, rows})
		}
		t := newTable(e.stdout, "#Broker Addr", "#Group", "#Result")
		for _, r := range rows {
			result := "deleted"
			if !r.Existed {
				result = "did not exist"
			}
			t.row(r.BrokerAddr, *group, result)
		}
		return t.flush()
	}
}

func setupConsumerConnection(fs *flag.FlagSet) func(context.Context, *env) error {
	group := fs.String("g", "", "consumer group (required)")
	return func(ctx context.Context, e *env) error {
		if *group == "" {
			return usagef("-g is required")
		}
		cc, err := e.admin.ConsumerConnection(ctx, *group)
		if err != nil {
			return err
		}
		if e.json {
			return e.printJSON(cc)
		}
		t := newTable(e.stdout, "#ClientId", "#ClientAddr", "#Language", "#Version")
		for _, c := range cc.ConnectionSet {
			t.row(c.ClientID, c.ClientAddr, c.Language, c.Version)
		}
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout)
		t = newTable(e.stdout, "#Topic", "#SubExpression")
		for _, topic := range slices.Sorted(maps.Keys(cc.SubscriptionTable)) {
			t.row(topic, cc.SubscriptionTable[topic].SubString)
		}
		if err := t.flush(); err != nil {
			return err
		}
		_, err = fmt.Fprintf(e.stdout, "\nConsumeType: %s\nMessageModel: %s\nConsumeFromWhere: %s\n",
			cc.ConsumeType, cc.MessageModel, cc.ConsumeFromWhere)
		return err
	}
}

func setupProducerConnection(fs *flag.FlagSet) func(context.Context, *env) error {
	group := fs.String("g", "", "producer group (required)")
	topic := fs.String("t", "", "a topic the group sends to (required: its brokers are asked)")
	return func(ctx context.Context, e *env) error {
		if *group == "" || *topic == "" {
			return usagef("-g and -t are required")
		}
		pc, err := e.admin.ProducerConnection(ctx, *group, *topic)
		if err != nil {
			return err
		}
		if e.json {
			return e.printJSON(pc)
		}
		t := newTable(e.stdout, "#ClientId", "#ClientAddr", "#Language", "#Version")
		for _, c := range pc.ConnectionSet {
			t.row(c.ClientID, c.ClientAddr, c.Language, c.Version)
		}
		return t.flush()
	}
}

// parseResetTime reads resetOffsetByTime's -s: "now" (the end of every queue), a time in
// timeLayout or RFC 3339, or ms since the epoch (RocketMQ's form).
func parseResetTime(s string) (time.Time, error) {
	switch {
	case s == "now":
		return time.Time{}, nil
	case strings.Contains(s, "T"):
		return time.Parse(time.RFC3339, s)
	case strings.Contains(s, "-"):
		return time.ParseInLocation(timeLayout, s, time.Local)
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms < 0 {
		return time.Time{}, fmt.Errorf("%q is not \"now\", a time (%s or RFC 3339) or ms since the epoch", s, timeLayout)
	}
	return time.UnixMilli(ms), nil
}

func setupResetOffsetByTime(fs *flag.FlagSet) func(context.Context, *env) error {
	group := fs.String("g", "", "consumer group (required)")
	topic := fs.String("t", "", "topic (required)")
	when := fs.String("s", "", `time to reset to (required): "now" (skip the backlog), "2006-01-02 15:04:05.000", RFC 3339, or ms since the epoch`)
	force := fs.Bool("f", true, "move queues forward too (false: a queue only moves back)")
	return func(ctx context.Context, e *env) error {
		if *group == "" || *topic == "" || *when == "" {
			return usagef("-g, -t and -s are required")
		}
		t, err := parseResetTime(*when)
		if err != nil {
			return usagef("-s: %v", err)
		}
		res, err := e.admin.ResetOffsetByTime(ctx, *group, *topic, t, *force)
		if err != nil {
			return err
		}
		if e.json {
			type queue struct {
				BrokerName string `json:"brokerName"`
				QueueID    int32  `json:"queueId"`
				Offset     int64  `json:"offset"`
			}
			out := struct {
				Group    string  `json:"group"`
				Topic    string  `json:"topic"`
				Notified int     `json:"notified"`
				Queues   []queue `json:"queues"`
			}{*group, *topic, res.Notified, []queue{}}
			for _, q := range res.Offsets {
				out.Queues = append(out.Queues, queue{q.BrokerName, q.QueueID, q.Offset})
			}
			return e.printJSON(out)
		}
		tb := newTable(e.stdout, "#Broker Name", "#QID", "#Offset")
		for _, q := range res.Offsets {
			tb.row(q.BrokerName, q.QueueID, q.Offset)
		}
		if err := tb.flush(); err != nil {
			return err
		}
		_, err = fmt.Fprintf(e.stdout, "\nLive consumers notified: %d (they rewind after their 10 s pause)\n", res.Notified)
		return err
	}
}
