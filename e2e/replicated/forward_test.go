package replicated

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/proctest"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// rawSend sends SEND_MESSAGE (10) with body to queue 0 of topic at addr, as a RocketMQ client
// would (with remark, which clients leave empty), and returns the response.
func rawSend(t *testing.T, rc *remoting.Client, addr, topic, body, remark string) (*remoting.Command, error) {
	t.Helper()
	req := remoting.NewRequest(remoting.RequestSendMessage)
	req.Remark = remark
	for _, f := range [][2]string{
		{protocol.FieldProducerGroup, "forward-p"}, {protocol.FieldTopic, topic},
		{protocol.FieldDefaultTopic, namesrv.AutoCreateTopic}, {protocol.FieldDefaultTopicQueueNums, "4"},
		{protocol.FieldQueueID, "0"}, {protocol.FieldSysFlag, "0"},
		{protocol.FieldBornTimestamp, strconv.FormatInt(time.Now().UnixMilli(), 10)}, {protocol.FieldFlag, "0"},
		{protocol.FieldProperties, ""}, {protocol.FieldReconsumeTimes, "0"}, {protocol.FieldUnitMode, "false"},
		{protocol.FieldBatch, "false"},
	} {
		req.SetExt(f[0], f[1])
	}
	req.Body = []byte(body)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	return rc.Invoke(ctx, addr, req)
}

