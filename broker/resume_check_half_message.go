package broker

import (
	"errors"
	"fmt"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/txn"
)

// RESUME_CHECK_HALF_MESSAGE (323): an operator puts a half message that was discarded after
// transactionCheckMax checks (or fileReservedTime) back to be checked again (spec §6.7). Header
// msgId = the offset message id of the discarded half message or of its copy in
// TRANS_CHECK_MAX_TIME_TOPIC. txn.Resume appends a fresh half message with its check count
// reset; the answer's remark names its offsets. A half message that is not discarded (open,
// committed, rolled back, already resumed) is refused with SYSTEM_ERROR, as is an id that names
// no half message.

func (b *Broker) handleResumeCheckHalfMessage(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	id, err := req.GetString(protocol.FieldMsgID)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldMsgID, err))
	}
	_, offset, err := message.ParseOffsetMsgID(id)
	if err != nil {
		return errorResponse(req, fmt.Errorf("%w: msgId %q: %v", ErrBadRequest, id, err))
	}
	open, err := b.store.Transactions().Resume(offset)
	switch {
	case err == nil:
		b.log.Info("broker: half message resumed", "msgId", id, "commitLogOffset", open.HalfOffset, "group", open.ProducerGroup)
		return remoting.NewResponse(req, remoting.ResponseSuccess,
			fmt.Sprintf("resumed as commitLogOffset %d, tranStateTableOffset %d", open.HalfOffset, open.QueueOffset))
	case errStoreClosed(err):
		return remoting.NewResponse(req, remoting.ResponseServiceNotAvailable, err.Error())
	case errors.Is(err, txn.ErrNotDiscarded), errors.Is(err, txn.ErrNotFound), errors.Is(err, txn.ErrNotHalfMessage):
		return remoting.NewResponse(req, remoting.ResponseSystemError, "resume to check half message failed: "+err.Error())
	}
	return errorResponse(req, err)
}
