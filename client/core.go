package client

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/remoting"
)

// core is what producers, consumers and admins share: the remoting client,
// the name servers, the route cache, the heartbeat and the background
// goroutine that refreshes routes and sends heartbeats.
type core struct {
	cfg      config
	rc       *remoting.Client
	clientID string
	ip       netip.Addr

	nsNext atomic.Uint32 // round-robin over cfg.nameServers

	// routes is the route cache: an immutable map replaced on every change,
	// so the send path reads it without a lock.
	routes atomic.Pointer[map[string]*route]

	mu sync.Mutex // guards the fields below and serializes route cache updates
	// brokers are the master addresses heartbeats go to (every address
	// learned from any route), with their broker names.
	brokers map[string]string
	// heartbeat builds the heartbeat body; nil for clients that send none
	// (Admin).
	heartbeat func() []byte

	kick   chan struct{}   // asks the loop for a heartbeat now
	ctx    context.Context // cancelled by close: bounds the loop's calls
	cancel context.CancelFunc
	closed atomic.Bool
	quit   chan struct{}
	done   chan struct{}
}

func newCore(cfg config, heartbeat func() []byte) (*core, error) {
	ro := cfg.remoting
	if !cfg.jsonHeaders {
		ro.BinaryHeaders = true
	}
	rc, err := remoting.NewClient(ro)
	if err != nil {
		return nil, err
	}
	ip := clientIP()
	addr, _ := netip.AddrFromSlice(ip)
	c := &core{
		cfg:       cfg,
		rc:        rc,
		clientID:  ip.String() + "@" + cfg.instance,
		ip:        addr.Unmap(),
		brokers:   make(map[string]string),
		heartbeat: heartbeat,
		kick:      make(chan struct{}, 1),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	empty := map[string]*route{}
	c.routes.Store(&empty)
	go c.loop()
	return c, nil
}

// close stops the loop, joins it and closes the connections.
func (c *core) close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	close(c.quit)
	c.cancel()
	<-c.done
	return c.rc.Close()
}

// loop refreshes routes and sends heartbeats until close.
func (c *core) loop() {
	defer close(c.done)
	refresh := time.NewTicker(c.cfg.routeRefresh)
	defer refresh.Stop()
	beat := time.NewTicker(c.cfg.heartbeatInterval)
	defer beat.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-refresh.C:
			c.refreshRoutes()
		case <-beat.C:
			c.sendHeartbeats()
		case <-c.kick:
			c.sendHeartbeats()
		}
	}
}

// loopContext is a context cancelled by close, bounded by callTimeout.
func (c *core) loopContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, c.cfg.callTimeout)
}

// refreshRoutes re-fetches every cached route.
func (c *core) refreshRoutes() {
	for topic, r := range *c.routes.Load() {
		ctx, cancel := c.loopContext()
		data, err := c.fetchRoute(ctx, topic)
		cancel()
		switch {
		case err == nil:
			if r.autoCreate || !sameRoute(r.data, data) {
				c.storeRoute(newRoute(topic, data, false))
			}
		case errors.Is(err, ErrTopicNotExist) && !r.autoCreate:
			c.cfg.logger.Warn("client: topic route disappeared", "topic", topic)
		case !errors.Is(err, ErrTopicNotExist):
			c.cfg.logger.Debug("client: route refresh failed", "topic", topic, "err", err)
		}
	}
}

// sendHeartbeats sends the heartbeat to every known broker address.
func (c *core) sendHeartbeats() {
	if c.heartbeat == nil {
		return
	}
	c.mu.Lock()
	addrs := make([]string, 0, len(c.brokers))
	for a := range c.brokers {
		addrs = append(addrs, a)
	}
	c.mu.Unlock()
	if len(addrs) == 0 {
		return
	}
	body := c.heartbeat()
	for _, addr := range addrs {
		ctx, cancel := c.loopContext()
		req := remoting.NewRequest(remoting.RequestHeartBeat)
		req.Body = body
		resp, err := c.invoke(ctx, addr, req)
		cancel()
		if err != nil {
			c.cfg.logger.Debug("client: heartbeat failed", "broker", addr, "err", err)
			continue
		}
		if resp.ResponseCode() != remoting.ResponseSuccess {
			c.cfg.logger.Debug("client: heartbeat refused", "broker", addr, "err", brokerError(addr, resp))
		}
		resp.Release()
	}
}

