package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/mqstore/mqstore/client"
)

// setupTimerList: timerList -t topic [-b broker] lists the topic's timer messages (delay levels
// included) waiting in each broker's timing wheel: how many and when the next is due.
func setupTimerList(fs *flag.FlagSet) func(context.Context, *env) error {
	topic := fs.String("t", "", "topic (required)")
	broker := fs.String("b", "", "broker address (default: every master broker)")
	return func(ctx context.Context, e *env) error {
		if *topic == "" {
			return usagef("-t is required")
		}
		addrs := []string{*broker}
		if *broker == "" {
			var err error
			if addrs, err = masterAddrs(ctx, e, ""); err != nil {
				return err
			}
		}
		var rows []client.PendingTimers
		total := int64(0)
		for _, addr := range addrs {
			p, err := e.admin.PendingTimers(ctx, addr, *topic)
			if err != nil {
				return fmt.Errorf("broker %s: %w", addr, err)
			}
			rows = append(rows, p)
			total += p.Count
		}
		if e.json {
			type row struct {
				BrokerAddr   string `json:"brokerAddr"`
				Count        int64  `json:"count"`
				NextDueMs    int64  `json:"nextDueMs"`
				WheelPending int64  `json:"wheelPending"`
			}
			out := struct {
				Topic   string `json:"topic"`
				Total   int64  `json:"total"`
				Brokers []row  `json:"brokers"`
			}{*topic, total, []row{}}
			for _, p := range rows {
				out.Brokers = append(out.Brokers, row{p.BrokerAddr, p.Count, millis(p.NextDue), p.WheelPending})
			}
			return e.printJSON(out)
		}
		t := newTable(e.stdout, "#Broker Addr", "#Pending", "#Next Due", "#All Timers Of Broker")
		for _, p := range rows {
			next := "-"
			if p.Count > 0 {
				next = fmtTime(p.NextDue)
			}
			t.row(p.BrokerAddr, p.Count, next, p.WheelPending)
		}
		if err := t.flush(); err != nil {
			return err
		}
		_, err := fmt.Fprintf(e.stdout, "\nPending timers of %s: %d\n", *topic, total)
		return err
	}
}
