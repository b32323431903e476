package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/apache/rocketmq-clients/golang/v5/credentials"
	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/mqstore/mqstore/bench/report"
	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/grpcserver"
	"github.com/mqstore/mqstore/namesrv"
)

// GRPCConfig is the workload of `mqbench grpc`: RocketMQ 5 clients (the Go client
// github.com/apache/rocketmq-clients/golang/v5) against mqstore's gRPC endpoint.
type GRPCConfig struct {
	Addr      string // gRPC endpoint of a running mqstore ("" = an embedded one)
	Topic     string // an existing topic to use with Addr (the gRPC side never creates one); "" = a new one, embedded only
	Dir       string // data directory of the embedded one ("" = temporary)
	Size      int    // body bytes
	Messages  int64  // messages to produce, then to receive and ack
	Producers int    // producer clients
	Window    int    // synchronous senders per producer client
	Consumers int    // simple consumer clients (each with Window receivers)
	Batch     int    // receive batch size
	Remoting  bool   // also run the remoting produce benchmark on the same workload, for the ratio
	Raw       bool   // also produce with the bare generated stubs (no client library), plaintext
	RawBatch  int    // messages per SendMessage request of the bare-stub producer (the 5.x clients send 1)
	Flush     string // flush mode of the embedded servers: FlushAsync or FlushSync
	// RemotingWindow is the remoting producers' sends in flight (0: Window). With RawBatch > 1,
	// Window × RawBatch keeps the messages in flight equal on both sides.
	RemotingWindow int
	Client         bool // produce with the 5.x client library
	Receive        bool // receive and ack what was produced
	RawReceive     bool // receive and ack with the bare stubs (one AckMessage per received batch) instead of the client
}

// DefaultGRPC is the default workload.
func DefaultGRPC() GRPCConfig {
	return GRPCConfig{Size: 1024, Messages: 100000, Producers: 2, Window: 32, Consumers: 2, Batch: 32, Remoting: true, Raw: true,
		Client: true, Receive: true, RawBatch: 1, Flush: FlushAsync}
}

// GRPCResult is one phase's figures.
type GRPCResult struct {
	Phase      string
	Messages   int64
	Errors     int64
	Seconds    float64
	MsgsPerSec float64
	P50, P99   time.Duration // per call (send; receive+ack of a batch)
	// CPUPerMsg is the process's CPU time (user + system, clients and embedded server together)
	// per message: on a shared machine it is steadier than the rate.
	CPUPerMsg time.Duration
}

func (r GRPCResult) String() string {
	return fmt.Sprintf("%-20s %9d msgs %8.0f msgs/s  p50 %8v  p99 %8v  cpu %6v/msg  errors %d", r.Phase, r.Messages, r.MsgsPerSec,
		r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.CPUPerMsg.Round(100*time.Nanosecond), r.Errors)
}

// remotingWindow is the remoting producers' window.
func remotingWindow(cfg GRPCConfig) int {
	if cfg.RemotingWindow > 0 {
		return cfg.RemotingWindow
	}
	return cfg.Window
}

// measured runs one phase and adds its CPU time per message.
func measured(phase func() (GRPCResult, error)) (GRPCResult, error) {
	c0 := report.ProcessCPU()
	r, err := phase()
	if r.Messages > 0 {
		r.CPUPerMsg = (report.ProcessCPU() - c0) / time.Duration(r.Messages)
	}
	return r, err
}

// latencies collects call latencies of one phase.
type latencies struct {
	mu  sync.Mutex // guards all
	all []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.all = append(l.all, d); l.mu.Unlock() }

func (l *latencies) quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.all) == 0 {
		return 0
	}
	sort.Slice(l.all, func(i, j int) bool { return l.all[i] < l.all[j] })
	return l.all[min(len(l.all)-1, int(q*float64(len(l.all))))]
}

