package grpcserver_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"

	"github.com/mqstore/mqstore/broker"
)

// An SQL92 subscription of the v5 client is evaluated on the broker: only the messages whose
// properties it selects are delivered; the others are done for the group (never delivered
// later). An expression that does not compile is ILLEGAL_FILTER_EXPRESSION with the compile
// error, and SQL92 is UNSUPPORTED with enablePropertyFilter off.
func TestReceiveSQLFilter(t *testing.T) {
	e := start(t, nil)
	topic, group := newTopic(t, e), name(t, "group")
	p := newProducer(t, e, topic)
	for i := range 10 {
		m := &rmq.Message{Topic: topic, Body: []byte(strconv.Itoa(i))}
		m.SetTag("T" + strconv.Itoa(i%2))
		m.AddProperty("n", strconv.Itoa(i))
		if _, err := p.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	c := newSimpleConsumer(t, e, group, topic, rmq.NewFilterExpressionWithType("n >= 4 AND TAGS = 'T0'", rmq.SQL92), time.Second)
	got := receiveN(t, c, 3, time.Minute, 10*time.Second) // 4, 6, 8
	seen := map[string]bool{}
	for _, mv := range got {
		n := mv.GetProperties()["n"]
		if i, _ := strconv.Atoi(n); i < 4 || i%2 != 0 || seen[n] {
			t.Fatalf("SQL92 filter delivered n=%s (tag %v)", n, *mv.GetTag())
		}
		seen[n] = true
		if err := c.Ack(context.Background(), mv); err != nil {
			t.Fatal(err)
		}
	}
	if more, err := c.Receive(context.Background(), 16, time.Minute); err == nil || len(more) > 0 {
		t.Fatalf("after the selected messages: %d more, err %v", len(more), err)
	}

	bad := newSimpleConsumer(t, e, name(t, "group"), topic, rmq.NewFilterExpressionWithType("n >>= 4", rmq.SQL92), time.Second)
	_, err := bad.Receive(context.Background(), 1, time.Minute)
	wantCode(t, err, v2.Code_ILLEGAL_FILTER_EXPRESSION, "invalid SQL92 expression")

	off := start(t, func(c *broker.Config) { c.EnablePropertyFilter = false })
	createTopic(t, off, topic, "")
	newProducer(t, off, topic)
	c = newSimpleConsumer(t, off, group, topic, rmq.NewFilterExpressionWithType("n >= 4", rmq.SQL92), time.Second)
	_, err = c.Receive(context.Background(), 1, time.Minute)
	wantCode(t, err, v2.Code_UNSUPPORTED, "SQL92")
}
