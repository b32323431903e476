package grpcserver

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/txn"
)

// Telemetry is the bidirectional stream a client keeps per endpoint. The client sends its
// Settings (client type, group or topics, retry policy); every Settings gets a Settings reply
// on that stream (clients wait for it), carrying the broker's side:
//   - producers: an exponential backoff policy and publishing.max_body_size = maxMessageSize,
//     validate_message_type=false (SendMessage checks the topic's message.type itself);
//   - consumers: max delivery attempts = the group's retryMaxTimes + 1 (RocketMQ's default 17)
//     and the subscription echoed, with the receive batch size and long polling timeout.
//
// The server sends RecoverOrphanedTransactionCommand on a producer's stream for a
// transaction check (checker below). The client's ThreadStackTrace and VerifyMessageResult
// (answers to commands an operator sends) are logged. The stream ends when the client closes
// it or the server stops.
func (s *Server) Telemetry(stream v2.MessagingService_TelemetryServer) error {
	id := clientIDOf(stream.Context())
	if id == "" {
		return stream.Send(&v2.TelemetryCommand{Status: newStatus(v2.Code_CLIENT_ID_REQUIRED, "x-mq-client-id header is required")})
	}
	sess := &session{id: id, stream: stream}
	cmds := make(chan *v2.TelemetryCommand)
	errc := make(chan error, 1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			cmd, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			select {
			case cmds <- cmd:
			case <-stream.Context().Done():
				errc <- stream.Context().Err()
				return
			}
		}
	}()
	defer s.sessions.remove(sess)
	for {
		select {
		case cmd := <-cmds:
			s.onTelemetry(sess, cmd)
		case <-errc: // the client closed the stream (io.EOF) or went away
			return nil
		case <-s.quit:
			return nil
		}
	}
}

// onTelemetry handles one client command.
func (s *Server) onTelemetry(sess *session, cmd *v2.TelemetryCommand) {
	switch c := cmd.GetCommand().(type) {
	case *v2.TelemetryCommand_Settings:
		err := s.authorize(sess.stream.Context(), "Telemetry.Settings", settingsNeeds(c.Settings)...)
		var reply *v2.Settings
		if err == nil {
			reply, err = s.settingsReply(sess, c.Settings)
		}
		if err != nil {
			s.log.Info("grpcserver: settings refused", "client", sess.id, "err", err)
			sess.send(&v2.TelemetryCommand{Status: statusOf(err)})
			return
		}
		s.sessions.add(sess)
		if err := sess.send(&v2.TelemetryCommand{Status: okStatus(), Command: &v2.TelemetryCommand_Settings{Settings: reply}}); err != nil {
			s.log.Debug("grpcserver: settings reply not sent", "client", sess.id, "err", err)
		}
	case *v2.TelemetryCommand_ThreadStackTrace:
		s.log.Info("grpcserver: client thread stack trace", "client", sess.id, "nonce", c.ThreadStackTrace.GetNonce(),
			"trace", c.ThreadStackTrace.GetThreadStackTrace())
	case *v2.TelemetryCommand_VerifyMessageResult:
		s.log.Info("grpcserver: client verified a message", "client", sess.id, "nonce", c.VerifyMessageResult.GetNonce(),
			"status", cmd.GetStatus().GetCode().String())
	default:
		s.log.Debug("grpcserver: telemetry command ignored", "client", sess.id, "type", fmt.Sprintf("%T", c))
	}
}

// settingsNeeds lists the permissions a client's settings need: a producer PUB on each of its
// topics, a consumer SUB on its group and on each topic it subscribes.
func settingsNeeds(in *v2.Settings) []need {
	var out []need
	for _, t := range in.GetPublishing().GetTopics() {
		out = append(out, need{pubTopic: t.GetName()})
	}
	if sub := in.GetSubscription(); sub != nil {
		group := sub.GetGroup().GetName()
		for _, e := range sub.GetSubscriptions() {
			out = append(out, need{subTopic: e.GetTopic().GetName(), group: group})
		}
		if len(sub.GetSubscriptions()) == 0 {
			out = append(out, need{group: group})
		}
	}
	return out
}

