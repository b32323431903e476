package grpcserver

import (
	"context"
	"fmt"
	"net"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/namesrv"
)

// QueryRoute answers a topic's queues on this broker, with this endpoint as the broker's
// address (clients send and receive over gRPC, never to the remoting port). A topic that does
// not exist is TOPIC_NOT_FOUND (routedTopic). Queues accept the topic's message.type
// attribute's type (every type when unset or MIXED, see acceptedTypes); SendMessage enforces it.
func (s *Server) QueryRoute(ctx context.Context, req *v2.QueryRouteRequest) (*v2.QueryRouteResponse, error) {
	topic := req.GetTopic().GetName()
	if topic == "" {
		return &v2.QueryRouteResponse{Status: newStatus(v2.Code_BAD_REQUEST, "topic is required")}, nil
	}
	if err := s.authorize(ctx, "QueryRoute"); err != nil {
		return &v2.QueryRouteResponse{Status: statusOf(err)}, nil
	}
	tc, err := s.routedTopic(topic)
	if err != nil {
		return &v2.QueryRouteResponse{Status: statusOf(err)}, nil
	}
	broker, err := s.brokerProto()
	if err != nil {
		return &v2.QueryRouteResponse{Status: statusOf(err)}, nil
	}
	accepted := acceptedTypes(tc)
	n := max(tc.ReadQueueNums, tc.WriteQueueNums)
	queues := make([]*v2.MessageQueue, 0, n)
	for i := 0; i < n; i++ {
		perm := 0
		if i < tc.ReadQueueNums && tc.Perm&namesrv.PermRead != 0 {
			perm |= namesrv.PermRead
		}
		if i < tc.WriteQueueNums && tc.Perm&namesrv.PermWrite != 0 {
			perm |= namesrv.PermWrite
		}
		queues = append(queues, &v2.MessageQueue{
			Topic:              &v2.Resource{Name: topic, ResourceNamespace: req.GetTopic().GetResourceNamespace()},
			Id:                 int32(i),
			Permission:         permission(perm),
			Broker:             broker,
			AcceptMessageTypes: accepted,
		})
	}
	return &v2.QueryRouteResponse{Status: okStatus(), MessageQueues: queues}, nil
}

// routedTopic returns the config of a topic a request names, or broker.ErrTopicNotExist (status
// TOPIC_NOT_FOUND) when the broker has no such topic. As RocketMQ 5's proxy, the gRPC side never
// creates a topic, whatever autoCreateTopicEnable says: the proxy looks every topic of
// QueryRoute, SendMessage, QueryAssignment and ReceiveMessage up in the name server's routes
// (TopicRouteService.getAllMessageQueueView / getCurrentMessageQueueView), which answer
// TOPIC_NOT_EXIST for an unknown topic, and it has no TBW102 fallback as a 4.x client has
// (apache/rocketmq#6540: "no plan to implement"). Topics are created by an operator (mqadmin
// updateTopic, the console) or by a 4.x client's send on the remoting port.
func (s *Server) routedTopic(topic string) (namesrv.TopicConfig, error) {
	tc, ok, err := s.b.TopicConfig(topic)
	if err != nil {
		return tc, err
	}
	if !ok {
		return tc, fmt.Errorf("%w: No topic route info in name server for the topic: %s", broker.ErrTopicNotExist, topic)
	}
	return tc, nil
}

var allTypes = []v2.MessageType{v2.MessageType_NORMAL, v2.MessageType_FIFO, v2.MessageType_DELAY, v2.MessageType_TRANSACTION}

// acceptedTypes are the message types a topic takes: its message.type attribute's (RocketMQ
// 5's TopicMessageType), or every type when it is unset, UNSPECIFIED or MIXED.
func acceptedTypes(tc namesrv.TopicConfig) []v2.MessageType {
	switch tc.MessageType() {
	case namesrv.MessageNormal:
		return []v2.MessageType{v2.MessageType_NORMAL}
	case namesrv.MessageFIFO:
		return []v2.MessageType{v2.MessageType_FIFO}
	case namesrv.MessageDelay:
		return []v2.MessageType{v2.MessageType_DELAY}
	case namesrv.MessageTransaction:
		return []v2.MessageType{v2.MessageType_TRANSACTION}
	}
	return allTypes
}

func permission(perm int) v2.Permission {
	switch perm & (namesrv.PermRead | namesrv.PermWrite) {
	case namesrv.PermRead | namesrv.PermWrite:
		return v2.Permission_READ_WRITE
	case namesrv.PermRead:
		return v2.Permission_READ
	case namesrv.PermWrite:
		return v2.Permission_WRITE
	}
	return v2.Permission_NONE
}

// brokerProto is this broker as routes name it: id 0, this endpoint's address.
func (s *Server) brokerProto() (*v2.Broker, error) {
	host, p, err := s.routeHostPort()
	if err != nil {
		return nil, err
	}
	scheme := v2.AddressScheme_IPv4
	if ip := net.ParseIP(host); ip == nil {
		scheme = v2.AddressScheme_DOMAIN_NAME
	} else if ip.To4() == nil {
		scheme = v2.AddressScheme_IPv6
	}
	return &v2.Broker{Name: s.b.Name(), Id: 0, Endpoints: &v2.Endpoints{Scheme: scheme,
		Addresses: []*v2.Address{{Host: host, Port: int32(p)}}}}, nil
}
