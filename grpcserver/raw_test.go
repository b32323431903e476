package grpcserver_test

import (
	"context"
	"crypto/tls"
	"io"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"
)

// rawClient is a plaintext MessagingService client for tests of the protocol's edges.
func rawClient(t *testing.T, e *env) v2.MessagingServiceClient {
	t.Helper()
	creds := insecure.NewCredentials()
	if os.Getenv("RAW_TLS") != "" {
		creds = credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})
	}
	conn, err := grpc.NewClient(e.Addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return v2.NewMessagingServiceClient(conn)
}

func withClientID(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-mq-client-id", "raw-test-client")
}

// receiveAll collects a ReceiveMessage stream's messages and final status.
func receiveAll(t *testing.T, st v2.MessagingService_ReceiveMessageClient) ([]*v2.Message, *v2.Status) {
	t.Helper()
	var msgs []*v2.Message
	var status *v2.Status
	for {
		resp, err := st.Recv()
		if err == io.EOF {
			return msgs, status
		}
		if err != nil {
			t.Fatalf("receive stream: %v", err)
		}
		switch c := resp.Content.(type) {
		case *v2.ReceiveMessageResponse_Message:
			msgs = append(msgs, c.Message)
		case *v2.ReceiveMessageResponse_Status:
			status = c.Status
		}
	}
}

// The protocol's edges with a plain gRPC client (no TLS): an empty topic answers
// MESSAGE_NOT_FOUND after the long poll; a message carries the POP fields real clients need;
// bad requests get their status codes and do not disturb the server.
func TestRawProtocol(t *testing.T) {
	e := start(t, nil)
	c := rawClient(t, e)
	ctx, cancel := context.WithTimeout(withClientID(context.Background()), 10*time.Second)
	defer cancel()
	topic := newTopic(t, e)
	r, err := c.QueryRoute(ctx, &v2.QueryRouteRequest{Topic: &v2.Resource{Name: topic}})
	if err != nil || r.Status.Code != v2.Code_OK {
		t.Fatal(err, r)
	}
	if r.MessageQueues[0].Id != 0 || r.MessageQueues[0].Broker.Endpoints.Addresses[0].Port == 0 {
		t.Fatalf("route %v", r.MessageQueues[0])
	}
	recv := func(ctx context.Context, invisible time.Duration) ([]*v2.Message, *v2.Status) {
		st, err := c.ReceiveMessage(ctx, &v2.ReceiveMessageRequest{Group: &v2.Resource{Name: "g"}, MessageQueue: r.MessageQueues[0],
			BatchSize: 4, InvisibleDuration: durationpb.New(invisible)})
		if err != nil {
			t.Fatal(err)
		}
		return receiveAll(t, st)
	}
	pollCtx, pollCancel := context.WithTimeout(ctx, 3*time.Second)
	start := time.Now()
	msgs, status := recv(pollCtx, time.Second)
	pollCancel()
	if len(msgs) != 0 || status.GetCode() != v2.Code_MESSAGE_NOT_FOUND {
		t.Fatalf("empty topic: %d messages, status %v", len(msgs), status)
	}
	if waited := time.Since(start); waited < 500*time.Millisecond {
		t.Fatalf("answered after %v: no long polling", waited)
	}
	if _, status := recv(ctx, 0); status.GetCode() != v2.Code_ILLEGAL_INVISIBLE_TIME {
		t.Fatalf("invisible 0: %v", status)
	}
	sr, err := c.SendMessage(ctx, &v2.SendMessageRequest{Messages: []*v2.Message{{Topic: &v2.Resource{Name: topic},
		SystemProperties: &v2.SystemProperties{MessageId: "01ABC"}, Body: []byte("x")}}})
	if err != nil || sr.Status.Code != v2.Code_OK || sr.Entries[0].MessageId != "01ABC" {
		t.Fatal(err, sr)
	}
	bad, err := c.SendMessage(ctx, &v2.SendMessageRequest{Messages: []*v2.Message{{Topic: &v2.Resource{Name: topic}, Body: []byte("x")}}})
	if err != nil || bad.Status.Code != v2.Code_BAD_REQUEST {
		t.Fatalf("message without system properties: %v %v", err, bad)
	}
	msgs, status = recv(ctx, time.Second)
	if len(msgs) != 1 || status.GetCode() != v2.Code_OK {
		t.Fatalf("%d messages, status %v", len(msgs), status)
	}
	sp := msgs[0].SystemProperties
	if sp.MessageId != "01ABC" || sp.GetDeliveryAttempt() != 1 || sp.GetReceiptHandle() == "" || sp.BodyDigest == nil || sp.QueueOffset == nil {
		t.Fatalf("system properties %v", sp)
	}
	ack, err := c.AckMessage(ctx, &v2.AckMessageRequest{Group: &v2.Resource{Name: "g"}, Topic: &v2.Resource{Name: topic},
		Entries: []*v2.AckMessageEntry{{MessageId: "01ABC", ReceiptHandle: "not-a-handle"}}})
	if err != nil || ack.Status.Code != v2.Code_INVALID_RECEIPT_HANDLE {
		t.Fatalf("bad receipt: %v %v", err, ack)
	}
	ack, err = c.AckMessage(ctx, &v2.AckMessageRequest{Group: &v2.Resource{Name: "g"}, Topic: &v2.Resource{Name: topic},
		Entries: []*v2.AckMessageEntry{{MessageId: "01ABC", ReceiptHandle: sp.GetReceiptHandle()}}})
	if err != nil || ack.Status.Code != v2.Code_OK {
		t.Fatalf("ack: %v %v", err, ack)
	}
}

