package broker

import (
	"encoding/json"
	"fmt"

	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200): create or replace a consumer group's config (body:
// SubscriptionGroupConfig JSON, protocol/subscription_group.go; fields missing from the body keep
// RocketMQ's defaults). The config is written to subscriptionGroup.json before the reply, so an
// acknowledged change survives a crash. The change applies at once: pulls of a group with
// consumeEnable=false are refused, retryMaxTimes bounds its retries, notifyConsumerIdsChangedEnable
// gates its rebalance notices. Refused (INVALID_PARAMETER): a body that is not JSON, a missing or
// invalid group name, negative retryQueueNums or retryMaxTimes.
func (b *Broker) handleUpdateAndCreateSubscriptionGroup(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	var probe struct {
		GroupName string `json:"groupName"`
	}
	if err := json.Unmarshal(req.Body, &probe); err != nil {
		return remoting.NewResponse(req, remoting.ResponseInvalidParameter, fmt.Sprintf("bad subscription group body: %v", err))
	}
	if err := validateTopic(probe.GroupName); err != nil {
		return remoting.NewResponse(req, remoting.ResponseInvalidParameter, fmt.Sprintf("bad groupName: %v", err))
	}
	cfg := protocol.DefaultSubscriptionGroupConfig(probe.GroupName)
	if err := json.Unmarshal(req.Body, &cfg); err != nil {
		return remoting.NewResponse(req, remoting.ResponseInvalidParameter, fmt.Sprintf("bad subscription group body: %v", err))
	}
	if cfg.RetryQueueNums < 0 || cfg.RetryMaxTimes < 0 {
		return remoting.NewResponse(req, remoting.ResponseInvalidParameter, "retryQueueNums and retryMaxTimes must not be negative")
	}
	created := b.groups.update(cfg)
	if err := b.groups.commit(); err != nil {
		return remoting.NewResponse(req, remoting.ResponseSystemError, fmt.Sprintf("subscription group %s not saved: %v", cfg.GroupName, err))
	}
	b.log.Info("broker: subscription group updated", "group", cfg.GroupName, "created", created, "from", c.RemoteAddrString())
	return remoting.NewResponse(req, remoting.ResponseSuccess, "")
}

// update stores a group's config, replacing any, and reports whether the group is new.
func (g *groupTable) update(gc GroupConfig) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, existed := g.groups[gc.GroupName]
	g.groups[gc.GroupName] = gc
	g.version = namesrv.DataVersion{Timestamp: g.now().UnixMilli(), Counter: g.version.Counter + 1}
	g.file.changed()
	g.dirty.mark(g.repl, gc.GroupName)
	return !existed
}
