package remoting

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks of the remoting layer on loopback, each beside a plain TCP
// echo of frames of the same size measured in the same run
// (BenchmarkEchoCeiling), so the ratio reads off one run. Client and server
// share the process (and the machine's cores). ns/op is per request;
// req/s is reported as a metric; allocs/op counts client and server.

const benchBodySize = 128

func benchRequest() *Command {
	req := NewRequest(RequestSendMessageV2)
	req.ExtFields = append(req.ExtFields, Field{"a", "benchGroup"}, Field{"b", "BenchTopic"}, Field{"e", "3"})
	req.Body = benchPayload
	return req
}

var benchPayload = make([]byte, benchBodySize)

// benchFrameSize is the size of one benchmark request frame; the echo
// ceiling moves frames of this size.
func benchFrameSize() int {
	f, _ := AppendFrame(nil, benchRequest())
	return len(f)
}

func benchServer(b *testing.B, kind Kind) string {
	_, addr := benchServerStats(b, kind)
	return addr
}

func benchServerStats(b *testing.B, kind Kind) (*Server, string) {
	return startServer(b, Options{}, func(s *Server) {
		s.Handle(RequestSendMessageV2, kind, echo)
	})
}

// reportIO reports the frames per socket call of the server and the client
// during the benchmark (after minus before).
func reportIO(b *testing.B, srv *Server, client *Client, s0, c0 IOStats) {
	per := func(frames, calls int64) float64 {
		if calls == 0 {
			return 0
		}
		return float64(frames) / float64(calls)
	}
	s1, c1 := srv.IOStats(), client.IOStats()
	b.ReportMetric(per(s1.FramesRead-s0.FramesRead, s1.Reads-s0.Reads), "srv-frames/read")
	b.ReportMetric(per(s1.FramesWritten-s0.FramesWritten, s1.Writes-s0.Writes), "srv-frames/write")
	b.ReportMetric(per(c1.FramesWritten-c0.FramesWritten, c1.Writes-c0.Writes), "cli-frames/write")
}

func reportRate(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkRoundTrip is the latency of one request at a time on one
// connection.
func BenchmarkRoundTrip(b *testing.B) {
	addr := benchServer(b, KindSend)
	client := newTestClient(b, Options{})
	conn, err := client.Conn(context.Background(), addr)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(benchBodySize)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		resp, err := conn.Invoke(ctx, benchRequest())
		if err != nil {
			b.Fatal(err)
		}
		resp.Release()
	}
	reportRate(b, start)
}

// BenchmarkPipelined is throughput with many requests in flight:
//   - 1conn: 64 callers on one connection (the pipelined goal);
//   - 16conn: 16 connections, one caller (one request in flight) each;
//   - 4conn: 64 callers over 4 connections;
//   - 1conn-inline: as 1conn, the handler running on the reader (KindInline);
//   - 1conn-binary, 16conn-binary: as 1conn and 16conn, the requests (and so
//     the responses) in the ROCKETMQ binary header form instead of JSON.
//
// Each reports the frames per read and per write syscall of the server and
// the client's frames per write.
func BenchmarkPipelined(b *testing.B) {
	cases := []struct {
		name    string
		conns   int
		callers int
		kind    Kind
		binary  bool
	}{
		{"1conn", 1, 64, KindSend, false},
		{"16conn", 16, 16, KindSend, false},
		{"4conn", 4, 64, KindSend, false},
		{"1conn-inline", 1, 64, KindInline, false},
		{"1conn-binary", 1, 64, KindSend, true},
		{"16conn-binary", 16, 16, KindSend, true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			srv, addr := benchServerStats(b, tc.kind)
			client := newTestClient(b, Options{ConnsPerAddr: tc.conns, BinaryHeaders: tc.binary})
			conns := make([]*Conn, tc.conns)
			for i := range conns {
				c, err := client.Conn(context.Background(), addr)
				if err != nil {
					b.Fatal(err)
				}
				conns[i] = c
			}
			ctx := context.Background()
			var next atomic.Int64
			b.SetBytes(benchBodySize)
			b.ReportAllocs()
			s0, c0 := srv.IOStats(), client.IOStats()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for i := range tc.callers {
				conn := conns[i%len(conns)]
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						resp, err := conn.Invoke(ctx, benchRequest())
						if err != nil {
							b.Error(err)
							return
						}
						resp.Release()
					}
				})
			}
			wg.Wait()
			reportRate(b, start)
			reportIO(b, srv, client, s0, c0)
		})
	}
}

