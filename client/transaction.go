package client

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// TransactionState is a local transaction's outcome, with END_TRANSACTION's
// commitOrRollback values (LocalTransactionState; spec §6.2). Frozen.
type TransactionState int32

const (
	// TransactionUnknown: not decided yet; the broker asks again later
	// (CHECK_TRANSACTION_STATE).
	TransactionUnknown TransactionState = 0
	// TransactionCommit: deliver the message.
	TransactionCommit TransactionState = 8
	// TransactionRollback: drop the message.
	TransactionRollback TransactionState = 12
)

func (s TransactionState) String() string {
	switch s {
	case TransactionUnknown:
		return "UNKNOW"
	case TransactionCommit:
		return "COMMIT_MESSAGE"
	case TransactionRollback:
		return "ROLLBACK_MESSAGE"
	}
	return "TransactionState(" + strconv.Itoa(int(s)) + ")"
}

// TransactionListener runs a TransactionProducer's local transactions and
// answers the broker's checks.
type TransactionListener interface {
	// ExecuteLocal runs the local transaction of msg, whose half message is
	// stored (half.MsgID is its transaction id). arg is SendInTransaction's.
	ExecuteLocal(msg *message.Message, half SendResult, arg any) TransactionState
	// Check tells the state of the local transaction of a half message the
	// broker asks about (its MsgID or TransactionID identify it).
	Check(msg *MessageExt) TransactionState
}

// TransactionResult is the outcome of SendInTransaction.
type TransactionResult struct {
	SendResult
	State TransactionState
}

// TransactionProducer sends transactional messages: a half message, then the
// local transaction, then END_TRANSACTION (spec §6.2); it answers the
// broker's CHECK_TRANSACTION_STATE with the listener's Check. It is also a
// Producer for ordinary sends.
type TransactionProducer struct {
	*Producer
	listener TransactionListener

	checks chan checkRequest // bounded queue of check-backs
	wg     sync.WaitGroup    // check workers
}

// checkRequest is one CHECK_TRANSACTION_STATE to answer.
type checkRequest struct {
	conn *remoting.Conn
	req  *remoting.Command
}

// maxPendingChecks bounds the check-backs waiting for a worker (the Java
// producer's checkRequestHoldMax); more are dropped, and the broker asks
// again in its next round.
const maxPendingChecks = 2000

// NewTransactionProducer returns a transactional producer with listener.
// Its group (WithGroup) is the PGROUP of its half messages and the group the
// broker checks back.
func NewTransactionProducer(listener TransactionListener, opts ...Option) (*TransactionProducer, error) {
	if listener == nil {
		return nil, fmt.Errorf("%w: nil transaction listener", ErrInvalidOption)
	}
	cfg, err := newConfig(DefaultGroup, opts)
	if err != nil {
		return nil, err
	}
	p, err := newProducer(cfg)
	if err != nil {
		return nil, err
	}
	tp := &TransactionProducer{Producer: p, listener: listener, checks: make(chan checkRequest, maxPendingChecks)}
	p.c.rc.RegisterHandler(remoting.RequestCheckTransactionState, tp.handleCheck)
	for i := 0; i < cfg.checkWorkers; i++ {
		tp.wg.Add(1)
		go tp.checkWorker()
	}
	return tp, nil
}

// Close stops the check workers, then closes the producer.
func (tp *TransactionProducer) Close() error {
	err := tp.Producer.Close()
	if err != nil {
		return err
	}
	tp.wg.Wait()
	return nil
}

// halfProperties returns the properties of msg as a half message.
func (tp *TransactionProducer) halfProperties(msg *message.Message, now time.Time) (*message.Message, sendStrings) {
	m := *msg
	if _, ok := m.Properties.Lookup(message.PropertyDelayLevel); ok {
		m.Properties = m.Properties.Delete(message.PropertyDelayLevel)
	}
	for _, name := range [...]string{message.PropertyTransactionPrepared, message.PropertyProducerGroup} {
		if _, ok := m.Properties.Lookup(name); ok {
			m.Properties = m.Properties.Delete(name)
		}
	}
	ss := tp.sendStrings(&m, now, message.PropertyTransactionPrepared, "true", message.PropertyProducerGroup, tp.group)
	return &m, ss
}

