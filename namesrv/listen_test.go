package namesrv

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/mqstore/mqstore/remoting"
)

func TestListen(t *testing.T) {
	before := runtime.NumGoroutine()
	l, err := Listen("127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Registry().RegisterBroker(Registration{ClusterName: "c", BrokerName: "b", BrokerAddr: "127.0.0.1:10911",
		Topics: map[string]TopicConfig{"T": {TopicName: "T", ReadQueueNums: 2, WriteQueueNums: 2, Perm: PermRW}}})
	c, err := remoting.NewClient(remoting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	req := remoting.NewRequest(remoting.RequestGetRouteInfoByTopic)
	req.SetExt("topic", "T")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, l.Addr(), req)
	if err != nil || resp.ResponseCode() != remoting.ResponseSuccess {
		t.Fatalf("route over TCP: %v %v", err, resp)
	}
	route, err := DecodeRoute(resp.Body)
	if err != nil || len(route.QueueDatas) != 1 || route.QueueDatas[0].WriteQueueNums != 2 {
		t.Fatalf("route %+v %v", route, err)
	}
	c.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen("256.0.0.1:1", Options{}); err == nil {
		t.Fatal("a bad address must fail")
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("goroutines: %d before, %d after Close", before, n)
	}
}
