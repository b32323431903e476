package client

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mqstore/mqstore/remoting"
)

// DeleteTopic deletes topic as RocketMQ's mqadmin deleteTopic does: from the master of every
// broker group in its route (DELETE_TOPIC_IN_BROKER: the topic's config, its queues and the
// groups' offsets of it; records stay in the commitlog until retention), then from every name
// server (DELETE_TOPIC_IN_NAMESRV). A topic without a route is still removed from the name
// servers; every failure is reported, joined.
func (a *Admin) DeleteTopic(ctx context.Context, topic string) error {
	if topic == "" {
		return fmt.Errorf("%w: empty topic", ErrInvalidOption)
	}
	var errs []error
	route, err := a.c.fetchRoute(ctx, topic)
	if err != nil && !errors.Is(err, ErrTopicNotExist) {
		errs = append(errs, err)
	}
	var masters []string
	for _, bd := range route.BrokerDatas {
		if addr, ok := bd.BrokerAddrs[0]; ok && !slices.Contains(masters, addr) {
			masters = append(masters, addr)
		}
	}
	for _, addr := range masters {
		errs = append(errs, a.deleteTopicAt(ctx, addr, remoting.RequestDeleteTopicInBroker, topic))
	}
	for _, addr := range a.c.cfg.nameServers {
		errs = append(errs, a.deleteTopicAt(ctx, addr, remoting.RequestDeleteTopicInNameServer, topic))
	}
	a.c.dropRoute(topic)
	return errors.Join(errs...)
}

func (a *Admin) deleteTopicAt(ctx context.Context, addr string, code remoting.RequestCode, topic string) error {
	req := remoting.NewRequest(code)
	req.ExtFields = append(req.ExtFields, remoting.Field{Key: fieldTopic, Value: topic})
	resp, err := a.call(ctx, addr, req)
	if err != nil {
		return fmt.Errorf("delete topic %s: %w", topic, err)
	}
	resp.Release()
	return nil
}
