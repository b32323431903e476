package grpcserver

import (
	"context"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"

	"github.com/mqstore/mqstore/broker"
)

// AckMessage marks received messages done for the group: they are not redelivered. Each entry
// gets its status; the response's is OK when all were acked, else the first failure's
// (INVALID_RECEIPT_HANDLE for a handle that does not decode or names a delivery superseded by a
// redelivery; TOPIC_NOT_FOUND when the receipt's topic was deleted since, as RocketMQ's broker
// answers an ack). Acking a message twice is OK.
func (s *Server) AckMessage(ctx context.Context, req *v2.AckMessageRequest) (*v2.AckMessageResponse, error) {
	group := req.GetGroup().GetName()
	if group == "" || len(req.GetEntries()) == 0 {
		return &v2.AckMessageResponse{Status: newStatus(v2.Code_BAD_REQUEST, "group and entries are required")}, nil
	}
	if err := s.authorize(ctx, "AckMessage", need{subTopic: req.GetTopic().GetName(), group: group}); err != nil {
		return &v2.AckMessageResponse{Status: statusOf(err)}, nil
	}
	resp := &v2.AckMessageResponse{Status: okStatus()}
	for _, e := range req.GetEntries() {
		st := okStatus()
		r, err := broker.ParseReceipt(e.GetReceiptHandle())
		if err == nil {
			_, err = s.routedTopic(r.Topic)
		}
		if err == nil {
			err = s.pop.Ack(group, r)
		}
		if err != nil {
			st = statusOf(err)
			if resp.Status.Code == v2.Code_OK {
				resp.Status = st
			}
		}
		resp.Entries = append(resp.Entries, &v2.AckMessageResultEntry{MessageId: e.GetMessageId(), ReceiptHandle: e.GetReceiptHandle(), Status: st})
	}
	return resp, nil
}
