package broker

import (
	"fmt"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// QUERY_MESSAGE (12): messages of a topic by key (ext topic, key, maxNum, beginTimestamp,
// endTimestamp), looked up in the hash index: KEYS entries and UNIQ_KEY both match. The body is
// the raw records, newest first; the ext fields indexLastUpdateTimestamp and
// indexLastUpdatePhyoffset carry the newest match's store time and commitlog offset.
// No match: QUERY_NOT_FOUND.

// maxQueryMessages caps maxNum (RocketMQ's maxMsgsNumBatch).
const maxQueryMessages = 64

func (b *Broker) handleQueryMessage(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	topic, err := req.GetString(protocol.FieldTopic)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldTopic, err))
	}
	key, err := req.GetString(protocol.FieldKey)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldKey, err))
	}
	maxNum, err := req.GetInt32(protocol.FieldMaxNum)
	if err != nil || maxNum <= 0 {
		maxNum = 32
	}
	begin, _ := req.GetInt64(protocol.FieldBeginTimestamp)
	end, err := req.GetInt64(protocol.FieldEndTimestamp)
	if err != nil || end <= 0 {
		end = 0 // now
	}
	found, err := b.store.QueryByKey(topic, key, min(int(maxNum), maxQueryMessages), begin, end)
	if err != nil {
		return errorResponse(req, err)
	}
	if len(found) == 0 {
		return remoting.NewResponse(req, remoting.ResponseQueryNotFound,
			fmt.Sprintf("can not find message by key %q in topic %s, maybe time range not correct", key, topic))
	}
	var body []byte
	var lastTime, lastOffset int64
	for _, m := range found {
		sl, err := b.store.ReadRaw(m.PhysicalOffset)
		if err != nil {
			continue // removed by retention meanwhile
		}
		body = append(body, sl.Bytes...)
		sl.Release()
		lastTime, lastOffset = max(lastTime, m.StoreTimestamp), max(lastOffset, m.PhysicalOffset)
	}
	if len(body) == 0 {
		return remoting.NewResponse(req, remoting.ResponseQueryNotFound, "messages were removed")
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.SetExtInt64(protocol.FieldIndexLastUpdateTimestamp, lastTime)
	resp.SetExtInt64(protocol.FieldIndexLastUpdatePhyoffset, lastOffset)
	resp.Body = body
	return resp
}
