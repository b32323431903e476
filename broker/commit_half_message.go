package broker

import (
	"errors"
	"strconv"

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
	if b.cfg.BrokerID != 0 {
		return remoting.NewResponse(req, remoting.ResponseSlaveNotAvailable, "the broker is a slave; end transactions on the master")
	}
	offset, err := req.GetInt64(protocol.FieldCommitLogOffset)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldCommitLogOffset, err))
	}
	out, err := b.ResolveTransaction(offset, commit, req.Ext(protocol.FieldProducerGroup), c.RemoteAddrString())
	switch {
	case err == nil && !out.Changed:
		resp := remoting.NewResponse(req, remoting.ResponseSuccess, out.Reason+"; nothing changed")
		resp.SetExtBool(protocol.FieldChanged, false)
		return resp
	case err == nil:
		resp := remoting.NewResponse(req, remoting.ResponseSuccess, "rolled back")
		resp.SetExtBool(protocol.FieldChanged, true)
		if commit {
			resp.Remark = "committed"
			resp.SetExt(protocol.FieldTopic, out.Topic)
			resp.SetExt(protocol.FieldQueueID, out.QueueID)
			resp.SetExt(protocol.FieldQueueOffset, strconv.FormatInt(out.QueueOffset, 10))
			resp.SetExt(protocol.FieldMsgID, out.MsgID)
		}
		return resp
	case errors.Is(err, ErrNotMaster):
		return remoting.NewResponse(req, remoting.ResponseSlaveNotAvailable, "the broker is a slave; end transactions on the master")
	case errStoreClosed(err):
		return remoting.NewResponse(req, remoting.ResponseServiceNotAvailable, err.Error())
	case errors.Is(err, txn.ErrAlreadyCommitted):
		return remoting.NewResponse(req, remoting.ResponseIllegalOperation, "transaction already committed; rollback refused")
	case errors.Is(err, txn.ErrAlreadyRolledBack):
		return remoting.NewResponse(req, remoting.ResponseIllegalOperation, "transaction already rolled back; commit refused")
	case errors.Is(err, txn.ErrDiscarded):
		return remoting.NewResponse(req, remoting.ResponseIllegalOperation,
			"transaction discarded after too many checks; RESUME_CHECK_HALF_MESSAGE (mqadmin txnResume) puts it back")
	case errors.Is(err, txn.ErrResumed):
		return remoting.NewResponse(req, remoting.ResponseIllegalOperation, "transaction resumed as a new half message; resolve that one")
	case errors.Is(err, txn.ErrNotFound), errors.Is(err, txn.ErrNotHalfMessage):
		return remoting.NewResponse(req, remoting.ResponseQueryNotFound, err.Error())
	case errors.Is(err, txn.ErrGroupMismatch):
		return remoting.NewResponse(req, remoting.ResponseSystemError, "The producer group wrong: "+err.Error())
	}
	return errorResponse(req, err)
}
