package broker

import (
	"testing"
	"time"

	"github.com/mqstore/mqstore/remoting"
)

func TestUnlockBatchMQ(t *testing.T) {
	tb := startBroker(t, nil)
	lock := func(client string, queues ...int32) []int32 {
		return lockedQueues(t, tb.call(remoting.RequestLockBatchMQ, lockRequest(t, "g", client, queues...)))
	}
	lock("c1", 0, 1)
	// Only the holder's unlock counts.
	expect(t, tb.call(remoting.RequestUnlockBatchMQ, lockRequest(t, "g", "c2", 0, 1)), remoting.ResponseSuccess)
	if got := lock("c2", 0); len(got) != 0 {
		t.Fatalf("c2 took a queue c1 holds: %v", got)
	}
	expect(t, tb.call(remoting.RequestUnlockBatchMQ, lockRequest(t, "g", "c1", 0)), remoting.ResponseSuccess)
	if got := lock("c2", 0, 1); len(got) != 1 || got[0] != 0 {
		t.Fatalf("c2 locked %v, want [0]", got)
	}
	expect(t, tb.call(remoting.RequestUnlockBatchMQ, []byte("{")), remoting.ResponseSystemError)
}

func TestLockExpiry(t *testing.T) {
	lt := newLockTable()
	now := time.Now()
	mq := []messageQueue{{Topic: "T", QueueID: 0}}
	if got := lt.tryLock("g", "c1", mq, now); len(got) != 1 {
		t.Fatal("c1 could not lock")
	}
	if got := lt.tryLock("g", "c2", mq, now.Add(lockLifetime/2)); len(got) != 0 {
		t.Fatal("c2 took a live lock")
	}
	if got := lt.tryLock("g", "c2", mq, now.Add(lockLifetime+time.Second)); len(got) != 1 {
		t.Fatal("c2 could not take an expired lock")
	}
}
