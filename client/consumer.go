package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// PullStatus is the outcome of a Pull (PullStatus in the clients).
type PullStatus int

const (
	PullFound         PullStatus = iota // messages returned
	PullNoNewMsg                        // none at the offset (code 19), after the long-polling hold
	PullNoMatchedMsg                    // none matched the subscription (code 20); pull again from NextBeginOffset
	PullOffsetIllegal                   // the offset is out of the queue's range (code 21)
)

func (s PullStatus) String() string {
	switch s {
	case PullFound:
		return "FOUND"
	case PullNoNewMsg:
		return "NO_NEW_MSG"
	case PullNoMatchedMsg:
		return "NO_MATCHED_MSG"
	case PullOffsetIllegal:
		return "OFFSET_ILLEGAL"
	}
	return "PullStatus(" + strconv.Itoa(int(s)) + ")"
}

// PullResult is what a Pull found.
type PullResult struct {
	Status PullStatus
	// NextBeginOffset is the offset to pull from next (also after
	// NO_NEW_MSG and OFFSET_ILLEGAL).
	NextBeginOffset int64
	// MinOffset and MaxOffset are the queue's bounds.
	MinOffset, MaxOffset int64
	// Messages alias the response body.
	Messages []MessageExt
}

// PullConsumer pulls messages from queues it chooses, with long polling, and
// stores its group's offsets on the broker.
type PullConsumer struct {
	c     *core
	group string

	mu   sync.Mutex // guards subs
	subs map[string]subscription
}

// NewPullConsumer returns a pull consumer. Its group defaults to
// DEFAULT_CONSUMER. It heartbeats the brokers of the topics it pulls, with
// CONSUME_ACTIVELY and its subscriptions.
func NewPullConsumer(opts ...Option) (*PullConsumer, error) {
	cfg, err := newConfig(DefaultConsumerGroup, opts)
	if err != nil {
		return nil, err
	}
	pc := &PullConsumer{group: cfg.group, subs: make(map[string]subscription)}
	pc.c, err = newCore(cfg, pc.heartbeatBody)
	if err != nil {
		return nil, err
	}
	return pc, nil
}

// Group returns the consumer group.
func (pc *PullConsumer) Group() string { return pc.group }

// ClientID returns the client id sent in heartbeats.
func (pc *PullConsumer) ClientID() string { return pc.c.clientID }

// Close stops the background goroutine and closes the connections; pulls in
// flight fail. Later calls return ErrClosed.
func (pc *PullConsumer) Close() error { return pc.c.close() }

func (pc *PullConsumer) heartbeatBody() []byte {
	pc.mu.Lock()
	subs := make([]subscription, 0, len(pc.subs))
	for _, s := range pc.subs {
		subs = append(subs, s)
	}
	pc.mu.Unlock()
	return encodeHeartbeat(pc.c.clientID, "", pc.group, subs)
}

// Subscribe sets the TAG expression pulls of topic use ("*" by default;
// "a || b" for tags a or b).
func (pc *PullConsumer) Subscribe(topic, expression string) {
	if expression == "" {
		expression = subscribeAll
	}
	pc.mu.Lock()
	pc.subs[topic] = subscription{topic: topic, expression: expression, tags: parseTags(expression), version: time.Now().UnixNano()}
	pc.mu.Unlock()
	pc.c.kickHeartbeat()
}

// subscription returns topic's subscription, subscribing to "*" if there is
// none.
func (pc *PullConsumer) subscription(topic string) subscription {
	pc.mu.Lock()
	s, ok := pc.subs[topic]
	if !ok {
		s = subscription{topic: topic, expression: subscribeAll, version: time.Now().UnixNano()}
		pc.subs[topic] = s
	}
	pc.mu.Unlock()
	if !ok {
		pc.c.kickHeartbeat()
	}
	return s
}

// Queues returns the readable queues of topic.
func (pc *PullConsumer) Queues(ctx context.Context, topic string) ([]MessageQueue, error) {
	r, err := pc.c.route(ctx, topic, false)
	if err != nil {
		return nil, err
	}
	pc.subscription(topic)
	if len(r.subscribe) == 0 {
		return nil, fmt.Errorf("%w: topic %s has no readable queue", ErrNoRoute, topic)
	}
	return append([]MessageQueue(nil), r.subscribe...), nil
}

// brokerAddr returns the address to send a queue's requests to.
func (c *core) brokerAddr(ctx context.Context, mq MessageQueue, anyAddr bool) (string, error) {
	r, err := c.route(ctx, mq.Topic, false)
	if err != nil {
		return "", err
	}
	addr, ok := r.master(mq.BrokerName, anyAddr)
	if !ok {
		return "", fmt.Errorf("%w: no address for broker %s", ErrNoRoute, mq.BrokerName)
	}
	return addr, nil
}

// pullMarginTimeout is added to the suspend timeout for the call's own
// timeout (the Go client: 20 s hold, 30 s call).
const pullMarginTimeout = 10 * time.Second

// maxPullBatch caps maxMsgNums.
const maxPullBatch = 1024

