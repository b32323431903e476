package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/metrics"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
	"github.com/mqstore/mqstore/txn"
)

// Transactional messages over the wire (../shared/spec/rocketmq.md §6). The store's txn.Service
// keeps the half messages and their outcomes; the broker
//   - routes a send whose TRAN_MSG property is true (or whose sysFlag says PREPARED) to
//     txn.Prepare and answers as RocketMQ does (§6.3): msgId = the half record's offset id,
//     queueId = the queue asked, queueOffset = the half-queue offset, transactionId = UNIQ_KEY;
//   - ends transactions on END_TRANSACTION (end_transaction.go);
//   - implements txn.Checker with CHECK_TRANSACTION_STATE (39, oneway) sent to a live producer
//     of the half message's group: the client that sent the half message when it is still
//     connected (RocketMQ asks any producer of the group, apache/rocketmq#9791), otherwise the
//     group's producers in turn. When no producer of the group is online the check is not
//     delivered and returns txn.ErrNoProducerOnline: txn does not count it (RocketMQ burns one of
//     its 15 checks per round, spec §6.6), and the next round tries again. On a replicated
//     group a follower's forwarding connection is such a producer for the groups the follower
//     declared, and the origin of the halves it forwarded: the follower relays the check to the
//     producer connected to it (forward.go, check_transaction_state.go).
//
// Transactional messages with a delay level are refused with MESSAGE_ILLEGAL (txn's
// ErrDelayedTransaction): RocketMQ loops them between the schedule topic and the half topic
// (apache/rocketmq#1540, #546), and the Java client strips DELAY from them anyway (spec §6.2),
// so a delay on a transactional message is a caller's mistake best reported at once.

// maxRememberedOrigins caps the table of half message senders; beyond it, checks go to the
// group's producers in turn.
const maxRememberedOrigins = 1 << 20

// checkChannelTries is how many producer channels a check tries (RocketMQ's
// GET_AVAILABLE_CHANNEL_RETRY_COUNT).
const checkChannelTries = 3

// txnOrigin is who sent a half message.
type txnOrigin struct {
	conn     *remoting.Conn
	clientID string // "" when the client had not sent a heartbeat yet
	// forwarded: conn is a follower's forwarding connection (the half came marked
	// ForwardedRemark). The follower relays checks to the producer (check_transaction_state.go)
	// for the groups it declared; such an origin is asked only while its connection is a
	// producer channel of the half's group.
	forwarded bool
}

// txnOrigins remembers the sender of each open half message, by its commitlog offset.
type txnOrigins struct {
	mu sync.Mutex // guards byOffset
	// byOffset: half message commitlog offset → sender. Entries leave on END_TRANSACTION and
	// when their connection closes.
	byOffset map[int64]txnOrigin
}

func newTxnOrigins() *txnOrigins { return &txnOrigins{byOffset: make(map[int64]txnOrigin)} }

func (o *txnOrigins) remember(halfOffset int64, c *remoting.Conn, forwarded bool) {
	if c == nil {
		return
	}
	o.mu.Lock()
	if len(o.byOffset) < maxRememberedOrigins {
		o.byOffset[halfOffset] = txnOrigin{conn: c, clientID: c.ClientID(), forwarded: forwarded}
	}
	o.mu.Unlock()
}

func (o *txnOrigins) get(halfOffset int64) (txnOrigin, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v, ok := o.byOffset[halfOffset]
	return v, ok
}

func (o *txnOrigins) forget(halfOffset int64) {
	o.mu.Lock()
	delete(o.byOffset, halfOffset)
	o.mu.Unlock()
}

// dropConn forgets the origins on a closed connection, keeping their client ids: the client may
// be reconnected over another connection. A follower's forwarding connection is forgotten
// whole: the follower declares itself again on its next connection, and the checks go to the
// group's producers, that follower among them.
func (o *txnOrigins) dropConn(c *remoting.Conn) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for off, v := range o.byOffset {
		if v.conn == c {
			if v.clientID == "" || v.forwarded {
				delete(o.byOffset, off)
				continue
			}
			v.conn = nil
			o.byOffset[off] = v
		}
	}
}

func (o *txnOrigins) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.byOffset)
}

// isTransactional reports whether a send is a half message: TRAN_MSG is true (Java's
// Boolean.parseBoolean) or the sysFlag's transaction type is PREPARED. As in RocketMQ, a
// redelivery sent back as a normal message (reconsumeTimes > 0 with a delay level, or a send to
// a retry topic; old clients keep TRAN_MSG on those) is not: its transaction type is reset so
// it is stored as a normal message.
func isTransactional(m *message.Message) bool {
	prepared := message.TransactionType(m.SysFlag) == message.TransactionPreparedType
	if !prepared {
		v, ok := m.Properties.Lookup(message.PropertyTransactionPrepared)
		prepared = ok && strings.EqualFold(string(v), "true")
	}
	if !prepared {
		return false
	}
	level, _ := m.Properties.Get(message.PropertyDelayLevel)
	if strings.HasPrefix(m.Topic, RetryTopicPrefix) || m.ReconsumeTimes > 0 && level != "" && level != "0" {
		m.SysFlag = message.SetTransactionType(m.SysFlag, message.TransactionNotType)
		return false
	}
	return true
}

