package namesrv

import (
	"context"
	"fmt"

	"github.com/mqstore/mqstore/remoting"
)

// RegisterRemote registers a broker with the name server at namesrvAddr
// (REGISTER_BROKER, as a Java broker sends it): the header carries
// brokerName, brokerAddr, clusterName, haServerAddr, brokerId,
// compressed=false and bodyCrc32 (and heartbeatTimeoutMillis when
// reg.HeartbeatTimeout is set), the body is the RegisterBrokerBody JSON of
// register_body.go. A broker calls it at start and every
// registerNameServerPeriod (30 s). A reply
// other than SUCCESS gives an error wrapping ErrRejected.
func RegisterRemote(ctx context.Context, c *remoting.Client, namesrvAddr string, reg Registration) error {
	body := appendRegisterBody(make([]byte, 0, 256), &reg)
	req := remoting.NewRequest(remoting.RequestRegisterBroker)
	req.SetExt(fieldBrokerName, reg.BrokerName)
	req.SetExt(fieldBrokerAddr, reg.BrokerAddr)
	req.SetExt(fieldClusterName, reg.ClusterName)
	req.SetExt(fieldHAServerAddr, reg.HAServerAddr)
	req.SetExtInt64(fieldBrokerID, reg.BrokerID)
	req.SetExtBool(fieldCompressed, false)
	req.SetExtInt64(fieldBodyCRC32, bodyCRC32(body))
	if reg.HeartbeatTimeout > 0 {
		req.SetExtInt64(fieldHeartbeatTimeoutMillis, reg.HeartbeatTimeout.Milliseconds())
	}
	req.Body = body
	return invokeNamesrv(ctx, c, namesrvAddr, req)
}

// UnregisterRemote removes a broker address from the name server at
// namesrvAddr (UNREGISTER_BROKER, sent by a broker that shuts down). A
// reply other than SUCCESS gives an error wrapping ErrRejected.
func UnregisterRemote(ctx context.Context, c *remoting.Client, namesrvAddr, cluster, brokerName, brokerAddr string, brokerID int64) error {
	req := remoting.NewRequest(remoting.RequestUnregisterBroker)
	req.SetExt(fieldBrokerName, brokerName)
	req.SetExt(fieldBrokerAddr, brokerAddr)
	req.SetExt(fieldClusterName, cluster)
	req.SetExtInt64(fieldBrokerID, brokerID)
	return invokeNamesrv(ctx, c, namesrvAddr, req)
}

func invokeNamesrv(ctx context.Context, c *remoting.Client, addr string, req *remoting.Command) error {
	code := req.RequestCode()
	resp, err := c.Invoke(ctx, addr, req)
	if err != nil {
		return fmt.Errorf("namesrv: %s to %s: %w", code, addr, err)
	}
	defer resp.Release()
	if resp.ResponseCode() != remoting.ResponseSuccess {
		return fmt.Errorf("%w: %s to %s: %s: %s", ErrRejected, code, addr, resp.ResponseCode(), resp.Remark)
	}
	return nil
}
