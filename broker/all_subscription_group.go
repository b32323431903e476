package broker

import (
	"encoding/json"

	"github.com/mqstore/mqstore/remoting"
)

// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201): every consumer group config, as strict JSON
// ({"subscriptionGroupTable":{...},"dataVersion":{...}}, the shape of
// config/subscriptionGroup.json), which the Go admin client decodes with encoding/json.
func (b *Broker) handleGetAllSubscriptionGroupConfig(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	groups, version := b.groups.snapshot()
	body, err := json.Marshal(groupsFileContent{SubscriptionGroupTable: groups, DataVersion: version})
	if err != nil {
		return errorResponse(req, err)
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.Body = body
	return resp
}
