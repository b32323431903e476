package namesrv

import (
	"errors"
	"fmt"
	"net"

	"github.com/mqstore/mqstore/remoting"
)

// Listener is a name server serving on a TCP address: a Registry, its Server and the remoting
// server under it. mqstore runs one embedded (its broker registers into Registry directly) or
// alone (mqstore namesrv).
type Listener struct {
	reg    *Registry
	ns     *Server
	remote *remoting.Server
	addr   string
	served chan struct{}
}

// Listen starts a name server on addr ("127.0.0.1:0" picks a free port). Close stops it.
func Listen(addr string, opts Options) (*Listener, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	reg := NewRegistry(opts)
	ns := NewServer(reg, opts)
	ropts := opts.Remoting
	if ropts.Logger == nil {
		ropts.Logger = opts.Logger
	}
	rs, err := remoting.NewServer(ropts)
	if err != nil {
		return nil, fmt.Errorf("namesrv: %w", err)
	}
	ns.Attach(rs)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		rs.Close()
		return nil, fmt.Errorf("namesrv: listen on %s: %w", addr, err)
	}
	ns.Start()
	l := &Listener{reg: reg, ns: ns, remote: rs, addr: ln.Addr().String(), served: make(chan struct{})}
	go func() {
		defer close(l.served)
		if err := rs.Serve(ln); err != nil && !errors.Is(err, remoting.ErrClosed) && opts.Logger != nil {
			opts.Logger.Error("namesrv: serve", "err", err)
		}
	}()
	return l, nil
}

// Addr is the address the name server listens on.
func (l *Listener) Addr() string { return l.addr }

// Registry is the name server's registry (an embedded broker registers into it directly).
func (l *Listener) Registry() *Registry { return l.reg }

// Close stops the expiry scanner and the remoting server and waits for them.
func (l *Listener) Close() error {
	err := l.ns.Close()
	if rerr := l.remote.Close(); err == nil && !errors.Is(rerr, remoting.ErrClosed) {
		err = rerr
	}
	<-l.served
	return err
}
