package client

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// Admin makes administrative calls to name servers and brokers.
type Admin struct {
	c *core
}

// NewAdmin returns an admin client. It sends no heartbeats.
func NewAdmin(opts ...Option) (*Admin, error) {
	cfg, err := newConfig("admin", opts)
	if err != nil {
		return nil, err
	}
	c, err := newCore(cfg, nil)
	if err != nil {
		return nil, err
	}
	return &Admin{c: c}, nil
}

// Close closes the connections. Later calls return ErrClosed.
func (a *Admin) Close() error { return a.c.close() }

// CreateTopic creates or updates a topic on the broker at brokerAddr
// (UPDATE_AND_CREATE_TOPIC). Zero queue counts mean 4 and a zero Perm
// means read+write; the broker registers the topic with the name server.
// cfg.Attributes are set on the topic (RocketMQ 5's "+key=value" attributes
// field); attributes the topic has and cfg does not name are kept.
func (a *Admin) CreateTopic(ctx context.Context, brokerAddr string, cfg namesrv.TopicConfig) error {
	if cfg.TopicName == "" {
		return fmt.Errorf("%w: empty topic", ErrInvalidOption)
	}
	if cfg.ReadQueueNums == 0 {
		cfg.ReadQueueNums = 4
	}
	if cfg.WriteQueueNums == 0 {
		cfg.WriteQueueNums = 4
	}
	if cfg.Perm == 0 {
		cfg.Perm = namesrv.PermRW
	}
	if cfg.TopicFilterType == "" {
		cfg.TopicFilterType = "SINGLE_TAG"
	}
	req := remoting.NewRequest(remoting.RequestUpdateAndCreateTopic)
	req.ExtFields = append(req.ExtFields,
		remoting.Field{Key: protocol.FieldTopic, Value: cfg.TopicName},
		remoting.Field{Key: protocol.FieldDefaultTopic, Value: namesrv.AutoCreateTopic},
		remoting.Field{Key: protocol.FieldReadQueueNums, Value: strconv.Itoa(cfg.ReadQueueNums)},
		remoting.Field{Key: protocol.FieldWriteQueueNums, Value: strconv.Itoa(cfg.WriteQueueNums)},
		remoting.Field{Key: protocol.FieldPerm, Value: strconv.Itoa(cfg.Perm)},
		remoting.Field{Key: protocol.FieldTopicFilterType, Value: cfg.TopicFilterType},
		remoting.Field{Key: protocol.FieldTopicSysFlag, Value: strconv.Itoa(cfg.TopicSysFlag)},
		remoting.Field{Key: protocol.FieldOrder, Value: strconv.FormatBool(cfg.Order)},
	)
	if len(cfg.Attributes) > 0 {
		req.ExtFields = append(req.ExtFields,
			remoting.Field{Key: protocol.FieldAttributes, Value: namesrv.FormatAttributes(cfg.Attributes)})
	}
	resp, err := a.c.invoke(ctx, brokerAddr, req)
	if err != nil {
		return err
	}
	defer resp.Release()
	if resp.ResponseCode() != remoting.ResponseSuccess {
		return brokerError(brokerAddr, resp)
	}
	a.c.dropRoute(cfg.TopicName)
	return nil
}

// TopicRoute asks the name server for topic's route (uncached).
func (a *Admin) TopicRoute(ctx context.Context, topic string) (namesrv.TopicRoute, error) {
	return a.c.fetchRoute(ctx, topic)
}