// RunGRPC produces cfg.Messages with 5.x producers, then receives and acks them with 5.x simple
// consumers, and (with cfg.Remoting) runs the remoting produce benchmark on the same workload.
func RunGRPC(ctx context.Context, cfg GRPCConfig, out io.Writer) ([]GRPCResult, error) {
	if cfg.Size <= 0 || cfg.Messages <= 0 || cfg.Producers <= 0 || cfg.Window <= 0 || cfg.Consumers <= 0 || cfg.Batch <= 0 {
		return nil, fmt.Errorf("%w: size, messages, producers, window, consumers and batch must be positive", ErrUsage)
	}
	logDir, err := os.MkdirTemp("", "mqbench-rmq5-logs")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(logDir)
	os.Setenv(rmq.CLIENT_LOG_ROOT, logDir)
	os.Setenv(rmq.CLIENT_LOG_LEVEL, "error")
	rmq.ResetLogger()

	addr, topic := cfg.Addr, cfg.Topic
	if addr == "" {
		if topic == "" {
			topic = fmt.Sprintf("BenchGRPC-%d", time.Now().UnixNano()%1e9)
		}
		stop, a, err := startGRPCEmbedded(cfg.Dir, topic, cfg.Flush == FlushSync)
		if err != nil {
			return nil, err
		}
		defer stop()
		addr = a
	} else if topic == "" {
		return nil, fmt.Errorf("%w: with an address, name an existing topic (mqadmin updateTopic): the gRPC side does not create topics", ErrUsage)
	}
	var results []GRPCResult
	var prod, raw GRPCResult
	recvCfg := cfg
	recvCfg.Messages = 0
	if cfg.Client {
		if prod, err = measured(func() (GRPCResult, error) { return grpcProduce(ctx, cfg, addr, topic) }); err != nil {
			return nil, err
		}
		fmt.Fprintln(out, prod)
		results = append(results, prod)
		recvCfg.Messages += prod.Messages
	}
	if cfg.Raw {
		if raw, err = measured(func() (GRPCResult, error) { return grpcProduceRaw(ctx, cfg, addr, topic) }); err != nil {
			return results, err
		}
		fmt.Fprintln(out, raw)
		results = append(results, raw)
		recvCfg.Messages += raw.Messages // received and acked too
	}
	if cfg.Receive && recvCfg.Messages > 0 {
		recv, err := measured(func() (GRPCResult, error) {
			if cfg.RawReceive {
				return grpcReceiveAckRaw(ctx, recvCfg, addr, topic)
			}
			return grpcReceiveAck(ctx, recvCfg, addr, topic)
		})
		if err != nil {
			return results, err
		}
		fmt.Fprintln(out, recv)
		results = append(results, recv)
	}
	if cfg.Remoting {
		r, err := measured(func() (GRPCResult, error) {
			rc := Defaults(ModeProduce)
			rc.Size, rc.Messages, rc.Producers, rc.Window, rc.Quiet, rc.Dir = cfg.Size, cfg.Messages, cfg.Producers, cfg.Window, true, cfg.Dir
			rc.Window = remotingWindow(cfg)
			if cfg.Flush == FlushSync {
				rc.Flush = FlushSync
			}
			rep, err := Run(ctx, rc, io.Discard, io.Discard)
			if err != nil {
				return GRPCResult{}, fmt.Errorf("remoting produce: %w", err)
			}
			return GRPCResult{Phase: "remoting produce", Messages: rep.Messages, Errors: rep.Errors, Seconds: rep.Seconds,
				MsgsPerSec: rep.MsgsPerSec, P50: time.Duration(rep.P50us * 1e3), P99: time.Duration(rep.P99us * 1e3)}, nil
		})
		if err != nil {
			return results, err
		}
		fmt.Fprintln(out, r)
		if cfg.Client {
			fmt.Fprintf(out, "gRPC/remoting produce ratio %.2f, CPU per message %.2f× (remoting window %d async sends per producer; gRPC %d synchronous senders)\n",
				prod.MsgsPerSec/r.MsgsPerSec, float64(prod.CPUPerMsg)/float64(r.CPUPerMsg), cfg.Window, cfg.Window)
		}
		if cfg.Raw {
			fmt.Fprintf(out, "gRPC (bare stubs)/remoting produce ratio %.2f, CPU per message %.2f× (messages in flight per producer: gRPC %d, remoting %d)\n",
				raw.MsgsPerSec/r.MsgsPerSec, float64(raw.CPUPerMsg)/float64(r.CPUPerMsg), cfg.Window*max(cfg.RawBatch, 1), remotingWindow(cfg))
		}
		results = append(results, r)
	}
	return results, nil
}

