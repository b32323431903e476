package grpcserver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	rmq "github.com/apache/rocketmq-clients/golang/v5"
	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/mqstore/mqstore/broker"
)

// A topic the broker does not have is TOPIC_NOT_FOUND on QueryRoute, SendMessage,
// QueryAssignment and ReceiveMessage, as RocketMQ 5's proxy answers, even with
// autoCreateTopicEnable on; none of them creates it. A 4.x send on the remoting port still
// auto-creates, and the gRPC side then routes the topic.
func TestUnknownTopicNotFound(t *testing.T) {
	e := start(t, func(c *broker.Config) { c.AutoCreateTopicEnable = true })
	c := rawClient(t, e)
	ctx, cancel := context.WithTimeout(withClientID(context.Background()), 10*time.Second)
	defer cancel()
	topic := name(t, "topic")
	res := &v2.Resource{Name: topic}
	want := func(what string, st *v2.Status, err error) {
		t.Helper()
		if err != nil || st.GetCode() != v2.Code_TOPIC_NOT_FOUND {
			t.Errorf("%s: %v %v, want TOPIC_NOT_FOUND", what, st, err)
		}
	}
	r, err := c.QueryRoute(ctx, &v2.QueryRouteRequest{Topic: res})
	want("QueryRoute", r.GetStatus(), err)
	s, err := c.SendMessage(ctx, &v2.SendMessageRequest{Messages: []*v2.Message{{Topic: res,
		SystemProperties: &v2.SystemProperties{MessageId: "NF1"}, Body: []byte("x")}}})
	want("SendMessage", s.GetStatus(), err)
	if len(s.GetEntries()) != 1 || s.GetEntries()[0].GetStatus().GetCode() != v2.Code_TOPIC_NOT_FOUND {
		t.Errorf("SendMessage entries: %v", s.GetEntries())
	}
	a, err := c.QueryAssignment(ctx, &v2.QueryAssignmentRequest{Topic: res, Group: &v2.Resource{Name: name(t, "group")}})
	want("QueryAssignment", a.GetStatus(), err)
	st, err := c.ReceiveMessage(ctx, &v2.ReceiveMessageRequest{Group: &v2.Resource{Name: name(t, "group")},
		MessageQueue: &v2.MessageQueue{Topic: res}, BatchSize: 1, InvisibleDuration: durationpb.New(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	msgs, status := receiveAll(t, st)
	if len(msgs) != 0 {
		t.Errorf("ReceiveMessage: %d messages", len(msgs))
	}
	want("ReceiveMessage", status, nil)
	if _, ok, err := e.Broker.TopicConfig(topic); ok || err != nil {
		t.Fatalf("the gRPC requests created topic %s (%v)", topic, err)
	}

	// The real client fails its start on the route, with RocketMQ's message.
	if !raceEnabled {
		p, err := rmq.NewProducer(config(e, ""), rmq.WithTopics(topic))
		if err != nil {
			t.Fatal(err)
		}
		err = p.Start()
		if err == nil {
			p.GracefulStop()
			t.Fatal("a producer of an unknown topic started")
		}
		// The client wraps the status in its startup error (not an ErrRpcStatus).
		if msg := err.Error(); !strings.Contains(msg, "CODE: TOPIC_NOT_FOUND") ||
			!strings.Contains(msg, "No topic route info in name server for the topic: "+topic) {
			t.Fatalf("producer start: %v", err)
		}
	}

	// A 4.x send on the remoting port creates it (autoCreateTopicEnable); then it routes.
	send4x(t, e, topic, "from 4.x")
	r, err = c.QueryRoute(ctx, &v2.QueryRouteRequest{Topic: res})
	if err != nil || r.GetStatus().GetCode() != v2.Code_OK || len(r.GetMessageQueues()) == 0 {
		t.Fatalf("QueryRoute after a 4.x send: %v %v", r.GetStatus(), err)
	}
}

// send4x sends one message with the 4.x Go client over the remoting port.
func send4x(t *testing.T, e *env, topic, body string) {
	t.Helper()
	p, err := rocketmq.NewProducer(producer.WithNsResolver(primitive.NewPassthroughResolver([]string{e.NameServer})),
		producer.WithGroupName(name(t, "pg")))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(body))); err != nil {
		t.Fatal(err)
	}
}

// A receipt of a topic deleted since the receive: ChangeInvisibleDuration and AckMessage answer
// TOPIC_NOT_FOUND, as RocketMQ's broker answers an ack or a change of invisible time (and the
// proxy maps TOPIC_NOT_EXIST so).
func TestReceiptOfDeletedTopic(t *testing.T) {
	e := start(t, nil)
	c := rawClient(t, e)
	ctx, cancel := context.WithTimeout(withClientID(context.Background()), 10*time.Second)
	defer cancel()
	topic, group := newTopic(t, e), &v2.Resource{Name: name(t, "group")}
	res := &v2.Resource{Name: topic}
	s, err := c.SendMessage(ctx, &v2.SendMessageRequest{Messages: []*v2.Message{{Topic: res,
		SystemProperties: &v2.SystemProperties{MessageId: "DEL1"}, Body: []byte("x")}}})
	if err != nil || s.GetStatus().GetCode() != v2.Code_OK {
		t.Fatal(s.GetStatus(), err)
	}
	st, err := c.ReceiveMessage(ctx, &v2.ReceiveMessageRequest{Group: group, MessageQueue: &v2.MessageQueue{Topic: res},
		BatchSize: 1, InvisibleDuration: durationpb.New(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	msgs, status := receiveAll(t, st)
	if len(msgs) != 1 || status.GetCode() != v2.Code_OK {
		t.Fatalf("%d messages, status %v", len(msgs), status)
	}
	handle := msgs[0].GetSystemProperties().GetReceiptHandle()
	if err := e.Broker.DeleteTopic(topic, "test"); err != nil {
		t.Fatal(err)
	}
	ci, err := c.ChangeInvisibleDuration(ctx, &v2.ChangeInvisibleDurationRequest{Group: group, Topic: res, ReceiptHandle: handle,
		InvisibleDuration: durationpb.New(time.Second), MessageId: "DEL1"})
	if err != nil || ci.GetStatus().GetCode() != v2.Code_TOPIC_NOT_FOUND {
		t.Errorf("ChangeInvisibleDuration: %v %v", ci.GetStatus(), err)
	}
	ack, err := c.AckMessage(ctx, &v2.AckMessageRequest{Group: group, Topic: res,
		Entries: []*v2.AckMessageEntry{{MessageId: "DEL1", ReceiptHandle: handle}}})
	if err != nil || ack.GetStatus().GetCode() != v2.Code_TOPIC_NOT_FOUND || ack.GetEntries()[0].GetStatus().GetCode() != v2.Code_TOPIC_NOT_FOUND {
		t.Errorf("AckMessage: %v %v", ack, err)
	}
}
