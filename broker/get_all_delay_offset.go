package broker

import "github.com/mqstore/mqstore/remoting"

// GET_ALL_DELAY_OFFSET (45): the delivery position of each delay level, as delayOffset.json
// holds it ({"offsetTable":{"1":12,"3":4}}: level → next schedule-queue offset; schedule.go).
// The answer is the current position, which may be ahead of the file by the unflushed window.
func (b *Broker) handleGetAllDelayOffset(_ *remoting.Conn, req *remoting.Command) *remoting.Command {
	body, err := encodeDelayOffsets(b.scheduler.offsets())
	if err != nil {
		return errorResponse(req, err)
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.Body = body
	return resp
}
