package grpcserver

import (
	"context"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"

	"github.com/mqstore/mqstore/broker"
)

// ForwardMessageToDeadLetterQueue: a push consumer gave up on a received message (its
// delivery attempts ran out on the client's side). The message is stored in %DLQ%<group> at
// once and is done for the group.
func (s *Server) ForwardMessageToDeadLetterQueue(ctx context.Context, req *v2.ForwardMessageToDeadLetterQueueRequest) (*v2.ForwardMessageToDeadLetterQueueResponse, error) {
	group := req.GetGroup().GetName()
	if group == "" {
		return &v2.ForwardMessageToDeadLetterQueueResponse{Status: newStatus(v2.Code_BAD_REQUEST, "group is required")}, nil
	}
	if err := s.authorize(ctx, "ForwardMessageToDeadLetterQueue", need{subTopic: req.GetTopic().GetName(), group: group}); err != nil {
		return &v2.ForwardMessageToDeadLetterQueueResponse{Status: statusOf(err)}, nil
	}
	r, err := broker.ParseReceipt(req.GetReceiptHandle())
	if err == nil {
		err = s.pop.DeadLetterNow(group, r)
	}
	return &v2.ForwardMessageToDeadLetterQueueResponse{Status: statusOf(err)}, nil
}
