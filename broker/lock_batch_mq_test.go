package broker

import (
	"encoding/json"
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

func lockRequest(t *testing.T, group, client string, queues ...int32) []byte {
	t.Helper()
	body := lockBody{ConsumerGroup: group, ClientID: client}
	for _, q := range queues {
		body.MQSet = append(body.MQSet, messageQueue{Topic: "LockT", BrokerName: "broker-a", QueueID: q})
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func lockedQueues(t *testing.T, resp *remoting.Command) []int32 {
	t.Helper()
	expect(t, resp, remoting.ResponseSuccess)
	var body struct {
		LockOKMQSet []messageQueue `json:"lockOKMQSet"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		t.Fatal(err)
	}
	var out []int32
	for _, mq := range body.LockOKMQSet {
		out = append(out, mq.QueueID)
	}
	return out
}

func TestLockBatchMQ(t *testing.T) {
	tb := startBroker(t, nil)
	lock := func(client string, queues ...int32) []int32 {
		return lockedQueues(t, tb.call(remoting.RequestLockBatchMQ, lockRequest(t, "lock-group", client, queues...)))
	}
	if got := lock("c1", 0, 1); len(got) != 2 {
		t.Fatalf("c1 locked %v", got)
	}
	if got := lock("c2", 1, 2); len(got) != 1 || got[0] != 2 {
		t.Fatalf("c2 locked %v, want [2]", got)
	}
	if got := lock("c1", 0, 1, 2); len(got) != 2 {
		t.Fatalf("c1 renewed %v, want [0 1]", got)
	}
	// Another group is independent.
	if got := lockedQueues(t, tb.call(remoting.RequestLockBatchMQ, lockRequest(t, "other", "c2", 0))); len(got) != 1 {
		t.Fatalf("other group locked %v", got)
	}
	expect(t, tb.call(remoting.RequestLockBatchMQ, []byte("nope")), remoting.ResponseSystemError)
}
