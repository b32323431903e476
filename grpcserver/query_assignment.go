package grpcserver

import (
	"context"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
)

// QueryAssignment answers a push consumer's assignment: every queue of the topic on this
// broker. ReceiveMessage serves all of a topic's queues from any of them (as RocketMQ's proxy
// does), so one assignment per broker is enough.
func (s *Server) QueryAssignment(ctx context.Context, req *v2.QueryAssignmentRequest) (*v2.QueryAssignmentResponse, error) {
	topic := req.GetTopic().GetName()
	if topic == "" || req.GetGroup().GetName() == "" {
		return &v2.QueryAssignmentResponse{Status: newStatus(v2.Code_BAD_REQUEST, "topic and group are required")}, nil
	}
	if err := s.authorize(ctx, "QueryAssignment", need{subTopic: topic, group: req.GetGroup().GetName()}); err != nil {
		return &v2.QueryAssignmentResponse{Status: statusOf(err)}, nil
	}
	if _, err := s.b.Group(req.GetGroup().GetName()); err != nil {
		return &v2.QueryAssignmentResponse{Status: statusOf(err)}, nil
	}
	tc, err := s.routedTopic(topic)
	if err != nil {
		return &v2.QueryAssignmentResponse{Status: statusOf(err)}, nil
	}
	b, err := s.brokerProto()
	if err != nil {
		return &v2.QueryAssignmentResponse{Status: statusOf(err)}, nil
	}
	if tc.ReadQueueNums == 0 {
		return &v2.QueryAssignmentResponse{Status: okStatus()}, nil
	}
	return &v2.QueryAssignmentResponse{Status: okStatus(), Assignments: []*v2.Assignment{{MessageQueue: &v2.MessageQueue{
		Topic: req.GetTopic(), Id: -1, Permission: permission(tc.Perm), Broker: b, AcceptMessageTypes: acceptedTypes(tc)}}}}, nil
}
