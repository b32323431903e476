package client

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// DeleteTopic deletes topic as RocketMQ's mqadmin deleteTopic does: from every master broker the
// name servers list (DELETE_TOPIC_IN_BROKER: the topic's config, its queues and the groups'
// offsets of it; records stay in the commitlog until retention; a broker without the topic
// answers success), then from every name server (DELETE_TOPIC_IN_NAMESRV). The masters come from
// the cluster info, not the topic's route, so a topic a broker has not registered yet is deleted
// too. Every failure is reported, joined.
func (a *Admin) DeleteTopic(ctx context.Context, topic string) error {
	if topic == "" {
		return fmt.Errorf("%w: empty topic", ErrInvalidOption)
	}
	brokers, _, err := a.ClusterInfo(ctx)
	if err != nil {
		return fmt.Errorf("delete topic %s: %w", topic, err)
	}
	var masters []string
	for _, bd := range brokers {
		if addr, ok := bd.BrokerAddrs[0]; ok {
			masters = append(masters, addr)
		}
	}
	slices.Sort(masters)
	var errs []error
	for _, addr := range slices.Compact(masters) {
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
	req.ExtFields = append(req.ExtFields, remoting.Field{Key: protocol.FieldTopic, Value: topic})
	resp, err := a.call(ctx, addr, req)
	if err != nil {
		return fmt.Errorf("delete topic %s: %w", topic, err)
	}
	resp.Release()
	return nil
}
