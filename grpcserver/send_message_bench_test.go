package grpcserver_test

import (
	"context"
	"fmt"
	"testing"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/grpc/metadata"
)

// BenchmarkSendMessageHandler is the SendMessage handler alone (no transport): one 1 KiB message
// per request, with the metadata a 5.x client sends on every call.
func BenchmarkSendMessageHandler(b *testing.B) {
	e := start(b, nil)
	topic := newTopic(b, e)
	md := metadata.Pairs("x-mq-client-id", "host@1@0@abc", "x-mq-language", "GOLANG", "x-mq-protocol", "v2",
		"x-mq-client-version", "5.1.2", "x-mq-date-time", "20261207T000000Z", "x-mq-request-id", "0f1e2d3c",
		"authorization", "", "content-type", "application/grpc", "user-agent", "grpc-go/1.60")
	ctx := metadata.NewIncomingContext(context.Background(), md)
	body := make([]byte, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := &v2.SendMessageRequest{Messages: []*v2.Message{{Topic: &v2.Resource{Name: topic}, Body: body,
			SystemProperties: &v2.SystemProperties{MessageId: fmt.Sprintf("B%031d", i), MessageType: v2.MessageType_NORMAL}}}}
		r, err := e.GRPC.SendMessage(ctx, req)
		if err != nil || r.GetStatus().GetCode() != v2.Code_OK {
			b.Fatal(r.GetStatus(), err)
		}
	}
}
