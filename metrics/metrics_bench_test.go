package metrics

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkMessagesIn measures the send path's counter update for a seen
// topic. No SetBytes: nothing is copied, ns/op and allocs/op are the
// numbers to read.
func BenchmarkMessagesIn(b *testing.B) {
	for _, topics := range []int{1, 1000} {
		b.Run(fmt.Sprintf("topics=%d", topics), func(b *testing.B) {
			m := New(Options{NoRuntimeMetrics: true})
			names := make([]string, topics)
			for i := range names {
				names[i] = fmt.Sprintf("Topic%d", i)
				m.MessagesIn(names[i], 1, 1, MessageNormal)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				m.MessagesIn(names[i%topics], 1, 256, MessageNormal)
			}
		})
	}
}

func BenchmarkMessagesInParallel(b *testing.B) {
	m := New(Options{NoRuntimeMetrics: true})
	m.MessagesIn("TopicA", 1, 1, MessageNormal)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.MessagesIn("TopicA", 1, 256, MessageNormal)
		}
	})
}

func BenchmarkMessagesOut(b *testing.B) {
	m := New(Options{NoRuntimeMetrics: true})
	m.MessagesOut("TopicA", "GroupA", 1, 1)
	b.ReportAllocs()
	for b.Loop() {
		m.MessagesOut("TopicA", "GroupA", 32, 8192)
	}
}

func BenchmarkRPC(b *testing.B) {
	m := New(Options{NoRuntimeMetrics: true})
	m.RPC(10, 0, time.Millisecond)
	b.ReportAllocs()
	for b.Loop() {
		m.RPC(10, 0, 2*time.Millisecond)
	}
}

// BenchmarkScrape measures one Gather of a registry with 100 topics × 4
// groups and a snapshot, the cost of a Prometheus scrape.
func BenchmarkScrape(b *testing.B) {
	m := New(Options{NoRuntimeMetrics: true})
	var lags []ConsumerLag
	for t := range 100 {
		topic := fmt.Sprintf("Topic%d", t)
		m.MessagesIn(topic, 1, 1, MessageNormal)
		for g := range 4 {
			group := fmt.Sprintf("Group%d", g)
			m.MessagesOut(topic, group, 1, 1)
			lags = append(lags, ConsumerLag{Topic: topic, Group: group, Messages: 1})
		}
	}
	m.SetSnapshot(func() Snapshot { return Snapshot{ConsumerLag: lags} })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Registry().Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
