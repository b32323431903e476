package broker

import (
	"bytes"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// CHECK_TRANSACTION_STATE (39) is a request a broker sends to a producer (transaction.go,
// transactionChecker). A follower of a replicated group also receives it, from the leader, on
// its forwarding client (forward.go): the leader asks the follower because a half message came
// through it, or because the follower declared itself a producer of the half's group. The
// follower relays the check, unchanged (ext fields tranStateTableOffset, commitLogOffset, msgId,
// transactionId, offsetMsgId, brokerName; body the half message as one record, whose PGROUP the
// client requires to be its own group), oneway to
//
//	the client connection the half came on (txnOrigins, by commitLogOffset), while it is open,
//	or one of the producers of the group connected to this follower, in turn
//
// as the leader would (transactionChecker.channels), other replicas' forwarding clients left
// out. The producer answers END_TRANSACTION to this follower, which forwards it to the leader.
// When no producer of the group is connected here the check is dropped (the leader counts it,
// as RocketMQ counts a check sent to a producer that has just gone) and the follower withdraws
// the group at the leader at once, so the next checks go to the group's other producers.

// relayCheck is the forwarding client's handler of CHECK_TRANSACTION_STATE.
func (f *forwarder) relayCheck(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	defer req.Release()
	b := f.b
	offset, err := req.GetInt64(protocol.FieldCommitLogOffset)
	if err != nil {
		b.log.Warn("broker: a transaction check from the leader without commitLogOffset", "leader", c.RemoteAddrString(), "err", err)
		return nil
	}
	var r message.Record
	if _, err := message.DecodeRecord(req.Body, &r, false); err != nil {
		b.log.Warn("broker: a transaction check from the leader with a bad body", "leader", c.RemoteAddrString(), "commitLogOffset", offset, "err", err)
		return nil
	}
	group, _ := r.Properties.Get(message.PropertyProducerGroup)
	for _, p := range b.checker.channels(group, offset) {
		if isRelayClient(p.ClientID()) {
			continue
		}
		relay := remoting.NewRequest(remoting.RequestCheckTransactionState)
		relay.Language = req.Language
		relay.Version = req.Version
		relay.ExtFields = append(relay.ExtFields[:0], req.ExtFields...)
		relay.Body = bytes.Clone(req.Body) // req is released on return, before the write
		if err := p.InvokeOneway(relay); err != nil {
			b.log.Debug("broker: transaction check not relayed", "group", group, "remote", p.RemoteAddrString(), "err", err)
			continue
		}
		b.log.Debug("broker: transaction check relayed", "group", group, "commitLogOffset", offset,
			"leader", c.RemoteAddrString(), "remote", p.RemoteAddrString())
		return nil
	}
	b.log.Info("broker: a transaction check from the leader found no producer of the group here; withdrawing the group",
		"group", group, "commitLogOffset", offset, "leader", c.RemoteAddrString())
	select {
	case f.announce <- struct{}{}:
	default:
	}
	return nil
}
