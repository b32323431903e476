package broker

import (
	"fmt"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// VIEW_MESSAGE_BY_ID (33): the record at a commitlog offset (ext offset, the last 16 hex
// characters of an offset message id), as its raw bytes, written from the mapping.
func (b *Broker) handleViewMessageByID(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	off, err := req.GetInt64(protocol.FieldOffset)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldOffset, err))
	}
	sl, err := b.store.ReadRaw(off)
	if err != nil {
		return remoting.NewResponse(req, remoting.ResponseSystemError, fmt.Sprintf("can not find message by the offset %d: %v", off, err))
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.BodyParts = append(resp.BodyParts[:0], sl.Bytes)
	resp.BodyRelease = sl.Release
	return resp
}
