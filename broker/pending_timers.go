package broker

import (
	"encoding/json"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// MQSTORE_PENDING_TIMERS (9003, private; docs/PROTOCOL.md): the timer messages of a topic (ext
// topic) waiting in this broker's timing wheel, for mqadmin timerList. The body is JSON
// (protocol.PendingTimers):
//
//	{"topic":"Orders","count":3,"nextDueMs":1700000060000,"wheelPending":10}
//
// Counting reads every pending timer's record (store.PendingTimers): an admin operation, O(the
// wheel's pending timers).
func (b *Broker) handlePendingTimers(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	topic, err := req.GetString(protocol.FieldTopic)
	if err != nil {
		return errorResponse(req, badField(protocol.FieldTopic, err))
	}
	p := b.store.PendingTimers(topic)
	body, err := json.Marshal(protocol.PendingTimers{Topic: topic, Count: p.Count, NextDueMs: p.NextDue,
		WheelPending: b.store.TimerStats().Pending})
	if err != nil {
		return errorResponse(req, err)
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.Body = body
	return resp
}
