package broker

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// TestForwardedHalfCheckRelayed: a half message a follower forwarded came to the leader on the
// follower's forwarding connection. The follower declares itself to the leader as a producer of
// the group of the client connected to it, relays the leader's CHECK_TRANSACTION_STATE to the
// client that sent the half, and forwards the client's END_TRANSACTION, which commits it; once
// the client has gone, the follower withdraws the group at the leader. (Before the relay, checks
// sent to the forwarding connection were dropped, yet counted, found by e2e/chaos.)
func TestForwardedHalfCheckRelayed(t *testing.T) {
	_, replicas := startReplicasWithNamesrv(t, "", func(c *Config) {
		c.TransactionTimeOut = 500
		c.TransactionCheckInterval = 100
	})
	leader := readyLeader(t, replicas)
	_, follower := aFollower(replicas, leader)
	producer, err := remoting.NewClient(remoting.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	type check struct {
		from   string
		offset int64
		group  string
	}
	checks := make(chan check, 64)
	producer.RegisterHandler(remoting.RequestCheckTransactionState, func(c *remoting.Conn, req *remoting.Command) *remoting.Command {
		defer req.Release()
		off, _ := req.GetInt64(protocol.FieldCommitLogOffset)
		var r message.Record
		if _, err := message.DecodeRecord(req.Body, &r, false); err != nil {
			t.Errorf("check body: %v", err)
		}
		group, _ := r.Properties.Get(message.PropertyProducerGroup)
		checks <- check{from: c.RemoteAddrString(), offset: off, group: group}
		return nil
	})
	half := func(addr, group string) *remoting.Command {
		req := remoting.NewRequest(remoting.RequestSendMessage)
		args := sendArgs("FwdTxn", 0, props(message.PropertyTransactionPrepared, "true", message.PropertyProducerGroup, group))
		for i := 0; i+1 < len(args); i += 2 {
			req.SetExt(args[i], args[i+1])
		}
		req.SetExt("producerGroup", group)
		req.SetExt("sysFlag", strconv.Itoa(int(message.SetTransactionType(0, message.TransactionPreparedType))))
		req.Body = []byte("half")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := producer.Invoke(ctx, addr, req)
		if err != nil {
			t.Fatalf("SEND to %s: %v", addr, err)
		}
		t.Cleanup(resp.Release)
		return resp
	}
	var resp *remoting.Command
	waitReplicas(t, "a half through a follower acknowledged", func() bool {
		resp = half(follower.Addr(), "fwd-pg")
		if resp.ResponseCode() == remoting.ResponseServiceNotAvailable {
			return false
		}
		expect(t, resp, remoting.ResponseSuccess)
		return true
	})
	_, offset, err := message.ParseOffsetMsgID(resp.Ext(protocol.FieldMsgID))
	if err != nil {
		t.Fatal(err)
	}
	// A second half, left open.
	second := half(follower.Addr(), "fwd-pg")
	expect(t, second, remoting.ResponseSuccess)
	_, secondOffset, err := message.ParseOffsetMsgID(second.Ext(protocol.FieldMsgID))
	if err != nil {
		t.Fatal(err)
	}
	relay := relayClientID("broker-r", follower.replica.self.Name)
	declared := func() bool {
		return slices.ContainsFunc(leader.clients.producerChannels("fwd-pg"), func(p producerChannel) bool { return p.clientID == relay })
	}
	waitReplicas(t, "the follower to declare itself a producer of the group at the leader", declared)

	timeout := time.After(20 * time.Second)
	for got := (check{}); got.offset != offset; {
		select {
		case got = <-checks:
		case <-timeout:
			t.Fatal("no check of the forwarded half reached the producer")
		}
		if got.from != follower.Addr() || got.offset != offset && got.offset != secondOffset || got.group != "fwd-pg" {
			t.Fatalf("check %+v, want from follower %s for the half at %d or %d of fwd-pg", got, follower.Addr(), offset, secondOffset)
		}
	}
	// The producer answers as rocketmq-client-go does: END_TRANSACTION, oneway, to the replica
	// the check came from.
	end := remoting.NewRequest(remoting.RequestEndTransaction)
	for _, kv := range [][2]string{
		{protocol.FieldProducerGroup, "fwd-pg"}, {protocol.FieldTranStateTableOffset, resp.Ext(protocol.FieldQueueOffset)},
		{protocol.FieldCommitLogOffset, strconv.FormatInt(offset, 10)}, {protocol.FieldCommitOrRollback, strconv.Itoa(int(message.TransactionCommitType))},
		{protocol.FieldFromTransactionCheck, "true"}, {protocol.FieldMsgID, resp.Ext(protocol.FieldMsgID)},
	} {
		end.SetExt(kv[0], kv[1])
	}
	if err := producer.InvokeOneway(follower.Addr(), end); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, "the commit answered through the follower to reach the leader", func() bool {
		max := leader.call(remoting.RequestGetMaxOffset, nil, protocol.FieldTopic, "FwdTxn", protocol.FieldQueueID, "0")
		return max.ResponseCode() == remoting.ResponseSuccess && extInt(t, max, protocol.FieldOffset) == 1
	})

	if err := producer.Close(); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, "the follower to withdraw the group once its producer left", func() bool { return !declared() })
	// The open half's origin is still the follower's connection, which is not asked any more:
	// its checks wait for a producer of the group (uncounted) instead of going where none answers.
	if o, ok := leader.origins.get(secondOffset); !ok || !o.forwarded || connDone(o.conn) {
		t.Fatalf("the leader's origin of the open forwarded half: %+v %v, want the follower's open connection", o, ok)
	}
	if ch := leader.checker.channels("fwd-pg", secondOffset); len(ch) != 0 {
		t.Fatalf("checks of the open half would go to %d connections after the follower withdrew the group, want none", len(ch))
	}
}
