package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/remoting"
)

func TestAdminStats(t *testing.T) {
	s := startServer(t, nil)
	a := newAdmin(t, s)
	ctx := ctxT(t)
	createTopic(t, s, a, "TopicStats", 2)
	p := newProducer(t, s)
	for i := range 3 {
		if _, err := p.Send(ctx, message.New("TopicStats", []byte(fmt.Sprint("v", i)))); err != nil {
			t.Fatal(err)
		}
	}
	waitDispatch(t, s)

	topics, err := a.TopicList(ctx)
	if err != nil || !slices.Contains(topics, "TopicStats") || !slices.IsSorted(topics) {
		t.Fatalf("topic list %v %v", topics, err)
	}
	info, err := a.BrokerRuntimeInfo(ctx, s.b.Addr())
	if err != nil || info["brokerName"] != "broker-a" || info["msgPutTotalTodayNow"] != "3" {
		t.Fatalf("runtime info %v %v", info, err)
	}

	stats, err := a.TopicStats(ctx, "TopicStats")
	if err != nil || len(stats) != 2 {
		t.Fatalf("topic stats %+v %v", stats, err)
	}
	var total int64
	for i, q := range stats {
		if q.Topic != "TopicStats" || q.BrokerName != "broker-a" || q.QueueID != int32(i) || q.MinOffset != 0 ||
			(q.MaxOffset > 0) == q.LastUpdate.IsZero() || time.Since(q.LastUpdate) > time.Minute && !q.LastUpdate.IsZero() {
			t.Errorf("queue %+v", q)
		}
		total += q.MaxOffset
	}
	if total != 3 {
		t.Errorf("%d messages in the stats", total)
	}
	if _, err := a.TopicStats(ctx, "NoSuchTopic"); !errors.Is(err, client.ErrTopicNotExist) {
		t.Errorf("unknown topic: %v", err)
	}

	// A group that consumed 1 message of queue 0 (whatever queue 0 holds).
	c := newConsumer(t, s, client.WithGroup("statsGroup"))
	q0 := client.MessageQueue{Topic: "TopicStats", BrokerName: "broker-a", QueueID: 0}
	if err := c.CommitOffset(ctx, q0, 1); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"TopicStats", ""} {
		progress, err := a.ConsumeStats(ctx, "statsGroup", topic)
		if err != nil || len(progress) != 2 {
			t.Fatalf("consume stats (topic %q): %+v %v", topic, progress, err)
		}
		if p := progress[0]; p.MessageQueue != q0 || p.ConsumerOffset != 1 || p.BrokerOffset != stats[0].MaxOffset ||
			p.Lag() != stats[0].MaxOffset-1 || p.LastTimestamp.IsZero() {
			t.Errorf("queue 0 progress %+v", p)
		}
		if p := progress[1]; p.ConsumerOffset != 0 || p.Lag() != stats[1].MaxOffset || !p.LastTimestamp.IsZero() {
			t.Errorf("queue 1 progress %+v", p)
		}
	}
	if progress, err := a.ConsumeStats(ctx, "nobody", ""); err != nil || len(progress) != 0 {
		t.Errorf("a group without progress: %+v %v", progress, err)
	}
	if _, err := a.ConsumeStats(ctx, "", ""); !errors.Is(err, client.ErrInvalidOption) {
		t.Errorf("no group: %v", err)
	}

	m, err := a.ViewMessageByQueueOffset(ctx, q0, 0)
	if err != nil || m.QueueOffset != 0 || m.QueueID != 0 || !strings.HasPrefix(string(m.Body), "v") {
		t.Fatalf("message at offset 0: %+v %v", m, err)
	}
	if _, err := a.ViewMessageByQueueOffset(ctx, q0, 99); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("offset 99: %v", err)
	}
	// The tools group never commits.
	if progress, _ := a.ConsumeStats(ctx, client.ToolsConsumerGroup, ""); len(progress) != 0 {
		t.Errorf("tools group progress %+v", progress)
	}
}

// unknownListener leaves every transaction open: its local transaction and its checks answer
// UNKNOW.
type unknownListener struct{}

func (unknownListener) ExecuteLocal(*message.Message, client.SendResult, any) client.TransactionState {
	return client.TransactionUnknown
}
func (unknownListener) Check(*client.MessageExt) client.TransactionState {
	return client.TransactionUnknown
}

