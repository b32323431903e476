package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// SendStatus is the outcome of a stored send (SendStatus in the clients).
type SendStatus int

const (
	SendOK                SendStatus = iota // stored (and flushed, under SYNC_FLUSH)
	SendFlushDiskTimeout                    // stored, not known durable in time (code 10)
	SendFlushSlaveTimeout                   // stored, not replicated in time (code 12)
	SendSlaveNotAvailable                   // stored, no slave to replicate to (code 11)
)

func (s SendStatus) String() string {
	switch s {
	case SendOK:
		return "SEND_OK"
	case SendFlushDiskTimeout:
		return "FLUSH_DISK_TIMEOUT"
	case SendFlushSlaveTimeout:
		return "FLUSH_SLAVE_TIMEOUT"
	case SendSlaveNotAvailable:
		return "SLAVE_NOT_AVAILABLE"
	}
	return "SendStatus(" + strconv.Itoa(int(s)) + ")"
}

// SendResult describes a stored message.
type SendResult struct {
	Status SendStatus
	// MsgID is the message's UNIQ_KEY ("" for batches, whose messages carry
	// none).
	MsgID string
	// OffsetMsgID is the broker's offset message id (store host + commitlog
	// offset); comma-separated for a batch.
	OffsetMsgID   string
	Queue         MessageQueue
	QueueOffset   int64 // the first message's, for a batch
	TransactionID string
	RegionID      string
}

// Producer sends messages to the brokers of their topics' routes.
type Producer struct {
	c     *core
	group string
	uniq  *message.UniqIDGenerator
	next  atomic.Uint32 // round-robin over publish queues
	// window holds one token per SendAsync in flight.
	window chan struct{}
}

// NewProducer returns a producer. It needs WithNameServer; its group
// defaults to DEFAULT_PRODUCER. It starts the route refresh and heartbeat
// goroutine; Close stops it.
func NewProducer(opts ...Option) (*Producer, error) {
	cfg, err := newConfig(DefaultGroup, opts)
	if err != nil {
		return nil, err
	}
	return newProducer(cfg)
}

func newProducer(cfg config) (*Producer, error) {
	p := &Producer{group: cfg.group, window: make(chan struct{}, cfg.window)}
	c, err := newCore(cfg, func() []byte { return encodeHeartbeat(p.c.clientID, p.group, "", nil) })
	if err != nil {
		return nil, err
	}
	p.c = c
	p.uniq = message.NewUniqIDGenerator(c.ip)
	return p, nil
}

// Group returns the producer group.
func (p *Producer) Group() string { return p.group }

// ClientID returns the client id sent in heartbeats ("ip@instance").
func (p *Producer) ClientID() string { return p.c.clientID }

// Close stops the background goroutine and closes the connections; sends in
// flight fail. Later calls return ErrClosed.
func (p *Producer) Close() error { return p.c.close() }

// validate checks a message before a send.
func validate(msg *message.Message) error {
	if msg == nil || msg.Topic == "" {
		return fmt.Errorf("%w: no topic", ErrInvalidMessage)
	}
	return nil
}

// pick returns the next publish queue of r, skipping avoid's broker when it
// can (after a failure there).
func (p *Producer) pick(r *route, avoid string) (*queue, error) {
	n := len(r.publish)
	if n == 0 {
		return nil, fmt.Errorf("%w: topic %s has no writable queue", ErrNoRoute, r.topic)
	}
	for i := 0; i < n; i++ {
		q := &r.publish[int(p.next.Add(1)-1)%n]
		if avoid == "" || q.BrokerName != avoid || i == n-1 {
			return q, nil
		}
	}
	return &r.publish[0], nil
}

// sendStrings are the string fields of one send request: the properties
// (the message's, plus UNIQ_KEY when absent and extra name/value pairs), the
// message's UNIQ_KEY and the born timestamp (Unix ms). They share one
// allocation.
type sendStrings struct {
	props, uniq, born string
}

