package broker

import (
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// queueArgs reads the topic and queueId fields most queue requests carry.
func queueArgs(req *remoting.Command) (string, int32, error) {
	topic, err := req.GetString(protocol.FieldTopic)
	if err != nil {
		return "", 0, badField(protocol.FieldTopic, err)
	}
	queueID, err := req.GetInt32(protocol.FieldQueueID)
	if err != nil {
		return "", 0, badField(protocol.FieldQueueID, err)
	}
	return topic, queueID, nil
}

// offsetResponse answers SUCCESS with an offset ext field.
func offsetResponse(req *remoting.Command, offset int64) *remoting.Command {
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.SetExtInt64(protocol.FieldOffset, offset)
	return resp
}
