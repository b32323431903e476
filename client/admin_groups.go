package client

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// This file holds the Admin calls about consumer and producer groups: subscription group
// configs (200, 207), connection lists (203, 204), offset resets (222) and consumer running info
// (307). docs/PROTOCOL.md describes the codes.

// UpdateSubscriptionGroup creates or replaces a consumer group's config on the broker at
// brokerAddr (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP). Start from
// protocol.DefaultSubscriptionGroupConfig for RocketMQ's defaults.
func (a *Admin) UpdateSubscriptionGroup(ctx context.Context, brokerAddr string, cfg protocol.SubscriptionGroupConfig) error {
	if cfg.GroupName == "" {
		return fmt.Errorf("%w: empty group name", ErrInvalidOption)
	}
	body, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	req := remoting.NewRequest(remoting.RequestUpdateAndCreateSubscriptionGroup)
	req.Body = body
	resp, err := a.call(ctx, brokerAddr, req)
	if err != nil {
		return fmt.Errorf("update subscription group %s: %w", cfg.GroupName, err)
	}
	resp.Release()
	return nil
}

// DeleteSubscriptionGroup forgets a consumer group's config on the broker at brokerAddr
// (DELETE_SUBSCRIPTIONGROUP), with its committed offsets when removeOffset is set. existed
// reports whether the broker knew the group.
func (a *Admin) DeleteSubscriptionGroup(ctx context.Context, brokerAddr, group string, removeOffset bool) (existed bool, err error) {
	if group == "" {
		return false, fmt.Errorf("%w: empty group name", ErrInvalidOption)
	}
	req := remoting.NewRequest(remoting.RequestDeleteSubscriptionGroup)
	req.ExtFields = append(req.ExtFields,
		remoting.Field{Key: protocol.FieldGroupName, Value: group},
		remoting.Field{Key: protocol.FieldRemoveOffset, Value: strconv.FormatBool(removeOffset)})
	resp, err := a.call(ctx, brokerAddr, req)
	if err != nil {
		return false, fmt.Errorf("delete subscription group %s: %w", group, err)
	}
	defer resp.Release()
	return resp.Ext(protocol.FieldExisted) != "false", nil
}

// ConsumerConnection returns a consumer group's live clients and subscriptions
// (GET_CONSUMER_CONNECTION_LIST), gathered from every master broker of the group's retry topic
// route, or of the cluster when that topic has none (each client heartbeats every broker it
// uses), connections merged by client id and sorted. A group with no live client anywhere is a *BrokerError with code CONSUMER_NOT_ONLINE.
func (a *Admin) ConsumerConnection(ctx context.Context, group string) (protocol.ConsumerConnection, error) {
	var out protocol.ConsumerConnection
	if group == "" {
		return out, fmt.Errorf("%w: empty consumer group", ErrInvalidOption)
	}
	addrs, err := a.groupBrokers(ctx, group)
	if err != nil {
		return out, fmt.Errorf("consumer group %s: %w", group, err)
	}
	var lastErr error
	found := false
	for _, addr := range addrs {
		req := remoting.NewRequest(remoting.RequestGetConsumerConnectionList)
		req.ExtFields = append(req.ExtFields, remoting.Field{Key: protocol.FieldConsumerGroup, Value: group})
		var cc protocol.ConsumerConnection
		if err := a.callJSON(ctx, addr, req, &cc); err != nil {
			lastErr = err
			continue
		}
		if !found {
			out, found = cc, true
			continue
		}
		out.ConnectionSet = append(out.ConnectionSet, cc.ConnectionSet...)
		for topic, sub := range cc.SubscriptionTable {
			out.SubscriptionTable[topic] = sub
		}
	}
	if !found {
		return out, fmt.Errorf("consumer group %s: %w", group, lastErr)
	}
	out.ConnectionSet = mergeConnections(out.ConnectionSet)
	return out, nil
}

// ProducerConnection returns a producer group's live clients (GET_PRODUCER_CONNECTION_LIST)
// from the master brokers of topic's route (a producer heartbeats the brokers it sends to),
// merged by client id and sorted.
func (a *Admin) ProducerConnection(ctx context.Context, group, topic string) (protocol.ProducerConnection, error) {
	var out protocol.ProducerConnection
	if group == "" || topic == "" {
		return out, fmt.Errorf("%w: a producer group and a topic are needed", ErrInvalidOption)
	}
	addrs, err := a.routeMasters(ctx, topic)
	if err != nil {
		return out, err
	}
	var lastErr error
	found := false
	for _, addr := range addrs {
		req := remoting.NewRequest(remoting.RequestGetProducerConnectionList)
		req.ExtFields = append(req.ExtFields, remoting.Field{Key: protocol.FieldProducerGroup, Value: group})
		var pc protocol.ProducerConnection
		if err := a.callJSON(ctx, addr, req, &pc); err != nil {
			lastErr = err
			continue
		}
		found = true
		out.ConnectionSet = append(out.ConnectionSet, pc.ConnectionSet...)
	}
	if !found {
		return out, fmt.Errorf("producer group %s: %w", group, lastErr)
	}
	out.ConnectionSet = mergeConnections(out.ConnectionSet)
	return out, nil
}

// OffsetReset is the outcome of ResetOffsetByTime: the new offset of every queue, sorted, and
// how many live consumers the brokers told.
type OffsetReset struct {
	Offsets  []QueueOffset
	Notified int
}

// QueueOffset is an offset in one queue.
type QueueOffset struct {
	MessageQueue
	Offset int64
}