// sendStrings makes the strings of a single send of msg, born at now.
func (p *Producer) sendStrings(msg *message.Message, now time.Time, extra ...string) sendStrings {
	uniq := msg.UniqKey()
	n := len(msg.Properties) + 2 + len(message.PropertyUniqKey) + message.UniqIDLenV6 + 20
	for _, e := range extra {
		n += len(e) + 1
	}
	var sb strings.Builder
	sb.Grow(n)
	sb.Write(msg.Properties)
	if sb.Len() > 0 && msg.Properties[len(msg.Properties)-1] != message.PropertySeparator {
		sb.WriteByte(message.PropertySeparator)
	}
	uniqStart, uniqEnd := 0, 0
	if uniq == "" {
		sb.WriteString(message.PropertyUniqKey)
		sb.WriteByte(message.NameValueSeparator)
		var id [message.UniqIDLenV6]byte
		uniqStart = sb.Len()
		sb.Write(p.uniq.AppendNextAt(id[:0], now))
		uniqEnd = sb.Len()
		sb.WriteByte(message.PropertySeparator)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		sb.WriteString(extra[i])
		sb.WriteByte(message.NameValueSeparator)
		sb.WriteString(extra[i+1])
		sb.WriteByte(message.PropertySeparator)
	}
	propsEnd := sb.Len()
	var born [20]byte
	sb.Write(strconv.AppendInt(born[:0], now.UnixMilli(), 10))
	all := sb.String()
	s := sendStrings{props: all[:propsEnd], uniq: uniq, born: all[propsEnd:]}
	if uniqEnd > 0 {
		s.uniq = all[uniqStart:uniqEnd]
	}
	return s
}

// bornString is a born timestamp field of a request without properties.
func bornString(now time.Time) string { return strconv.FormatInt(now.UnixMilli(), 10) }

// sendRequest builds a SEND_MESSAGE_V2 (or, with batch, SEND_BATCH_MESSAGE)
// request to q.
func (p *Producer) sendRequest(q *queue, code remoting.RequestCode, sysFlag, flag int32, ss *sendStrings, body []byte) *remoting.Command {
	req := remoting.NewRequest(code)
	req.ExtFields = append(req.ExtFields,
		remoting.Field{Key: protocol.FieldV2ProducerGroup, Value: p.group},
		remoting.Field{Key: protocol.FieldV2Topic, Value: q.Topic},
		remoting.Field{Key: protocol.FieldV2DefaultTopic, Value: namesrv.AutoCreateTopic},
		remoting.Field{Key: protocol.FieldV2DefaultTopicQueueNums, Value: "4"},
		remoting.Field{Key: protocol.FieldV2QueueID, Value: q.id},
		remoting.Field{Key: protocol.FieldV2SysFlag, Value: strconv.Itoa(int(sysFlag))},
		remoting.Field{Key: protocol.FieldV2BornTimestamp, Value: ss.born},
		remoting.Field{Key: protocol.FieldV2Flag, Value: strconv.Itoa(int(flag))},
		remoting.Field{Key: protocol.FieldV2Properties, Value: ss.props},
	)
	// j, l and m are optional; they are sent (as rocketmq-client-go does)
	// because brokers parse them on every send.
	batch := "false"
	if code == remoting.RequestSendBatchMessage {
		batch = "true"
	}
	req.ExtFields = append(req.ExtFields,
		remoting.Field{Key: protocol.FieldV2ReconsumeTimes, Value: "0"},
		remoting.Field{Key: protocol.FieldV2MaxReconsumeTimes, Value: "0"},
		remoting.Field{Key: protocol.FieldV2Batch, Value: batch},
	)
	req.Body = body
	return req
}