// SendInTransaction stores msg as a half message (TRAN_MSG=true, PGROUP, the
// prepared sysflag), runs the listener's ExecuteLocal, and sends the outcome
// with END_TRANSACTION (oneway) to the broker that stored it. A half message
// not stored with SEND_OK is rolled back without running ExecuteLocal.
// The result is returned even when END_TRANSACTION could not be sent; the
// error then says so and the broker will check back.
func (tp *TransactionProducer) SendInTransaction(ctx context.Context, msg *message.Message, arg any) (TransactionResult, error) {
	if err := validate(msg); err != nil {
		return TransactionResult{}, err
	}
	m, ss := tp.halfProperties(msg, time.Now())
	sysFlag := message.SetTransactionType(m.SysFlag, message.TransactionPreparedType)
	res, err := tp.sendSync(ctx, m.Topic, remoting.RequestSendMessageV2, sysFlag, m.Flag, &ss, m.Body)
	if err != nil {
		return TransactionResult{}, err
	}
	return tp.finish(m, res, arg)
}

// SendInTransactionAsync is SendInTransaction with the half message sent
// asynchronously (SendAsync's window applies): ExecuteLocal and
// END_TRANSACTION run on the callback goroutine, then callback. When it
// returns an error the callback does not run.
func (tp *TransactionProducer) SendInTransactionAsync(ctx context.Context, msg *message.Message, arg any, callback func(TransactionResult, error)) error {
	if err := validate(msg); err != nil {
		return err
	}
	now := time.Now()
	m, ss := tp.halfProperties(msg, now)
	sysFlag := message.SetTransactionType(m.SysFlag, message.TransactionPreparedType)
	return tp.sendAsync(ctx, now, m.Topic, remoting.RequestSendMessageV2, sysFlag, m.Flag, &ss, m.Body,
		func(res SendResult, err error) {
			if err != nil {
				callback(TransactionResult{}, err)
				return
			}
			callback(tp.finish(m, res, arg))
		})
}

// finish runs the local transaction of a stored half message and ends it.
func (tp *TransactionProducer) finish(m *message.Message, res SendResult, arg any) (TransactionResult, error) {
	state, remark := TransactionRollback, ""
	if res.Status == SendOK {
		state, remark = tp.executeLocal(m, res, arg)
	}
	out := TransactionResult{SendResult: res, State: state}
	r, err := tp.c.route(context.Background(), res.Queue.Topic, true)
	if err != nil {
		return out, fmt.Errorf("client: end transaction: %w", err)
	}
	addr, ok := r.master(res.Queue.BrokerName, false)
	if !ok {
		return out, fmt.Errorf("client: end transaction: %w: no master for broker %s", ErrNoRoute, res.Queue.BrokerName)
	}
	_, commitLogOffset, err := message.ParseOffsetMsgID(res.OffsetMsgID)
	if err != nil {
		return out, fmt.Errorf("client: end transaction: %w: offset msg id %q", ErrBadResponse, res.OffsetMsgID)
	}
	req := tp.endRequest(res.QueueOffset, commitLogOffset, state, false, res.MsgID, res.TransactionID)
	if remark != "" {
		req.Remark = remark
	}
	if err := tp.c.rc.InvokeOneway(addr, req); err != nil {
		return out, fmt.Errorf("client: end transaction: %w", transportError(addr, err))
	}
	return out, nil
}

