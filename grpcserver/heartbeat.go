package grpcserver

import (
	"context"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
)

// Heartbeat keeps a client alive; a consumer's group must exist (or be auto-creatable).
func (s *Server) Heartbeat(ctx context.Context, req *v2.HeartbeatRequest) (*v2.HeartbeatResponse, error) {
	if clientIDOf(ctx) == "" {
		return &v2.HeartbeatResponse{Status: newStatus(v2.Code_CLIENT_ID_REQUIRED, "x-mq-client-id header is required")}, nil
	}
	if err := s.authorize(ctx, "Heartbeat", need{group: req.GetGroup().GetName()}); err != nil {
		return &v2.HeartbeatResponse{Status: statusOf(err)}, nil
	}
	switch req.GetClientType() {
	case v2.ClientType_SIMPLE_CONSUMER, v2.ClientType_PUSH_CONSUMER:
		if _, err := s.b.Group(req.GetGroup().GetName()); err != nil {
			return &v2.HeartbeatResponse{Status: statusOf(err)}, nil
		}
	}
	return &v2.HeartbeatResponse{Status: okStatus()}, nil
}