// settingsReply records a client's settings in its session and returns the broker's.
func (s *Server) settingsReply(sess *session, in *v2.Settings) (*v2.Settings, error) {
	out := &v2.Settings{
		ClientType:     in.ClientType,
		AccessPoint:    in.GetAccessPoint(),
		RequestTimeout: in.GetRequestTimeout(),
		UserAgent:      in.GetUserAgent(),
		Metric:         &v2.Metric{On: false},
	}
	if out.RequestTimeout == nil {
		out.RequestTimeout = durationpb.New(3 * time.Second)
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.clientType = in.GetClientType()
	switch in.GetClientType() {
	case v2.ClientType_PRODUCER:
		pub := in.GetPublishing()
		if pub == nil {
			return nil, fmt.Errorf("%w: producer settings without publishing", errBadRequest)
		}
		sess.topics = sess.topics[:0]
		for _, t := range pub.GetTopics() {
			sess.topics = append(sess.topics, t.GetName())
		}
		attempts := in.GetBackoffPolicy().GetMaxAttempts()
		if attempts <= 0 {
			attempts = 3
		}
		out.BackoffPolicy = &v2.RetryPolicy{MaxAttempts: attempts, Strategy: &v2.RetryPolicy_ExponentialBackoff{
			ExponentialBackoff: &v2.ExponentialBackoff{Initial: durationpb.New(10 * time.Millisecond),
				Max: durationpb.New(time.Second), Multiplier: 2}}}
		out.PubSub = &v2.Settings_Publishing{Publishing: &v2.Publishing{Topics: pub.GetTopics(),
			MaxBodySize: int32(s.b.Config().MaxMessageSize), ValidateMessageType: false}}
	case v2.ClientType_SIMPLE_CONSUMER, v2.ClientType_PUSH_CONSUMER:
		sub := in.GetSubscription()
		if sub == nil || sub.GetGroup().GetName() == "" {
			return nil, fmt.Errorf("%w: consumer settings without a group", errBadRequest)
		}
		gc, err := s.b.Group(sub.GetGroup().GetName())
		if err != nil {
			return nil, err
		}
		sess.group = gc.GroupName
		batch := sub.GetReceiveBatchSize()
		if batch <= 0 {
			batch = 32
		}
		fifo := gc.ConsumeMessageOrderly // the group's config decides, as RocketMQ 5's proxy
		out.BackoffPolicy = &v2.RetryPolicy{MaxAttempts: gc.MaxDeliveryAttempts(), Strategy: &v2.RetryPolicy_CustomizedBackoff{
			CustomizedBackoff: &v2.CustomizedBackoff{Next: retryBackoff}}}
		out.PubSub = &v2.Settings_Subscription{Subscription: &v2.Subscription{
			Group: sub.GetGroup(), Subscriptions: sub.GetSubscriptions(), Fifo: &fifo, ReceiveBatchSize: &batch,
			LongPollingTimeout: durationpb.New(s.opts.MaxReceiveWait)}}
	default:
		return nil, fmt.Errorf("%w: client type %v", errBadRequest, in.GetClientType())
	}
	return out, nil
}

// retryBackoff is a push consumer's redelivery delays (RocketMQ's delay levels from 10 s).
var retryBackoff = func() []*durationpb.Duration {
	var out []*durationpb.Duration
	for _, d := range []time.Duration{1, 5, 10, 30, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600, 1200, 1800, 3600, 7200} {
		out = append(out, durationpb.New(d*time.Second))
	}
	return out
}()

// clientIDOf is the x-mq-client-id header. (ValueFromIncomingContext reads the one key;
// FromIncomingContext copied the whole metadata map on every call: 3.5 % of the server's CPU in
// a SendMessage profile.)
func clientIDOf(ctx context.Context) string {
	if v := metadata.ValueFromIncomingContext(ctx, "x-mq-client-id"); len(v) > 0 {
		return v[0]
	}
	return ""
}

// session is one client's telemetry stream.
type session struct {
	id     string
	stream v2.MessagingService_TelemetryServer

	sendMu sync.Mutex // serializes stream.Send

	mu         sync.Mutex // guards clientType, group, topics
	clientType v2.ClientType
	group      string
	topics     []string
}

func (c *session) send(cmd *v2.TelemetryCommand) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return c.stream.Send(cmd)
}

