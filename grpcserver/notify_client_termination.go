package grpcserver

import (
	"context"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
)

// NotifyClientTermination: a client shuts down. Its sessions stop taking transaction checks; its
// in-flight messages stay in flight until their invisible time passes (the POP state is the
// group's, not the client's).
func (s *Server) NotifyClientTermination(ctx context.Context, req *v2.NotifyClientTerminationRequest) (*v2.NotifyClientTerminationResponse, error) {
	if err := s.authorize(ctx, "NotifyClientTermination", need{group: req.GetGroup().GetName()}); err != nil {
		return &v2.NotifyClientTerminationResponse{Status: statusOf(err)}, nil
	}
	s.sessions.removeClient(clientIDOf(ctx))
	s.log.Debug("grpcserver: client terminated", "client", clientIDOf(ctx), "group", req.GetGroup().GetName())
	return &v2.NotifyClientTerminationResponse{Status: okStatus()}, nil
}
