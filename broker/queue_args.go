package broker

import "github.com/mqstore/mqstore/remoting"

// queueArgs reads the topic and queueId fields most queue requests carry.
func queueArgs(req *remoting.Command) (string, int32, error) {
	topic, err := req.GetString(fieldTopic)
	if err != nil {
		return "", 0, badField(fieldTopic, err)
	}
	queueID, err := req.GetInt32(fieldQueueID)
	if err != nil {
		return "", 0, badField(fieldQueueID, err)
	}
	return topic, queueID, nil
}

// offsetResponse answers SUCCESS with an offset ext field.
func offsetResponse(req *remoting.Command, offset int64) *remoting.Command {
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.SetExtInt64(fieldOffset, offset)
	return resp
}
