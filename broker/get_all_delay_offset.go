package broker

import "github.com/mqstore/mqstore/remoting"

// GET_ALL_DELAY_OFFSET (45): the delivery position of each delay level's schedule queue
// ({"offsetTable":{"1":12,"3":4}}: level → next schedule-queue offset; schedule.go).
func (b *Broker) handleGetAllDelayOffset(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	body, err := encodeDelayOffsets(b.store.DelayOffsets())
	if err != nil {
		return errorResponse(req, err)
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.Body = body
	return resp
}
