package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mqstore/mqstore/internal/fastjsonkeys"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// This file holds the Admin calls of operators' tools (cmd/mqadmin): topic and consumer
// statistics (RocketMQ's GET_TOPIC_STATS_INFO and GET_CONSUME_STATS), the topic list, broker
// runtime info, a message by queue offset, and mqstore's private transaction codes
// (docs/PROTOCOL.md, "Private codes").

// ToolsConsumerGroup is the consumer group ViewMessageByQueueOffset pulls as (RocketMQ's
// MixAll.TOOLS_CONSUMER_GROUP); it never commits an offset.
const ToolsConsumerGroup = "TOOLS_CONSUMER"

// TopicList returns the names of every topic the name server knows
// (GET_ALL_TOPIC_LIST_FROM_NAMESERVER), sorted.
func (a *Admin) TopicList(ctx context.Context) ([]string, error) {
	resp, addr, err := a.c.invokeNameServer(ctx, func() *remoting.Command {
		return remoting.NewRequest(remoting.RequestGetAllTopicListFromNameServer)
	})
	if err != nil {
		return nil, err
	}
	defer resp.Release()
	if resp.ResponseCode() != remoting.ResponseSuccess {
		return nil, brokerError(addr, resp)
	}
	topics, err := namesrv.DecodeTopicList(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	slices.Sort(topics)
	return topics, nil
}

// BrokerRuntimeInfo returns the broker's runtime statistics (GET_BROKER_RUNTIME_INFO): a table
// of RocketMQ's key names (brokerVersionDesc, msgPutTotalTodayNow, commitLogMaxOffset, ...).
func (a *Admin) BrokerRuntimeInfo(ctx context.Context, brokerAddr string) (map[string]string, error) {
	resp, err := a.call(ctx, brokerAddr, remoting.NewRequest(remoting.RequestGetBrokerRuntimeInfo))
	if err != nil {
		return nil, err
	}
	defer resp.Release()
	var kv struct {
		Table map[string]string `json:"table"`
	}
	if err := json.Unmarshal(resp.Body, &kv); err != nil {
		return nil, fmt.Errorf("%w: runtime info: %w", ErrBadResponse, err)
	}
	return kv.Table, nil
}

// call sends req to addr and returns the answer when it is SUCCESS; other codes are a
// *BrokerError.
func (a *Admin) call(ctx context.Context, addr string, req *remoting.Command) (*remoting.Command, error) {
	resp, err := a.c.invoke(ctx, addr, req)
	if err != nil {
		return nil, err
	}
	if resp.ResponseCode() != remoting.ResponseSuccess {
		err := brokerError(addr, resp)
		resp.Release()
		return nil, err
	}
	return resp, nil
}

// QueueStats are a queue's offsets (RocketMQ's TopicOffset).
type QueueStats struct {
	MessageQueue
	MinOffset  int64
	MaxOffset  int64     // one past the last message
	LastUpdate time.Time // store time of the last message; zero for an empty queue
}

// TopicStats returns the offsets of every write queue of topic on every broker of its route
// (GET_TOPIC_STATS_INFO), sorted by broker name and queue id. An unknown topic is
// ErrTopicNotExist.
func (a *Admin) TopicStats(ctx context.Context, topic string) ([]QueueStats, error) {
	route, err := a.c.fetchRoute(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []QueueStats
	for _, addr := range masters(route.BrokerDatas) {
		req := remoting.NewRequest(remoting.RequestGetTopicStatsInfo)
		req.ExtFields = append(req.ExtFields, remoting.Field{Key: protocol.FieldTopic, Value: topic})
		resp, err := a.call(ctx, addr, req)
		if err != nil {
			return nil, err
		}
		var table struct {
			OffsetTable map[string]struct {
				MinOffset           int64 `json:"minOffset"`
				MaxOffset           int64 `json:"maxOffset"`
				LastUpdateTimestamp int64 `json:"lastUpdateTimestamp"`
			} `json:"offsetTable"`
		}
		err = decodeQueueTable(resp.Body, &table)
		resp.Release()
		if err != nil {
			return nil, fmt.Errorf("%w: topic stats from %s: %w", ErrBadResponse, addr, err)
		}
		for key, v := range table.OffsetTable {
			mq, err := decodeQueueKey(key)
			if err != nil {
				return nil, fmt.Errorf("%w: topic stats from %s: %w", ErrBadResponse, addr, err)
			}
			out = append(out, QueueStats{MessageQueue: mq, MinOffset: v.MinOffset, MaxOffset: v.MaxOffset,
				LastUpdate: millisTime(v.LastUpdateTimestamp)})
		}
	}
	slices.SortFunc(out, func(x, y QueueStats) int { return compareQueues(x.MessageQueue, y.MessageQueue) })
	return out, nil
}

// QueueProgress is a consumer group's progress on one queue (RocketMQ's OffsetWrapper).
type QueueProgress struct {
	MessageQueue
	BrokerOffset   int64     // the queue's max offset
	ConsumerOffset int64     // the group's committed offset (0 when none)
	LastTimestamp  time.Time // store time of the last consumed message; zero when none
}

// Lag is the number of messages the group has not consumed: BrokerOffset - ConsumerOffset,
// never negative.
func (p QueueProgress) Lag() int64 { return max(p.BrokerOffset-p.ConsumerOffset, 0) }

// ConsumeStats returns group's progress (GET_CONSUME_STATS), sorted by topic, broker name and
// queue id. With a topic, it asks the brokers of the topic's route about that topic; without,
// it asks every master broker the name server knows about every topic the group committed
// offsets for. A group with no progress gets an empty slice.
func (a *Admin) ConsumeStats(ctx context.Context, group, topic string) ([]QueueProgress, error) {
	if group == "" {
		return nil, fmt.Errorf("%w: empty consumer group", ErrInvalidOption)
	}
	var addrs []string
	if topic != "" {
		route, err := a.c.fetchRoute(ctx, topic)
		if err != nil {
			return nil, err
		}
		addrs = masters(route.BrokerDatas)
	} else {
		brokers, _, err := a.ClusterInfo(ctx)
		if err != nil {
			return nil, err
		}
		var data []namesrv.BrokerData
		for _, b := range brokers {
			data = append(data, b)
		}
		addrs = masters(data)
	}
	var out []QueueProgress
	for _, addr := range addrs {
		req := remoting.NewRequest(remoting.RequestGetConsumeStats)
		req.ExtFields = append(req.ExtFields, remoting.Field{Key: protocol.FieldConsumerGroup, Value: group})
		if topic != "" {
			req.ExtFields = append(req.ExtFields, remoting.Field{Key: protocol.FieldTopic, Value: topic})
		}
		resp, err := a.call(ctx, addr, req)
		if err != nil {
			return nil, err
		}
		var stats struct {
			OffsetTable map[string]struct {
				BrokerOffset   int64 `json:"brokerOffset"`
				ConsumerOffset int64 `json:"consumerOffset"`
				LastTimestamp  int64 `json:"lastTimestamp"`
			} `json:"offsetTable"`
		}
		err = decodeQueueTable(resp.Body, &stats)
		resp.Release()
		if err != nil {
			return nil, fmt.Errorf("%w: consume stats from %s: %w", ErrBadResponse, addr, err)
		}
		for key, v := range stats.OffsetTable {
			mq, err := decodeQueueKey(key)
			if err != nil {
				return nil, fmt.Errorf("%w: consume stats from %s: %w", ErrBadResponse, addr, err)
			}
			out = append(out, QueueProgress{MessageQueue: mq, BrokerOffset: v.BrokerOffset, ConsumerOffset: v.ConsumerOffset,
				LastTimestamp: millisTime(v.LastTimestamp)})
		}
	}
	slices.SortFunc(out, func(x, y QueueProgress) int { return compareQueues(x.MessageQueue, y.MessageQueue) })
	return out, nil
}

// ViewMessageByQueueOffset reads the message at offset of mq: a PULL_MESSAGE of one message as
// ToolsConsumerGroup, without long polling or offset commit (RocketMQ's queryMsgByOffset). An
// offset with no message is ErrNotFound.
func (a *Admin) ViewMessageByQueueOffset(ctx context.Context, mq MessageQueue, offset int64) (MessageExt, error) {
	addr, err := a.c.brokerAddr(ctx, mq, true)
	if err != nil {
		return MessageExt{}, err
	}
	req := remoting.NewRequest(remoting.RequestPullMessage)
	req.ExtFields = append(req.ExtFields,
		remoting.Field{Key: protocol.FieldConsumerGroup, Value: ToolsConsumerGroup},
		remoting.Field{Key: protocol.FieldTopic, Value: mq.Topic},
		remoting.Field{Key: protocol.FieldQueueID, Value: strconv.Itoa(int(mq.QueueID))},
		remoting.Field{Key: protocol.FieldQueueOffset, Value: strconv.FormatInt(offset, 10)},
		remoting.Field{Key: protocol.FieldMaxMsgNums, Value: "1"},
		remoting.Field{Key: protocol.FieldSysFlag, Value: strconv.Itoa(protocol.PullFlagSubscription)},
		remoting.Field{Key: protocol.FieldCommitOffset, Value: "0"},
		remoting.Field{Key: protocol.FieldSuspendTimeoutMillis, Value: "0"},
		remoting.Field{Key: protocol.FieldSubscription, Value: "*"},
		remoting.Field{Key: protocol.FieldSubVersion, Value: "0"},
		remoting.Field{Key: protocol.FieldExpressionType, Value: expressionTypeTag},
	)
	resp, err := a.c.invoke(ctx, addr, req)
	if err != nil {
		return MessageExt{}, err
	}
	switch resp.ResponseCode() {
	case remoting.ResponseSuccess:
	case remoting.ResponsePullNotFound, remoting.ResponsePullOffsetMoved, remoting.ResponsePullRetryImmediately:
		min, _ := resp.GetInt64(protocol.FieldMinOffset)
		max, _ := resp.GetInt64(protocol.FieldMaxOffset)
		resp.Release()
		return MessageExt{}, fmt.Errorf("%w: no message at offset %d of %s (offsets %d to %d)", ErrNotFound, offset, mq, min, max)
	default:
		err := brokerError(addr, resp)
		resp.Release()
		return MessageExt{}, err
	}
	// The message aliases resp's body, left to the garbage collector.
	msgs, err := decodeRecords(nil, resp.Body, mq.BrokerName, mq.Topic)
	if err != nil {
		return MessageExt{}, err
	}
	if len(msgs) == 0 || msgs[0].QueueOffset != offset {
		return MessageExt{}, fmt.Errorf("%w: no message at offset %d of %s", ErrNotFound, offset, mq)
	}
	return msgs[0], nil
}

// OpenTransaction is an open transaction of a broker (MQSTORE_LIST_OPEN_TRANSACTIONS).
type OpenTransaction struct {
	BrokerAddr      string
	HalfOffset      int64  // commitlog offset of the half message: what Commit/RollbackTransaction take
	QueueOffset     int64  // its half-queue offset (tranStateTableOffset)
	OffsetMsgID     string // offset message id of the half message
	ProducerGroup   string
	Topic           string // the real topic
	QueueID         int32  // the real queue
	TransactionID   string
	StoreTime       time.Time
	Age             time.Duration
	CheckTimes      int
	LastCheck       time.Time // zero when never checked
	LastCheckResult string    // none, unknown, commit, rollback, failed
	ResumedFrom     int64     // commitlog offset of the discarded half message this resumes, or -1
}

// OpenTransactions lists the open transactions of the broker at brokerAddr, oldest first
// (mqstore's private MQSTORE_LIST_OPEN_TRANSACTIONS): at most max of them (0: the broker's
// default, 1000), and how many are open in all.
func (a *Admin) OpenTransactions(ctx context.Context, brokerAddr string, max int) ([]OpenTransaction, int, error) {
	req := remoting.NewRequest(remoting.RequestListOpenTransactions)
	if max > 0 {
		req.ExtFields = append(req.ExtFields, remoting.Field{Key: protocol.FieldMaxNum, Value: strconv.Itoa(max)})
	}
	resp, err := a.call(ctx, brokerAddr, req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Release()
	var body protocol.OpenTransactions
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		return nil, 0, fmt.Errorf("%w: open transactions from %s: %w", ErrBadResponse, brokerAddr, err)
	}
	out := make([]OpenTransaction, 0, len(body.Transactions))
	for _, t := range body.Transactions {
		out = append(out, OpenTransaction{
			BrokerAddr:      brokerAddr,
			HalfOffset:      t.CommitLogOffset,
			QueueOffset:     t.TranStateTableOffset,
			OffsetMsgID:     t.OffsetMsgID,
			ProducerGroup:   t.ProducerGroup,
			Topic:           t.Topic,
			QueueID:         t.QueueID,
			TransactionID:   t.TransactionID,
			StoreTime:       millisTime(t.StoreTimestamp),
			Age:             time.Duration(t.AgeMillis) * time.Millisecond,
			CheckTimes:      t.CheckTimes,
			LastCheck:       millisTime(t.LastCheckTimestamp),
			LastCheckResult: t.LastCheckResult,
			ResumedFrom:     t.ResumedFrom,
		})
	}
	return out, body.Total, nil
}

// Resolution is the outcome of an operator's commit or rollback.
type Resolution struct {
	// Changed is false when the transaction had already ended that way: nothing was written.
	Changed bool
	// Remark is the broker's word ("committed", "transaction already committed; nothing
	// changed", ...).
	Remark string
	// The delivered message of a commit that changed something.
	Topic       string
	QueueID     int32
	QueueOffset int64
	MsgID       string // offset message id
}

// CommitTransaction commits the open transaction whose half message is at commitlog offset
// halfOffset on the broker at brokerAddr (mqstore's private MQSTORE_COMMIT_HALF_MESSAGE), for
// a transaction whose producer is gone. It is idempotent: committing a committed transaction
// changes nothing (Resolution.Changed false). A rolled back, discarded or resumed transaction
// is refused (a *BrokerError with ILLEGAL_OPERATION); an offset holding no half message is
// ErrNotFound.
func (a *Admin) CommitTransaction(ctx context.Context, brokerAddr string, halfOffset int64) (Resolution, error) {
	return a.resolve(ctx, brokerAddr, halfOffset, remoting.RequestCommitHalfMessage)
}

// RollbackTransaction rolls back the open transaction whose half message is at halfOffset
// (mqstore's private MQSTORE_ROLLBACK_HALF_MESSAGE); the answers mirror CommitTransaction's.
func (a *Admin) RollbackTransaction(ctx context.Context, brokerAddr string, halfOffset int64) (Resolution, error) {
	return a.resolve(ctx, brokerAddr, halfOffset, remoting.RequestRollbackHalfMessage)
}

func (a *Admin) resolve(ctx context.Context, brokerAddr string, halfOffset int64, code remoting.RequestCode) (Resolution, error) {
	req := remoting.NewRequest(code)
	req.ExtFields = append(req.ExtFields, remoting.Field{Key: protocol.FieldCommitLogOffset, Value: strconv.FormatInt(halfOffset, 10)})
	resp, err := a.call(ctx, brokerAddr, req)
	if err != nil {
		return Resolution{}, err
	}
	defer resp.Release()
	res := Resolution{Remark: resp.Remark, Topic: resp.Ext(protocol.FieldTopic), MsgID: resp.Ext(protocol.FieldMsgID)}
	if res.Changed, err = resp.GetBool(protocol.FieldChanged); err != nil {
		return Resolution{}, fmt.Errorf("%w: %s: %w", ErrBadResponse, code, err)
	}
	if res.Topic != "" {
		q, err1 := resp.GetInt32(protocol.FieldQueueID)
		o, err2 := resp.GetInt64(protocol.FieldQueueOffset)
		if err := errors.Join(err1, err2); err != nil {
			return Resolution{}, fmt.Errorf("%w: %s: %w", ErrBadResponse, code, err)
		}
		res.QueueID, res.QueueOffset = q, o
	}
	return res, nil
}

// ResumeCheckHalfMessage puts a half message discarded after too many checks back to be
// checked again (RESUME_CHECK_HALF_MESSAGE, 323). offsetMsgID is the offset message id of the
// discarded half message or of its copy in TRANS_CHECK_MAX_TIME_TOPIC; the broker it names is
// asked. It returns the broker's remark, which names the new half message's offsets.
func (a *Admin) ResumeCheckHalfMessage(ctx context.Context, offsetMsgID string) (string, error) {
	addr, err := msgIDBroker(offsetMsgID)
	if err != nil {
		return "", err
	}
	req := remoting.NewRequest(remoting.RequestResumeCheckHalfMessage)
	req.ExtFields = append(req.ExtFields, remoting.Field{Key: protocol.FieldMsgID, Value: offsetMsgID})
	resp, err := a.call(ctx, addr, req)
	if err != nil {
		return "", err
	}
	defer resp.Release()
	return resp.Remark, nil
}

// msgIDBroker returns the broker address an offset message id names.
func msgIDBroker(offsetMsgID string) (string, error) {
	host, _, err := message.ParseOffsetMsgID(offsetMsgID)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	return host.String(), nil
}

// masters returns the master addresses of brokers, sorted by broker name.
func masters(brokers []namesrv.BrokerData) []string {
	sorted := slices.Clone(brokers)
	slices.SortFunc(sorted, func(x, y namesrv.BrokerData) int { return strings.Compare(x.BrokerName, y.BrokerName) })
	var out []string
	for _, b := range sorted {
		if addr, ok := b.BrokerAddrs[0]; ok {
			out = append(out, addr)
		}
	}
	return out
}

func compareQueues(x, y MessageQueue) int {
	if c := strings.Compare(x.Topic, y.Topic); c != 0 {
		return c
	}
	if c := strings.Compare(x.BrokerName, y.BrokerName); c != 0 {
		return c
	}
	return int(x.QueueID) - int(y.QueueID)
}

// millisTime converts ms since the epoch to a time; 0 (or less) is the zero time.
func millisTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// decodeQueueTable decodes a fastjson body whose map keys may be objects (RocketMQ's
// TopicStatsTable and ConsumeStats, keyed by MessageQueue) into v: object keys become strings
// holding the key's JSON text (fastjsonkeys.Quote), which decodeQueueKey reads.
func decodeQueueTable(body []byte, v any) error {
	text, err := fastjsonkeys.Quote(body)
	if err != nil {
		return err
	}
	return json.Unmarshal(text, v)
}

// decodeQueueKey reads a MessageQueue key quoted by fastjsonkeys.Quote.
func decodeQueueKey(key string) (MessageQueue, error) {
	var mq struct {
		Topic      string `json:"topic"`
		BrokerName string `json:"brokerName"`
		QueueID    *int32 `json:"queueId"`
	}
	if err := json.Unmarshal([]byte(key), &mq); err != nil || mq.QueueID == nil || mq.Topic == "" {
		return MessageQueue{}, fmt.Errorf("map key %.100q is not a MessageQueue", key)
	}
	return MessageQueue{Topic: mq.Topic, BrokerName: mq.BrokerName, QueueID: *mq.QueueID}, nil
}
