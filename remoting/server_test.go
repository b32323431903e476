package remoting

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// syncBuffer is a log sink safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testLogger(sink io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(sink, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// startServer serves on a loopback port until the test ends.
func startServer(t testing.TB, opts Options, setup func(*Server)) (*Server, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(io.Discard)
	}
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; !errors.Is(err, ErrClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return s, ln.Addr().String()
}

func newTestClient(t testing.TB, opts Options) *Client {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(io.Discard)
	}
	c, err := NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echo answers with the request's ext fields and body.
func echo(c *Conn, req *Command) *Command {
	resp := NewResponse(req, ResponseSuccess, "")
	resp.ExtFields = append(resp.ExtFields, req.ExtFields...)
	resp.Body = req.Body
	return resp
}

// goroutineBaseline returns a check that the goroutine count came back.
func goroutineBaseline(t *testing.T) func() {
	before := runtime.NumGoroutine()
	return func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Fatalf("%d goroutines, %d before\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	_, addr := startServer(t, Options{}, func(s *Server) {
		s.Handle(RequestSendMessageV2, KindSend, echo)
		s.Handle(RequestHeartBeat, KindInline, echo)
	})
	client := newTestClient(t, Options{})
	ctx := context.Background()
	tests := []struct {
		name string
		code RequestCode
		typ  SerializeType
		body []byte
	}{
		{"json pool", RequestSendMessageV2, SerializeJSON, []byte("hello")},
		{"binary pool", RequestSendMessageV2, SerializeRocketMQ, []byte("hello")},
		{"json inline", RequestHeartBeat, SerializeJSON, nil},
		{"large body", RequestSendMessageV2, SerializeJSON, bytes.Repeat([]byte("0123456789"), 100_000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := NewRequest(tt.code)
			req.SerializeType = tt.typ
			req.SetExt("topic", escapy)
			req.Body = tt.body
			resp, err := client.Invoke(ctx, addr, req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Release()
			if resp.ResponseCode() != ResponseSuccess || !resp.IsResponse() || resp.SerializeType != tt.typ ||
				resp.Ext("topic") != escapy || !bytes.Equal(resp.Body, tt.body) {
				t.Fatalf("got %v", resp)
			}
		})
	}
}

func TestUnknownCodeKeepsConnection(t *testing.T) {
	_, addr := startServer(t, Options{}, func(s *Server) { s.Handle(RequestHeartBeat, KindDefault, echo) })
	client := newTestClient(t, Options{})
	for _, code := range []RequestCode{9999, RequestPopMessage, RequestHeartBeat} {
		resp, err := client.Invoke(context.Background(), addr, NewRequest(code))
		if err != nil {
			t.Fatal(err)
		}
		want := ResponseRequestCodeNotSupported
		if code == RequestHeartBeat {
			want = ResponseSuccess
		}
		if resp.ResponseCode() != want || (want != ResponseSuccess && !strings.Contains(resp.Remark, strconv.Itoa(int(code)))) {
			t.Fatalf("code %d: got %v", code, resp)
		}
	}
}

