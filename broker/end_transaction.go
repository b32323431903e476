package broker

import (
	"errors"
	"fmt"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/metrics"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/txn"
)

// END_TRANSACTION (37): a producer ends the transaction of a half message, after its local
// transaction (fromTransactionCheck=false) or answering CHECK_TRANSACTION_STATE (true). Clients
// send it oneway; a two-way request gets the answer below. Header (EndTransactionRequestHeader,
// spec §6.4): producerGroup, tranStateTableOffset (half-queue offset), commitLogOffset (the half
// record's), commitOrRollback (8 commit, 12 rollback, 0 unknown), fromTransactionCheck, msgId,
// transactionId.
//
//	commitOrRollback 0 (UNKNOW)           logged; the transaction stays open and is checked later
//	                                      (RocketMQ sends no answer; two-way callers get SUCCESS)
//	other values                          SYSTEM_ERROR
//	slave broker (brokerId ≠ 0)           SLAVE_NOT_AVAILABLE
//	no half message at commitLogOffset    SYSTEM_ERROR "Find prepared transaction message failed"
//	PGROUP ≠ producerGroup                SYSTEM_ERROR "The producer group wrong"
//	queue offset ≠ tranStateTableOffset   SYSTEM_ERROR "The transaction state table offset wrong"
//	commit / rollback done                SUCCESS
//	the same end again                    SUCCESS, nothing written (RocketMQ stores a second
//	                                      commit again: apache/rocketmq#5574)
//	the opposite end, or an end of a      ILLEGAL_OPERATION (604), nothing written (RocketMQ
//	discarded / resumed transaction       accepts it: #8158, #2694)
//
// A commit appends the restored message to its real queue (txn.Commit); a rollback writes only
// the op marker.

func (b *Broker) handleEndTransaction(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	if b.cfg.BrokerID != 0 {
		return remoting.NewResponse(req, remoting.ResponseSlaveNotAvailable, "the broker is a slave; end transactions on the master")
	}
	h, err := parseEndTransactionHeader(req)
	if err != nil {
		b.log.Warn("broker: bad END_TRANSACTION", "remote", c.RemoteAddrString(), "err", err)
		return errorResponse(req, err)
	}
	mt := b.opts.Metrics
	if mt != nil && h.fromCheck {
		switch h.commitOrRollback {
		case message.TransactionCommitType:
			mt.CheckAnswered(metrics.CheckCommit)
		case message.TransactionRollbackType:
			mt.CheckAnswered(metrics.CheckRollback)
		default:
			mt.CheckAnswered(metrics.CheckUnknown)
		}
	}
	var topic string
	if mt != nil {
		topic = b.realTopicAt(h.commitLogOffset)
	}
	tx := b.store.Transactions()
	switch h.commitOrRollback {
	case message.TransactionNotType:
		b.log.Info("broker: transaction state unknown; it will be checked", "group", h.producerGroup,
			"commitLogOffset", h.commitLogOffset, "msgId", h.msgID, "fromCheck", h.fromCheck, "remark", req.Remark)
		return remoting.NewResponse(req, remoting.ResponseSuccess, "transaction state unknown; the broker checks back later")
	case message.TransactionCommitType:
		_, err = tx.Commit(h.commitLogOffset, h.producerGroup, h.tranStateTableOffset)
		if err == nil && mt != nil {
			mt.TxnCommitted(topic)
		}
	case message.TransactionRollbackType:
		err = tx.Rollback(h.commitLogOffset, h.producerGroup, h.tranStateTableOffset)
		if err == nil && mt != nil {
			mt.TxnRolledBack(topic)
		}
	default:
		return errorResponse(req, fmt.Errorf("%w: commitOrRollback %d is not 0, 8 or 12", ErrBadRequest, h.commitOrRollback))
	}
	resp := b.endTransactionResponse(req, &h, err)
	if resp.ResponseCode() == remoting.ResponseSuccess {
		b.origins.forget(h.commitLogOffset)
	}
	return resp
}

// endTransactionHeader is EndTransactionRequestHeader, parsed.
type endTransactionHeader struct {
	producerGroup        string
	tranStateTableOffset int64
	commitLogOffset      int64
	commitOrRollback     int32
	fromCheck            bool
	msgID                string
	transactionID        string
}

