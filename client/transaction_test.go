package client_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/remoting"
)

// txBroker is a fake broker (with an embedded name server) that stores half
// messages nowhere: it answers sends with a fixed commitlog offset, records
// END_TRANSACTION requests and the producer connections of heartbeats, and
// can send CHECK_TRANSACTION_STATE.
type txBroker struct {
	addr string
	host netip.AddrPort

	mu        sync.Mutex
	silent    bool                // sends are never answered
	sends     []*remoting.Command // copies of the send requests' ext fields
	ends      chan remoting.Fields
	producers map[string]*remoting.Conn // group → connection
}

const txHalfOffset = 123456

func startTxBroker(t *testing.T) *txBroker {
	t.Helper()
	rs, err := remoting.NewServer(remoting.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &txBroker{addr: ln.Addr().String(), ends: make(chan remoting.Fields, 16), producers: map[string]*remoting.Conn{}}
	f.host = netip.MustParseAddrPort(f.addr)
	reg := namesrv.NewRegistry(namesrv.Options{Logger: quiet})
	reg.RegisterBroker(namesrv.Registration{ClusterName: "c", BrokerName: "fake", BrokerAddr: f.addr,
		Topics: map[string]namesrv.TopicConfig{"TopicTx": {TopicName: "TopicTx", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}}})
	namesrv.NewServer(reg, namesrv.Options{Logger: quiet}).Attach(rs)
	rs.Handle(remoting.RequestSendMessageV2, remoting.KindSend, f.send)
	rs.Handle(remoting.RequestEndTransaction, remoting.KindTransaction, func(c *remoting.Conn, req *remoting.Command) *remoting.Command {
		f.ends <- append(remoting.Fields(nil), req.ExtFields...)
		return nil
	})
	rs.Handle(remoting.RequestHeartBeat, remoting.KindHeartbeat, func(c *remoting.Conn, req *remoting.Command) *remoting.Command {
		f.mu.Lock()
		f.producers["txgroup"] = c // the body names it; the test uses one group
		f.mu.Unlock()
		return remoting.NewResponse(req, remoting.ResponseSuccess, "")
	})
	go rs.Serve(ln)
	t.Cleanup(func() { rs.Close() })
	return f
}

func (f *txBroker) send(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	cp := &remoting.Command{ExtFields: append(remoting.Fields(nil), req.ExtFields...)}
	f.mu.Lock()
	f.sends = append(f.sends, cp)
	silent := f.silent
	f.mu.Unlock()
	if silent {
		return nil
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.SetExt("msgId", message.OffsetMsgID(f.host, txHalfOffset))
	resp.SetExt("queueId", "0")
	resp.SetExt("queueOffset", "7")
	return resp
}

func (f *txBroker) end(t *testing.T) remoting.Fields {
	t.Helper()
	select {
	case e := <-f.ends:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no END_TRANSACTION")
		return nil
	}
}

type listener struct {
	local, check client.TransactionState
	checked      chan *client.MessageExt
}

func (l *listener) ExecuteLocal(msg *message.Message, half client.SendResult, arg any) client.TransactionState {
	if arg == "panic" {
		panic("local transaction failed")
	}
	return l.local
}

func (l *listener) Check(m *client.MessageExt) client.TransactionState {
	l.checked <- m
	return l.check
}

func wantFields(t *testing.T, got remoting.Fields, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if g, _ := got.Get(k); g != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, g, v, got)
		}
	}
}