// TestOutOfOrder1000 holds 1,000 concurrent requests on one connection and
// answers them in random order: every caller gets its own answer.
func TestOutOfOrder1000(t *testing.T) {
	const n = 1000
	var (
		mu   sync.Mutex
		held []*Command
		all  = make(chan struct{})
	)
	srv, addr := startServer(t, Options{}, func(s *Server) {
		s.Handle(RequestPullMessage, KindPull, func(c *Conn, req *Command) *Command {
			mu.Lock()
			held = append(held, req)
			if len(held) == n {
				close(all)
			}
			mu.Unlock()
			return nil
		})
	})
	client := newTestClient(t, Options{CallTimeout: 20 * time.Second})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			req := NewRequest(RequestPullMessage)
			req.SetExtInt64("n", int64(i))
			req.Body = []byte(strconv.Itoa(i))
			resp, err := client.Invoke(context.Background(), addr, req)
			if err != nil {
				errs <- err
				return
			}
			if got, _ := resp.GetInt64("n"); got != int64(i) || string(resp.Body) != strconv.Itoa(i*2) {
				errs <- fmt.Errorf("caller %d got n=%d body=%q", i, got, resp.Body)
			}
			resp.Release()
		})
	}
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		t.Fatalf("only %d requests arrived", len(held))
	}
	if srv.NumConns() != 1 {
		t.Fatalf("%d connections, want 1", srv.NumConns())
	}
	rand.Shuffle(len(held), func(i, j int) { held[i], held[j] = held[j], held[i] })
	for _, req := range held {
		n, _ := req.GetInt64("n")
		resp := NewResponse(req, ResponseSuccess, "")
		resp.SetExtInt64("n", n)
		resp.Body = []byte(strconv.Itoa(int(n) * 2))
		conn := req.conn
		req.Release()
		if err := conn.WriteResponse(resp); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestServerToClient covers the broker's requests to a client:
// CHECK_TRANSACTION_STATE answered by the client, NOTIFY oneway, the
// per-connection client id, and the close hook.
func TestServerToClient(t *testing.T) {
	connCh := make(chan *Conn, 1)
	closed := make(chan *Conn, 1)
	_, addr := startServer(t, Options{}, func(s *Server) {
		s.Handle(RequestHeartBeat, KindHeartbeat, func(c *Conn, req *Command) *Command {
			c.SetClientID(string(req.Body))
			c.SetValue("groups", []string{"g1"})
			connCh <- c
			return NewResponse(req, ResponseSuccess, "")
		})
		s.OnConnClose(func(c *Conn) { closed <- c })
	})
	client := newTestClient(t, Options{})
	notified := make(chan string, 1)
	client.RegisterHandler(RequestCheckTransactionState, func(c *Conn, req *Command) *Command {
		resp := NewResponse(req, ResponseSuccess, "")
		resp.SetExt("transactionId", req.Ext("transactionId"))
		return resp
	})
	client.RegisterHandler(RequestNotifyConsumerIDsChanged, func(c *Conn, req *Command) *Command {
		notified <- req.Ext("consumerGroup")
		return nil
	})
	hb := NewRequest(RequestHeartBeat)
	hb.Body = []byte("10.0.0.1@123")
	if _, err := client.Invoke(context.Background(), addr, hb); err != nil {
		t.Fatal(err)
	}
	conn := <-connCh
	if conn.ClientID() != "10.0.0.1@123" || conn.Value("groups").([]string)[0] != "g1" || conn.Value("none") != nil {
		t.Fatal(conn.ClientID(), conn.Value("groups"))
	}
	if conn.RemoteAddr().String() != conn.RemoteAddrString() || conn.LocalAddr() == nil {
		t.Fatal(conn.RemoteAddrString())
	}
	check := NewRequest(RequestCheckTransactionState)
	check.SetExt("transactionId", "tx1")
	resp, err := conn.Invoke(context.Background(), check)
	if err != nil || resp.Ext("transactionId") != "tx1" {
		t.Fatal(resp, err)
	}
	// Async, to the same client.
	done := make(chan string, 1)
	check = NewRequest(RequestCheckTransactionState)
	check.SetExt("transactionId", "tx2")
	if err := conn.InvokeAsync(check, time.Second, func(resp *Command, err error) {
		if err != nil {
			done <- err.Error()
			return
		}
		done <- resp.Ext("transactionId")
	}); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got != "tx2" {
		t.Fatal(got)
	}
	notify := NewRequest(RequestNotifyConsumerIDsChanged)
	notify.SetExt("consumerGroup", "cg")
	if err := conn.InvokeOneway(notify); err != nil {
		t.Fatal(err)
	}
	if got := <-notified; got != "cg" {
		t.Fatal(got)
	}
	// An unanswered server→client call (no client handler answers 307 here)
	// is answered REQUEST_CODE_NOT_SUPPORTED by the client endpoint.
	resp, err = conn.Invoke(context.Background(), NewRequest(RequestGetConsumerRunningInfo))
	if err != nil || resp.ResponseCode() != ResponseRequestCodeNotSupported {
		t.Fatal(resp, err)
	}
	client.Close()
	select {
	case c := <-closed:
		if c != conn {
			t.Fatal("close hook for another connection")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no close notification")
	}
	<-conn.Done()
	if _, err := conn.Invoke(context.Background(), NewRequest(RequestCheckTransactionState)); !errors.Is(err, ErrConnClosed) {
		t.Fatal(err)
	}
	if err := conn.WriteResponse(NewResponse(hb, ResponseSuccess, "")); !errors.Is(err, ErrConnClosed) {
		t.Fatal(err)
	}
}

func TestTimeouts(t *testing.T) {
	_, addr := startServer(t, Options{}, func(s *Server) {
		s.Handle(RequestPullMessage, KindPull, func(c *Conn, req *Command) *Command { return nil })
	})
	client := newTestClient(t, Options{CallTimeout: 50 * time.Millisecond, TimeoutScanInterval: 5 * time.Millisecond})
	start := time.Now()
	if _, err := client.Invoke(context.Background(), addr, NewRequest(RequestPullMessage)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("default timeout: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := client.Invoke(ctx, addr, NewRequest(RequestPullMessage)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("context timeout: %v", err)
	}
	got := make(chan error, 1)
	if err := client.InvokeAsync(addr, NewRequest(RequestPullMessage), 20*time.Millisecond, func(resp *Command, err error) { got <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-got; !errors.Is(err, ErrTimeout) {
		t.Fatalf("async: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("timeouts too slow")
	}
	if err := client.InvokeOneway(addr, NewRequest(RequestPullMessage)); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Invoke(context.Background(), addr, NewResponse(NewRequest(1), 0, "")); !errors.Is(err, ErrNotRequest) {
		t.Fatal(err)
	}
	if _, err := client.Invoke(context.Background(), "127.0.0.1:1", NewRequest(RequestPullMessage)); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
}

// TestKindsIsolated: a pull pool whose workers are all blocked does not
// delay sends on the same connection, and its full queue answers
// SYSTEM_BUSY.
func TestKindsIsolated(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int32
	_, addr := startServer(t, Options{Pools: map[Kind]PoolOptions{KindPull: {Workers: 2, QueueSize: 1}}}, func(s *Server) {
		s.Handle(RequestPullMessage, KindPull, func(c *Conn, req *Command) *Command {
			started.Add(1)
			<-release
			return NewResponse(req, ResponseSuccess, "")
		})
		s.Handle(RequestSendMessageV2, KindSend, echo)
	})
	client := newTestClient(t, Options{CallTimeout: 10 * time.Second})
	pulls := make(chan *Command, 3)
	for range 3 { // two block the workers, one waits in the queue
		if err := client.InvokeAsync(addr, NewRequest(RequestPullMessage), 10*time.Second, func(resp *Command, err error) { pulls <- resp }); err != nil {
			t.Fatal(err)
		}
	}
	for started.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the third is queued
	resp, err := client.Invoke(context.Background(), addr, NewRequest(RequestPullMessage))
	if err != nil || resp.ResponseCode() != ResponseSystemBusy {
		t.Fatalf("fourth pull: %v %v", resp, err)
	}
	start := time.Now()
	for range 100 {
		resp, err := client.Invoke(context.Background(), addr, NewRequest(RequestSendMessageV2))
		if err != nil || resp.ResponseCode() != ResponseSuccess {
			t.Fatal(resp, err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("sends took %v behind blocked pulls", d)
	}
	close(release)
	for range 3 {
		if r := <-pulls; r == nil || r.ResponseCode() != ResponseSuccess {
			t.Fatal(r)
		}
	}
}

func TestHandlerEdgeCases(t *testing.T) {
	var released atomic.Int32
	sink := &syncBuffer{}
	_, addr := startServer(t, Options{Logger: testLogger(sink)}, func(s *Server) {
		s.Handle(RequestSendMessage, KindDefault, func(c *Conn, req *Command) *Command { panic("boom") })
		s.Handle(RequestQueryMessage, KindQuery, func(c *Conn, req *Command) *Command {
			resp := NewResponse(req, ResponseSuccess, "")
			resp.Body = []byte("head:")
			resp.BodyParts = [][]byte{bytes.Repeat([]byte("a"), 10000), []byte("small"), bytes.Repeat([]byte("b"), 5000)}
			resp.BodyRelease = func() { released.Add(1) }
			return resp
		})
		s.Handle(RequestGetMaxOffset, KindQuery, func(c *Conn, req *Command) *Command {
			resp := NewResponse(req, ResponseSuccess, "")
			resp.SetExt(strings.Repeat("k", 40000), "v") // cannot be a ROCKETMQ key
			return resp
		})
		s.Handle(RequestUpdateConsumerOffset, KindQuery, echo)
	})
	client := newTestClient(t, Options{})
	ctx := context.Background()

	resp, err := client.Invoke(ctx, addr, NewRequest(RequestSendMessage))
	if err != nil || resp.ResponseCode() != ResponseSystemError || !strings.Contains(resp.Remark, "boom") {
		t.Fatalf("panic: %v %v", resp, err)
	}
	resp, err = client.Invoke(ctx, addr, NewRequest(RequestQueryMessage))
	want := "head:" + strings.Repeat("a", 10000) + "small" + strings.Repeat("b", 5000)
	if err != nil || string(resp.Body) != want {
		t.Fatalf("body parts: %v %v", resp, err)
	}
	// The writer releases the body once its write returned, which may be
	// after the client read the response.
	for deadline := time.Now().Add(5 * time.Second); released.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if released.Load() != 1 {
		t.Fatalf("BodyRelease ran %d times", released.Load())
	}
	req := NewRequest(RequestGetMaxOffset)
	req.SerializeType = SerializeRocketMQ
	resp, err = client.Invoke(ctx, addr, req)
	if err != nil || resp.ResponseCode() != ResponseSystemError {
		t.Fatalf("unencodable response: %v %v", resp, err)
	}
	// A request with the oneway bit gets no answer, but is served.
	req = NewRequest(RequestUpdateConsumerOffset)
	req.Flag |= FlagOneway
	conn, err := client.Conn(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.InvokeOneway(req); err != nil {
		t.Fatal(err)
	}
	resp, err = client.Invoke(ctx, addr, NewRequest(RequestUpdateConsumerOffset))
	if err != nil || resp.ResponseCode() != ResponseSuccess {
		t.Fatal(resp, err)
	}
	if !strings.Contains(sink.String(), "handler panic") || !strings.Contains(sink.String(), "cannot encode") {
		t.Fatalf("log: %s", sink.String())
	}
}

// TestGracefulClose: requests read before Close are answered; every
// goroutine exits.
func TestGracefulClose(t *testing.T) {
	check := goroutineBaseline(t)
	s, err := NewServer(Options{Logger: testLogger(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	arrived := make(chan struct{}, 10)
	s.Handle(RequestSendMessageV2, KindSend, func(c *Conn, req *Command) *Command {
		arrived <- struct{}{}
		time.Sleep(100 * time.Millisecond)
		return echo(c, req)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.ListenAndServe("256.0.0.1:0") }()
	if err := <-served; err == nil {
		t.Fatal("ListenAndServe on a bad address")
	}
	go func() { served <- s.Serve(ln) }()
	client, err := NewClient(Options{Logger: testLogger(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 5)
	for range 5 {
		go func() {
			resp, err := client.Invoke(context.Background(), ln.Addr().String(), NewRequest(RequestSendMessageV2))
			if err == nil && resp.ResponseCode() != ResponseSuccess {
				err = fmt.Errorf("code %d", resp.Code)
			}
			results <- err
		}()
	}
	for range 5 {
		<-arrived
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := <-results; err != nil {
			t.Errorf("in-flight request: %v", err)
		}
	}
	if err := <-served; !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if err := s.Serve(ln); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	client.Close()
	if err := client.Close(); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if _, err := client.Invoke(context.Background(), ln.Addr().String(), NewRequest(1)); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	check()
}

func TestOptionsValidate(t *testing.T) {
	bad := []Options{
		{MaxFrameSize: -1}, {MaxFrameSize: 10}, {MaxFrameSize: 2 << 30}, {ReadBufferSize: -1},
		{CallTimeout: -1}, {ConnsPerAddr: 5000}, {CallbackWorkers: -1},
		{Pools: map[Kind]PoolOptions{numKinds: {}}}, {Pools: map[Kind]PoolOptions{KindSend: {Workers: -1}}},
	}
	for _, o := range bad {
		if _, err := NewServer(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
		if _, err := NewClient(o); err == nil {
			t.Errorf("client %+v accepted", o)
		}
	}
	if KindPull.String() != "pull" || Kind(99).String() != "Kind(99)" || SerializeRocketMQ.String() != "ROCKETMQ" {
		t.Fatal("names")
	}
}

// TestPipelinedAsyncCallbacks: responses that arrive together are handed to a
// callback worker in one batch. Every callback runs once, with its own
// response; a callback may make a synchronous call on the same connection
// (it does not run on the connection's reader, which must read that answer).
func TestPipelinedAsyncCallbacks(t *testing.T) {
	_, addr := startServer(t, Options{}, func(s *Server) {
		s.Handle(RequestSendMessageV2, KindInline, echo)
	})
	client := newTestClient(t, Options{})
	conn, err := client.Conn(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	var wg sync.WaitGroup
	var runs [n]atomic.Int32
	errs := make(chan error, n)
	for i := range n {
		req := NewRequest(RequestSendMessageV2)
		req.SetExtInt64("n", int64(i))
		wg.Add(1)
		err := conn.InvokeAsync(req, 0, func(resp *Command, err error) {
			defer wg.Done()
			runs[i].Add(1)
			if err != nil {
				errs <- err
				return
			}
			if got, _ := resp.GetInt64("n"); got != int64(i) {
				errs <- fmt.Errorf("callback %d got n=%d", i, got)
			}
			resp.Release()
			if i%500 == 0 { // a synchronous call from a callback
				sync := NewRequest(RequestSendMessageV2)
				sync.SetExtInt64("n", -1)
				r, err := conn.Invoke(context.Background(), sync)
				if err != nil {
					errs <- fmt.Errorf("call from callback %d: %w", i, err)
					return
				}
				r.Release()
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range runs {
		if got := runs[i].Load(); got != 1 {
			t.Fatalf("callback %d ran %d times", i, got)
		}
	}
	if st := client.IOStats(); st.FramesRead <= st.Reads {
		t.Logf("no read carried more than one frame on average (%+v): batching not exercised", st)
	}
}

// TestReplyInPlace: a handler answers with its request turned into the
// response; the client gets the code, remark and the fields set after, none of
// the request's; a oneway request's answer is not written.
func TestReplyInPlace(t *testing.T) {
	_, addr := startServer(t, Options{}, func(s *Server) {
		s.Handle(RequestSendMessageV2, KindInline, func(c *Conn, req *Command) *Command {
			n := req.Ext("n")
			resp := ReplyInPlace(req, ResponseSuccess, "done")
			resp.ExtFields = append(resp.ExtFields, Field{Key: "echo", Value: n})
			return resp
		})
	})
	// The client logs a response to no pending call (at debug level): an
	// answer to the oneway request would arrive before the later answers.
	var log syncBuffer
	client := newTestClient(t, Options{Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	conn, err := client.Conn(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	oneway := NewRequest(RequestSendMessageV2)
	oneway.SetExt("n", "oneway")
	if err := conn.InvokeOneway(oneway); err != nil {
		t.Fatal(err)
	}
	for _, form := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		req := NewRequest(RequestSendMessageV2)
		req.SerializeType = form
		req.SetExt("n", "7")
		req.SetExt("other", "x")
		req.Body = []byte("body")
		resp, err := conn.Invoke(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ResponseCode() != ResponseSuccess || resp.Remark != "done" || len(resp.ExtFields) != 1 ||
			resp.Ext("echo") != "7" || len(resp.Body) != 0 || resp.SerializeType != form {
			t.Fatalf("%v: got %v", form, resp)
		}
		resp.Release()
	}
	if strings.Contains(log.String(), "no pending call") {
		t.Fatalf("the oneway request was answered:\n%s", log.String())
	}
}