func parseEndTransactionHeader(req *remoting.Command) (endTransactionHeader, error) {
	var h endTransactionHeader
	var err error
	if h.producerGroup, err = req.GetString(protocol.FieldProducerGroup); err != nil {
		return h, badField(protocol.FieldProducerGroup, err)
	}
	if h.tranStateTableOffset, err = req.GetInt64(protocol.FieldTranStateTableOffset); err != nil {
		return h, badField(protocol.FieldTranStateTableOffset, err)
	}
	if h.commitLogOffset, err = req.GetInt64(protocol.FieldCommitLogOffset); err != nil {
		return h, badField(protocol.FieldCommitLogOffset, err)
	}
	if h.commitOrRollback, err = req.GetInt32(protocol.FieldCommitOrRollback); err != nil {
		return h, badField(protocol.FieldCommitOrRollback, err)
	}
	h.fromCheck, _ = req.GetBool(protocol.FieldFromTransactionCheck)
	h.msgID = req.Ext(protocol.FieldMsgID)
	h.transactionID = req.Ext(protocol.FieldTransactionID)
	return h, nil
}

// endTransactionResponse maps txn's answer to END_TRANSACTION's response.
func (b *Broker) endTransactionResponse(req *remoting.Command, h *endTransactionHeader, err error) *remoting.Command {
	commit := h.commitOrRollback == message.TransactionCommitType
	illegal := func(why string) *remoting.Command {
		b.log.Warn("broker: end of an ended transaction refused", "group", h.producerGroup, "commitLogOffset", h.commitLogOffset,
			"msgId", h.msgID, "commit", commit, "fromCheck", h.fromCheck, "why", why)
		return remoting.NewResponse(req, remoting.ResponseIllegalOperation, why)
	}
	repeat := func(why string) *remoting.Command {
		b.log.Debug("broker: repeated end transaction", "group", h.producerGroup, "commitLogOffset", h.commitLogOffset, "why", why)
		return remoting.NewResponse(req, remoting.ResponseSuccess, why)
	}
	switch {
	case err == nil:
		return remoting.NewResponse(req, remoting.ResponseSuccess, "")
	case errors.Is(err, txn.ErrAlreadyCommitted):
		if commit {
			return repeat("transaction already committed")
		}
		return illegal("transaction already committed; rollback refused")
	case errors.Is(err, txn.ErrAlreadyRolledBack):
		if !commit {
			return repeat("transaction already rolled back")
		}
		return illegal("transaction already rolled back; commit refused")
	case errors.Is(err, txn.ErrDiscarded):
		return illegal("transaction discarded after too many checks; RESUME_CHECK_HALF_MESSAGE puts it back")
	case errors.Is(err, txn.ErrResumed):
		return illegal("transaction resumed as a new half message; end that one")
	case errors.Is(err, txn.ErrAlreadyEnded):
		return repeat("transaction already ended")
	case errors.Is(err, txn.ErrNotFound), errors.Is(err, txn.ErrNotHalfMessage):
		return b.endTransactionFailed(req, h, "Find prepared transaction message failed", err)
	case errors.Is(err, txn.ErrGroupMismatch):
		return b.endTransactionFailed(req, h, "The producer group wrong", err)
	case errors.Is(err, txn.ErrQueueOffsetMismatch):
		return b.endTransactionFailed(req, h, "The transaction state table offset wrong", err)
	case errors.Is(err, txn.ErrCommitLogOffsetMismatch):
		return b.endTransactionFailed(req, h, "The commit log offset wrong", err)
	case errStoreClosed(err):
		return remoting.NewResponse(req, remoting.ResponseServiceNotAvailable, err.Error())
	}
	b.log.Error("broker: end transaction failed", "group", h.producerGroup, "commitLogOffset", h.commitLogOffset, "err", err)
	return errorResponse(req, err)
}

// endTransactionFailed answers SYSTEM_ERROR with RocketMQ's remark (and txn's detail).
func (b *Broker) endTransactionFailed(req *remoting.Command, h *endTransactionHeader, remark string, err error) *remoting.Command {
	b.log.Warn("broker: end transaction refused", "group", h.producerGroup, "commitLogOffset", h.commitLogOffset,
		"tranStateTableOffset", h.tranStateTableOffset, "msgId", h.msgID, "reason", remark, "err", err)
	return remoting.NewResponse(req, remoting.ResponseSystemError, remark+": "+err.Error())
}
