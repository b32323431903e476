package remoting

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// TestBinaryHeadersAndIOStats: a client with BinaryHeaders sends its
// requests (two-way and oneway) in the ROCKETMQ form, the server sees that
// form and answers in it; both sides count every frame and at least one
// frame per socket call.
func TestBinaryHeadersAndIOStats(t *testing.T) {
	for _, binary := range []bool{false, true} {
		want := SerializeJSON
		if binary {
			want = SerializeRocketMQ
		}
		t.Run(want.String(), func(t *testing.T) {
			var mu sync.Mutex
			seen := map[SerializeType]int{}
			oneway := make(chan struct{}, 1)
			srv, addr := startServer(t, Options{}, func(s *Server) {
				s.Handle(RequestSendMessageV2, KindSend, func(c *Conn, req *Command) *Command {
					mu.Lock()
					seen[req.SerializeType]++
					mu.Unlock()
					if req.IsOneway() {
						oneway <- struct{}{}
						return nil
					}
					return echo(c, req)
				})
			})
			client := newTestClient(t, Options{BinaryHeaders: binary})
			conn, err := client.Conn(context.Background(), addr)
			if err != nil {
				t.Fatal(err)
			}
			const n = 200
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					resp, err := conn.Invoke(context.Background(), benchRequest())
					if err != nil {
						t.Error(err)
						return
					}
					if resp.SerializeType != want || resp.Ext("b") != "BenchTopic" || len(resp.Body) != benchBodySize {
						t.Errorf("response %v, ext b %q, body %d", resp.SerializeType, resp.Ext("b"), len(resp.Body))
					}
					resp.Release()
				})
			}
			wg.Wait()
			if err := conn.InvokeOneway(benchRequest()); err != nil {
				t.Fatal(err)
			}
			<-oneway
			mu.Lock()
			if seen[want] != n+1 || len(seen) != 1 {
				t.Errorf("server saw %v, want %d %v", seen, n+1, want)
			}
			mu.Unlock()

			// The server counts frames read when its next read starts, each
			// side a write once it returned.
			deadline := time.Now().Add(5 * time.Second)
			for (srv.IOStats().FramesRead < n+1 || srv.IOStats().FramesWritten < n ||
				client.IOStats().FramesWritten < n+1) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			ss, cs := srv.IOStats(), client.IOStats()
			if ss.FramesRead != n+1 || ss.FramesWritten != n || cs.FramesWritten != n+1 {
				t.Errorf("frames: server read %d wrote %d, client wrote %d; want %d, %d, %d",
					ss.FramesRead, ss.FramesWritten, cs.FramesWritten, n+1, n, n+1)
			}
			for _, s := range []IOStats{ss, cs} {
				if s.Writes < 1 || s.Writes > s.FramesWritten || s.Reads < 1 {
					t.Errorf("calls: %+v", s)
				}
			}
			if cs.FramesRead > n {
				t.Errorf("client read %d frames, want at most %d", cs.FramesRead, n)
			}
		})
	}
}

// TestInlineAnswersOfOneRead: the answers of inline handlers to the requests that arrived in one
// read go out in one write. The reader wakes the writer only once the buffered frames are
// served; before, the writer woke for the first answer and wrote it alone while the handler
// served the rest (here each takes 2 ms, so it always did).
func TestInlineAnswersOfOneRead(t *testing.T) {
	srv, addr := startServer(t, Options{}, func(s *Server) {
		s.Handle(RequestSendMessageV2, KindInline, func(c *Conn, req *Command) *Command {
			time.Sleep(2 * time.Millisecond)
			return echo(c, req)
		})
	})
	const n = 8
	var frames []byte
	for i := range n {
		req := benchRequest()
		req.Opaque = int32(i + 1)
		var err error
		if frames, err = appendFramePrefix(frames, req, 1<<20); err != nil {
			t.Fatal(err)
		}
		frames = append(frames, req.Body...)
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write(frames); err != nil { // one write: the server reads them at once
		t.Fatal(err)
	}
	fr := NewFrameReader(nc, 64<<10, 1<<20)
	for i := range n {
		resp, err := fr.ReadCommand()
		if err != nil {
			t.Fatal(err)
		}
		if resp.Opaque != int32(i+1) || !resp.IsResponse() {
			t.Fatalf("answer %d: opaque %d, response %v", i, resp.Opaque, resp.IsResponse())
		}
	}
	if s := srv.IOStats(); s.FramesWritten != n || s.Writes != 1 {
		t.Fatalf("server wrote %d frames in %d writes, want %d in 1", s.FramesWritten, s.Writes, n)
	}
}
