package client_test

import (
	"github.com/mqstore/mqstore/bench/report"

	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/message"
)

// BenchmarkSendAsync: Producer.SendAsync of 1 KiB to an in-process broker with the default
// window (256) and ROCKETMQ binary headers, as mqbench produce sends. cpu-µs/op is the process's
// CPU per message, client and broker together (steadier than ns/op on a shared machine).
func BenchmarkSendAsync(b *testing.B) {
	s := startServer(b, nil)
	a := newAdmin(b, s)
	createTopic(b, s, a, "BenchAsync", 8)
	p := newProducer(b, s)
	msg := &message.Message{Topic: "BenchAsync", Body: []byte(strings.Repeat("x", 1024))}
	msg.Properties = message.EncodeProperties(map[string]string{"TAGS": "T"})
	if _, err := p.Send(ctxT(b), msg); err != nil { // route and connection
		b.Fatal(err)
	}
	var failed atomic.Value
	var pending atomic.Int64
	done := make(chan struct{}, 1)
	callback := func(_ client.SendResult, err error) {
		if err != nil {
			failed.Store(err)
		}
		if pending.Add(-1) == 0 {
			done <- struct{}{}
		}
	}
	b.SetBytes(int64(len(msg.Body)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := report.ProcessCPU()
	pending.Add(int64(b.N))
	for range b.N {
		if err := p.SendAsync(context.Background(), msg, callback); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	b.ReportMetric(float64(report.ProcessCPU()-cpu)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}
