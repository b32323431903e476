package grpcserver_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"

	"github.com/mqstore/mqstore/namesrv"
)

// QueryRoute answers the topic's message.type as accept_message_types (every type when the
// attribute is unset or MIXED), and SendMessage refuses another type with
// MESSAGE_PROPERTY_CONFLICT_WITH_TYPE.
func TestRawTopicMessageType(t *testing.T) {
	e := start(t, nil)
	c := rawClient(t, e)
	ctx, cancel := context.WithTimeout(withClientID(context.Background()), 10*time.Second)
	defer cancel()
	all := []v2.MessageType{v2.MessageType_NORMAL, v2.MessageType_FIFO, v2.MessageType_DELAY, v2.MessageType_TRANSACTION}
	for _, tt := range []struct {
		typ  string
		want []v2.MessageType
	}{
		{"", all},
		{namesrv.MessageMixed, all},
		{namesrv.MessageFIFO, []v2.MessageType{v2.MessageType_FIFO}},
		{namesrv.MessageNormal, []v2.MessageType{v2.MessageType_NORMAL}},
	} {
		topic := typedTopic(t, e, tt.typ)
		r, err := c.QueryRoute(ctx, &v2.QueryRouteRequest{Topic: &v2.Resource{Name: topic}})
		if err != nil || r.Status.Code != v2.Code_OK {
			t.Fatal(err, r)
		}
		for _, q := range r.MessageQueues {
			if !slices.Equal(q.AcceptMessageTypes, tt.want) {
				t.Fatalf("message.type %q: queue %d accepts %v, want %v", tt.typ, q.Id, q.AcceptMessageTypes, tt.want)
			}
		}
		// A NORMAL message (no group, no delivery time), then a FIFO one (with a group).
		for _, mt := range []v2.MessageType{v2.MessageType_NORMAL, v2.MessageType_FIFO} {
			sp := &v2.SystemProperties{MessageId: "01" + topic + mt.String(), MessageType: mt}
			if mt == v2.MessageType_FIFO {
				group := "g1"
				sp.MessageGroup = &group
			}
			sr, err := c.SendMessage(ctx, &v2.SendMessageRequest{Messages: []*v2.Message{{Topic: &v2.Resource{Name: topic},
				SystemProperties: sp, Body: []byte("x")}}})
			if err != nil {
				t.Fatal(err)
			}
			wantCode := v2.Code_OK
			if !slices.Contains(tt.want, mt) {
				wantCode = v2.Code_MESSAGE_PROPERTY_CONFLICT_WITH_TYPE
			}
			if sr.Status.Code != wantCode || sr.Entries[0].Status.Code != wantCode {
				t.Fatalf("message.type %q, %v message: status %v, entry %v; want %v", tt.typ, mt, sr.Status, sr.Entries[0].Status, wantCode)
			}
		}
	}
}

// A 5.x producer's NORMAL message to a FIFO-only topic is refused: the v5.1.2 client checks
// the route's accept_message_types itself before sending (TestRawTopicMessageType covers the
// server's own refusal); its FIFO message (with a message group) is stored and received.
func TestClientFIFOTopicRefusesNormal(t *testing.T) {
	e := start(t, nil)
	topic := typedTopic(t, e, namesrv.MessageFIFO)
	p := newProducer(t, e, topic)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := p.Send(ctx, &rmq.Message{Topic: topic, Body: []byte("normal")})
	var st *rmq.ErrRpcStatus
	switch {
	case err == nil:
		t.Fatal("NORMAL to a FIFO topic was accepted")
	case errors.As(err, &st):
		if st.Code != int32(v2.Code_MESSAGE_PROPERTY_CONFLICT_WITH_TYPE) || !strings.Contains(st.Message, "FIFO") {
			t.Fatalf("NORMAL to a FIFO topic: %v", err)
		}
	case !strings.Contains(err.Error(), "message type not match"):
		t.Fatalf("NORMAL to a FIFO topic: %v", err)
	}
	m := &rmq.Message{Topic: topic, Body: []byte("fifo")}
	m.SetMessageGroup("g1")
	if _, err := p.Send(ctx, m); err != nil {
		t.Fatalf("FIFO to a FIFO topic: %v", err)
	}
	c := newSimpleConsumer(t, e, name(t, "group"), topic, rmq.SUB_ALL, 2*time.Second)
	got := receiveN(t, c, 1, 20*time.Second, 20*time.Second)
	if string(got[0].GetBody()) != "fifo" {
		t.Fatalf("received %q", got[0].GetBody())
	}
}