// kickHeartbeat asks the loop for a heartbeat round soon.
func (c *core) kickHeartbeat() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// invoke sends req to addr and waits for the answer, bounded by ctx or, if
// it has no deadline, callTimeout.
func (c *core) invoke(ctx context.Context, addr string, req *remoting.Command) (*remoting.Command, error) {
	return c.invokeTimeout(ctx, addr, req, c.cfg.callTimeout)
}

func (c *core) invokeTimeout(ctx context.Context, addr string, req *remoting.Command, timeout time.Duration) (*remoting.Command, error) {
	if c.closed.Load() {
		req.Release()
		return nil, ErrClosed
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	resp, err := c.rc.Invoke(ctx, addr, req)
	if err != nil {
		return nil, transportError(addr, err)
	}
	return resp, nil
}

// transportError wraps a remoting error with the address.
func transportError(addr string, err error) error {
	if errors.Is(err, remoting.ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("client: %s: %w", addr, err)
}

// nameServer returns the next name server address.
func (c *core) nameServer(i int) string {
	n := c.nsNext.Load()
	return c.cfg.nameServers[(int(n)+i)%len(c.cfg.nameServers)]
}

// invokeNameServer sends the request built by mk to the name servers in
// turn until one answers (transport errors move on to the next one).
func (c *core) invokeNameServer(ctx context.Context, mk func() *remoting.Command) (*remoting.Command, string, error) {
	c.nsNext.Add(1)
	var err error
	for i := range c.cfg.nameServers {
		addr := c.nameServer(i)
		var resp *remoting.Command
		resp, err = c.invoke(ctx, addr, mk())
		if err == nil {
			return resp, addr, nil
		}
		if errors.Is(err, ErrClosed) || ctx.Err() != nil {
			break
		}
	}
	return nil, "", err
}

// fetchRoute asks the name servers for topic's route.
func (c *core) fetchRoute(ctx context.Context, topic string) (namesrv.TopicRoute, error) {
	resp, addr, err := c.invokeNameServer(ctx, func() *remoting.Command {
		req := remoting.NewRequest(remoting.RequestGetRouteInfoByTopic)
		req.ExtFields = append(req.ExtFields, remoting.Field{Key: "topic", Value: topic})
		return req
	})
	if err != nil {
		return namesrv.TopicRoute{}, err
	}
	defer resp.Release()
	if resp.ResponseCode() != remoting.ResponseSuccess {
		return namesrv.TopicRoute{}, brokerError(addr, resp)
	}
	if len(resp.Body) == 0 {
		return namesrv.TopicRoute{}, fmt.Errorf("%w: empty route body for %s", ErrBadResponse, topic)
	}
	data, err := namesrv.DecodeRoute(resp.Body)
	if err != nil {
		return namesrv.TopicRoute{}, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	return data, nil
}

// route returns topic's route from the cache, fetching it on a miss.
// With autoCreate, a topic the name server does not know gets the route of
// TBW102 (the broker creates the topic on the first send).
func (c *core) route(ctx context.Context, topic string, autoCreate bool) (*route, error) {
	if r, ok := (*c.routes.Load())[topic]; ok {
		return r, nil
	}
	data, err := c.fetchRoute(ctx, topic)
	if err == nil {
		return c.storeRoute(newRoute(topic, data, false)), nil
	}
	if !autoCreate || !errors.Is(err, ErrTopicNotExist) {
		return nil, err
	}
	data, err2 := c.fetchRoute(ctx, namesrv.AutoCreateTopic)
	if err2 != nil {
		return nil, err // the topic's own error says more
	}
	return c.storeRoute(newRoute(topic, data, true)), nil
}

// storeRoute publishes r in the cache and registers its brokers for
// heartbeats; a new broker address triggers a heartbeat round.
func (c *core) storeRoute(r *route) *route {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.routes.Load()
	next := make(map[string]*route, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[r.topic] = r
	c.routes.Store(&next)
	added := false
	for _, b := range r.data.BrokerDatas {
		for _, addr := range b.BrokerAddrs {
			if _, ok := c.brokers[addr]; !ok {
				c.brokers[addr] = b.BrokerName
				added = true
			}
		}
	}
	if added {
		c.kickHeartbeat()
	}
	return r
}

// dropRoute removes topic from the cache (after a send found it stale).
func (c *core) dropRoute(topic string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.routes.Load()
	if _, ok := old[topic]; !ok {
		return
	}
	next := make(map[string]*route, len(old))
	for k, v := range old {
		if k != topic {
			next[k] = v
		}
	}
	c.routes.Store(&next)
}
