package broker

import (
	"fmt"

	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// DELETE_SUBSCRIPTIONGROUP (207): forget a consumer group's config (ext groupName; with
// removeOffset=true its committed offsets too, as RocketMQ does). The change is written to
// subscriptionGroup.json (and consumerOffset.json) before the reply. Deleting a group that does
// not exist succeeds, as in RocketMQ, with the remark "subscription group X did not exist" (and
// ext existed=false, an mqstore addition; true otherwise). A
// group that is still consuming gets a default config again at its next heartbeat or pull when
// autoCreateSubscriptionGroup is on.
func (b *Broker) handleDeleteSubscriptionGroup(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	group, err := req.GetString(protocol.FieldGroupName)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldGroupName, err))
	}
	removeOffset := req.Ext(protocol.FieldRemoveOffset) == "true"
	existed := b.groups.remove(group)
	if err := b.groups.commit(); err != nil {
		return remoting.NewResponse(req, remoting.ResponseSystemError, fmt.Sprintf("subscription group %s: deletion not saved: %v", group, err))
	}
	if removeOffset {
		b.offsets.removeGroup(group)
		if err := b.offsets.persist(false); err != nil {
			return remoting.NewResponse(req, remoting.ResponseSystemError, fmt.Sprintf("subscription group %s: offsets removal not saved: %v", group, err))
		}
	}
	b.log.Info("broker: subscription group deleted", "group", group, "existed", existed, "removeOffset", removeOffset,
		"from", c.RemoteAddrString())
	remark := ""
	if !existed {
		remark = fmt.Sprintf("subscription group %s did not exist", group)
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, remark)
	resp.SetExtBool(protocol.FieldExisted, existed)
	return resp
}

// remove forgets a group's config and reports whether it existed.
func (g *groupTable) remove(name string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.groups[name]; !ok {
		return false
	}
	delete(g.groups, name)
	g.version = namesrv.DataVersion{Timestamp: g.now().UnixMilli(), Counter: g.version.Counter + 1}
	g.file.changed()
	g.dirty.mark(g.repl, name)
	return true
}

// removeGroup forgets a group's offsets of every topic.
func (o *offsetTable) removeGroup(group string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for k := range o.offsets {
		if k.group == group {
			o.markAllLocked(k)
			delete(o.offsets, k)
			o.dirty = true
		}
	}
}