// ResetOffsetByTime moves group's position on topic to the first message stored at or after
// t on every broker of the topic's route (INVOKE_BROKER_TO_RESET_OFFSET); a zero t means the end
// of every queue (skip the backlog). Without force a queue only moves back. Each broker commits
// the offsets and tells the group's live consumers (RESET_CONSUMER_CLIENT_OFFSET), which rewind.
func (a *Admin) ResetOffsetByTime(ctx context.Context, group, topic string, t time.Time, force bool) (OffsetReset, error) {
	var out OffsetReset
	if group == "" || topic == "" {
		return out, fmt.Errorf("%w: a consumer group and a topic are needed", ErrInvalidOption)
	}
	ts := int64(-1)
	if !t.IsZero() {
		ts = t.UnixMilli()
	}
	addrs, err := a.routeMasters(ctx, topic)
	if err != nil {
		return out, err
	}
	for _, addr := range addrs {
		req := remoting.NewRequest(remoting.RequestInvokeBrokerToResetOffset)
		req.ExtFields = append(req.ExtFields,
			remoting.Field{Key: protocol.FieldTopic, Value: topic},
			remoting.Field{Key: protocol.FieldGroup, Value: group},
			remoting.Field{Key: protocol.FieldTimestamp, Value: strconv.FormatInt(ts, 10)},
			remoting.Field{Key: protocol.FieldIsForce, Value: strconv.FormatBool(force)})
		resp, err := a.call(ctx, addr, req)
		if err != nil {
			return out, fmt.Errorf("reset offset of %s on %s: %w", group, topic, err)
		}
		var table struct {
			OffsetTable map[string]int64 `json:"offsetTable"`
		}
		err = decodeQueueTable(resp.Body, &table)
		if n, cerr := resp.GetInt64(protocol.FieldNotified); cerr == nil {
			out.Notified += int(n)
		}
		resp.Release()
		if err != nil {
			return out, fmt.Errorf("%w: reset offset from %s: %w", ErrBadResponse, addr, err)
		}
		for key, off := range table.OffsetTable {
			mq, err := decodeQueueKey(key)
			if err != nil {
				return out, fmt.Errorf("%w: reset offset from %s: %w", ErrBadResponse, addr, err)
			}
			out.Offsets = append(out.Offsets, QueueOffset{MessageQueue: mq, Offset: off})
		}
	}
	slices.SortFunc(out.Offsets, func(x, y QueueOffset) int { return compareQueues(x.MessageQueue, y.MessageQueue) })
	return out, nil
}

// ConsumerRunningInfo asks one consumer client, through a broker it is connected to, for its
// running info (GET_CONSUMER_RUNNING_INFO, relayed by the broker): the client's JSON
// (ConsumerRunningInfo: properties, subscriptionSet, mqTable, statusTable, jstack), as it is.
func (a *Admin) ConsumerRunningInfo(ctx context.Context, group, clientID string, jstack bool) ([]byte, error) {
	addrs, err := a.groupBrokers(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("consumer group %s: %w", group, err)
	}
	var lastErr error
	for _, addr := range addrs {
		req := remoting.NewRequest(remoting.RequestGetConsumerRunningInfo)
		req.ExtFields = append(req.ExtFields,
			remoting.Field{Key: protocol.FieldConsumerGroup, Value: group},
			remoting.Field{Key: protocol.FieldRunningClientID, Value: clientID},
			remoting.Field{Key: protocol.FieldJstackEnable, Value: strconv.FormatBool(jstack)})
		resp, err := a.call(ctx, addr, req)
		if err != nil {
			lastErr = err
			continue
		}
		body := slices.Clone(resp.Body)
		resp.Release()
		return body, nil
	}
	return nil, fmt.Errorf("consumer %s of %s: %w", clientID, group, lastErr)
}

// routeMasters returns the master addresses of topic's route.
func (a *Admin) routeMasters(ctx context.Context, topic string) ([]string, error) {
	route, err := a.c.fetchRoute(ctx, topic)
	if err != nil {
		return nil, err
	}
	addrs := masters(route.BrokerDatas)
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%w: no master broker serves %s", ErrTopicNotExist, topic)
	}
	return addrs, nil
}

// groupBrokers returns the master brokers of a consumer group's retry topic, or every master
// broker when the name server has no route for it.
func (a *Admin) groupBrokers(ctx context.Context, group string) ([]string, error) {
	if addrs, err := a.routeMasters(ctx, "%RETRY%"+group); err == nil {
		return addrs, nil
	}
	brokers, _, err := a.ClusterInfo(ctx)
	if err != nil {
		return nil, err
	}
	var all []namesrv.BrokerData
	for _, b := range brokers {
		all = append(all, b)
	}
	return masters(all), nil
}

// callJSON calls addr and decodes a SUCCESS answer's JSON body into v.
func (a *Admin) callJSON(ctx context.Context, addr string, req *remoting.Command, v any) error {
	resp, err := a.call(ctx, addr, req)
	if err != nil {
		return err
	}
	defer resp.Release()
	if err := json.Unmarshal(resp.Body, v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadResponse, addr, err)
	}
	return nil
}

// mergeConnections drops repeated client ids and sorts by client id.
func mergeConnections(cs []protocol.Connection) []protocol.Connection {
	slices.SortFunc(cs, func(x, y protocol.Connection) int { return strings.Compare(x.ClientID, y.ClientID) })
	return slices.CompactFunc(cs, func(x, y protocol.Connection) bool { return x.ClientID == y.ClientID })
}
