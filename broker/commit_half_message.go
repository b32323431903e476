package broker

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/txn"
)

// MQSTORE_COMMIT_HALF_MESSAGE (9001, private; docs/PROTOCOL.md): an operator commits an open
// transaction by hand (mqadmin txnCommit), for one whose producer is gone. Header:
// commitLogOffset (the half message's, as MQSTORE_LIST_OPEN_TRANSACTIONS lists it),
// producerGroup (optional; when given it must be the half message's PGROUP). The commit is
// END_TRANSACTION's (txn.Commit, any half-queue offset) and is logged at INFO.
//
//	committed now                          SUCCESS, changed=true, topic, queueId, queueOffset and
//	                                       msgId (offset message id) of the delivered message
//	already committed, or ended with an    SUCCESS, changed=false: nothing written (idempotent)
//	unknown outcome
//	rolled back, discarded or resumed      ILLEGAL_OPERATION, nothing written
//	no half message at commitLogOffset     QUERY_NOT_FOUND
//	producerGroup ≠ PGROUP                 SYSTEM_ERROR "The producer group wrong"
//	slave broker (brokerId ≠ 0)            SLAVE_NOT_AVAILABLE
//
// MQSTORE_ROLLBACK_HALF_MESSAGE (rollback_half_message.go) answers the same way.

func (b *Broker) handleCommitHalfMessage(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	return b.resolveHalfMessage(c, req, true)
}

// resolveHalfMessage commits or rolls back the half message req names, for an operator.
func (b *Broker) resolveHalfMessage(c *remoting.Conn, req *remoting.Command, commit bool) *remoting.Command {
	action := "rollback"
	if commit {
		action = "commit"
	}
	if b.cfg.BrokerID != 0 {
		return remoting.NewResponse(req, remoting.ResponseSlaveNotAvailable, "the broker is a slave; end transactions on the master")
	}
	offset, err := req.GetInt64(protocol.FieldCommitLogOffset)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldCommitLogOffset, err))
	}
	half, err := b.store.ReadAt(offset)
	if err != nil {
		if errStoreClosed(err) {
			return remoting.NewResponse(req, remoting.ResponseServiceNotAvailable, err.Error())
		}
		return remoting.NewResponse(req, remoting.ResponseQueryNotFound, fmt.Sprintf("no half message at commitLogOffset %d: %v", offset, err))
	}
	if half.Topic != txn.HalfTopic {
		return remoting.NewResponse(req, remoting.ResponseQueryNotFound,
			fmt.Sprintf("commitLogOffset %d holds a message of topic %s, not a half message", offset, half.Topic))
	}
	group := req.Ext(protocol.FieldProducerGroup)
	if group == "" {
		group, _ = half.Property(message.PropertyProducerGroup)
	}
	topic, _ := half.Property(message.PropertyRealTopic)
	log := b.log.With("action", action, "commitLogOffset", offset, "group", group, "topic", topic,
		"transactionId", half.UniqKey(), "remote", c.RemoteAddrString())

	tx := b.store.Transactions()
	var app txn.Appended
	if commit {
		app, err = tx.Commit(offset, group, txn.AnyQueueOffset)
	} else {
		err = tx.Rollback(offset, group, txn.AnyQueueOffset)
	}
	unchanged := func(why string) *remoting.Command {
		log.Info("broker: operator's transaction "+action+" changed nothing", "why", why)
		resp := remoting.NewResponse(req, remoting.ResponseSuccess, why+"; nothing changed")
		resp.SetExtBool(protocol.FieldChanged, false)
		return resp
	}
	refused := func(why string) *remoting.Command {
		log.Warn("broker: operator's transaction "+action+" refused", "why", why)
		return remoting.NewResponse(req, remoting.ResponseIllegalOperation, why)
	}
	switch {
	case err == nil:
		b.origins.forget(offset)
		resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
		resp.SetExtBool(protocol.FieldChanged, true)
		if commit {
			qid, _ := half.Property(message.PropertyRealQueueID)
			log.Info("broker: transaction committed by an operator", "queueId", qid, "queueOffset", app.QueueOffset, "msgId", app.MsgID)
			resp.Remark = "committed"
			resp.SetExt(protocol.FieldTopic, topic)
			resp.SetExt(protocol.FieldQueueID, qid)
			resp.SetExt(protocol.FieldQueueOffset, strconv.FormatInt(app.QueueOffset, 10))
			resp.SetExt(protocol.FieldMsgID, app.MsgID)
			if mt := b.opts.Metrics; mt != nil {
				mt.TxnCommitted(topic)
			}
		} else {
			log.Info("broker: transaction rolled back by an operator")
			resp.Remark = "rolled back"
			if mt := b.opts.Metrics; mt != nil {
				mt.TxnRolledBack(topic)
			}
		}
		return resp
	case errors.Is(err, txn.ErrAlreadyCommitted):
		if commit {
			return unchanged("transaction already committed")
		}
		return refused("transaction already committed; rollback refused")
	case errors.Is(err, txn.ErrAlreadyRolledBack):
		if !commit {
			return unchanged("transaction already rolled back")
		}
		return refused("transaction already rolled back; commit refused")
	case errors.Is(err, txn.ErrDiscarded):
		return refused("transaction discarded after too many checks; RESUME_CHECK_HALF_MESSAGE (mqadmin txnResume) puts it back")
	case errors.Is(err, txn.ErrResumed):
		return refused("transaction resumed as a new half message; resolve that one")
	case errors.Is(err, txn.ErrAlreadyEnded):
		return unchanged("transaction already ended")
	case errors.Is(err, txn.ErrNotFound), errors.Is(err, txn.ErrNotHalfMessage):
		return remoting.NewResponse(req, remoting.ResponseQueryNotFound, err.Error())
	case errors.Is(err, txn.ErrGroupMismatch):
		return remoting.NewResponse(req, remoting.ResponseSystemError, "The producer group wrong: "+err.Error())
	case errStoreClosed(err):
		return remoting.NewResponse(req, remoting.ResponseServiceNotAvailable, err.Error())
	}
	log.Error("broker: operator's transaction "+action+" failed", "err", err)
	return errorResponse(req, err)
}
