package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/client"
)

// TestClientGoTraceStored: rocketmq-client-go's WithTrace sends its traces to
// RMQ_SYS_TRACE_TOPIC, which the broker creates (traceTopicEnable), and a trace is found by the
// traced message's key, as RocketMQ's console finds it.
func TestClientGoTraceStored(t *testing.T) {
	s := startServer(t, nil)
	p := newProducer(t, s.ns.addr, producer.WithTrace(&primitive.TraceConfig{
		GroupName:    "trace-pg",
		NamesrvAddrs: []string{s.ns.addr},
	}))
	key := instance("trace-key")
	msg := primitive.NewMessage("TracedTopic", []byte("traced body"))
	msg.WithKeys([]string{key})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.SendSync(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}

	admin, err := client.NewAdmin(client.WithNameServer(s.ns.addr), client.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var traces []client.MessageExt
	waitFor(t, 10*time.Second, "the trace of the sent message", func() bool {
		traces, err = admin.QueryMessageByKey(ctx, broker.TraceTopic, key, 32, time.Time{}, time.Now().Add(time.Minute))
		return err == nil && len(traces) > 0
	})
	// The trace body is client-go's Pub record: fields split by \x02, records by \x01, naming the
	// topic, the message id and the key.
	body := string(traces[0].Body)
	for _, want := range []string{"Pub", "TracedTopic", res.MsgID, key} {
		if !strings.Contains(body, want) {
			t.Fatalf("trace %q lacks %q", body, want)
		}
	}
	// Also found by the message's id.
	byID, err := admin.QueryMessageByKey(ctx, broker.TraceTopic, res.MsgID, 32, time.Time{}, time.Now().Add(time.Minute))
	if err != nil || len(byID) == 0 {
		t.Fatalf("trace by message id: %v, %d found", err, len(byID))
	}
}
