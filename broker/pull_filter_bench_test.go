package broker

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/mqstore/mqstore/protocol"

	"github.com/mqstore/mqstore/remoting"
)

// BenchmarkPullMessageFilter: PULL_MESSAGE (32 messages at most, 1 KiB bodies with seq, region
// and TAGS properties) over loopback with no filter, a tag filter and SQL92 filters registered
// by heartbeat that select all, half and a tenth of the messages. msgs/s counts the messages
// scanned (the queue advances past them), delivered/s those that went on the wire.
func BenchmarkPullMessageFilter(b *testing.B) {
	tb := startBroker(b, nil)
	const topic, n = "PullFilterBench", 10_000
	body := strings.Repeat("x", 1024)
	for i := range n {
		tb.send(topic, 0, body, props("seq", strconv.Itoa(i), "region", []string{"eu", "us"}[i%2], "TAGS", "TagA"))
	}
	tb.sync()
	for _, c := range []struct{ name, typ, expr string }{
		{"none", "TAG", "*"},
		{"tag", "TAG", "TagA"},
		{"sql-all", "SQL92", "seq >= 0"},
		{"sql-half", "SQL92", "region = 'eu' AND seq IS NOT NULL"},
		{"sql-tenth", "SQL92", "seq BETWEEN 0 AND 999 OR region IN ('x', 'y')"},
	} {
		b.Run(c.name, func(b *testing.B) {
			group := "bench-" + c.name
			expect(b, tb.call(remoting.RequestHeartBeat, typedHeartbeat("10.0.0.1@"+c.name, group, topic, c.typ, c.expr)), remoting.ResponseSuccess)
			args := pullArgs(topic, 0, 0, 32, 0, 0, "")
			args[1] = group
			b.ReportAllocs()
			var offset, scanned, delivered int64
			for range b.N {
				req := remoting.NewRequest(remoting.RequestPullMessage)
				for i := 0; i < len(args); i += 2 {
					req.SetExt(args[i], args[i+1])
				}
				req.SetExt(protocol.FieldQueueOffset, strconv.FormatInt(offset, 10))
				resp, err := tb.client.Invoke(context.Background(), tb.Addr(), req)
				if err != nil {
					b.Fatal(err)
				}
				code := resp.ResponseCode()
				if code != remoting.ResponseSuccess && code != remoting.ResponsePullRetryImmediately {
					b.Fatal(resp)
				}
				if code == remoting.ResponseSuccess {
					delivered += int64(len(records(b, resp.Body)))
				}
				next := extInt(b, resp, protocol.FieldNextBeginOffset)
				scanned += next - offset
				if offset = next; offset >= n {
					offset = 0
				}
				resp.Release()
			}
			b.ReportMetric(float64(scanned)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(delivered)/b.Elapsed().Seconds(), "delivered/s")
		})
	}
}