// startGRPCEmbedded starts a broker (no remoting listener needed) with its gRPC endpoint and
// creates topic (8 queues) on it.
func startGRPCEmbedded(dir, topic string, syncFlush bool) (stop func(), addr string, err error) {
	cleanup := func() {}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "mqbench-grpc"); err != nil {
			return nil, "", err
		}
		cleanup = func() { os.RemoveAll(dir) }
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	bcfg := broker.DefaultConfig()
	bcfg.StorePathRootDir, bcfg.ListenPort = dir, 0
	if syncFlush {
		bcfg.FlushDiskType = broker.SyncFlush
	}
	b, err := broker.New(bcfg, broker.Options{Logger: quiet})
	if err != nil {
		cleanup()
		return nil, "", err
	}
	tc := namesrv.TopicConfig{TopicName: topic, ReadQueueNums: 8, WriteQueueNums: 8, Perm: namesrv.PermRW}
	if err := b.UpdateTopic(tc, "mqbench"); err != nil {
		b.Close()
		cleanup()
		return nil, "", err
	}
	srv, err := grpcserver.New(b, grpcserver.Options{Logger: quiet})
	if err != nil {
		b.Close()
		cleanup()
		return nil, "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err == nil {
		err = srv.Start(ln)
	}
	if err != nil {
		srv.Close()
		b.Close()
		cleanup()
		return nil, "", err
	}
	return func() {
		srv.Close()
		b.Close()
		cleanup()
	}, srv.Addr(), nil
}

func grpcConfig(addr, group string) *rmq.Config {
	return &rmq.Config{Endpoint: addr, ConsumerGroup: group, Credentials: &credentials.SessionCredentials{}}
}

func grpcProduce(ctx context.Context, cfg GRPCConfig, addr, topic string) (GRPCResult, error) {
	var producers []rmq.Producer
	defer func() {
		for _, p := range producers {
			p.GracefulStop()
		}
	}()
	for i := 0; i < cfg.Producers; i++ {
		p, err := rmq.NewProducer(grpcConfig(addr, ""), rmq.WithTopics(topic))
		if err != nil {
			return GRPCResult{}, err
		}
		if err := p.Start(); err != nil {
			return GRPCResult{}, err
		}
		producers = append(producers, p)
	}
	body := body(cfg.Size)
	var left, errs atomic.Int64
	left.Store(cfg.Messages)
	lat := &latencies{}
	start := time.Now()
	var wg sync.WaitGroup
	for _, p := range producers {
		for w := 0; w < cfg.Window; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for left.Add(-1) >= 0 && ctx.Err() == nil {
					t := time.Now()
					if _, err := p.Send(ctx, &rmq.Message{Topic: topic, Body: body}); err != nil {
						errs.Add(1)
						continue
					}
					lat.add(time.Since(t))
				}
			}()
		}
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	sent := cfg.Messages - errs.Load()
	return GRPCResult{Phase: "gRPC produce", Messages: sent, Errors: errs.Load(), Seconds: secs, MsgsPerSec: float64(sent) / secs,
		P50: lat.quantile(0.5), P99: lat.quantile(0.99)}, nil
}