// prepareTransaction stores a half message for a send (spec §6.3) and answers it.
func (b *Broker) prepareTransaction(c *remoting.Conn, req *remoting.Command, h *sendHeader, m *message.Message) *remoting.Command {
	if b.cfg.RejectTransactionMessage {
		return errorResponse(req, fmt.Errorf("%w: the broker[%s] sending transaction message is forbidden", ErrNoPermission, b.cfg.BrokerName))
	}
	group := transactionGroup(h, m)
	start := time.Now()
	res, err := b.store.Transactions().Prepare(m, group)
	if err != nil {
		switch {
		case errors.Is(err, txn.ErrDelayedTransaction), errors.Is(err, txn.ErrInvalidMessage):
			return remoting.NewResponse(req, remoting.ResponseMessageIllegal, err.Error())
		case errors.Is(err, txn.ErrClosed):
			return remoting.NewResponse(req, remoting.ResponseServiceNotAvailable, err.Error())
		}
		return errorResponse(req, err)
	}
	if req.Remark == ForwardedRemark {
		// A half a follower forwarded came on the follower's forwarding connection. The
		// follower remembers the producer's connection and relays the checks to it
		// (check_transaction_state.go), for the groups it declared by its own heartbeat
		// (forward.go, announce): the connection is this half's origin, but not a producer
		// of the group until the follower says so.
		b.origins.remember(res.HalfOffset, c, true)
	} else {
		b.origins.remember(res.HalfOffset, c, false)
		b.noteTransactionProducer(group, c)
	}
	b.stats.putMessages.Add(1)
	if mt := b.opts.Metrics; mt != nil {
		mt.PutLatency(time.Since(start))
		mt.MessagesIn(m.Topic, 1, len(m.Body), metrics.MessageTransaction)
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.SetExt(protocol.FieldMsgID, res.MsgID)
	resp.SetExt(protocol.FieldQueueID, itoa32(m.QueueID))
	resp.SetExtInt64(protocol.FieldQueueOffset, res.QueueOffset)
	resp.SetExt(protocol.FieldTransactionID, res.TransactionID)
	b.setSendExt(resp)
	return resp
}

// transactionGroup is a half message's producer group: its PGROUP property, else the send
// header's producerGroup.
func transactionGroup(h *sendHeader, m *message.Message) string {
	if group, _ := m.Properties.Get(message.PropertyProducerGroup); group != "" {
		return group
	}
	return h.producerGroup
}

// noteTransactionProducer registers the connection a half message came on as a producer of its
// group, as a heartbeat would: a Go producer's first heartbeat to a broker comes up to 30 s after
// its first send (clientgo.md §3.3), and after a broker restart the table is empty until the next
// one, while the producer that is sending can already answer checks of its group.
func (b *Broker) noteTransactionProducer(group string, c *remoting.Conn) {
	if c == nil {
		return
	}
	id := c.ClientID()
	if id == "" {
		id = "@" + c.RemoteAddrString()
	}
	b.clients.registerProducer(group, id, c, b.now())
}

// transactionChecker is the broker's txn.Checker: CHECK_TRANSACTION_STATE to a producer.
type transactionChecker struct {
	b  *Broker
	rr atomic.Uint64 // round-robin position over a group's producers
}

var _ txn.Checker = (*transactionChecker)(nil)

// Check sends CHECK_TRANSACTION_STATE (oneway) for half to a live producer of its group and
// returns txn.Unknown: the answer arrives as END_TRANSACTION. It returns an error wrapping
// txn.ErrNoProducerOnline when no producer of the group could be sent the check.
func (k *transactionChecker) Check(ctx context.Context, half txn.HalfMessage) (txn.Resolution, error) {
	b := k.b
	if handled, err := b.checkFrontend(ctx, half); handled {
		return txn.Unknown, err
	}
	body, err := checkBody(half)
	if err != nil {
		return txn.Unknown, err
	}
	uniq := half.Message.UniqKey()
	offsetMsgID := message.OffsetMsgID(half.Record.StoreHost, half.HalfOffset)
	msgID := uniq
	if msgID == "" {
		msgID = offsetMsgID
	}
	transactionID, _ := half.Message.Properties.Get(message.PropertyTransactionID)
	if transactionID == "" {
		transactionID = msgID
	}
	for _, c := range k.channels(half.ProducerGroup, half.HalfOffset) {
		req := remoting.NewRequest(remoting.RequestCheckTransactionState)
		req.SetExtInt64(protocol.FieldTranStateTableOffset, half.QueueOffset)
		req.SetExtInt64(protocol.FieldCommitLogOffset, half.HalfOffset)
		req.SetExt(protocol.FieldMsgID, msgID)
		req.SetExt(protocol.FieldTransactionID, transactionID)
		req.SetExt(protocol.FieldOffsetMsgID, offsetMsgID)
		req.SetExt(protocol.FieldBrokerName, b.cfg.BrokerName)
		req.Body = body
		if err := c.InvokeOneway(req); err != nil {
			b.log.Debug("broker: transaction check not sent", "group", half.ProducerGroup, "remote", c.RemoteAddrString(), "err", err)
			continue
		}
		if mt := b.opts.Metrics; mt != nil {
			mt.CheckSent()
		}
		b.log.Debug("broker: transaction check sent", "group", half.ProducerGroup, "remote", c.RemoteAddrString(),
			"commitLogOffset", half.HalfOffset, "times", half.CheckTimes+1)
		return txn.Unknown, nil
	}
	b.log.Debug("broker: no producer of the group online; check not counted", "group", half.ProducerGroup,
		"commitLogOffset", half.HalfOffset)
	return txn.Unknown, fmt.Errorf("%w: group %s", txn.ErrNoProducerOnline, half.ProducerGroup)
}

// channels returns the connections to try for a check of the half message at halfOffset: its
// sender first (by client id, or its connection while that is open), then up to
// checkChannelTries of the group's producers, starting at the round-robin position.
func (k *transactionChecker) channels(group string, halfOffset int64) []*remoting.Conn {
	b := k.b
	producers := b.clients.producerChannels(group)
	out := make([]*remoting.Conn, 0, checkChannelTries+1)
	if o, ok := b.origins.get(halfOffset); ok && o.forwarded {
		// A follower's forwarding connection: asked first while the follower declares the
		// group (it relays to the producer that sent the half, or to another of the group).
		if o.conn != nil && !connDone(o.conn) && slices.ContainsFunc(producers, func(p producerChannel) bool { return p.conn == o.conn }) {
			out = append(out, o.conn)
		}
	} else if ok {
		id := o.clientID
		if id == "" && o.conn != nil {
			id = o.conn.ClientID()
		}
		var origin *remoting.Conn
		if id != "" {
			if i := slices.IndexFunc(producers, func(p producerChannel) bool { return p.clientID == id }); i >= 0 {
				origin = producers[i].conn
			}
		}
		if origin == nil && o.conn != nil && !connDone(o.conn) {
			origin = o.conn
		}
		if origin != nil {
			out = append(out, origin)
		}
	}
	if len(producers) == 0 {
		return out
	}
	start := int(k.rr.Add(1) % uint64(len(producers)))
	for i := 0; i < len(producers) && len(out) < checkChannelTries+1; i++ {
		c := producers[(start+i)%len(producers)].conn
		if connDone(c) || slices.Contains(out, c) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// connDone reports whether a connection has closed.
func connDone(c *remoting.Conn) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

// checkBody is CHECK_TRANSACTION_STATE's body: the half message as one store-format record with
// its real topic and queue (MessageDecoder.encode, spec §6.6), its stored offsets, store time and
// hosts, and TRANSACTION_CHECK_TIMES as txn set it.
func checkBody(half txn.HalfMessage) ([]byte, error) {
	if half.Message == nil {
		return nil, fmt.Errorf("broker: check of %d without its message", half.HalfOffset)
	}
	m := *half.Message
	m.Topic = half.Topic
	m.QueueID = half.QueueID
	body, err := message.AppendRecord(make([]byte, 0, message.RecordSize(&m)), &m)
	if err != nil {
		return nil, fmt.Errorf("broker: encode check of %d: %w", half.HalfOffset, err)
	}
	message.PatchRecord(body, half.QueueOffset, half.HalfOffset, half.Record.StoreTimestamp)
	return body, nil
}

// startTransactions starts the store's transaction check service with the broker's checker.
func (b *Broker) startTransactions() error {
	if b.replica != nil {
		return nil // only the ready leader checks (replicated_state.go)
	}
	if err := b.store.Transactions().Start(b.checker); err != nil && !errors.Is(err, txn.ErrAlreadyStarted) {
		return fmt.Errorf("broker: start transaction checks: %w", err)
	}
	return nil
}

// realTopicAt returns the REAL_TOPIC of the half message at a commitlog offset ("" when it
// cannot be read), for the metrics' topic label.
func (b *Broker) realTopicAt(offset int64) string {
	var r message.Record
	s, err := b.store.CommitLog().Read(offset, &r)
	if err != nil {
		return ""
	}
	defer s.Release()
	v, _ := r.Properties.Get(message.PropertyRealTopic)
	return v
}

// errStoreClosed reports whether err says the store (or its transactions) closed.
func errStoreClosed(err error) bool {
	return errors.Is(err, txn.ErrClosed) || errors.Is(err, store.ErrClosed)
}