// rawInvoke sends a request of code with fields to addr and returns the response.
func rawInvoke(rc *remoting.Client, addr string, code remoting.RequestCode, fields map[string]string) (*remoting.Command, error) {
	req := remoting.NewRequest(code)
	for k, v := range fields {
		req.SetExt(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	return rc.Invoke(ctx, addr, req)
}

// TestFollowerForwardsWrites: requests sent straight to a follower, over the remoting protocol,
// are forwarded to the leader and answered with the leader's response under the request's opaque
// (a SEND that reads back from the leader at the offset the answer names, a topic creation the
// leader registers, a consumer offset the leader answers). Once the group has lost its quorum,
// the survivor answers SEND with SERVICE_NOT_AVAILABLE (14) naming the state.
func TestFollowerForwardsWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const brokerName, topic = "broker-f", "Forwarded"
	ns := startNamesrv(t)
	replicas := startGroup(t, group{brokerName: brokerName, namesrvs: []string{ns}, topics: []string{topic}})
	admin, err := client.NewAdmin(client.WithNameServer(ns), client.WithInstanceName(proctest.Instance("admin")), client.WithCallTimeout(8*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	leader := waitLeader(t, admin, brokerName, "", replicas)
	var followers []*replica
	for _, r := range replicas {
		if r != leader {
			followers = append(followers, r)
		}
	}
	rc, err := remoting.NewClient(remoting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()

	// SEND to a follower. It may answer 14 until it has learned the leader's client address
	// from the name server.
	var resp *remoting.Command
	waitFor(t, 10*time.Second, "a SEND to follower "+followers[0].addr+" acknowledged", func() bool {
		var err error
		if resp, err = rawSend(t, rc, followers[0].addr, topic, "via-follower", ""); err != nil {
			t.Fatalf("SEND to follower %s: %v", followers[0].addr, err)
		}
		if resp.ResponseCode() == remoting.ResponseServiceNotAvailable {
			t.Logf("follower: %s %s", resp.ResponseCode(), resp.Remark)
			resp.Release()
			return false
		}
		return true
	})
	if resp.ResponseCode() != remoting.ResponseSuccess {
		t.Fatalf("SEND to follower %s: %s %s", followers[0].addr, resp.ResponseCode(), resp.Remark)
	}
	offset, err := resp.GetInt64(protocol.FieldQueueOffset)
	if err != nil || resp.Ext(protocol.FieldMsgID) == "" {
		t.Fatalf("SEND answer without queueOffset or msgId: %v %v", resp, err)
	}
	resp.Release()
	pc, err := client.NewPullConsumer(client.WithNameServer(ns), client.WithGroup("forward-check"),
		client.WithInstanceName(proctest.Instance("check")), client.WithSuspendTimeout(0), client.WithCallTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	pc.Subscribe(topic, "*")
	// The answer comes once the entry committed; a replica that serves the pull may apply it a
	// heartbeat later.
	mq := client.MessageQueue{Topic: topic, BrokerName: brokerName, QueueID: 0}
	waitFor(t, 5*time.Second, "the message sent through the follower to read back", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := pc.Pull(ctx, mq, offset, 1)
		if err != nil {
			t.Fatalf("pull of queue 0 offset %d: %v", offset, err)
		}
		if res.Status != client.PullFound {
			return false
		}
		if len(res.Messages) != 1 || string(res.Messages[0].Body) != "via-follower" {
			t.Fatalf("queue 0 offset %d holds %+v", offset, res.Messages)
		}
		return true
	})

	// A request another replica forwarded already is never forwarded again: a follower refuses
	// the write itself.
	resp, err = rawSend(t, rc, followers[0].addr, topic, "forwarded-twice", broker.ForwardedRemark)
	if err != nil || resp.ResponseCode() != remoting.ResponseServiceNotAvailable {
		t.Fatalf("a forwarded SEND at follower %s: %v %v; want SERVICE_NOT_AVAILABLE", followers[0].addr, resp, err)
	}
	resp.Release()

	// An admin write: the topic is created on the leader, which registers it.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	err = admin.CreateTopic(ctx, followers[1].addr, namesrv.TopicConfig{TopicName: "CreatedViaFollower", ReadQueueNums: 2, WriteQueueNums: 2,
		Perm: namesrv.PermRW, TopicFilterType: "SINGLE_TAG"})
	cancel()
	if err != nil {
		t.Fatalf("create a topic through follower %s: %v", followers[1].addr, err)
	}
	waitFor(t, 5*time.Second, "the leader to register the topic created through a follower", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		route, err := admin.TopicRoute(ctx, "CreatedViaFollower")
		return err == nil && len(route.QueueDatas) == 1 && route.QueueDatas[0].BrokerName == brokerName && route.QueueDatas[0].WriteQueueNums == 2
	})

	// The leader committed the topic through the Raft log: every follower applies it.
	waitFor(t, 5*time.Second, "the follower to apply the topic from the log", func() bool {
		resp, err := rawInvoke(rc, followers[1].addr, remoting.RequestGetAllTopicConfig, nil)
		if err != nil {
			return false
		}
		defer resp.Release()
		return resp.ResponseCode() == remoting.ResponseSuccess && strings.Contains(string(resp.Body), `"CreatedViaFollower"`)
	})

	// A consumer offset committed through a follower is the leader's.
	fields := map[string]string{protocol.FieldConsumerGroup: "forward-c", protocol.FieldTopic: topic, protocol.FieldQueueID: "1"}
	update := map[string]string{protocol.FieldCommitOffset: "42"}
	for k, v := range fields {
		update[k] = v
	}
	resp, err = rawInvoke(rc, followers[1].addr, remoting.RequestUpdateConsumerOffset, update)
	if err != nil || resp.ResponseCode() != remoting.ResponseSuccess {
		t.Fatalf("UPDATE_CONSUMER_OFFSET through follower %s: %v %v", followers[1].addr, resp, err)
	}
	resp.Release()
	resp, err = rawInvoke(rc, leader.addr, remoting.RequestQueryConsumerOffset, fields)
	if err != nil || resp.ResponseCode() != remoting.ResponseSuccess || resp.Ext(protocol.FieldOffset) != "42" {
		t.Fatalf("QUERY_CONSUMER_OFFSET at the leader: %v %v", resp, err)
	}
	resp.Release()

	// Without a quorum the survivor has no leader and says so.
	killed := time.Now()
	for _, r := range []*replica{leader, followers[0]} {
		r.Signal(syscall.SIGKILL)
		r.Wait()
	}
	survivor := followers[1]
	var remark string
	waitFor(t, 20*time.Second, "the survivor to answer SEND with 14, leaderless", func() bool {
		resp, err := rawSend(t, rc, survivor.addr, topic, "leaderless", "")
		if err != nil {
			t.Fatalf("SEND to the survivor %s: %v", survivor.addr, err)
		}
		defer resp.Release()
		switch resp.ResponseCode() {
		case remoting.ResponseServiceNotAvailable:
			remark = resp.Remark
			return strings.Contains(remark, "no leader")
		case remoting.ResponseSuccess:
			t.Fatalf("the survivor of a group without quorum acknowledged a SEND")
		}
		return false
	})
	t.Logf("%v after losing its quorum the survivor answers SEND: SERVICE_NOT_AVAILABLE %q", time.Since(killed).Round(time.Millisecond), remark)
}