// sendResult reads a send response (processSendResponse).
func sendResult(addr string, q *queue, uniq string, resp *remoting.Command) (SendResult, error) {
	defer resp.Release()
	var st SendStatus
	switch resp.ResponseCode() {
	case remoting.ResponseSuccess:
		st = SendOK
	case remoting.ResponseFlushDiskTimeout:
		st = SendFlushDiskTimeout
	case remoting.ResponseFlushSlaveTimeout:
		st = SendFlushSlaveTimeout
	case remoting.ResponseSlaveNotAvailable:
		st = SendSlaveNotAvailable
	default:
		return SendResult{}, brokerError(addr, resp)
	}
	res := SendResult{Status: st, MsgID: uniq, Queue: q.MessageQueue}
	for _, f := range resp.ExtFields {
		switch f.Key {
		case protocol.FieldMsgID:
			res.OffsetMsgID = f.Value
		case protocol.FieldQueueID:
			if id, err := strconv.ParseInt(f.Value, 10, 32); err == nil {
				res.Queue.QueueID = int32(id)
			}
		case protocol.FieldQueueOffset:
			v, err := strconv.ParseInt(f.Value, 10, 64)
			if err != nil {
				return SendResult{}, fmt.Errorf("%w: queueOffset %q", ErrBadResponse, f.Value)
			}
			res.QueueOffset = v
		case protocol.FieldTransactionID:
			res.TransactionID = f.Value
		case protocol.FieldMsgRegion:
			res.RegionID = f.Value
		}
	}
	return res, nil
}

// Send sends msg synchronously to the next queue of its topic and returns
// where it was stored. Retryable failures (transport errors, codes 1, 2, 14,
// 16, 17) are retried on the next queues, preferring another broker, up to
// WithRetries more times. A topic unknown to the name server is sent through
// TBW102's route, for the broker to auto-create it. msg is not modified.
func (p *Producer) Send(ctx context.Context, msg *message.Message) (SendResult, error) {
	if err := validate(msg); err != nil {
		return SendResult{}, err
	}
	ss := p.sendStrings(msg, time.Now())
	body, sysFlag := compressBody(msg.Body, msg.SysFlag, p.c.cfg.compressOver)
	return p.sendSync(ctx, msg.Topic, remoting.RequestSendMessageV2, sysFlag, msg.Flag, &ss, body)
}

func (p *Producer) sendSync(ctx context.Context, topic string, code remoting.RequestCode, sysFlag, flag int32, ss *sendStrings, body []byte) (SendResult, error) {
	var lastErr error
	avoid := ""
	for attempt := 0; attempt <= p.c.cfg.retries; attempt++ {
		if err := ctx.Err(); err != nil {
			if lastErr != nil {
				return SendResult{}, lastErr
			}
			return SendResult{}, err
		}
		r, err := p.c.route(ctx, topic, true)
		if err != nil {
			return SendResult{}, err
		}
		q, err := p.pick(r, avoid)
		if err != nil {
			return SendResult{}, err
		}
		req := p.sendRequest(q, code, sysFlag, flag, ss, body)
		resp, err := p.c.invokeTimeout(ctx, q.addr, req, p.c.cfg.sendTimeout)
		if err == nil {
			var res SendResult
			if res, err = sendResult(q.addr, q, ss.uniq, resp); err == nil {
				return res, nil
			}
		}
		lastErr = err
		if !retryable(err) {
			return SendResult{}, err
		}
		if errors.Is(err, ErrTopicNotExist) {
			p.c.dropRoute(topic)
		}
		avoid = q.BrokerName
	}
	return SendResult{}, lastErr
}

// asyncSend is one SendAsync in flight; pooled, with its completion bound
// once so a send allocates no closure.
type asyncSend struct {
	p        *Producer
	q        *queue
	uniq     string
	callback func(SendResult, error)
	done     func(*remoting.Command, error) // s.complete, bound once
}

var asyncSendPool sync.Pool

func init() {
	asyncSendPool.New = func() any {
		s := new(asyncSend)
		s.done = s.complete
		return s
	}
}

