package namesrv

import (
	"fmt"
	"github.com/mqstore/mqstore/remoting"
	"log/slog"
	"time"
)

// Options configure a Registry and a Server. The zero value is usable; each
// field documents its default.
type Options struct {
	// BrokerExpiry is how long a broker may stay silent: one that has not
	// re-registered within it is removed by ExpireBrokers. Default 120 s
	// (RocketMQ's BROKER_CHANNEL_EXPIRED_TIME; brokers register every
	// registerNameServerPeriod, 30 s). A broker that sends its own
	// heartbeatTimeoutMillis (Registration.HeartbeatTimeout) is expired after
	// that instead. Keep it above the brokers' registration period, or live
	// brokers flap in and out of the routes.
	BrokerExpiry time.Duration
	// ScanInterval is how often the Server's scanner calls ExpireBrokers, so
	// a silent broker leaves the routes between BrokerExpiry and
	// BrokerExpiry+ScanInterval after its last registration. Default 5 s
	// (RocketMQ 5's scanNotActiveBrokerInterval; 4.x scanned every 10 s).
	ScanInterval time.Duration
	// Now is the clock. Default time.Now; tests set a fake one.
	Now func() time.Time
	// Logger receives registrations, expiries and rejected requests.
	// Default slog.Default().
	Logger *slog.Logger
	// Remoting configures Listen's TCP server: its Interceptor checks the requests that change
	// routes (acl.ScopeNameServer), its Listener adds TLS. Its Logger defaults to Logger.
	Remoting remoting.Options
}

// Validate reports an invalid option. Zero values are valid and mean the
// default.
func (o *Options) Validate() error {
	if o.BrokerExpiry < 0 {
		return fmt.Errorf("namesrv: negative BrokerExpiry %v", o.BrokerExpiry)
	}
	if o.ScanInterval < 0 {
		return fmt.Errorf("namesrv: negative ScanInterval %v", o.ScanInterval)
	}
	return nil
}

// withDefaults returns o with every unset or invalid field at its default.
func (o Options) withDefaults() Options {
	if o.BrokerExpiry <= 0 {
		o.BrokerExpiry = 120 * time.Second
	}
	if o.ScanInterval <= 0 {
		o.ScanInterval = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}