func TestTransactionProducer(t *testing.T) {
	f := startTxBroker(t)
	l := &listener{local: client.TransactionCommit, check: client.TransactionRollback, checked: make(chan *client.MessageExt, 1)}
	tp, err := client.NewTransactionProducer(l, client.WithNameServer(f.addr), client.WithGroup("txgroup"), client.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	ctx := ctxT(t)

	msg := message.New("TopicTx", []byte("tx"))
	msg.SetProperty(message.PropertyDelayLevel, "3")
	res, err := tp.SendInTransaction(ctx, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.State != client.TransactionCommit || res.QueueOffset != 7 {
		t.Fatalf("result %+v", res)
	}
	f.mu.Lock()
	half := f.sends[0]
	f.mu.Unlock()
	props := message.Properties(half.Ext("i"))
	if v, _ := props.Get(message.PropertyTransactionPrepared); v != "true" {
		t.Fatalf("half properties %q", props)
	}
	if v, _ := props.Get(message.PropertyProducerGroup); v != "txgroup" {
		t.Fatalf("PGROUP %q", v)
	}
	if _, ok := props.Get(message.PropertyDelayLevel); ok {
		t.Fatal("DELAY kept on a half message")
	}
	if half.Ext("f") != "4" {
		t.Fatalf("sysFlag %q", half.Ext("f"))
	}
	wantFields(t, f.end(t), map[string]string{
		"producerGroup": "txgroup", "tranStateTableOffset": "7", "commitLogOffset": strconv.Itoa(txHalfOffset),
		"commitOrRollback": "8", "fromTransactionCheck": "false", "msgId": res.MsgID,
	})

	// A panicking local transaction ends UNKNOW with a remark.
	if res, err := tp.SendInTransaction(ctx, message.New("TopicTx", []byte("p")), "panic"); err != nil || res.State != client.TransactionUnknown {
		t.Fatalf("panic: %+v %v", res, err)
	}
	wantFields(t, f.end(t), map[string]string{"commitOrRollback": "0"})

	// Async.
	l.local = client.TransactionRollback
	done := make(chan client.TransactionResult, 1)
	if err := tp.SendInTransactionAsync(ctx, message.New("TopicTx", []byte("a")), nil, func(r client.TransactionResult, err error) {
		if err != nil {
			t.Error(err)
		}
		done <- r
	}); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.State != client.TransactionRollback {
		t.Fatalf("async state %v", r.State)
	}
	wantFields(t, f.end(t), map[string]string{"commitOrRollback": "12"})

	// Check-back over the producer's connection (known from its heartbeat).
	var conn *remoting.Conn
	deadline := time.Now().Add(5 * time.Second)
	for conn == nil && time.Now().Before(deadline) {
		f.mu.Lock()
		conn = f.producers["txgroup"]
		f.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	if conn == nil {
		t.Fatal("no heartbeat from the transaction producer")
	}
	checkMsg := message.New("RMQ_SYS_TRANS_HALF_TOPIC", []byte("tx"))
	checkMsg.SetProperty(message.PropertyProducerGroup, "txgroup")
	checkMsg.SetProperty(message.PropertyUniqKey, res.MsgID)
	checkMsg.SetProperty(message.PropertyRealTopic, "TopicTx")
	checkMsg.StoreHost = f.host
	body, err := message.AppendRecord(nil, checkMsg)
	if err != nil {
		t.Fatal(err)
	}
	req := remoting.NewRequest(remoting.RequestCheckTransactionState)
	req.SetExt("tranStateTableOffset", "7")
	req.SetExt("commitLogOffset", strconv.Itoa(txHalfOffset))
	req.SetExt("transactionId", "TXID")
	req.Body = body
	if err := conn.InvokeOneway(req); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-l.checked:
		if m.Topic != "TopicTx" || string(m.Body) != "tx" || m.MsgID() != res.MsgID {
			t.Fatalf("checked %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Check not called")
	}
	wantFields(t, f.end(t), map[string]string{
		"producerGroup": "txgroup", "tranStateTableOffset": "7", "commitLogOffset": strconv.Itoa(txHalfOffset),
		"commitOrRollback": "12", "fromTransactionCheck": "true", "msgId": res.MsgID, "transactionId": "TXID",
	})

	// A check for another group is ignored.
	checkMsg.SetProperty(message.PropertyProducerGroup, "other")
	body, _ = message.AppendRecord(nil, checkMsg)
	req = remoting.NewRequest(remoting.RequestCheckTransactionState)
	req.Body = body
	conn.InvokeOneway(req)
	select {
	case <-l.checked:
		t.Fatal("checked a message of another group")
	case <-time.After(200 * time.Millisecond):
	}

	if _, err := client.NewTransactionProducer(nil, client.WithNameServer(f.addr)); !errors.Is(err, client.ErrInvalidOption) {
		t.Fatalf("nil listener: %v", err)
	}
}

func TestSendAsyncWindowBlocks(t *testing.T) {
	f := startTxBroker(t)
	f.silent = true
	p, err := client.NewProducer(client.WithNameServer(f.addr), client.WithWindow(2),
		client.WithSendTimeout(300*time.Millisecond), client.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		if err := p.SendAsync(ctxT(t), message.New("TopicTx", []byte("x")), func(_ client.SendResult, err error) { errs <- err }); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = p.SendAsync(ctx, message.New("TopicTx", []byte("x")), func(client.SendResult, error) { t.Error("callback of a refused send") })
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 90*time.Millisecond {
		t.Fatalf("third send with a full window: %v after %v", err, time.Since(start))
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; !errors.Is(err, remoting.ErrTimeout) {
			t.Fatalf("callback error %v, want a timeout", err)
		}
	}
	// The window is free again.
	if err := p.SendAsync(ctxT(t), message.New("TopicTx", []byte("x")), func(_ client.SendResult, err error) { errs <- err }); err != nil {
		t.Fatal(err)
	}
}