func (c *session) publishes(topic string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clientType == v2.ClientType_PRODUCER && slices.Contains(c.topics, topic)
}

// sessions is the table of live telemetry streams, by client id.
type sessions struct {
	mu   sync.Mutex // guards byID
	byID map[string][]*session
}

func newSessions() *sessions {
	return &sessions{byID: make(map[string][]*session)}
}

func (t *sessions) add(c *session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !slices.Contains(t.byID[c.id], c) {
		t.byID[c.id] = append(t.byID[c.id], c)
	}
}

func (t *sessions) remove(c *session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := slices.DeleteFunc(t.byID[c.id], func(x *session) bool { return x == c })
	if len(l) == 0 {
		delete(t.byID, c.id)
	} else {
		t.byID[c.id] = l
	}
}

// has reports whether the client has a session (a stream whose Settings were accepted).
func (t *sessions) has(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byID[id]) > 0
}

// removeClient drops every session of a client (it announced its termination).
func (t *sessions) removeClient(id string) {
	t.mu.Lock()
	delete(t.byID, id)
	t.mu.Unlock()
}

// producersFor returns the sessions to ask about a half message: those of its sender (client
// id sender, "" if unknown) first, then every other producer publishing the topic.
func (t *sessions) producersFor(sender, topic string) []*session {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out, others []*session
	if sender != "" {
		out = append(out, t.byID[sender]...)
	}
	for _, l := range t.byID {
		for _, c := range l {
			if !slices.Contains(out, c) && c.publishes(topic) {
				others = append(others, c)
			}
		}
	}
	slices.SortFunc(others, func(a, b *session) int { return strings.Compare(a.id, b.id) })
	return append(out, others...)
}

// checker delivers transaction checks of 5.x half messages as RecoverOrphanedTransactionCommand.
type checker struct{ s *Server }

// Check implements broker.FrontendChecker: half messages of a 5.x producer (PGROUP from
// producerGroupOf) are this server's; the others are the remoting side's.
func (k *checker) Check(ctx context.Context, half txn.HalfMessage) (bool, error) {
	if !strings.HasPrefix(half.ProducerGroup, producerGroupOf("")) || half.Message == nil {
		return false, nil
	}
	s := k.s
	offsetMsgID := message.OffsetMsgID(half.Record.StoreHost, half.HalfOffset)
	m := half.Message.Clone()
	m.Topic, m.QueueID = half.Topic, half.QueueID
	pm := toProtoMessage(m, half.Topic, half.StoreTimestamp, offsetMsgID, s.b.Config().MaxMessageSize)
	cmd := &v2.TelemetryCommand{Command: &v2.TelemetryCommand_RecoverOrphanedTransactionCommand{
		RecoverOrphanedTransactionCommand: &v2.RecoverOrphanedTransactionCommand{Message: pm, TransactionId: offsetMsgID}}}
	// The first check goes to the sender (its client id is on the half record, so this holds
	// across restarts), later ones rotate over every producer of the topic: a stopped
	// client's stream may stay open (the v5.1.2 Go client never sends
	// NotifyClientTermination), and must not take every check. With the sender not connected,
	// every check rotates over the topic's producers.
	sender, _ := half.Message.Properties.Get(propertyTxnClientID)
	candidates := s.sessions.producersFor(sender, half.Topic)
	for i := range candidates {
		c := candidates[(half.CheckTimes+i)%len(candidates)]
		if err := c.send(cmd); err != nil {
			continue
		}
		s.log.Debug("grpcserver: transaction check sent", "client", c.id, "topic", half.Topic, "offset", half.HalfOffset)
		return true, nil
	}
	return true, fmt.Errorf("%w: no 5.x producer of topic %s connected", txn.ErrNoProducerOnline, half.Topic)
}