// Pull reads up to max messages of mq from offset. When there is none the
// broker holds the request up to WithSuspendTimeout (long polling) and
// answers as soon as one arrives, or PullNoNewMsg at the end of the hold.
func (pc *PullConsumer) Pull(ctx context.Context, mq MessageQueue, offset int64, max int) (PullResult, error) {
	if max <= 0 {
		max = 1
	}
	max = min(max, maxPullBatch)
	addr, err := pc.c.brokerAddr(ctx, mq, true)
	if err != nil {
		return PullResult{}, err
	}
	sub := pc.subscription(mq.Topic)
	suspend := pc.c.cfg.suspendTimeout
	sysFlag := protocol.PullFlagSubscription
	if suspend > 0 {
		sysFlag |= protocol.PullFlagSuspend
	}
	req := remoting.NewRequest(remoting.RequestPullMessage)
	req.ExtFields = append(req.ExtFields,
		remoting.Field{Key: protocol.FieldConsumerGroup, Value: pc.group},
		remoting.Field{Key: protocol.FieldTopic, Value: mq.Topic},
		remoting.Field{Key: protocol.FieldQueueID, Value: strconv.Itoa(int(mq.QueueID))},
		remoting.Field{Key: protocol.FieldQueueOffset, Value: strconv.FormatInt(offset, 10)},
		remoting.Field{Key: protocol.FieldMaxMsgNums, Value: strconv.Itoa(max)},
		remoting.Field{Key: protocol.FieldSysFlag, Value: strconv.Itoa(sysFlag)},
		remoting.Field{Key: protocol.FieldCommitOffset, Value: "0"},
		remoting.Field{Key: protocol.FieldSuspendTimeoutMillis, Value: strconv.FormatInt(suspend.Milliseconds(), 10)},
		remoting.Field{Key: protocol.FieldSubscription, Value: sub.expression},
		remoting.Field{Key: protocol.FieldSubVersion, Value: strconv.FormatInt(sub.version, 10)},
		remoting.Field{Key: protocol.FieldExpressionType, Value: expressionTypeTag},
	)
	resp, err := pc.c.invokeTimeout(ctx, addr, req, suspend+pullMarginTimeout)
	if err != nil {
		return PullResult{}, err
	}
	var res PullResult
	switch resp.ResponseCode() {
	case remoting.ResponseSuccess:
		res.Status = PullFound
	case remoting.ResponsePullNotFound:
		res.Status = PullNoNewMsg
	case remoting.ResponsePullRetryImmediately:
		res.Status = PullNoMatchedMsg
	case remoting.ResponsePullOffsetMoved:
		res.Status = PullOffsetIllegal
	default:
		err := brokerError(addr, resp)
		resp.Release()
		return PullResult{}, err
	}
	var errs [3]error
	res.NextBeginOffset, errs[0] = resp.GetInt64(protocol.FieldNextBeginOffset)
	res.MinOffset, errs[1] = resp.GetInt64(protocol.FieldMinOffset)
	res.MaxOffset, errs[2] = resp.GetInt64(protocol.FieldMaxOffset)
	if err := errors.Join(errs[:]...); err != nil {
		resp.Release()
		return PullResult{}, fmt.Errorf("%w: pull: %w", ErrBadResponse, err)
	}
	if res.Status == PullFound {
		// The messages alias resp's body, so resp is left to the garbage
		// collector rather than released.
		res.Messages, err = decodeRecords(make([]MessageExt, 0, countRecords(resp.Body, max)), resp.Body, mq.BrokerName, mq.Topic)
		if err != nil {
			return PullResult{}, err
		}
		if len(res.Messages) == 0 {
			res.Status = PullNoMatchedMsg
		}
		return res, nil
	}
	resp.Release()
	return res, nil
}

// CommitOffset stores the group's consume offset of mq on its broker
// (UPDATE_CONSUMER_OFFSET, answered).
func (pc *PullConsumer) CommitOffset(ctx context.Context, mq MessageQueue, offset int64) error {
	addr, err := pc.c.brokerAddr(ctx, mq, false)
	if err != nil {
		return err
	}
	req := remoting.NewRequest(remoting.RequestUpdateConsumerOffset)
	req.ExtFields = append(req.ExtFields,
		remoting.Field{Key: protocol.FieldConsumerGroup, Value: pc.group},
		remoting.Field{Key: protocol.FieldTopic, Value: mq.Topic},
		remoting.Field{Key: protocol.FieldQueueID, Value: strconv.Itoa(int(mq.QueueID))},
		remoting.Field{Key: protocol.FieldCommitOffset, Value: strconv.FormatInt(offset, 10)},
	)
	resp, err := pc.c.invoke(ctx, addr, req)
	if err != nil {
		return err
	}
	defer resp.Release()
	if resp.ResponseCode() != remoting.ResponseSuccess {
		return brokerError(addr, resp)
	}
	return nil
}

// QueryOffset returns the group's stored consume offset of mq
// (QUERY_CONSUMER_OFFSET); ErrNotFound when none is stored.
func (pc *PullConsumer) QueryOffset(ctx context.Context, mq MessageQueue) (int64, error) {
	addr, err := pc.c.brokerAddr(ctx, mq, false)
	if err != nil {
		return 0, err
	}
	req := remoting.NewRequest(remoting.RequestQueryConsumerOffset)
	req.ExtFields = append(req.ExtFields,
		remoting.Field{Key: protocol.FieldConsumerGroup, Value: pc.group},
		remoting.Field{Key: protocol.FieldTopic, Value: mq.Topic},
		remoting.Field{Key: protocol.FieldQueueID, Value: strconv.Itoa(int(mq.QueueID))},
	)
	return pc.c.offsetCall(ctx, addr, req)
}

// offsetCall sends an offset request and reads the "offset" field of its
// answer.
func (c *core) offsetCall(ctx context.Context, addr string, req *remoting.Command) (int64, error) {
	resp, err := c.invoke(ctx, addr, req)
	if err != nil {
		return 0, err
	}
	defer resp.Release()
	if resp.ResponseCode() != remoting.ResponseSuccess {
		return 0, brokerError(addr, resp)
	}
	v, err := resp.GetInt64(protocol.FieldOffset)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	return v, nil
}
