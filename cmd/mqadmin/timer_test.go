package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/message"
)

// TestTimerList: two timer messages of a topic sent with the client are listed by timerList,
// with the earliest due time; another topic's timer is not counted.
func TestTimerList(t *testing.T) {
	s := startServer(t, nil)
	p, err := client.NewProducer(client.WithNameServer(s.nsAddr), client.WithGroup("timer-cli"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	due := time.Now().Add(time.Hour).UnixMilli()
	for i, m := range []struct {
		topic, key, value string
	}{
		{"CliTimers", "TIMER_DELIVER_MS", strconv.FormatInt(due, 10)},
		{"CliTimers", "TIMER_DELAY_SEC", "7200"},
		{"CliOther", "TIMER_DELAY_SEC", "60"},
	} {
		msg := &message.Message{Topic: m.topic, Body: []byte("later")}
		msg.SetProperty(m.key, m.value)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := p.Send(ctx, msg)
		cancel()
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	var got struct {
		Topic   string `json:"topic"`
		Total   int64  `json:"total"`
		Brokers []struct {
			Count        int64 `json:"count"`
			NextDueMs    int64 `json:"nextDueMs"`
			WheelPending int64 `json:"wheelPending"`
		} `json:"brokers"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.okJSON(t, &got, "timerList", "-t", "CliTimers")
		if len(got.Brokers) == 1 && got.Brokers[0].WheelPending == 3 && got.Brokers[0].Count == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got.Total != 2 || len(got.Brokers) != 1 || got.Brokers[0].Count != 2 ||
		got.Brokers[0].NextDueMs < due-1000 || got.Brokers[0].NextDueMs > due+1000 {
		t.Fatalf("timerList -json: %+v (due %d)", got, due)
	}
	if out := s.ok(t, "timerList", "-t", "CliTimers"); !strings.Contains(out, "Pending timers of CliTimers: 2") {
		t.Fatalf("timerList table:\n%s", out)
	}
	if r := s.mqadmin(t, "timerList"); r.code != exitUsage || !strings.Contains(r.stderr, "-t is required") {
		t.Fatalf("timerList without -t: %d %q", r.code, r.stderr)
	}
}