func (s *asyncSend) complete(resp *remoting.Command, err error) {
	p, q, uniq, callback := s.p, s.q, s.uniq, s.callback
	s.p, s.q, s.uniq, s.callback = nil, nil, "", nil
	asyncSendPool.Put(s)
	<-p.window
	var res SendResult
	if err != nil {
		err = transportError(q.addr, err)
	} else {
		res, err = sendResult(q.addr, q, uniq, resp)
	}
	callback(res, err)
}

// acquire takes a window slot, waiting while the window is full.
func (p *Producer) acquire(ctx context.Context) error {
	if p.c.closed.Load() {
		return ErrClosed
	}
	select {
	case p.window <- struct{}{}:
		return nil
	default:
	}
	select {
	case p.window <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.c.quit:
		return ErrClosed
	}
}

// SendAsync sends msg without waiting for the answer: callback runs with the
// result (on one of the remoting client's callback goroutines, so it must
// not block for long), after at most WithSendTimeout. At most WithWindow
// sends of this producer are in flight; SendAsync blocks while the window is
// full, until ctx is done. There is one attempt, no retry. When SendAsync
// returns an error the callback does not run. msg is not modified, and its
// body must stay unchanged until the callback ran.
func (p *Producer) SendAsync(ctx context.Context, msg *message.Message, callback func(SendResult, error)) error {
	if err := validate(msg); err != nil {
		return err
	}
	now := time.Now()
	ss := p.sendStrings(msg, now)
	body, sysFlag := compressBody(msg.Body, msg.SysFlag, p.c.cfg.compressOver)
	return p.sendAsync(ctx, now, msg.Topic, remoting.RequestSendMessageV2, sysFlag, msg.Flag, &ss, body, callback)
}

// sendAsync sends one request without waiting; now is when the send began
// (its deadline is now plus the send timeout).
func (p *Producer) sendAsync(ctx context.Context, now time.Time, topic string, code remoting.RequestCode, sysFlag, flag int32, ss *sendStrings, body []byte, callback func(SendResult, error)) error {
	r, err := p.c.route(ctx, topic, true)
	if err != nil {
		return err
	}
	q, err := p.pick(r, "")
	if err != nil {
		return err
	}
	if err := p.acquire(ctx); err != nil {
		return err
	}
	s := asyncSendPool.Get().(*asyncSend)
	s.p, s.q, s.uniq, s.callback = p, q, ss.uniq, callback
	req := p.sendRequest(q, code, sysFlag, flag, ss, body)
	if err := p.invokeAsync(q.addr, req, now.Add(p.c.cfg.sendTimeout), s.done); err != nil {
		s.p, s.q, s.callback = nil, nil, nil
		asyncSendPool.Put(s)
		<-p.window
		return transportError(q.addr, err)
	}
	return nil
}

// invokeAsync sends req on a connection to addr, dialling one if needed
// (bounded by the remoting client's dial timeout).
func (p *Producer) invokeAsync(addr string, req *remoting.Command, deadline time.Time, done func(*remoting.Command, error)) error {
	conn, err := p.c.rc.Conn(context.Background(), addr)
	if err != nil {
		req.Release()
		return err
	}
	return conn.InvokeAsyncBy(req, deadline, done)
}

// SendOneway sends msg and waits for nothing: no answer is asked for (the
// request carries the oneway flag), so neither success nor a broker error is
// reported, only a failure to hand the frame to a connection.
func (p *Producer) SendOneway(ctx context.Context, msg *message.Message) error {
	if err := validate(msg); err != nil {
		return err
	}
	if p.c.closed.Load() {
		return ErrClosed
	}
	r, err := p.c.route(ctx, msg.Topic, true)
	if err != nil {
		return err
	}
	q, err := p.pick(r, "")
	if err != nil {
		return err
	}
	ss := p.sendStrings(msg, time.Now())
	body, sysFlag := compressBody(msg.Body, msg.SysFlag, p.c.cfg.compressOver)
	req := p.sendRequest(q, remoting.RequestSendMessageV2, sysFlag, msg.Flag, &ss, body)
	if err := p.c.rc.InvokeOneway(q.addr, req); err != nil {
		return transportError(q.addr, err)
	}
	return nil
}

