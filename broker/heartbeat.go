package broker

import (
	"encoding/json"
	"fmt"

	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/remoting"
)

// HEART_BEAT (34): a client instance announces its producer and consumer groups (body:
// HeartbeatData JSON, clientgo.md §6). The broker records (group, clientID) → connection, sets
// the connection's client id, takes each consumer group's subscriptions (tag codes computed
// here), creates the group's config and its retry topic %RETRY%<group> when allowed, and tells
// the group's consumers to rebalance (NOTIFY_CONSUMER_IDS_CHANGED) when a client joined.
// Clients silent for channelExpiredTimeout, or whose connection closed, are dropped the same way.
//
// A retry topic the heartbeat created is registered with the name servers before the reply, as
// RocketMQ does, so a client that resolves its route right after the heartbeat finds it (a failed
// registration is logged; the periodic registration retries it). The client's language and
// version (request header) are kept on the connection for the connection lists (203, 204).
func (b *Broker) handleHeartBeat(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	var hb heartbeatData
	if err := json.Unmarshal(req.Body, &hb); err != nil {
		return remoting.NewResponse(req, remoting.ResponseSystemError, fmt.Sprintf("bad heartbeat body: %v", err))
	}
	if hb.ClientID == "" {
		return remoting.NewResponse(req, remoting.ResponseSystemError, "heartbeat without clientID")
	}
	c.SetClientID(hb.ClientID)
	refusal, remark := b.refuseInvalidSubscriptions(&hb) // check_client_config.go
	c.SetValue(clientVersionKey{}, clientVersion{language: req.Language, version: req.Version})
	now := b.now()
	for _, p := range hb.ProducerDataSet {
		if p.GroupName != "" {
			b.clients.registerProducer(p.GroupName, hb.ClientID, c, now)
		}
	}
	for i := range hb.ConsumerDataSet {
		d := &hb.ConsumerDataSet[i]
		if d.GroupName == "" {
			continue
		}
		gc, ok, err := b.groups.ensure(d.GroupName, b.cfg.AutoCreateSubscriptionGroup)
		if err != nil {
			return errorResponse(req, err)
		}
		if ok {
			// ensureTopic registers a created retry topic before it returns.
			_, _, err := b.ensureTopic(namesrv.TopicConfig{
				TopicName:       RetryTopicPrefix + d.GroupName,
				ReadQueueNums:   max(gc.RetryQueueNums, 1),
				WriteQueueNums:  max(gc.RetryQueueNums, 1),
				Perm:            namesrv.PermRW,
				TopicFilterType: "SINGLE_TAG",
			})
			if err != nil {
				return errorResponse(req, err)
			}
		}
		if b.clients.registerConsumer(hb.ClientID, c, d, now) {
			b.log.Info("broker: consumer joined", "group", d.GroupName, "client", hb.ClientID, "remote", c.RemoteAddrString())
			b.notifyConsumerIDsChanged(d.GroupName)
		}
	}
	return remoting.NewResponse(req, refusal, remark)
}
