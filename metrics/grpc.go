package metrics

import "time"

// protocolTypeGRPC is the protocol_type of RocketMQ 5's gRPC requests.
const protocolTypeGRPC = "grpc"

// GRPC records the latency of one gRPC request (rocketmq_rpc_latency, protocol_type="grpc"):
// method is the MessagingService RPC's name (a fixed set), code the protocol's status code name
// (a fixed enum), longPolling true for a ReceiveMessage, result success or
// process_request_failed (the handler returned an error).
func (m *Metrics) GRPC(method, code string, longPolling bool, result RPCResult, d time.Duration) {
	if result >= rpcResultCount {
		result = RPCSuccess
	}
	m.rpcLatency.WithLabelValues(protocolTypeGRPC, method, code, boolLabel(longPolling), result.String()).
		Observe(float64(d) / float64(time.Millisecond))
}