func grpcReceiveAck(ctx context.Context, cfg GRPCConfig, addr, topic string) (GRPCResult, error) {
	group := topic + "-cg"
	var consumers []rmq.SimpleConsumer
	defer func() {
		for _, c := range consumers {
			c.GracefulStop()
		}
	}()
	for i := 0; i < cfg.Consumers; i++ {
		c, err := rmq.NewSimpleConsumer(grpcConfig(addr, group), rmq.WithAwaitDuration(2*time.Second),
			rmq.WithSubscriptionExpressions(map[string]*rmq.FilterExpression{topic: rmq.SUB_ALL}))
		if err != nil {
			return GRPCResult{}, err
		}
		if err := c.Start(); err != nil {
			return GRPCResult{}, err
		}
		consumers = append(consumers, c)
	}
	var acked, errs atomic.Int64
	lat := &latencies{}
	start := time.Now()
	idle := time.Now().Add(10 * time.Second)
	var idleMu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range consumers {
		for w := 0; w < cfg.Window; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for acked.Load() < cfg.Messages && ctx.Err() == nil {
					idleMu.Lock()
					stalled := time.Now().After(idle)
					idleMu.Unlock()
					if stalled {
						return
					}
					t := time.Now()
					mvs, err := c.Receive(ctx, int32(cfg.Batch), 30*time.Second)
					if err != nil {
						continue // nothing ready in the long poll
					}
					for _, mv := range mvs {
						if err := c.Ack(ctx, mv); err != nil {
							errs.Add(1)
							continue
						}
						acked.Add(1)
					}
					lat.add(time.Since(t))
					idleMu.Lock()
					idle = time.Now().Add(10 * time.Second)
					idleMu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	return receiveAckResult("gRPC receive+ack", cfg.Messages, acked.Load(), errs.Load(), start, lat)
}

// grpcProduceRaw sends with the generated MessagingService stubs over plaintext connections (one
// per producer), Window calls in flight per connection: the server's cost without the client
// library's (its interceptors, metrics and TLS). The messages join the topic (they are received
// and acked in the next phase too).
func grpcProduceRaw(ctx context.Context, cfg GRPCConfig, addr, topic string) (GRPCResult, error) {
	conns, err := dialPlain(addr, cfg.Producers)
	if err != nil {
		return GRPCResult{}, err
	}
	defer closeAll(conns)
	ctx = metadata.AppendToOutgoingContext(ctx, "x-mq-client-id", fmt.Sprintf("mqbench-raw-%d", os.Getpid()))
	b := body(cfg.Size)
	batch := int64(max(cfg.RawBatch, 1))
	var left, errs, seq atomic.Int64
	left.Store(cfg.Messages)
	lat := &latencies{}
	start := time.Now()
	var wg sync.WaitGroup
	for _, conn := range conns {
		client := v2.NewMessagingServiceClient(conn)
		for w := 0; w < cfg.Window; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n := min(batch, left.Add(-batch)+batch)
					if n <= 0 || ctx.Err() != nil {
						return
					}
					req := &v2.SendMessageRequest{Messages: make([]*v2.Message, n)}
					for i := range req.Messages {
						req.Messages[i] = &v2.Message{Topic: &v2.Resource{Name: topic}, Body: b,
							SystemProperties: &v2.SystemProperties{MessageId: fmt.Sprintf("RAW%029d", seq.Add(1)), MessageType: v2.MessageType_NORMAL}}
					}
					t := time.Now()
					resp, err := client.SendMessage(ctx, req)
					if err != nil || resp.GetStatus().GetCode() != v2.Code_OK {
						errs.Add(n)
						continue
					}
					lat.add(time.Since(t))
				}
			}()
		}
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	sent := cfg.Messages - errs.Load()
	phase := "gRPC produce (bare)"
	if batch > 1 {
		phase = fmt.Sprintf("gRPC produce (bare×%d)", batch)
	}
	return GRPCResult{Phase: phase, Messages: sent, Errors: errs.Load(), Seconds: secs, MsgsPerSec: float64(sent) / secs,
		P50: lat.quantile(0.5), P99: lat.quantile(0.99)}, nil
}

