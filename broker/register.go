package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
// with REGISTER_BROKER over client, all at once. It returns the failures of the name servers
// that failed, each named; the others are registered all the same.
func RemoteRegistrar(client *remoting.Client, namesrvAddr string) Registrar {
	return remoteRegistrar{client: client, addrs: splitAddrs(namesrvAddr)}
}

type remoteRegistrar struct {
	client *remoting.Client
	addrs  []string
}

func (rr remoteRegistrar) Register(ctx context.Context, r namesrv.Registration) error {
	errs := rr.each(func(a string) error { return namesrv.RegisterRemote(ctx, rr.client, a, r) })
	return errors.Join(errs...)
}

// each calls f for every name server at once, as RocketMQ's BrokerOuterAPI does, so a name
// server that does not answer costs the others nothing; it returns the failures.
func (rr remoteRegistrar) each(f func(addr string) error) []error {
	results := make([]error, len(rr.addrs))
	var wg sync.WaitGroup
	for i, a := range rr.addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(a); err != nil {
				results[i] = fmt.Errorf("%s: %w", a, err)
			}
		}()
	}
	wg.Wait()
	var errs []error
	for _, err := range results {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func (rr remoteRegistrar) Unregister(ctx context.Context, r namesrv.Registration) error {
	return errors.Join(rr.each(func(a string) error {
		return namesrv.UnregisterRemote(ctx, rr.client, a, r.ClusterName, r.BrokerName, r.BrokerAddr, r.BrokerID)
	})...)
}

// registerAddr is the address the broker registers under: its own, or a replica's stable leader
// address while it holds it (stable_addr.go).
func (b *Broker) registerAddr() string {
	if b.replica != nil {
		return b.replica.registerAddr(b.Addr())
	}
	return b.Addr()
}

// serving returns the broker's server once Start has run (and Close has not), else nil.
func (b *Broker) serving() *remoting.Server {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.started || b.closed {
		return nil
	}
	return b.server
}

// withdrawOwnAddr runs after a registration: once a replica has registered under the stable
// leader address, it removes the registration of its own address under its follower id, so the
// routes do not list the leader twice until that entry expires. It does so once per time it binds
// the address (replicaGroup.withdrawn is cleared when it unbinds).
func (b *Broker) withdrawOwnAddr(ctx context.Context, reg namesrv.Registration) {
	rg := b.replica
	if rg == nil || rg.stable == nil || reg.BrokerAddr != rg.stable.addr || rg.stable.withdrawn.Swap(true) {
		return
	}
	u, ok := b.opts.Registrar.(Unregisterer)
	if !ok {
		return
	}
	own := reg
	own.BrokerAddr, own.BrokerID, own.Topics = b.Addr(), int64(rg.self.ID), nil
	if err := u.Unregister(ctx, own); err != nil {
		b.log.Warn("broker: withdrawing the follower registration of the leader's own address failed", "err", err)
	}
}