// BenchmarkEchoCeiling is the plain TCP ceiling for the same shapes: a
// server that echoes length-prefixed frames with bufio and flushes when
// its input drains; 1conn keeps 128 frames in flight on one connection,
// 16conn one frame in flight on each of 16 connections.
func BenchmarkEchoCeiling(b *testing.B) {
	frameSize := benchFrameSize()
	b.Run("1conn", func(b *testing.B) {
		addr := echoServer(b)
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		const window = 128
		credits := make(chan struct{}, window)
		for range window {
			credits <- struct{}{}
		}
		b.SetBytes(benchBodySize)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		done := make(chan error, 1)
		go func() {
			r := bufio.NewReaderSize(nc, 64<<10)
			buf := make([]byte, frameSize)
			for range b.N {
				if _, err := io.ReadFull(r, buf); err != nil {
					done <- err
					return
				}
				credits <- struct{}{}
			}
			done <- nil
		}()
		w := bufio.NewWriterSize(nc, 64<<10)
		frame := make([]byte, frameSize)
		binary.BigEndian.PutUint32(frame, uint32(frameSize-4))
		for range b.N {
			select {
			case <-credits:
			default:
				w.Flush()
				<-credits
			}
			w.Write(frame)
		}
		w.Flush()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		reportRate(b, start)
	})
	b.Run("16conn", func(b *testing.B) {
		addr := echoServer(b)
		var next atomic.Int64
		conns := make([]net.Conn, 16)
		for i := range conns {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			conns[i] = nc
		}
		b.SetBytes(benchBodySize)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for _, nc := range conns {
			wg.Go(func() {
				frame := make([]byte, frameSize)
				binary.BigEndian.PutUint32(frame, uint32(frameSize-4))
				for next.Add(1) <= int64(b.N) {
					if _, err := nc.Write(frame); err != nil {
						b.Error(err)
						return
					}
					if _, err := io.ReadFull(nc, frame); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		reportRate(b, start)
	})
}

// echoServer echoes length-prefixed frames until the benchmark ends.
func echoServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Go(func() {
				r := bufio.NewReaderSize(nc, 64<<10)
				w := bufio.NewWriterSize(nc, 64<<10)
				buf := make([]byte, 64<<10)
				for {
					if _, err := io.ReadFull(r, buf[:4]); err != nil {
						return
					}
					n := int(binary.BigEndian.Uint32(buf))
					if _, err := io.ReadFull(r, buf[4:4+n]); err != nil {
						return
					}
					w.Write(buf[:4+n])
					if r.Buffered() == 0 {
						if w.Flush() != nil {
							return
						}
					}
				}
			})
		}
	})
	b.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, nc := range conns {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// BenchmarkHeader is the CPU cost of one SEND_MESSAGE_V2 request header
// (13 ext fields, as rocketmq-client-go and mqstore's client send them) in
// each form, without the network: encode = the frame prefix and header,
// decode = the whole frame into a pooled command (128 B body copied).
func BenchmarkHeader(b *testing.B) {
	req := NewRequest(RequestSendMessageV2)
	req.ExtFields = append(req.ExtFields,
		Field{"a", "mqbench_producer"}, Field{"b", "BenchTopic"}, Field{"c", "TBW102"}, Field{"d", "4"},
		Field{"e", "3"}, Field{"f", "0"}, Field{"g", "1765100000000"}, Field{"h", "0"},
		Field{"i", "UNIQ_KEY\x017F0000010001B4AAC6A1C3F6E10000\x02WAIT\x01true\x02TAGS\x01t\x02"},
		Field{"j", "0"}, Field{"k", "false"}, Field{"l", "3"}, Field{"m", "false"})
	req.Body = benchPayload
	for _, t := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		req.SerializeType = t
		frame, err := AppendFrame(nil, req)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("encode/"+t.String(), func(b *testing.B) {
			req.SerializeType = t
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for range b.N {
				var err error
				if buf, err = appendFramePrefix(buf[:0], req, DefaultMaxFrameSize); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(frame)-benchBodySize), "header-bytes")
		})
		b.Run("decode/"+t.String(), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				c := acquireCommand()
				if err := decodeFrame(frame[frameLengthSize:], nil, c); err != nil {
					b.Fatal(err)
				}
				c.Release()
			}
		})
	}
}
