package broker

import (
	"fmt"
	"strconv"
	"time"

	"github.com/mqstore/mqstore/filter"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
)

// PULL_MESSAGE (11): read up to maxMsgNums messages of one queue from queueOffset, filtered by
// the group's subscription (tags on the queue units, SQL92 on the records' properties); when there are none and the request allows suspension, park it
// until a message arrives in that queue (woken by the store's dispatcher through OnArrival) or
// suspendTimeoutMillis passes (longpoll.go). The answer's body is the raw commitlog records,
// written from the mapping without a copy; its ext fields always carry nextBeginOffset,
// minOffset, maxOffset and suggestWhichBrokerId (a missing nextBeginOffset sends a Go consumer
// back to offset 0). Store status → response code (spec §7.7):
//
//	Found                                   SUCCESS
//	NoMatchedMessage, MessageWasRemoving    PULL_RETRY_IMMEDIATELY
//	NoMatchedLogicQueue, NoMessageInQueue   PULL_OFFSET_MOVED if offset ≠ 0, else PULL_NOT_FOUND
//	OffsetFoundNull, OffsetOverflowOne      PULL_NOT_FOUND (parked when suspension is allowed)
//	OffsetOverflowBadly, OffsetTooSmall     PULL_OFFSET_MOVED

const (
	// maxPullMessages caps maxMsgNums.
	maxPullMessages = 1024
	// maxPullBytes bounds a pull answer's body (at least one message is always returned).
	maxPullBytes = 1 << 20
	// maxSuspend caps suspendTimeoutMillis.
	maxSuspend = time.Minute
)

// pullHeader is PullMessageRequestHeader.
type pullHeader struct {
	group          string
	topic          string
	queueID        int32
	queueOffset    int64
	maxMsgNums     int
	sysFlag        int32
	commitOffset   int64
	suspendTimeout time.Duration
	subscription   string
	expressionType string
}

func parsePullHeader(req *remoting.Command) (pullHeader, error) {
	var h pullHeader
	var err error
	if h.group, err = req.GetString(protocol.FieldConsumerGroup); err != nil {
		return h, badField(protocol.FieldConsumerGroup, err)
	}
	if h.topic, err = req.GetString(protocol.FieldTopic); err != nil {
		return h, badField(protocol.FieldTopic, err)
	}
	if h.queueID, err = req.GetInt32(protocol.FieldQueueID); err != nil {
		return h, badField(protocol.FieldQueueID, err)
	}
	if h.queueOffset, err = req.GetInt64(protocol.FieldQueueOffset); err != nil {
		return h, badField(protocol.FieldQueueOffset, err)
	}
	n, err := req.GetInt32(protocol.FieldMaxMsgNums)
	if err != nil {
		return h, badField(protocol.FieldMaxMsgNums, err)
	}
	h.maxMsgNums = min(max(int(n), 1), maxPullMessages) // 0 means at least one (clientgo.md §3.5)
	if h.sysFlag, err = req.GetInt32(protocol.FieldSysFlag); err != nil {
		return h, badField(protocol.FieldSysFlag, err)
	}
	if h.commitOffset, err = req.GetInt64(protocol.FieldCommitOffset); err != nil {
		h.commitOffset = -1
	}
	if t, err := req.GetInt64(protocol.FieldSuspendTimeoutMillis); err == nil && t > 0 {
		h.suspendTimeout = min(ms(t), maxSuspend)
	}
	h.subscription = req.Ext(protocol.FieldSubscription)
	h.expressionType = req.Ext(protocol.FieldExpressionType)
	return h, nil
}

// pullCall is one pull request in flight: executed at once, or parked and executed again.
type pullCall struct {
	conn   *remoting.Conn
	req    *remoting.Command // owned by the call while it is parked
	header pullHeader
	filter store.Filter
	key    queueKey

	// Guarded by pullHolds.mu.
	parked bool
	timer  *time.Timer
}

func (b *Broker) handlePullMessage(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := parsePullHeader(req)
	if err != nil {
		return errorResponse(req, err)
	}
	if resp := b.checkPull(req, &h); resp != nil {
		return resp
	}
	call := &pullCall{conn: c, req: req, header: h, key: queueKey{h.topic, h.queueID}}
	var resp *remoting.Command
	if call.filter, resp = b.pullFilter(req, &h); resp != nil {
		return resp
	}
	if h.sysFlag&protocol.PullFlagCommitOffset != 0 && b.cfg.BrokerID == 0 {
		b.offsets.commit(h.group, h.topic, h.queueID, h.commitOffset)
	}
	return b.executePull(call, true)
}

// checkPull validates a pull against the broker, topic and group configs.
func (b *Broker) checkPull(req *remoting.Command, h *pullHeader) *remoting.Command {
	if b.cfg.BrokerPermission&namesrv.PermRead == 0 {
		return remoting.NewResponse(req, remoting.ResponseNoPermission,
			fmt.Sprintf("the broker[%s] pulling message is forbidden", b.cfg.BrokerName))
	}
	gc, ok, err := b.groups.ensure(h.group, b.cfg.AutoCreateSubscriptionGroup)
	if err != nil {
		return errorResponse(req, err)
	}
	if !ok {
		return remoting.NewResponse(req, remoting.ResponseSubscriptionGroupNotExist,
			fmt.Sprintf("subscription group [%s] does not exist", h.group))
	}
	if !gc.ConsumeEnable {
		return remoting.NewResponse(req, remoting.ResponseNoPermission,
			fmt.Sprintf("subscription group no permission, %s", h.group))
	}
	tc, ok := b.topics.get(h.topic)
	if !ok {
		return remoting.NewResponse(req, remoting.ResponseTopicNotExist,
			fmt.Sprintf("topic[%s] not exist, apply first please!", h.topic))
	}
	if tc.Perm&namesrv.PermRead == 0 {
		return remoting.NewResponse(req, remoting.ResponseNoPermission,
			fmt.Sprintf("the topic[%s] pulling message is forbidden", h.topic))
	}
	if h.queueID < 0 || int(h.queueID) >= tc.ReadQueueNums {
		return remoting.NewResponse(req, remoting.ResponseSystemError,
			fmt.Sprintf("queueId[%d] is illegal, topic:[%s] topicConfig.readQueueNums:[%d]", h.queueID, h.topic, tc.ReadQueueNums))
	}
	return nil
}