// batchBody encodes msgs as a SEND_BATCH_MESSAGE body (spec clientgo.md
// §7.2). They must share one topic. No UNIQ_KEY is added, as in
// rocketmq-client-go: batched messages are identified by their offset ids.
func batchBody(dst []byte, msgs []*message.Message) ([]byte, string, error) {
	if len(msgs) == 0 {
		return dst, "", fmt.Errorf("%w: empty batch", ErrInvalidMessage)
	}
	topic := ""
	for i, m := range msgs {
		if err := validate(m); err != nil {
			return dst, "", err
		}
		if i == 0 {
			topic = m.Topic
		} else if m.Topic != topic {
			return dst, "", fmt.Errorf("%w: batch spans topics %s and %s", ErrInvalidMessage, topic, m.Topic)
		}
		var err error
		if dst, err = message.AppendBatchEntry(dst, m.Flag, m.Body, m.Properties); err != nil {
			return dst, "", fmt.Errorf("%w: %w", ErrInvalidMessage, err)
		}
	}
	return dst, topic, nil
}

// batchBufferPool recycles batch bodies.
var batchBufferPool sync.Pool

func getBatchBuffer(n int) *[]byte {
	if v, ok := batchBufferPool.Get().(*[]byte); ok && cap(*v) >= n {
		*v = (*v)[:0]
		return v
	}
	b := make([]byte, 0, n)
	return &b
}

func batchSize(msgs []*message.Message) int {
	n := 0
	for _, m := range msgs {
		n += 22 + len(m.Body) + len(m.Properties)
	}
	return n
}

// SendBatch sends msgs, which must share one topic, as one
// SEND_BATCH_MESSAGE to one queue, synchronously, with Send's retries. The
// result's QueueOffset is the first message's; the rest follow it.
func (p *Producer) SendBatch(ctx context.Context, msgs []*message.Message) (SendResult, error) {
	buf := getBatchBuffer(batchSize(msgs))
	body, topic, err := batchBody(*buf, msgs)
	*buf = body
	if err != nil {
		batchBufferPool.Put(buf)
		return SendResult{}, err
	}
	res, err := p.sendSync(ctx, topic, remoting.RequestSendBatchMessage, 0, 0, &sendStrings{born: bornString(time.Now())}, body)
	if err == nil { // after an error the frame may still be queued: drop the buffer
		batchBufferPool.Put(buf)
	}
	return res, err
}

// SendBatchAsync is SendBatch without waiting, with SendAsync's window (one
// slot per batch) and callback rules.
func (p *Producer) SendBatchAsync(ctx context.Context, msgs []*message.Message, callback func(SendResult, error)) error {
	buf := getBatchBuffer(batchSize(msgs))
	body, topic, err := batchBody(*buf, msgs)
	*buf = body
	if err != nil {
		batchBufferPool.Put(buf)
		return err
	}
	now := time.Now()
	err = p.sendAsync(ctx, now, topic, remoting.RequestSendBatchMessage, 0, 0, &sendStrings{born: bornString(now)}, body, func(res SendResult, err error) {
		// After an answer the frame has been written and the body can be
		// reused; after a timeout it may still be queued, so it is dropped.
		if err == nil {
			batchBufferPool.Put(buf)
		}
		callback(res, err)
	})
	if err != nil {
		batchBufferPool.Put(buf)
	}
	return err
}

// IOStats returns the socket calls of the producer's connections and the
// frames they carried (see remoting.IOStats).
func (p *Producer) IOStats() remoting.IOStats { return p.c.rc.IOStats() }
