package grpcserver_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/mqstore/mqstore/grpcserver"
	"github.com/mqstore/mqstore/internal/testserver"
	"github.com/mqstore/mqstore/metrics"
)

// Every RPC answers empty and malformed requests with a status, never a crash; the server keeps
// serving afterwards.
func TestMalformedRequests(t *testing.T) {
	e := start(t, nil)
	c := rawClient(t, e)
	ctx, cancel := context.WithTimeout(withClientID(context.Background()), 10*time.Second)
	defer cancel()
	codeOf := func(st *v2.Status, err error) v2.Code {
		t.Helper()
		if err != nil {
			t.Fatalf("transport error: %v", err)
		}
		return st.GetCode()
	}
	check := func(what string, got v2.Code) {
		t.Helper()
		if got == v2.Code_OK || got == v2.Code_CODE_UNSPECIFIED {
			t.Errorf("%s: answered %v", what, got)
		}
	}
	r1, err := c.QueryRoute(ctx, &v2.QueryRouteRequest{})
	check("QueryRoute{}", codeOf(r1.GetStatus(), err))
	r2, err := c.QueryRoute(ctx, &v2.QueryRouteRequest{Topic: &v2.Resource{Name: "bad topic with spaces"}})
	check("QueryRoute bad name", codeOf(r2.GetStatus(), err))
	r3, err := c.SendMessage(ctx, &v2.SendMessageRequest{})
	check("SendMessage{}", codeOf(r3.GetStatus(), err))
	r4, err := c.SendMessage(ctx, &v2.SendMessageRequest{Messages: []*v2.Message{{}}})
	check("SendMessage empty message", codeOf(r4.GetStatus(), err))
	r5, err := c.SendMessage(ctx, &v2.SendMessageRequest{Messages: []*v2.Message{{Topic: &v2.Resource{Name: "t"},
		SystemProperties: &v2.SystemProperties{MessageId: "x", MessageType: v2.MessageType_FIFO}}}})
	check("FIFO without group", codeOf(r5.GetStatus(), err))
	r6, err := c.SendMessage(ctx, &v2.SendMessageRequest{Messages: []*v2.Message{{Topic: &v2.Resource{Name: "t"},
		SystemProperties: &v2.SystemProperties{MessageId: "x", BodyEncoding: v2.Encoding_GZIP}, Body: []byte("not gzip")}}})
	check("bad GZIP body", codeOf(r6.GetStatus(), err))
	r7, err := c.AckMessage(ctx, &v2.AckMessageRequest{})
	check("AckMessage{}", codeOf(r7.GetStatus(), err))
	r8, err := c.ChangeInvisibleDuration(ctx, &v2.ChangeInvisibleDurationRequest{Group: &v2.Resource{Name: "g"},
		InvisibleDuration: durationpb.New(time.Second), ReceiptHandle: "AQ"})
	check("ChangeInvisibleDuration bad handle", codeOf(r8.GetStatus(), err))
	r9, err := c.EndTransaction(ctx, &v2.EndTransactionRequest{TransactionId: "nope", Resolution: v2.TransactionResolution_COMMIT})
	check("EndTransaction bad id", codeOf(r9.GetStatus(), err))
	r10, err := c.EndTransaction(ctx, &v2.EndTransactionRequest{TransactionId: "7F0000010000A8E7000000000FFFFFFF", Resolution: v2.TransactionResolution_COMMIT})
	check("EndTransaction unknown offset", codeOf(r10.GetStatus(), err))
	r11, err := c.ForwardMessageToDeadLetterQueue(ctx, &v2.ForwardMessageToDeadLetterQueueRequest{Group: &v2.Resource{Name: "g"}})
	check("Forward bad handle", codeOf(r11.GetStatus(), err))
	r12, err := c.QueryAssignment(ctx, &v2.QueryAssignmentRequest{})
	check("QueryAssignment{}", codeOf(r12.GetStatus(), err))
	st, err := c.ReceiveMessage(ctx, &v2.ReceiveMessageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, status := receiveAll(t, st); status.GetCode() != v2.Code_BAD_REQUEST {
		t.Errorf("ReceiveMessage{}: %v", status)
	}
	tel, err := c.Telemetry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tel.Send(&v2.TelemetryCommand{Command: &v2.TelemetryCommand_Settings{Settings: &v2.Settings{}}}); err != nil {
		t.Fatal(err)
	}
	if reply, err := tel.Recv(); err != nil || reply.GetStatus().GetCode() == v2.Code_OK {
		t.Errorf("Settings without a client type: %v %v", reply, err)
	}
	// Still serving.
	ok, err := c.QueryRoute(ctx, &v2.QueryRouteRequest{Topic: &v2.Resource{Name: newTopic(t, e)}})
	if codeOf(ok.GetStatus(), err) != v2.Code_OK {
		t.Fatalf("after the bad requests: %v", ok.GetStatus())
	}
}

// Close ends open telemetry streams and long polls and returns without waiting for clients.
func TestCloseDrainsStreams(t *testing.T) {
	e := start(t, nil)
	c := rawClient(t, e)
	ctx := withClientID(context.Background())
	tel, err := c.Telemetry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	settings := &v2.Settings{ClientType: v2.ClientType_PRODUCER.Enum(), PubSub: &v2.Settings_Publishing{Publishing: &v2.Publishing{}}}
	if err := tel.Send(&v2.TelemetryCommand{Command: &v2.TelemetryCommand_Settings{Settings: settings}}); err != nil {
		t.Fatal(err)
	}
	reply, err := tel.Recv()
	if err != nil || reply.GetSettings().GetPublishing().GetMaxBodySize() == 0 || reply.GetSettings().GetBackoffPolicy() == nil {
		t.Fatalf("settings reply %v %v", reply, err)
	}
	r, _ := c.QueryRoute(ctx, &v2.QueryRouteRequest{Topic: &v2.Resource{Name: newTopic(t, e)}})
	poll, err := c.ReceiveMessage(ctx, &v2.ReceiveMessageRequest{Group: &v2.Resource{Name: "g"}, MessageQueue: r.GetMessageQueues()[0],
		BatchSize: 1, InvisibleDuration: durationpb.New(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the long poll is parked
	start := time.Now()
	if err := e.GRPC.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("Close took %v: streams not ended", d)
	}
	if _, err := tel.Recv(); err != io.EOF {
		t.Fatalf("telemetry stream: %v, want io.EOF (ended by the server, not cut)", err)
	}
	// The long poll is answered (no message: MESSAGE_NOT_FOUND), then the stream ends cleanly.
	msgs, st := receiveAll(t, poll)
	if len(msgs) != 0 || st.GetCode() != v2.Code_MESSAGE_NOT_FOUND {
		t.Fatalf("long poll at Close: %d messages, status %v", len(msgs), st)
	}
	if err := e.GRPC.Close(); !errors.Is(err, grpcserver.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// rocketmq_rpc_latency counts gRPC requests with protocol_type="grpc".
func TestRPCMetrics(t *testing.T) {
	ts := testserver.Start(t, nil)
	m := metrics.New(metrics.Options{})
	srv, err := grpcserver.New(ts.Broker, grpcserver.Options{Logger: testLogger, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ln); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := rawClient(t, &env{Addr: srv.Addr()})
	if _, err := c.QueryRoute(withClientID(context.Background()), &v2.QueryRouteRequest{}); err != nil {
		t.Fatal(err)
	}
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "rocketmq_rpc_latency" {
			continue
		}
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["protocol_type"] == "grpc" && labels["request_code"] == "QueryRoute" && labels["response_code"] == "bad_request" &&
				s.GetHistogram().GetSampleCount() == 1 {
				return
			}
		}
	}
	t.Fatal("no rocketmq_rpc_latency sample for the gRPC QueryRoute")
}

// rpcCode is a unary answer's status code, CODE_UNSPECIFIED on a transport error.
func rpcCode(st *v2.Status, err error) v2.Code {
	if err != nil {
		return v2.Code_CODE_UNSPECIFIED
	}
	return st.GetCode()
}

// longPoll opens a ReceiveMessage that parks (nothing to receive) on c.
func longPoll(t *testing.T, ctx context.Context, c v2.MessagingServiceClient, topic string) v2.MessagingService_ReceiveMessageClient {
	t.Helper()
	st, err := c.ReceiveMessage(ctx, &v2.ReceiveMessageRequest{Group: &v2.Resource{Name: "g"},
		MessageQueue: &v2.MessageQueue{Topic: &v2.Resource{Name: topic}}, BatchSize: 1, InvisibleDuration: durationpb.New(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// MaxConcurrentStreams caps one connection's streams: with two long polls parked, a third call on
// that connection waits for a stream slot, while another connection is served; when a poll ends,
// the waiting call runs.
func TestStreamLimit(t *testing.T) {
	e := startWith(t, nil, grpcserver.Options{MaxConcurrentStreams: 2, MaxReceiveWait: 5 * time.Second})
	topic := newTopic(t, e)
	c := rawClient(t, e)
	ctx, cancel := context.WithTimeout(withClientID(context.Background()), 10*time.Second)
	defer cancel()
	pollCtx, stopPolls := context.WithCancel(ctx)
	defer stopPolls()
	longPoll(t, pollCtx, c, topic)
	longPoll(t, pollCtx, c, topic)
	time.Sleep(200 * time.Millisecond) // both are parked on the server
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := c.QueryRoute(short, &v2.QueryRouteRequest{Topic: &v2.Resource{Name: topic}})
	cancelShort()
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("a third stream on the connection: %v, want it to wait (DeadlineExceeded)", err)
	}
	if r, err := rawClient(t, e).QueryRoute(ctx, &v2.QueryRouteRequest{Topic: &v2.Resource{Name: topic}}); rpcCode(r.GetStatus(), err) != v2.Code_OK {
		t.Fatalf("another connection: %v %v", r.GetStatus(), err)
	}
	stopPolls()
	if r, err := c.QueryRoute(ctx, &v2.QueryRouteRequest{Topic: &v2.Resource{Name: topic}}); rpcCode(r.GetStatus(), err) != v2.Code_OK {
		t.Fatalf("after the polls ended: %v %v", r.GetStatus(), err)
	}
}

// MaxConnections caps open connections: beyond it a new connection is not served until one
// closes; the open ones keep working.
func TestConnectionLimit(t *testing.T) {
	e := startWith(t, nil, grpcserver.Options{MaxConnections: 2})
	topic := newTopic(t, e)
	ctx, cancel := context.WithTimeout(withClientID(context.Background()), 10*time.Second)
	defer cancel()
	route := &v2.QueryRouteRequest{Topic: &v2.Resource{Name: topic}}
	var conns []*grpc.ClientConn
	for i := 0; i < 2; i++ {
		conn, err := grpc.NewClient(e.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if r, err := v2.NewMessagingServiceClient(conn).QueryRoute(ctx, route); rpcCode(r.GetStatus(), err) != v2.Code_OK {
			t.Fatalf("connection %d: %v %v", i, r.GetStatus(), err)
		}
		conns = append(conns, conn)
	}
	third := rawClient(t, e)
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err := third.QueryRoute(short, route)
	cancelShort()
	if c := status.Code(err); c != codes.DeadlineExceeded && c != codes.Unavailable {
		t.Fatalf("a third connection: %v, want it not served", err)
	}
	if r, err := v2.NewMessagingServiceClient(conns[0]).QueryRoute(ctx, route); rpcCode(r.GetStatus(), err) != v2.Code_OK {
		t.Fatalf("an open connection while the limit is reached: %v %v", r.GetStatus(), err)
	}
	conns[1].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := third.QueryRoute(ctx, route, grpc.WaitForReady(true))
		if rpcCode(r.GetStatus(), err) == v2.Code_OK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the third connection after one closed: %v %v", r.GetStatus(), err)
		}
	}
}
