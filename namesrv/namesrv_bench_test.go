package namesrv

import (
	"context"
	"fmt"
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

// routeOf returns a route of n broker groups, each with a master and a slave.
func routeOf(n int) TopicRoute {
	var r TopicRoute
	for i := range n {
		name := fmt.Sprintf("broker-%02d", i)
		r.QueueDatas = append(r.QueueDatas, QueueData{BrokerName: name, ReadQueueNums: 8, WriteQueueNums: 8, Perm: PermRW})
		r.BrokerDatas = append(r.BrokerDatas, BrokerData{Cluster: "DefaultCluster", BrokerName: name,
			BrokerAddrs: map[int64]string{0: fmt.Sprintf("10.0.0.%d:10911", i), 1: fmt.Sprintf("10.0.1.%d:10911", i)}})
	}
	return r
}

func BenchmarkEncodeRoute(b *testing.B) {
	for _, n := range []int{1, 4, 16} {
		for _, legacy := range []bool{true, false} {
			b.Run(fmt.Sprintf("brokers=%d/legacy=%v", n, legacy), func(b *testing.B) {
				r := routeOf(n)
				buf := EncodeRoute(nil, r, legacy)
				b.SetBytes(int64(len(buf)))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					buf = EncodeRoute(buf[:0], r, legacy)
				}
			})
		}
	}
}

func BenchmarkDecodeRoute(b *testing.B) {
	for _, n := range []int{1, 4, 16} {
		for _, legacy := range []bool{true, false} {
			b.Run(fmt.Sprintf("brokers=%d/legacy=%v", n, legacy), func(b *testing.B) {
				body := EncodeRoute(nil, routeOf(n), legacy)
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := DecodeRoute(body); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkRegistryRoute(b *testing.B) {
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("brokers=%d", n), func(b *testing.B) {
			r := NewRegistry(Options{Logger: quietLogger})
			for i := range n {
				name := fmt.Sprintf("broker-%02d", i)
				r.RegisterBroker(brokerReg("C", name, name+":10911", 0, topicSet(8, "T", "U", "V")))
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, ok := r.Route("T"); !ok {
						b.Fatal("no route")
					}
				}
			})
		})
	}
}

// BenchmarkGetRouteInfoTCP is one GET_ROUTEINFO_BY_TOPIC round trip over
// loopback, client and server in this process.
func BenchmarkGetRouteInfoTCP(b *testing.B) {
	n := startNamesrv(b, Options{})
	n.ns.Registry().RegisterBroker(brokerReg("C", "broker-a", "127.0.0.1:10911", 0, topicSet(8, "T")))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := remoting.NewRequest(remoting.RequestGetRouteInfoByTopic)
		req.Version = 317
		req.SetExt("topic", "T")
		resp, err := n.client.Invoke(ctx, n.addr, req)
		if err != nil || resp.ResponseCode() != remoting.ResponseSuccess {
			b.Fatal(err, resp)
		}
		resp.Release()
	}
}
