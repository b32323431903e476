package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/remoting"
)

// Unregisterer is implemented by Registrars that can withdraw a broker; Close calls it so
// clients stop routing to a broker that is gone (otherwise the name server expires it after
// 120 s of silence).
type Unregisterer interface {
	Unregister(ctx context.Context, r namesrv.Registration) error
}

// EmbeddedRegistrar registers the broker directly in a name server registry of the same
// process (mqstore's default: broker and name server in one process).
func EmbeddedRegistrar(reg *namesrv.Registry) Registrar { return embeddedRegistrar{reg} }

type embeddedRegistrar struct{ reg *namesrv.Registry }

func (e embeddedRegistrar) Register(_ context.Context, r namesrv.Registration) error {
	e.reg.RegisterBroker(r)
	return nil
}

func (e embeddedRegistrar) Unregister(_ context.Context, r namesrv.Registration) error {
	e.reg.UnregisterBroker(r.ClusterName, r.BrokerName, r.BrokerAddr, r.BrokerID)
	return nil
}

// RemoteRegistrar registers the broker with every name server of namesrvAddr ("ip:port;ip:port")
// with REGISTER_BROKER over client. It fails only if every name server failed.
func RemoteRegistrar(client *remoting.Client, namesrvAddr string) Registrar {
	return remoteRegistrar{client: client, addrs: splitAddrs(namesrvAddr)}
}

type remoteRegistrar struct {
	client *remoting.Client
	addrs  []string
}

func (rr remoteRegistrar) Register(ctx context.Context, r namesrv.Registration) error {
	var errs []error
	for _, a := range rr.addrs {
		if err := namesrv.RegisterRemote(ctx, rr.client, a, r); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a, err))
		}
	}
	if len(errs) == len(rr.addrs) {
		return errors.Join(errs...)
	}
	return nil
}

func (rr remoteRegistrar) Unregister(ctx context.Context, r namesrv.Registration) error {
	var errs []error
	for _, a := range rr.addrs {
		if err := namesrv.UnregisterRemote(ctx, rr.client, a, r.ClusterName, r.BrokerName, r.BrokerAddr, r.BrokerID); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a, err))
		}
	}
	return errors.Join(errs...)
}
