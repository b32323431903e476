package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"slices"
	"sync"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/grpc/peer"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/store"
)

// SendMessage stores each message of the request (conversion in convert.go) and answers one
// entry per message: message_id = the client's id (UNIQ_KEY), offset = the queue offset, and
// for a TRANSACTION message transaction_id = the half record's offset message id, which
// EndTransaction takes back. The queue: a FIFO message's by the hash of its message group (so
// a group stays in one queue, in order), the others round-robin. The status is OK when every
// message was stored, else the first failure's. A message whose type the topic does not accept
// (its message.type attribute) is refused with MESSAGE_PROPERTY_CONFLICT_WITH_TYPE; one to a
// topic the broker does not have with TOPIC_NOT_FOUND (routedTopic: no auto-creation on gRPC).
func (s *Server) SendMessage(ctx context.Context, req *v2.SendMessageRequest) (*v2.SendMessageResponse, error) {
	if len(req.GetMessages()) == 0 {
		return &v2.SendMessageResponse{Status: newStatus(v2.Code_BAD_REQUEST, "no message")}, nil
	}
	needs := make([]need, 0, 1)
	for _, pm := range req.GetMessages() {
		if t := pm.GetTopic().GetName(); len(needs) == 0 || needs[len(needs)-1].pubTopic != t {
			needs = append(needs, need{pubTopic: t})
		}
	}
	if err := s.authorize(ctx, "SendMessage", needs...); err != nil {
		return &v2.SendMessageResponse{Status: statusOf(err)}, nil
	}
	resp := &v2.SendMessageResponse{Status: okStatus(), Entries: make([]*v2.SendResultEntry, len(req.GetMessages()))}
	born := peerAddr(ctx)
	// Every message is appended before any is waited for: under SYNC_FLUSH one group commit
	// covers the whole request (PutAsync), not one flush per message.
	var wg sync.WaitGroup
	for i, pm := range req.GetMessages() {
		if e := s.sendOne(ctx, pm, born, &wg, &resp.Entries[i]); e != nil {
			resp.Entries[i] = e
		}
	}
	wg.Wait()
	for _, e := range resp.Entries {
		if e.Status.Code != v2.Code_OK {
			resp.Status = e.Status
			break
		}
	}
	return resp, nil
}

// sendOne stores one message and returns its entry, or nil when a put is in progress: then the
// store's completion sets *entry and calls wg.Done.
func (s *Server) sendOne(ctx context.Context, pm *v2.Message, born netip.AddrPort, wg *sync.WaitGroup, entry **v2.SendResultEntry) *v2.SendResultEntry {
	maxBody := s.b.Config().MaxMessageSize
	m, typ, err := toStoreMessage(pm, maxBody)
	if err != nil {
		return &v2.SendResultEntry{Status: statusOf(err), MessageId: pm.GetSystemProperties().GetMessageId()}
	}
	id := m.UniqKey()
	if _, err := s.routedTopic(m.Topic); err != nil {
		return &v2.SendResultEntry{Status: statusOf(err), MessageId: id}
	}
	tc, err := s.b.TopicForSend(m.Topic) // an existing topic: permissions only
	if err != nil {
		return &v2.SendResultEntry{Status: statusOf(err), MessageId: id}
	}
	// The type as the message's properties make it (a declared NORMAL or unspecified type
	// with a message group is FIFO), as RocketMQ's proxy derives it; the proxy's code too.
	if mt := messageTypeOf(m); !slices.Contains(acceptedTypes(tc), mt) {
		return &v2.SendResultEntry{MessageId: id, Status: newStatus(v2.Code_MESSAGE_PROPERTY_CONFLICT_WITH_TYPE,
			fmt.Sprintf("topic message type not match: topic %s accepts %s (its message.type attribute), the message is %s",
				m.Topic, tc.MessageType(), mt))}
	}
	m.QueueID = s.queueFor(tc, m)
	m.BornHost = born
	if typ == v2.MessageType_TRANSACTION {
		if client := clientIDOf(ctx); client != "" {
			m.SetProperty(propertyTxnClientID, client) // checks go to the sender (telemetry.go)
		}
		res, err := s.b.PrepareHalf(m, producerGroupOf(m.Topic))
		if err != nil {
			return &v2.SendResultEntry{Status: statusOf(err), MessageId: id}
		}
		return &v2.SendResultEntry{Status: okStatus(), MessageId: id, TransactionId: res.MsgID, Offset: res.QueueOffset}
	}
	wg.Add(1)
	err = s.b.PutAsync(m, func(res store.PutResult, err error) {
		defer wg.Done()
		switch {
		case err == nil:
			*entry = &v2.SendResultEntry{Status: okStatus(), MessageId: id, Offset: res.QueueOffset}
		case errors.Is(err, store.ErrFlushTimeout): // stored, not yet durable
			*entry = &v2.SendResultEntry{Status: statusOf(err), MessageId: id, Offset: res.QueueOffset}
		default:
			*entry = &v2.SendResultEntry{Status: statusOf(err), MessageId: id}
		}
	})
	if err != nil { // nothing stored; the completion is not called
		wg.Done()
		return &v2.SendResultEntry{Status: statusOf(err), MessageId: id}
	}
	return nil
}

// queueFor picks a message's write queue.
func (s *Server) queueFor(tc namesrv.TopicConfig, m *message.Message) int32 {
	n := uint32(max(tc.WriteQueueNums, 1))
	if g, ok := m.Properties.Get(broker.PropertyMessageGroup); ok && g != "" {
		h := fnv.New32a()
		h.Write([]byte(g))
		return int32(h.Sum32() % n)
	}
	return int32(s.rr.Add(1) % n)
}

// peerAddr is the client's address as a BORNHOST.
func peerAddr(ctx context.Context) netip.AddrPort {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return netip.AddrPort{}
	}
	if a, ok := p.Addr.(*net.TCPAddr); ok {
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}
