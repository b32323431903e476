package main

import (
	"context"
	"flag"
	"fmt"
)

func setupConsumerProgress(fs *flag.FlagSet) func(context.Context, *env) error {
	group := fs.String("g", "", "consumer group (required)")
	topic := fs.String("t", "", "only this topic")
	return func(ctx context.Context, e *env) error {
		if *group == "" {
			return usagef("-g is required")
		}
		progress, err := e.admin.ConsumeStats(ctx, *group, *topic)
		if err != nil {
			return topicError(*topic, err)
		}
		if len(progress) == 0 {
			return fmt.Errorf("consumer group %s has no consume progress", *group)
		}
		var total int64
		for _, p := range progress {
			total += p.Lag()
		}
		if e.json {
			type queue struct {
				Topic          string `json:"topic"`
				BrokerName     string `json:"brokerName"`
				QueueID        int32  `json:"queueId"`
				BrokerOffset   int64  `json:"brokerOffset"`
				ConsumerOffset int64  `json:"consumerOffset"`
				Lag            int64  `json:"lag"`
				LastTimestamp  int64  `json:"lastTimestamp"`
			}
			out := struct {
				Group     string  `json:"group"`
				Queues    []queue `json:"queues"`
				DiffTotal int64   `json:"diffTotal"`
			}{Group: *group, DiffTotal: total}
			for _, p := range progress {
				out.Queues = append(out.Queues, queue{p.Topic, p.BrokerName, p.QueueID, p.BrokerOffset, p.ConsumerOffset, p.Lag(), millis(p.LastTimestamp)})
			}
			return e.printJSON(out)
		}
		t := newTable(e.stdout, "#Topic", "#Broker Name", "#QID", "#Broker Offset", "#Consumer Offset", "#Diff", "#LastTime")
		for _, p := range progress {
			t.row(p.Topic, p.BrokerName, p.QueueID, p.BrokerOffset, p.ConsumerOffset, p.Lag(), fmtTime(p.LastTimestamp))
		}
		if err := t.flush(); err != nil {
			return err
		}
		_, err = fmt.Fprintf(e.stdout, "\nDiff Total: %d\n", total)
		return err
	}
}