// pullFilter is the filter of a pull: the header's expression when the SUBSCRIPTION flag says
// so, else the group's subscription from its heartbeats, else none. A SQL92 expression is
// evaluated here, on the broker; one the broker refuses (property filtering off, or it does not
// compile) answers the pull with checkSubscription's code and remark, never NO_MATCHED_MSG: an
// expression misread as a tag list would match nothing and move the consumer past messages it
// never saw.
func (b *Broker) pullFilter(req *remoting.Command, h *pullHeader) (store.Filter, *remoting.Command) {
	s := b.clients.subscription(h.group, h.topic)
	if h.sysFlag&protocol.PullFlagSubscription != 0 && h.subscription != "" && (s == nil || s.expression != h.subscription) {
		// rocketmq-client-go sends expressionType TAG for every subscription: when the header
		// repeats the heartbeat's expression, the heartbeat's type is the one to trust.
		s = parseSubscription(h.topic, h.expressionType, h.subscription, nil, 0)
	}
	if s == nil {
		return nil, nil
	}
	if !filter.IsTagType(s.expressionType) {
		if code, remark := b.subscriptionRefusal(h.group, h.topic, s.expressionType, s.expression, s.err); code != remoting.ResponseSuccess {
			return nil, remoting.NewResponse(req, code, remark)
		}
	}
	return s.filter, nil
}

// executePull reads the queue and answers, or parks the call (returning nil) when nothing is
// there yet and suspend is allowed.
func (b *Broker) executePull(call *pullCall, suspend bool) *remoting.Command {
	h := &call.header
	res, err := b.store.GetMessages(h.topic, h.queueID, h.queueOffset, h.maxMsgNums, maxPullBytes, call.filter)
	if err != nil {
		return remoting.NewResponse(call.req, remoting.ResponseSystemError, err.Error())
	}
	var code remoting.ResponseCode
	switch res.Status {
	case store.Found:
		code = remoting.ResponseSuccess
	case store.NoMatchedMessage, store.MessageWasRemoving:
		code = remoting.ResponsePullRetryImmediately
	case store.NoMatchedLogicQueue, store.NoMessageInQueue:
		code = remoting.ResponsePullNotFound
		if h.queueOffset != 0 {
			code = remoting.ResponsePullOffsetMoved
		}
	case store.OffsetOverflowBadly, store.OffsetTooSmall:
		code = remoting.ResponsePullOffsetMoved
	default: // OffsetFoundNull, OffsetOverflowOne
		code = remoting.ResponsePullNotFound
	}
	if code == remoting.ResponsePullNotFound && b.holds.stopping.Load() {
		// Shutting down: an empty answer makes the Go client pull again at once, on a connection
		// about to close, and a request the broker never reads waits out the client's 30 s call
		// timeout. SYSTEM_BUSY makes it back off 3 s instead, past the restart.
		res.Release()
		return remoting.NewResponse(call.req, remoting.ResponseSystemBusy, "the broker is shutting down, pull again later")
	}
	if code == remoting.ResponsePullNotFound && suspend && h.sysFlag&protocol.PullFlagSuspend != 0 {
		hold := h.suspendTimeout
		if !b.cfg.LongPollingEnable {
			hold = ms(b.cfg.ShortPollingTimeMills)
		}
		if hold > 0 && b.holds.park(call, hold) {
			res.Release()
			return nil
		}
	}
	resp := remoting.NewResponse(call.req, code, res.Status.String())
	resp.SetExtInt64(protocol.FieldNextBeginOffset, res.NextBeginOffset)
	resp.SetExtInt64(protocol.FieldMinOffset, res.MinOffset)
	resp.SetExtInt64(protocol.FieldMaxOffset, res.MaxOffset)
	resp.SetExt(protocol.FieldSuggestWhichBrokerID, "0")
	if code == remoting.ResponseSuccess {
		b.stats.pulledMessages.Add(int64(len(res.Messages)))
		if mt := b.opts.Metrics; mt != nil {
			mt.MessagesOut(h.topic, h.group, len(res.Messages), res.Bytes)
		}
		// The command keeps its own slice of the records: res.Messages goes back to the store's
		// pool on Release.
		resp.BodyParts = append(resp.BodyParts[:0], res.Messages...)
		resp.BodyRelease = res.Release
	} else {
		res.Release()
	}
	return resp
}

// resumePull executes a parked call again, without suspension, and writes its answer.
func (b *Broker) resumePull(call *pullCall) {
	resp := b.executePull(call, false)
	call.req.Release()
	if err := call.conn.WriteResponse(resp); err != nil {
		// The consumer left; the response was dropped (and its records released).
		b.log.Debug("broker: pull answer dropped", "remote", call.conn.RemoteAddrString(), "err", err)
	}
}

// badField wraps a header field error.
func badField(name string, err error) error {
	return fmt.Errorf("%w: field %s: %v", ErrBadRequest, name, err)
}

// itoa32 formats an int32 for an ext field.
func itoa32(v int32) string { return strconv.FormatInt(int64(v), 10) }
