package grpcserver

import (
	"context"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"

	"github.com/mqstore/mqstore/broker"
)

// ChangeInvisibleDuration makes a received message visible again invisible_duration from now
// (0 s and up: 0 redelivers it at the next receive). The receipt handle stays valid and is
// returned. A receipt whose topic was deleted since is TOPIC_NOT_FOUND (as RocketMQ's broker).
func (s *Server) ChangeInvisibleDuration(ctx context.Context, req *v2.ChangeInvisibleDurationRequest) (*v2.ChangeInvisibleDurationResponse, error) {
	group := req.GetGroup().GetName()
	if group == "" || req.GetInvisibleDuration() == nil {
		return &v2.ChangeInvisibleDurationResponse{Status: newStatus(v2.Code_BAD_REQUEST, "group and invisible_duration are required")}, nil
	}
	if err := s.authorize(ctx, "ChangeInvisibleDuration", need{subTopic: req.GetTopic().GetName(), group: group}); err != nil {
		return &v2.ChangeInvisibleDurationResponse{Status: statusOf(err)}, nil
	}
	d := req.GetInvisibleDuration().AsDuration()
	if d < 0 || d > maxInvisible {
		return &v2.ChangeInvisibleDurationResponse{Status: newStatus(v2.Code_ILLEGAL_INVISIBLE_TIME, "invisible_duration must be within 0..12h")}, nil
	}
	r, err := broker.ParseReceipt(req.GetReceiptHandle())
	if err == nil {
		_, err = s.routedTopic(r.Topic)
	}
	if err == nil {
		r, _, err = s.pop.ChangeInvisible(group, r, d)
	}
	if err != nil {
		return &v2.ChangeInvisibleDurationResponse{Status: statusOf(err)}, nil
	}
	return &v2.ChangeInvisibleDurationResponse{Status: okStatus(), ReceiptHandle: r.String()}, nil
}
