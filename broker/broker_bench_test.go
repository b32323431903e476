package broker

import (
	"github.com/mqstore/mqstore/bench/report"
	"github.com/mqstore/mqstore/protocol"

	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// BenchmarkSendPipelined: SEND_MESSAGE_V2 of 1 KiB with ROCKETMQ binary headers over loopback,
// 256 in flight on one connection, as mqbench produce sends them. It reports the process's CPU
// per message (client and broker together) as cpu-µs/op, the measure that matters on a shared
// machine where ns/op depends on the other processes.
func BenchmarkSendPipelined(b *testing.B) {
	tb := startBroker(b, nil)
	body := []byte(strings.Repeat("x", 1024))
	args := v2Args("PipeT", 0, props("TAGS", "T", "UNIQ_KEY", "7F0000010001000000000000000000AA"), false)
	conn, err := tb.client.Conn(context.Background(), tb.Addr())
	if err != nil {
		b.Fatal(err)
	}
	window := make(chan struct{}, 256)
	var failed atomic.Value
	done := func(resp *remoting.Command, err error) {
		if err == nil && resp.ResponseCode() != remoting.ResponseSuccess {
			err = fmt.Errorf("%v", resp)
		}
		if err != nil {
			failed.Store(err)
		}
		resp.Release()
		<-window
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := report.ProcessCPU()
	for range b.N {
		window <- struct{}{}
		req := remoting.NewRequest(remoting.RequestSendMessageV2)
		req.SerializeType = remoting.SerializeRocketMQ
		for i := 0; i < len(args); i += 2 {
			req.ExtFields = append(req.ExtFields, remoting.Field{Key: args[i], Value: args[i+1]})
		}
		req.Body = body
		if err := conn.InvokeAsync(req, 0, done); err != nil {
			b.Fatal(err)
		}
	}
	for range cap(window) {
		window <- struct{}{}
	}
	b.ReportMetric(float64(report.ProcessCPU()-cpu)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkParseSendHeader: decoding a SEND_MESSAGE_V2 request's ROCKETMQ header and parsing it
// into a sendHeader (no network, no store).
func BenchmarkParseSendHeader(b *testing.B) {
	full := v2Args("ParseT", 3, props("TAGS", "T", "UNIQ_KEY", "7F0000010001000000000000000000AA"), false)
	var minimal []string // without the optional fields (defaultTopicQueueNums, reconsumeTimes, maxReconsumeTimes)
	for i := 0; i < len(full); i += 2 {
		switch full[i] {
		case protocol.FieldV2DefaultTopicQueueNums, protocol.FieldV2ReconsumeTimes, protocol.FieldV2MaxReconsumeTimes:
		default:
			minimal = append(minimal, full[i], full[i+1])
		}
	}
	for _, form := range []remoting.SerializeType{remoting.SerializeRocketMQ, remoting.SerializeJSON} {
		for _, fields := range []struct {
			name string
			args []string
		}{{"all", full}, {"required", minimal}} {
			b.Run(form.String()+"/"+fields.name, func(b *testing.B) {
				benchParseSendHeader(b, form, fields.args)
			})
		}
	}
}

func benchParseSendHeader(b *testing.B, form remoting.SerializeType, args []string) {
	req := remoting.NewRequest(remoting.RequestSendMessageV2)
	req.SerializeType = form
	for i := 0; i < len(args); i += 2 {
		req.SetExt(args[i], args[i+1])
	}
	frame, err := remoting.AppendFrame(nil, req)
	if err != nil {
		b.Fatal(err)
	}
	req.Release()
	fr := remoting.NewFrameReader(&repeatReader{frame: frame}, 64<<10, 1<<20)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := report.ProcessCPU()
	for range b.N {
		c, err := fr.ReadCommand()
		if err != nil {
			b.Fatal(err)
		}
		h, err := parseSendHeader(c, &sendFieldsV2)
		if err != nil || h.queueID != 3 {
			b.Fatal(err, h)
		}
		c.Release()
	}
	b.ReportMetric(float64(report.ProcessCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

// repeatReader reads frame over and over.
type repeatReader struct {
	frame []byte
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.frame[r.off:])
		n += c
		r.off = (r.off + c) % len(r.frame)
	}
	return n, nil
}