// executeLocal runs ExecuteLocal; a panic counts as UNKNOW, with a remark.
func (tp *TransactionProducer) executeLocal(m *message.Message, res SendResult, arg any) (state TransactionState, remark string) {
	defer func() {
		if r := recover(); r != nil {
			state, remark = TransactionUnknown, fmt.Sprintf("executeLocalTransactionBranch exception: %v", r)
		}
	}()
	return tp.listener.ExecuteLocal(m, res, arg), ""
}

// endRequest builds END_TRANSACTION (37).
func (tp *TransactionProducer) endRequest(tranStateTableOffset, commitLogOffset int64, state TransactionState, fromCheck bool, msgID, transactionID string) *remoting.Command {
	req := remoting.NewRequest(remoting.RequestEndTransaction)
	req.ExtFields = append(req.ExtFields,
		remoting.Field{Key: protocol.FieldProducerGroup, Value: tp.group},
		remoting.Field{Key: protocol.FieldTranStateTableOffset, Value: strconv.FormatInt(tranStateTableOffset, 10)},
		remoting.Field{Key: protocol.FieldCommitLogOffset, Value: strconv.FormatInt(commitLogOffset, 10)},
		remoting.Field{Key: protocol.FieldCommitOrRollback, Value: strconv.Itoa(int(state))},
		remoting.Field{Key: protocol.FieldFromTransactionCheck, Value: strconv.FormatBool(fromCheck)},
		remoting.Field{Key: protocol.FieldMsgID, Value: msgID},
	)
	if transactionID != "" {
		req.ExtFields = append(req.ExtFields, remoting.Field{Key: protocol.FieldTransactionID, Value: transactionID})
	}
	return req
}

// handleCheck queues a CHECK_TRANSACTION_STATE for the check workers. The
// request is oneway: nothing is answered now.
func (tp *TransactionProducer) handleCheck(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	select {
	case tp.checks <- checkRequest{conn: c, req: req}:
	default:
		tp.c.cfg.logger.Warn("client: transaction check dropped, too many pending", "group", tp.group)
		req.Release()
	}
	return nil
}

func (tp *TransactionProducer) checkWorker() {
	defer tp.wg.Done()
	for {
		select {
		case <-tp.c.quit:
			return
		case cr := <-tp.checks:
			tp.check(cr.conn, cr.req)
			cr.req.Release()
		}
	}
}

// check answers one CHECK_TRANSACTION_STATE (spec §6.2 step 4): the body is
// the half message; a message of another group is ignored. The answer is a
// oneway END_TRANSACTION on the connection the check came on.
func (tp *TransactionProducer) check(c *remoting.Conn, req *remoting.Command) {
	msgs, err := decodeRecords(nil, req.Body, "", "")
	if err != nil || len(msgs) != 1 {
		tp.c.cfg.logger.Warn("client: malformed transaction check", "err", err, "records", len(msgs))
		return
	}
	m := &msgs[0]
	if g, _ := m.Property(message.PropertyProducerGroup); g != tp.group {
		return
	}
	if topic, ok := m.Property(message.PropertyRealTopic); ok {
		m.Topic = topic
	}
	tranStateTableOffset, _ := req.GetInt64(protocol.FieldTranStateTableOffset)
	commitLogOffset, _ := req.GetInt64(protocol.FieldCommitLogOffset)
	state, remark := tp.checkLocal(m)
	transactionID := req.Ext(protocol.FieldTransactionID)
	if transactionID == "" {
		transactionID = m.TransactionID()
	}
	end := tp.endRequest(tranStateTableOffset, commitLogOffset, state, true, m.MsgID(), transactionID)
	end.Remark = remark
	if err := c.InvokeOneway(end); err != nil {
		tp.c.cfg.logger.Debug("client: transaction check answer not sent", "err", err)
	}
}

func (tp *TransactionProducer) checkLocal(m *MessageExt) (state TransactionState, remark string) {
	defer func() {
		if r := recover(); r != nil {
			state, remark = TransactionUnknown, fmt.Sprintf("checkLocalTransaction exception: %v", r)
		}
	}()
	return tp.listener.Check(m), ""
}
