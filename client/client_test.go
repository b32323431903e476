package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/message"
)

func TestOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []client.Option
		want error
	}{
		{"no name server", nil, client.ErrNoNameServer},
		{"empty group", []client.Option{client.WithNameServer("127.0.0.1:1"), client.WithGroup("")}, client.ErrInvalidOption},
		{"zero window", []client.Option{client.WithNameServer("127.0.0.1:1"), client.WithWindow(0)}, client.ErrInvalidOption},
		{"negative retries", []client.Option{client.WithNameServer("127.0.0.1:1"), client.WithRetries(-1)}, client.ErrInvalidOption},
		{"ok", []client.Option{client.WithNameServer("127.0.0.1:1;127.0.0.1:2")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := client.NewProducer(tt.opts...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil {
				if err := p.Close(); err != nil {
					t.Fatal(err)
				}
				if err := p.Close(); !errors.Is(err, client.ErrClosed) {
					t.Fatalf("second close: %v", err)
				}
			}
		})
	}
}

func TestSendAndPull(t *testing.T) {
	s := startServer(t, nil)
	a := newAdmin(t, s)
	createTopic(t, s, a, "TopicSend", 4)
	p := newProducer(t, s, client.WithGroup("pg"))
	ctx := ctxT(t)

	msg := message.New("TopicSend", []byte("hello"))
	msg.SetTags("TagA")
	msg.SetKeys("k1", "k2")
	msg.Flag = 7
	res, err := p.Send(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != client.SendOK || len(res.MsgID) != 32 || len(res.OffsetMsgID) != 32 || res.Queue.Topic != "TopicSend" {
		t.Fatalf("result %+v", res)
	}
	if _, ok := msg.Property(message.PropertyUniqKey); ok {
		t.Fatal("Send modified the message")
	}

	c := newConsumer(t, s, client.WithGroup("cg"))
	got := pullAll(t, c, "TopicSend", 1)
	if len(got) != 1 {
		t.Fatalf("pulled %d messages", len(got))
	}
	m := got[0]
	if string(m.Body) != "hello" || m.Tags() != "TagA" || m.Flag != 7 || m.MsgID() != res.MsgID ||
		m.OffsetMsgID() != res.OffsetMsgID || m.QueueOffset != res.QueueOffset || m.QueueID != res.Queue.QueueID {
		t.Fatalf("pulled %+v (%s), sent %+v", m, m.MsgID(), res)
	}
	if keys := m.Keys(); len(keys) != 2 || keys[0] != "k1" {
		t.Fatalf("keys %v", keys)
	}
}

func TestSendAsyncWindow(t *testing.T) {
	s := startServer(t, nil)
	a := newAdmin(t, s)
	createTopic(t, s, a, "TopicAsync", 4)
	p := newProducer(t, s, client.WithWindow(8))
	ctx := ctxT(t)

	const n = 2000
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[client.MessageQueue][]int64{}
	var failed atomic.Int32
	wg.Add(n)
	for i := 0; i < n; i++ {
		msg := message.New("TopicAsync", []byte(fmt.Sprintf("m%d", i)))
		err := p.SendAsync(ctx, msg, func(res client.SendResult, err error) {
			defer wg.Done()
			if err != nil {
				failed.Add(1)
				return
			}
			mu.Lock()
			seen[res.Queue] = append(seen[res.Queue], res.QueueOffset)
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d sends failed", failed.Load())
	}
	total := 0
	for q, offs := range seen {
		sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
		for i, o := range offs {
			if o != int64(i) {
				t.Fatalf("queue %v offsets %v: not 0..n-1", q, offs[:min(len(offs), 10)])
			}
		}
		total += len(offs)
	}
	if total != n || len(seen) != 4 {
		t.Fatalf("total %d over %d queues", total, len(seen))
	}
}

func TestSendBatchAndOneway(t *testing.T) {
	s := startServer(t, nil)
	a := newAdmin(t, s)
	createTopic(t, s, a, "TopicBatch", 1)
	p := newProducer(t, s)
	ctx := ctxT(t)

	var msgs []*message.Message
	for i := 0; i < 10; i++ {
		m := message.New("TopicBatch", []byte(fmt.Sprintf("b%d", i)))
		m.SetKeys(fmt.Sprintf("key%d", i))
		msgs = append(msgs, m)
	}
	res, err := p.SendBatch(ctx, msgs)
	if err != nil {
		t.Fatal(err)
	}
	if res.QueueOffset != 0 || res.MsgID != "" || res.OffsetMsgID == "" {
		t.Fatalf("batch result %+v", res)
	}
	done := make(chan error, 1)
	if err := p.SendBatchAsync(ctx, msgs[:3], func(res client.SendResult, err error) {
		if err == nil && res.QueueOffset != 10 {
			err = fmt.Errorf("async batch at %d", res.QueueOffset)
		}
		done <- err
	}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := p.SendOneway(ctx, message.New("TopicBatch", []byte("oneway"))); err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, s)
	got := pullAll(t, c, "TopicBatch", 14)
	if len(got) != 14 {
		t.Fatalf("pulled %d", len(got))
	}
	for i := 0; i < 10; i++ {
		if string(got[i].Body) != fmt.Sprintf("b%d", i) || got[i].QueueOffset != int64(i) || got[i].MsgID() != got[i].OffsetMsgID() {
			t.Fatalf("message %d: %q at %d", i, got[i].Body, got[i].QueueOffset)
		}
	}
	if string(got[13].Body) != "oneway" {
		t.Fatalf("last %q", got[13].Body)
	}

	if _, err := p.SendBatch(ctx, nil); !errors.Is(err, client.ErrInvalidMessage) {
		t.Fatalf("empty batch: %v", err)
	}
	mixed := []*message.Message{message.New("A", nil), message.New("B", nil)}
	if _, err := p.SendBatch(ctx, mixed); !errors.Is(err, client.ErrInvalidMessage) {
		t.Fatalf("mixed batch: %v", err)
	}
}

func TestAutoCreateTopic(t *testing.T) {
	s := startServer(t, nil)
	p := newProducer(t, s)
	res, err := p.Send(ctxT(t), message.New("TopicAuto", []byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	if res.Queue.QueueID < 0 || res.Queue.QueueID >= 4 {
		t.Fatalf("queue %v", res.Queue)
	}
	c := newConsumer(t, s)
	if got := pullAll(t, c, "TopicAuto", 1); len(got) != 1 {
		t.Fatalf("pulled %d", len(got))
	}
}

func TestPullLongPolling(t *testing.T) {
	s := startServer(t, nil)
	a := newAdmin(t, s)
	createTopic(t, s, a, "TopicPoll", 1)
	p := newProducer(t, s)
	c := newConsumer(t, s, client.WithSuspendTimeout(3*time.Second))
	ctx := ctxT(t)
	qs, err := c.Queues(ctx, "TopicPoll")
	if err != nil || len(qs) != 1 {
		t.Fatalf("queues %v, %v", qs, err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		p.Send(context.Background(), message.New("TopicPoll", []byte("late")))
	}()
	start := time.Now()
	res, err := c.Pull(ctx, qs[0], 0, 32)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != client.PullFound || len(res.Messages) != 1 || time.Since(start) > 2*time.Second {
		t.Fatalf("status %v, %d messages after %v", res.Status, len(res.Messages), time.Since(start))
	}

	short := newConsumer(t, s, client.WithSuspendTimeout(300*time.Millisecond))
	start = time.Now()
	res, err = short.Pull(ctx, qs[0], 1, 32)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != client.PullNoNewMsg || res.NextBeginOffset != 1 || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("status %v next %d after %v", res.Status, res.NextBeginOffset, time.Since(start))
	}
	res, err = short.Pull(ctx, qs[0], 100, 32)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != client.PullOffsetIllegal || res.MaxOffset != 1 {
		t.Fatalf("beyond the end: %+v", res)
	}
}

func TestOffsets(t *testing.T) {
	s := startServer(t, nil)
	a := newAdmin(t, s)
	createTopic(t, s, a, "TopicOff", 2)
	c := newConsumer(t, s, client.WithGroup("offgroup"))
	ctx := ctxT(t)
	qs, err := c.Queues(ctx, "TopicOff")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.QueryOffset(ctx, qs[1]); !errors.Is(err, client.ErrNotFound) && err != nil {
		t.Fatalf("query before commit: %v", err)
	}
	if err := c.CommitOffset(ctx, qs[1], 5); err != nil {
		t.Fatal(err)
	}
	off, err := c.QueryOffset(ctx, qs[1])
	if err != nil || off != 5 {
		t.Fatalf("offset %d, %v", off, err)
	}
}

func TestAdmin(t *testing.T) {
	s := startServer(t, nil)
	a := newAdmin(t, s)
	ctx := ctxT(t)
	createTopic(t, s, a, "TopicAdmin", 8)
	r, err := a.TopicRoute(ctx, "TopicAdmin")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.QueueDatas) != 1 || r.QueueDatas[0].WriteQueueNums != 8 || r.BrokerDatas[0].BrokerAddrs[0] != s.b.Addr() {
		t.Fatalf("route %+v", r)
	}
	if _, err := a.TopicRoute(ctx, "NoSuchTopic"); !errors.Is(err, client.ErrTopicNotExist) {
		t.Fatalf("missing topic: %v", err)
	}
	brokers, clusters, err := a.ClusterInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(clusters["DefaultCluster"]) != 1 || brokers["broker-a"].BrokerAddrs[0] != s.b.Addr() {
		t.Fatalf("cluster %v %v", brokers, clusters)
	}

	p := newProducer(t, s)
	var ids []client.SendResult
	for i := 0; i < 5; i++ {
		m := message.New("TopicAdmin", []byte(fmt.Sprintf("v%d", i)))
		m.SetKeys("order-42")
		res, err := p.Send(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res)
	}
	waitDispatch(t, s)
	qs, err := a.Queues(ctx, "TopicAdmin")
	if err != nil || len(qs) != 8 {
		t.Fatalf("queues %v %v", qs, err)
	}
	total := int64(0)
	for _, q := range qs {
		minOff, err1 := a.MinOffset(ctx, q)
		maxOff, err2 := a.MaxOffset(ctx, q)
		if err1 != nil || err2 != nil || minOff != 0 {
			t.Fatalf("offsets of %v: %d %d %v %v", q, minOff, maxOff, err1, err2)
		}
		total += maxOff
	}
	if total != 5 {
		t.Fatalf("max offsets add up to %d", total)
	}
	found, err := a.QueryMessageByKey(ctx, "TopicAdmin", "order-42", 32, time.Now().Add(-time.Hour), time.Time{})
	if err != nil || len(found) != 5 {
		t.Fatalf("by key: %d, %v", len(found), err)
	}
	m, err := a.QueryMessageByID(ctx, ids[2].OffsetMsgID)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Body) != "v2" || m.MsgID() != ids[2].MsgID {
		t.Fatalf("by id: %q %s", m.Body, m.MsgID())
	}
	if _, err := a.QueryMessageByID(ctx, "zz"); !errors.Is(err, client.ErrInvalidOption) {
		t.Fatalf("bad id: %v", err)
	}
}

func waitDispatch(t testing.TB, s *server) {
	t.Helper()
	if err := s.b.Store().Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestClosed(t *testing.T) {
	s := startServer(t, nil)
	p := newProducer(t, s)
	c := newConsumer(t, s)
	p.Close()
	c.Close()
	ctx := ctxT(t)
	if _, err := p.Send(ctx, message.New("T", []byte("x"))); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
	if err := p.SendAsync(ctx, message.New("T", []byte("x")), func(client.SendResult, error) {}); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("async after close: %v", err)
	}
	if _, err := c.Queues(ctx, "T"); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("queues after close: %v", err)
	}
	if _, err := p.Send(ctx, nil); !errors.Is(err, client.ErrInvalidMessage) {
		t.Fatalf("nil message: %v", err)
	}
}

func TestConsumerHeartbeat(t *testing.T) {
	s := startServer(t, nil)
	a := newAdmin(t, s)
	createTopic(t, s, a, "TopicHB", 1)
	c := newConsumer(t, s, client.WithGroup("hbgroup"))
	c.Subscribe("TopicHB", "TagA || TagB")
	ctx := ctxT(t)
	if _, err := c.Queues(ctx, "TopicHB"); err != nil {
		t.Fatal(err)
	}
	// The broker creates the group's retry topic when the heartbeat
	// arrives; its route shows the heartbeat was understood.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := a.TopicRoute(ctx, "%RETRY%hbgroup"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no retry topic: heartbeat not received")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The subscription filters on the broker.
	p := newProducer(t, s)
	for _, tag := range []string{"TagA", "TagC", "TagB"} {
		m := message.New("TopicHB", []byte(tag))
		m.SetTags(tag)
		if _, err := p.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	got := pullAll(t, c, "TopicHB", 2)
	var bodies [][]byte
	for _, m := range got {
		bodies = append(bodies, m.Body)
	}
	if len(got) != 2 || !bytes.Equal(bodies[0], []byte("TagA")) || !bytes.Equal(bodies[1], []byte("TagB")) {
		t.Fatalf("pulled %q", bodies)
	}
}

func TestRouteRefresh(t *testing.T) {
	s := startServer(t, nil)
	a := newAdmin(t, s)
	createTopic(t, s, a, "TopicGrow", 2)
	p := newProducer(t, s, client.WithRouteRefresh(100*time.Millisecond))
	ctx := ctxT(t)
	queues := func() map[int32]bool {
		seen := map[int32]bool{}
		for i := 0; i < 16; i++ {
			res, err := p.Send(ctx, message.New("TopicGrow", []byte("x")))
			if err != nil {
				t.Fatal(err)
			}
			seen[res.Queue.QueueID] = true
		}
		return seen
	}
	if got := queues(); len(got) != 2 {
		t.Fatalf("queues before: %v", got)
	}
	createTopic(t, s, a, "TopicGrow", 6)
	deadline := time.Now().Add(5 * time.Second)
	for len(queues()) != 6 {
		if time.Now().After(deadline) {
			t.Fatal("the producer never saw the new queues")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type brokerListener struct {
	checked atomic.Int32
}

func (l *brokerListener) ExecuteLocal(_ *message.Message, _ client.SendResult, arg any) client.TransactionState {
	return arg.(client.TransactionState)
}

func (l *brokerListener) Check(m *client.MessageExt) client.TransactionState {
	l.checked.Add(1)
	return client.TransactionCommit
}

func TestTransactionsWithBroker(t *testing.T) {
	s := startServer(t, func(c *broker.Config) {
		c.TransactionTimeOut = 500
		c.TransactionCheckInterval = 300
	})
	a := newAdmin(t, s)
	createTopic(t, s, a, "TopicTxReal", 1)
	l := &brokerListener{}
	tp, err := client.NewTransactionProducer(l, client.WithNameServer(s.nsAddr), client.WithGroup("txpg"), client.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	ctx := ctxT(t)
	for _, st := range []client.TransactionState{client.TransactionCommit, client.TransactionRollback, client.TransactionUnknown} {
		res, err := tp.SendInTransaction(ctx, message.New("TopicTxReal", []byte(st.String())), st)
		if err != nil || res.State != st || res.Status != client.SendOK {
			t.Fatalf("%v: %+v %v", st, res, err)
		}
	}
	c := newConsumer(t, s)
	got := pullAll(t, c, "TopicTxReal", 2)
	if len(got) != 2 || string(got[0].Body) != "COMMIT_MESSAGE" || string(got[1].Body) != "UNKNOW" || l.checked.Load() < 1 {
		t.Fatalf("consumed %d messages, checked %d", len(got), l.checked.Load())
	}
	if v, _ := got[0].Property(message.PropertyTransactionPrepared); v != "true" || got[0].TransactionID() == "" {
		t.Fatalf("committed message properties %q", got[0].Properties)
	}
}