func TestAdminTransactions(t *testing.T) {
	s := startServer(t, func(c *broker.Config) {
		c.TransactionTimeOut = 1
		c.TransactionCheckInterval = 3600_000 // the test runs the checks
		c.TransactionCheckMax = 1
	})
	a := newAdmin(t, s)
	ctx := ctxT(t)
	createTopic(t, s, a, "TopicTxAdmin", 1)
	tp, err := client.NewTransactionProducer(unknownListener{}, client.WithNameServer(s.nsAddr), client.WithLogger(quiet),
		client.WithGroup("adminTxGroup"))
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	var halves []client.TransactionResult
	for i := range 3 {
		res, err := tp.SendInTransaction(ctx, message.New("TopicTxAdmin", []byte(fmt.Sprint("tx", i))), nil)
		if err != nil || res.State != client.TransactionUnknown {
			t.Fatalf("send %d: %+v %v", i, res, err)
		}
		halves = append(halves, res)
	}
	addr := s.b.Addr()
	open, total, err := a.OpenTransactions(ctx, addr, 0)
	if err != nil || total != 3 || len(open) != 3 {
		t.Fatalf("open %+v %d %v", open, total, err)
	}
	first := open[0]
	if first.BrokerAddr != addr || first.OffsetMsgID != halves[0].OffsetMsgID || first.ProducerGroup != "adminTxGroup" ||
		first.Topic != "TopicTxAdmin" || first.TransactionID != halves[0].MsgID || first.CheckTimes != 0 ||
		first.LastCheckResult != "none" || !first.LastCheck.IsZero() || first.StoreTime.IsZero() || first.ResumedFrom != -1 {
		t.Fatalf("first open %+v, sent %+v", first, halves[0])
	}
	if open, total, err := a.OpenTransactions(ctx, addr, 1); err != nil || total != 3 || len(open) != 1 {
		t.Fatalf("max 1: %d of %d, %v", len(open), total, err)
	}

	res, err := a.CommitTransaction(ctx, addr, open[0].HalfOffset)
	if err != nil || !res.Changed || res.Topic != "TopicTxAdmin" || res.QueueID != 0 || res.QueueOffset != 0 || res.MsgID == "" {
		t.Fatalf("commit %+v %v", res, err)
	}
	if res, err := a.CommitTransaction(ctx, addr, open[0].HalfOffset); err != nil || res.Changed || !strings.Contains(res.Remark, "nothing changed") {
		t.Fatalf("commit again %+v %v", res, err)
	}
	if res, err := a.RollbackTransaction(ctx, addr, open[1].HalfOffset); err != nil || !res.Changed || res.Topic != "" {
		t.Fatalf("rollback %+v %v", res, err)
	}
	if res, err := a.RollbackTransaction(ctx, addr, open[1].HalfOffset); err != nil || res.Changed {
		t.Fatalf("rollback again %+v %v", res, err)
	}
	var be *client.BrokerError
	if _, err := a.CommitTransaction(ctx, addr, open[1].HalfOffset); !errors.As(err, &be) || be.Code != remoting.ResponseIllegalOperation {
		t.Fatalf("commit of a rolled back one: %v", err)
	}
	if _, err := a.CommitTransaction(ctx, addr, 1<<40); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("no half message: %v", err)
	}

	// The third is checked once (UNKNOW), then discarded; resume puts it back.
	if _, err := a.ResumeCheckHalfMessage(ctx, open[2].OffsetMsgID); !errors.Is(err, client.ErrSystemError) {
		t.Fatalf("resume of an open one: %v", err)
	}
	for range 2 {
		time.Sleep(2 * time.Millisecond)
		if _, err := s.b.Store().Transactions().CheckNow(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if open, _, err := a.OpenTransactions(ctx, addr, 0); err != nil || len(open) != 0 {
		t.Fatalf("open after the discard %+v %v", open, err)
	}
	remark, err := a.ResumeCheckHalfMessage(ctx, open[2].OffsetMsgID)
	if err != nil || !strings.Contains(remark, "resumed") {
		t.Fatalf("resume %q %v", remark, err)
	}
	resumed, _, err := a.OpenTransactions(ctx, addr, 0)
	if err != nil || len(resumed) != 1 || resumed[0].ResumedFrom != open[2].HalfOffset {
		t.Fatalf("open after the resume %+v %v", resumed, err)
	}
	if _, err := a.ResumeCheckHalfMessage(ctx, "zz"); !errors.Is(err, client.ErrInvalidOption) {
		t.Fatalf("bad id: %v", err)
	}

	// The committed message reaches a consumer once.
	c := newConsumer(t, s)
	got := pullAll(t, c, "TopicTxAdmin", 1)
	if len(got) != 1 || string(got[0].Body) != "tx0" {
		t.Fatalf("consumed %d messages", len(got))
	}
}
