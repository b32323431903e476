package grpcserver

import (
	"context"
	"fmt"
	"strings"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/filter"
)

// Receive limits.
const (
	maxBatchSize       = 1024
	minInvisible       = time.Second
	maxInvisible       = 12 * time.Hour
	receiveReplyMargin = 2 * time.Second // answer this long before the client's deadline
)

// ReceiveMessage pops up to batch_size messages of the topic for the group (from every queue
// of the topic on this broker: a request names one queue, RocketMQ's proxy serves them all),
// each invisible to the group for invisible_duration unless acked. With none ready it waits
// (long polling) until one arrives, up to the client's deadline less a margin (the v5.1.2 Go
// client sends no long_polling_timeout; its deadline is its await duration plus its timeout),
// capped by MaxReceiveWait. As RocketMQ's proxy does, the messages come first, then the
// delivery timestamp, then one status: OK, or MESSAGE_NOT_FOUND when nothing was ready in time.
// An unknown topic is TOPIC_NOT_FOUND (routedTopic). TAG and SQL92 filters are evaluated on the
// broker (package filter); an SQL92 expression that does not compile is
// ILLEGAL_FILTER_EXPRESSION with the compile error, and SQL92 is UNSUPPORTED when
// enablePropertyFilter is off.
func (s *Server) ReceiveMessage(req *v2.ReceiveMessageRequest, stream v2.MessagingService_ReceiveMessageServer) error {
	status := func(code v2.Code, msg string) error {
		return stream.Send(&v2.ReceiveMessageResponse{Content: &v2.ReceiveMessageResponse_Status{Status: newStatus(code, msg)}})
	}
	group, topic := req.GetGroup().GetName(), req.GetMessageQueue().GetTopic().GetName()
	s.log.Debug("grpcserver: receive", "group", group, "topic", topic, "batch", req.GetBatchSize(), "invisible", req.GetInvisibleDuration().AsDuration())
	if group == "" || topic == "" {
		return status(v2.Code_BAD_REQUEST, "group and message_queue.topic are required")
	}
	batch := int(req.GetBatchSize())
	if batch <= 0 || batch > maxBatchSize {
		return status(v2.Code_BAD_REQUEST, "batch_size must be within 1..1024")
	}
	invisible := req.GetInvisibleDuration().AsDuration()
	if req.GetInvisibleDuration() == nil || invisible < minInvisible || invisible > maxInvisible {
		return status(v2.Code_ILLEGAL_INVISIBLE_TIME, "invisible_duration must be within 1s..12h")
	}
	if err := s.authorize(stream.Context(), "ReceiveMessage", need{subTopic: topic, group: group}); err != nil {
		return stream.Send(&v2.ReceiveMessageResponse{Content: &v2.ReceiveMessageResponse_Status{Status: statusOf(err)}})
	}
	if _, err := s.routedTopic(topic); err != nil {
		return stream.Send(&v2.ReceiveMessageResponse{Content: &v2.ReceiveMessageResponse_Status{Status: statusOf(err)}})
	}
	var tags []string
	var sql *filter.Expression
	switch expr := req.GetFilterExpression().GetExpression(); req.GetFilterExpression().GetType() {
	case v2.FilterType_TAG, v2.FilterType_FILTER_TYPE_UNSPECIFIED:
		tags = parseTags(expr)
	case v2.FilterType_SQL:
		if !s.b.Config().EnablePropertyFilter {
			return status(v2.Code_UNSUPPORTED, "The broker does not support consumer to filter message by SQL92 (enablePropertyFilter=false)")
		}
		var err error
		if sql, err = filter.Compile(expr); err != nil {
			return status(v2.Code_ILLEGAL_FILTER_EXPRESSION, fmt.Sprintf("SQL92 expression %q: %v", expr, err))
		}
	default:
		return status(v2.Code_UNSUPPORTED, "filter type "+req.GetFilterExpression().GetType().String()+" is not supported")
	}
	ctx := stream.Context()
	wait := s.opts.MaxReceiveWait
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)-receiveReplyMargin)
	}
	wait = max(wait, 0)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.stopping, cancel)() // Close ends long polls
	got, err := s.pop.Receive(ctx, broker.PopRequest{Group: group, Topic: topic, QueueID: -1, Tags: tags, SQL: sql,
		MaxMessages: batch, Invisible: invisible, Wait: wait})
	maxBody := s.b.Config().MaxMessageSize
	for i := range got {
		p := &got[i]
		pm := withDelivery(toProtoMessage(p.Message, topic, p.StoreTimestamp, p.MsgID, maxBody), p, invisible)
		if err := stream.Send(&v2.ReceiveMessageResponse{Content: &v2.ReceiveMessageResponse_Message{Message: pm}}); err != nil {
			// The client is gone: these messages are redelivered after their invisible time.
			return err
		}
	}
	if err != nil {
		return stream.Send(&v2.ReceiveMessageResponse{Content: &v2.ReceiveMessageResponse_Status{Status: statusOf(err)}})
	}
	if len(got) == 0 {
		return status(v2.Code_MESSAGE_NOT_FOUND, "no new message")
	}
	if err := stream.Send(&v2.ReceiveMessageResponse{Content: &v2.ReceiveMessageResponse_DeliveryTimestamp{
		DeliveryTimestamp: timestamppb.Now()}}); err != nil {
		return err
	}
	return status(v2.Code_OK, "OK")
}

// parseTags splits a TAG expression ("TagA || TagB", "*", "").
func parseTags(expr string) []string {
	expr = strings.TrimSpace(expr)
	if expr == "" || expr == "*" {
		return nil
	}
	var out []string
	for _, t := range strings.Split(expr, "||") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
