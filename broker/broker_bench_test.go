package broker

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mqstore/mqstore/remoting"
)

// BenchmarkSendMessage: SEND_MESSAGE_V2 round trips over loopback with our remoting client,
// one request at a time (the broker's per-message cost plus one round trip).
func BenchmarkSendMessage(b *testing.B) {
	for _, size := range []int{128, 1024, 16 << 10} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			tb := startBroker(b, nil)
			body := []byte(strings.Repeat("x", size))
			args := v2Args("BenchT", 0, props("TAGS", "T"), false)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				req := remoting.NewRequest(remoting.RequestSendMessageV2)
				for i := 0; i < len(args); i += 2 {
					req.SetExt(args[i], args[i+1])
				}
				req.Body = body
				resp, err := tb.client.Invoke(context.Background(), tb.Addr(), req)
				if err != nil || resp.ResponseCode() != remoting.ResponseSuccess {
					b.Fatal(err, resp)
				}
				resp.Release()
			}
		})
	}
}

// BenchmarkPullMessage: PULL_MESSAGE of 32 messages of 1 KiB (zero-copy body) over loopback.
func BenchmarkPullMessage(b *testing.B) {
	tb := startBroker(b, nil)
	body := strings.Repeat("x", 1024)
	for range 32 {
		tb.send("PullBench", 0, body, nil)
	}
	tb.sync()
	args := pullArgs("PullBench", 0, 0, 32, 0, 0, "")
	b.SetBytes(32 * 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		req := remoting.NewRequest(remoting.RequestPullMessage)
		for i := 0; i < len(args); i += 2 {
			req.SetExt(args[i], args[i+1])
		}
		resp, err := tb.client.Invoke(context.Background(), tb.Addr(), req)
		if err != nil || resp.ResponseCode() != remoting.ResponseSuccess {
			b.Fatal(err, resp)
		}
		resp.Release()
	}
}
