package grpcserver

import (
	"context"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
)

// Heartbeat keeps a client alive; a consumer's group must exist (or be auto-creatable). A
// client with no Settings on a live Telemetry stream here (this server restarted, or the
// client's stream broke) gets UNRECOGNIZED_CLIENT_TYPE, as from RocketMQ 5's proxy ("cannot
// find client settings for this client"): 5.x clients answer it by sending their Settings
// again on a new stream, which is how a producer becomes reachable for transaction checks
// again after a restart (the v5.1.2 Go client otherwise reopens it only every 5 minutes).
func (s *Server) Heartbeat(ctx context.Context, req *v2.HeartbeatRequest) (*v2.HeartbeatResponse, error) {
	id := clientIDOf(ctx)
	if id == "" {
		return &v2.HeartbeatResponse{Status: newStatus(v2.Code_CLIENT_ID_REQUIRED, "x-mq-client-id header is required")}, nil
	}
	if !s.sessions.has(id) {
		return &v2.HeartbeatResponse{Status: newStatus(v2.Code_UNRECOGNIZED_CLIENT_TYPE, "cannot find client settings for this client")}, nil
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
