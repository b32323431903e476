package broker

import (
	"encoding/json"

	"github.com/mqstore/mqstore/remoting"
)

// GET_ALL_TOPIC_CONFIG (21): every topic config, as TopicConfigSerializeWrapper JSON
// ({"topicConfigTable":{...},"dataVersion":{...}}, the shape of config/topics.json).
func (b *Broker) handleGetAllTopicConfig(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	topics, version := b.topics.snapshot()
	body, err := json.Marshal(topicsFileContent{TopicConfigTable: topics, DataVersion: version})
	if err != nil {
		return errorResponse(req, err)
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.Body = body
	return resp
}