// grpcReceiveAckRaw receives with the generated stubs over plaintext connections (one per
// consumer, Window receivers each) and acks each received batch with one AckMessage of all its
// entries (the protocol allows it; the v5.1.2 Go client acks one message per call).
func grpcReceiveAckRaw(ctx context.Context, cfg GRPCConfig, addr, topic string) (GRPCResult, error) {
	group := topic + "-cg"
	conns, err := dialPlain(addr, cfg.Consumers)
	if err != nil {
		return GRPCResult{}, err
	}
	defer closeAll(conns)
	ctx = metadata.AppendToOutgoingContext(ctx, "x-mq-client-id", fmt.Sprintf("mqbench-rawrecv-%d", os.Getpid()))
	var acked, errs atomic.Int64
	lat := &latencies{}
	start := time.Now()
	var idle atomic.Int64
	idle.Store(time.Now().Add(10 * time.Second).UnixNano())
	var wg sync.WaitGroup
	for _, conn := range conns {
		client := v2.NewMessagingServiceClient(conn)
		for w := 0; w < cfg.Window; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := &v2.ReceiveMessageRequest{Group: &v2.Resource{Name: group}, MessageQueue: &v2.MessageQueue{Topic: &v2.Resource{Name: topic}},
					FilterExpression: &v2.FilterExpression{Type: v2.FilterType_TAG, Expression: "*"}, BatchSize: int32(cfg.Batch),
					InvisibleDuration: durationpb.New(30 * time.Second)}
				for acked.Load() < cfg.Messages && ctx.Err() == nil && time.Now().UnixNano() < idle.Load() {
					t := time.Now()
					rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					entries, err := receiveRaw(rctx, client, req)
					cancel()
					if err != nil || len(entries) == 0 {
						continue
					}
					resp, err := client.AckMessage(ctx, &v2.AckMessageRequest{Group: req.Group, Topic: req.MessageQueue.Topic, Entries: entries})
					if err != nil {
						errs.Add(int64(len(entries)))
						continue
					}
					for _, e := range resp.GetEntries() {
						if e.GetStatus().GetCode() == v2.Code_OK {
							acked.Add(1)
						} else {
							errs.Add(1)
						}
					}
					lat.add(time.Since(t))
					idle.Store(time.Now().Add(10 * time.Second).UnixNano())
				}
			}()
		}
	}
	wg.Wait()
	return receiveAckResult("gRPC receive+ack (bare)", cfg.Messages, acked.Load(), errs.Load(), start, lat)
}

// receiveRaw runs one ReceiveMessage call and returns the ack entries of its messages.
func receiveRaw(ctx context.Context, client v2.MessagingServiceClient, req *v2.ReceiveMessageRequest) ([]*v2.AckMessageEntry, error) {
	st, err := client.ReceiveMessage(ctx, req)
	if err != nil {
		return nil, err
	}
	var out []*v2.AckMessageEntry
	for {
		resp, err := st.Recv()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if m := resp.GetMessage(); m != nil {
			sp := m.GetSystemProperties()
			out = append(out, &v2.AckMessageEntry{MessageId: sp.GetMessageId(), ReceiptHandle: sp.GetReceiptHandle()})
		}
	}
}

// dialPlain opens n plaintext client connections to addr (closing them all on an error).
func dialPlain(addr string, n int) ([]*grpc.ClientConn, error) {
	var conns []*grpc.ClientConn
	for range n {
		c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			closeAll(conns)
			return nil, err
		}
		conns = append(conns, c)
	}
	return conns, nil
}

func closeAll(conns []*grpc.ClientConn) {
	for _, c := range conns {
		c.Close()
	}
}

// receiveAckResult is a receive+ack phase's result; an error when fewer than want were acked.
func receiveAckResult(phase string, want, acked, errs int64, start time.Time, lat *latencies) (GRPCResult, error) {
	secs := time.Since(start).Seconds()
	res := GRPCResult{Phase: phase, Messages: acked, Errors: errs, Seconds: secs, MsgsPerSec: float64(acked) / secs,
		P50: lat.quantile(0.5), P99: lat.quantile(0.99)}
	if acked < want {
		return res, errors.New("bench: receive+ack stalled before every message was acked")
	}
	return res, nil
}
