package client

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mqstore/mqstore/remoting"
)

// Defaults of the options (rocketmq-client-go's, spec clientgo.md §10,
// unless noted).
const (
	DefaultSendTimeout       = 3 * time.Second
	DefaultRetries           = 2 // attempts after the first, for Send
	DefaultWindow            = 256
	DefaultRouteRefresh      = 30 * time.Second
	DefaultHeartbeatInterval = 30 * time.Second
	DefaultSuspendTimeout    = 20 * time.Second // long-polling hold asked of the broker
	DefaultCallTimeout       = 3 * time.Second  // admin and offset calls
	DefaultCheckWorkers      = 4                // transaction check-backs run at once
	DefaultGroup             = "DEFAULT_PRODUCER"
	DefaultConsumerGroup     = "DEFAULT_CONSUMER"
)

// Option configures a Producer, TransactionProducer, PullConsumer or Admin.
// Options that do not apply to a type are ignored by it.
type Option func(*config)

type config struct {
	nameServers       []string
	group             string
	instance          string
	sendTimeout       time.Duration
	retries           int
	window            int
	routeRefresh      time.Duration
	heartbeatInterval time.Duration
	suspendTimeout    time.Duration
	callTimeout       time.Duration
	checkWorkers      int
	compressOver      int
	remoting          remoting.Options
	jsonHeaders       bool // requests in JSON headers instead of the ROCKETMQ binary form
	logger            *slog.Logger
	security          security // credentials and TLS (security.go)
}

// WithNameServer sets the name server addresses ("ip:port"; several may also
// be given as one "a;b" string). Calls rotate over them.
func WithNameServer(addrs ...string) Option {
	return func(c *config) {
		for _, a := range addrs {
			for _, s := range strings.Split(a, ";") {
				if s = strings.TrimSpace(s); s != "" {
					c.nameServers = append(c.nameServers, s)
				}
			}
		}
	}
}

// WithGroup sets the producer or consumer group (default DEFAULT_PRODUCER
// for producers, DEFAULT_CONSUMER for consumers).
func WithGroup(name string) Option { return func(c *config) { c.group = name } }

// WithInstanceName sets the instance part of the client id
// ("ip@instance"); the default is the process id.
func WithInstanceName(name string) Option { return func(c *config) { c.instance = name } }

// WithSendTimeout bounds each send attempt (default 3 s).
func WithSendTimeout(d time.Duration) Option { return func(c *config) { c.sendTimeout = d } }

// WithRetries sets how many more queues a synchronous Send tries after a
// retryable failure (default 2; 0 disables retries).
func WithRetries(n int) Option { return func(c *config) { c.retries = n } }

// WithWindow bounds the SendAsync calls in flight per producer (default
// 256); SendAsync blocks while the window is full.
func WithWindow(n int) Option { return func(c *config) { c.window = n } }

// WithRouteRefresh sets how often cached routes are refreshed (default 30 s).
func WithRouteRefresh(d time.Duration) Option { return func(c *config) { c.routeRefresh = d } }

// WithHeartbeatInterval sets how often brokers are heartbeated (default 30 s).
func WithHeartbeatInterval(d time.Duration) Option {
	return func(c *config) { c.heartbeatInterval = d }
}

// WithSuspendTimeout sets how long a broker may hold a Pull that finds no
// message (long polling; default 20 s; 0 asks for no hold).
func WithSuspendTimeout(d time.Duration) Option { return func(c *config) { c.suspendTimeout = d } }

// WithCallTimeout bounds admin, offset and route calls whose context has no
// deadline (default 3 s).
func WithCallTimeout(d time.Duration) Option { return func(c *config) { c.callTimeout = d } }

// WithCheckWorkers sets how many transaction check-backs a
// TransactionProducer runs at once (default 4).
func WithCheckWorkers(n int) Option { return func(c *config) { c.checkWorkers = n } }

// WithRemotingOptions sets the options of the underlying remoting client
// (connections per broker, timeouts, frame limit).
func WithRemotingOptions(o remoting.Options) Option { return func(c *config) { c.remoting = o } }

// WithJSONHeaders makes the client's requests carry JSON headers, the form RocketMQ's Java
// client sends by default. Without it they use the ROCKETMQ binary form (remoting.SerializeRocketMQ),
// which RocketMQ brokers and name servers, like mqstore's, accept and answer in the same form:
// ~340 ns less CPU per request on both sides together (docs/BENCHMARKS.md, "JSON vs ROCKETMQ").
func WithJSONHeaders() Option { return func(c *config) { c.jsonHeaders = true } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

func newConfig(defaultGroup string, opts []Option) (config, error) {
	c := config{
		group:             defaultGroup,
		sendTimeout:       DefaultSendTimeout,
		retries:           DefaultRetries,
		window:            DefaultWindow,
		routeRefresh:      DefaultRouteRefresh,
		heartbeatInterval: DefaultHeartbeatInterval,
		suspendTimeout:    DefaultSuspendTimeout,
		callTimeout:       DefaultCallTimeout,
		checkWorkers:      DefaultCheckWorkers,
		compressOver:      DefaultCompressOver,
	}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case len(c.nameServers) == 0:
		return c, ErrNoNameServer
	case c.group == "":
		return c, fmt.Errorf("%w: empty group", ErrInvalidOption)
	case c.window <= 0:
		return c, fmt.Errorf("%w: window %d", ErrInvalidOption, c.window)
	case c.retries < 0:
		return c, fmt.Errorf("%w: retries %d", ErrInvalidOption, c.retries)
	case c.sendTimeout <= 0 || c.callTimeout <= 0 || c.routeRefresh <= 0 || c.heartbeatInterval <= 0:
		return c, fmt.Errorf("%w: non-positive timeout or interval", ErrInvalidOption)
	case c.suspendTimeout < 0:
		return c, fmt.Errorf("%w: suspend timeout %v", ErrInvalidOption, c.suspendTimeout)
	case c.checkWorkers <= 0:
		return c, fmt.Errorf("%w: check workers %d", ErrInvalidOption, c.checkWorkers)
	}
	if err := c.applySecurity(); err != nil {
		return c, err
	}
	if err := c.remoting.Validate(); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	if c.instance == "" {
		c.instance = strconv.Itoa(os.Getpid())
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c, nil
}

// clientIP returns the first non-loopback IPv4 address of the machine, or
// 127.0.0.1 (the Go client's choice, clientgo.md §1).
func clientIP() net.IP {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() {
				if v4 := n.IP.To4(); v4 != nil {
					return v4
				}
			}
		}
	}
	return net.IPv4(127, 0, 0, 1).To4()
}