// ClusterInfo asks the name server for the broker groups and the clusters'
// broker names (GET_BROKER_CLUSTER_INFO).
func (a *Admin) ClusterInfo(ctx context.Context) (brokers map[string]namesrv.BrokerData, clusters map[string][]string, err error) {
	resp, addr, err := a.c.invokeNameServer(ctx, func() *remoting.Command {
		return remoting.NewRequest(remoting.RequestGetBrokerClusterInfo)
	})
	if err != nil {
		return nil, nil, err
	}
	defer resp.Release()
	if resp.ResponseCode() != remoting.ResponseSuccess {
		return nil, nil, brokerError(addr, resp)
	}
	brokers, clusters, err = namesrv.DecodeClusterInfo(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	return brokers, clusters, nil
}

// queueOffset sends GET_MIN_OFFSET or GET_MAX_OFFSET for mq.
func (a *Admin) queueOffset(ctx context.Context, code remoting.RequestCode, mq MessageQueue) (int64, error) {
	addr, err := a.c.brokerAddr(ctx, mq, false)
	if err != nil {
		return 0, err
	}
	req := remoting.NewRequest(code)
	req.ExtFields = append(req.ExtFields,
		remoting.Field{Key: protocol.FieldTopic, Value: mq.Topic},
		remoting.Field{Key: protocol.FieldQueueID, Value: strconv.Itoa(int(mq.QueueID))},
	)
	return a.c.offsetCall(ctx, addr, req)
}

// MinOffset returns the queue's min offset (GET_MIN_OFFSET).
func (a *Admin) MinOffset(ctx context.Context, mq MessageQueue) (int64, error) {
	return a.queueOffset(ctx, remoting.RequestGetMinOffset, mq)
}

// MaxOffset returns the queue's max offset, one past its last message
// (GET_MAX_OFFSET).
func (a *Admin) MaxOffset(ctx context.Context, mq MessageQueue) (int64, error) {
	return a.queueOffset(ctx, remoting.RequestGetMaxOffset, mq)
}

// Queues returns the readable queues of topic.
func (a *Admin) Queues(ctx context.Context, topic string) ([]MessageQueue, error) {
	r, err := a.c.route(ctx, topic, false)
	if err != nil {
		return nil, err
	}
	return append([]MessageQueue(nil), r.subscribe...), nil
}

// QueryMessageByKey returns up to max messages of topic whose KEYS (or
// UNIQ_KEY) contain key, stored between begin and end (a zero end means
// now), from every broker of the topic (QUERY_MESSAGE). None found is not an
// error: the slice is empty.
func (a *Admin) QueryMessageByKey(ctx context.Context, topic, key string, max int, begin, end time.Time) ([]MessageExt, error) {
	r, err := a.c.route(ctx, topic, false)
	if err != nil {
		return nil, err
	}
	if end.IsZero() {
		end = time.Now()
	}
	var out []MessageExt
	for _, b := range r.data.BrokerDatas {
		addr, ok := r.master(b.BrokerName, true)
		if !ok {
			continue
		}
		req := remoting.NewRequest(remoting.RequestQueryMessage)
		req.ExtFields = append(req.ExtFields,
			remoting.Field{Key: protocol.FieldTopic, Value: topic},
			remoting.Field{Key: protocol.FieldKey, Value: key},
			remoting.Field{Key: protocol.FieldMaxNum, Value: strconv.Itoa(max)},
			remoting.Field{Key: protocol.FieldBeginTimestamp, Value: strconv.FormatInt(begin.UnixMilli(), 10)},
			remoting.Field{Key: protocol.FieldEndTimestamp, Value: strconv.FormatInt(end.UnixMilli(), 10)},
		)
		resp, err := a.c.invoke(ctx, addr, req)
		if err != nil {
			return out, err
		}
		switch resp.ResponseCode() {
		case remoting.ResponseSuccess:
			if out, err = decodeRecords(out, resp.Body, b.BrokerName, topic); err != nil {
				return out, err
			}
		case remoting.ResponseQueryNotFound:
			resp.Release()
		default:
			err := brokerError(addr, resp)
			resp.Release()
			return out, err
		}
	}
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out, nil
}

// QueryMessageByID reads the message an offset message id names from the
// broker it names (VIEW_MESSAGE_BY_ID).
func (a *Admin) QueryMessageByID(ctx context.Context, offsetMsgID string) (MessageExt, error) {
	host, offset, err := message.ParseOffsetMsgID(offsetMsgID)
	if err != nil {
		return MessageExt{}, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	addr := host.String()
	req := remoting.NewRequest(remoting.RequestViewMessageByID)
	req.ExtFields = append(req.ExtFields, remoting.Field{Key: protocol.FieldOffset, Value: strconv.FormatInt(offset, 10)})
	resp, err := a.c.invoke(ctx, addr, req)
	if err != nil {
		return MessageExt{}, err
	}
	if resp.ResponseCode() != remoting.ResponseSuccess {
		err := brokerError(addr, resp)
		resp.Release()
		return MessageExt{}, err
	}
	msgs, err := decodeRecords(nil, resp.Body, "", "")
	if err != nil {
		return MessageExt{}, err
	}
	if len(msgs) != 1 {
		return MessageExt{}, fmt.Errorf("%w: %d records for one id", ErrBadResponse, len(msgs))
	}
	return msgs[0], nil
}