// ForwardMessageToDeadLetterQueue (a push consumer giving up) stores the message in
// %DLQ%<group> at once, and it is not delivered to the group again.
func TestRawForwardToDeadLetter(t *testing.T) {
	e := start(t, nil)
	c := rawClient(t, e)
	ctx, cancel := context.WithTimeout(withClientID(context.Background()), 10*time.Second)
	defer cancel()
	topic, group := newTopic(t, e), name(t, "group")
	r, err := c.QueryRoute(ctx, &v2.QueryRouteRequest{Topic: &v2.Resource{Name: topic}})
	if err != nil || r.Status.Code != v2.Code_OK {
		t.Fatal(err, r)
	}
	sr, err := c.SendMessage(ctx, &v2.SendMessageRequest{Messages: []*v2.Message{{Topic: &v2.Resource{Name: topic},
		SystemProperties: &v2.SystemProperties{MessageId: "DLQ1"}, Body: []byte("x")}}})
	if err != nil || sr.Status.Code != v2.Code_OK {
		t.Fatal(err, sr)
	}
	recv := func(invisible time.Duration) ([]*v2.Message, *v2.Status) {
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		defer pcancel()
		st, err := c.ReceiveMessage(pctx, &v2.ReceiveMessageRequest{Group: &v2.Resource{Name: group}, MessageQueue: r.MessageQueues[0],
			BatchSize: 1, InvisibleDuration: durationpb.New(invisible)})
		if err != nil {
			t.Fatal(err)
		}
		return receiveAll(t, st)
	}
	msgs, _ := recv(time.Second)
	if len(msgs) != 1 {
		t.Fatalf("received %d", len(msgs))
	}
	handle := msgs[0].SystemProperties.GetReceiptHandle()
	ch, err := c.ChangeInvisibleDuration(ctx, &v2.ChangeInvisibleDurationRequest{Group: &v2.Resource{Name: group},
		Topic: &v2.Resource{Name: topic}, ReceiptHandle: handle, InvisibleDuration: durationpb.New(time.Minute)})
	if err != nil || ch.Status.Code != v2.Code_OK || ch.ReceiptHandle == "" {
		t.Fatalf("change invisible duration: %v %v", err, ch)
	}
	fw, err := c.ForwardMessageToDeadLetterQueue(ctx, &v2.ForwardMessageToDeadLetterQueueRequest{Group: &v2.Resource{Name: group},
		Topic: &v2.Resource{Name: topic}, ReceiptHandle: ch.ReceiptHandle, MessageId: "DLQ1", DeliveryAttempt: 1, MaxDeliveryAttempts: 1})
	if err != nil || fw.Status.Code != v2.Code_OK {
		t.Fatalf("forward: %v %v", err, fw)
	}
	for deadline := time.Now().Add(5 * time.Second); e.Broker.Store().MaxOffset("%DLQ%"+group, 0) != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("DLQ holds %d messages, want 1", e.Broker.Store().MaxOffset("%DLQ%"+group, 0))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if msgs, status := recv(time.Second); len(msgs) != 0 || status.GetCode() != v2.Code_MESSAGE_NOT_FOUND {
		t.Fatalf("after the forward: %d messages, %v", len(msgs), status)
	}
}
