package remoting

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Kind selects the worker pool a request handler runs on, so that a slow
// kind (a pull that reads from disk) cannot starve another (sends).
type Kind uint8

// Handler kinds.
const (
	KindDefault     Kind = iota // everything not classified below
	KindSend                    // SEND_MESSAGE(_V2), SEND_BATCH_MESSAGE, CONSUMER_SEND_MSG_BACK
	KindPull                    // PULL_MESSAGE, POP/ACK
	KindQuery                   // offsets, QUERY_MESSAGE, VIEW_MESSAGE_BY_ID
	KindHeartbeat               // HEART_BEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST_BY_GROUP
	KindTransaction             // END_TRANSACTION
	KindAdmin                   // topic and group administration, name server requests
	// KindInline runs the handler on the connection's reader goroutine, with
	// no hand-off. Use it only for handlers that never block: while one runs,
	// the connection reads nothing.
	KindInline
	numKinds
)

var kindNames = [numKinds]string{"default", "send", "pull", "query", "heartbeat", "transaction", "admin", "inline"}

// String returns the lower-case kind name.
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// PoolOptions size one worker pool.
type PoolOptions struct {
	// Workers is the number of goroutines running handlers. Default 16.
	Workers int
	// QueueSize is the number of requests waiting for a worker; a request
	// arriving at a full queue is answered SYSTEM_BUSY. Default 10000
	// (Java's sendThreadPoolQueueCapacity).
	QueueSize int
}

// Options configure a Server or a Client. The zero value is usable; each
// field documents its default and which side uses it.
type Options struct {
	// MaxFrameSize caps a frame's total size, in both directions.
	// Default DefaultMaxFrameSize (16 MiB).
	MaxFrameSize int
	// ReadBufferSize is each connection's read buffer. Frames larger than
	// it are read into a buffer of their own. Default 32 KiB.
	ReadBufferSize int
	// IdleTimeout closes a connection that receives nothing for this long.
	// Default 120 s (Java's channelMaxIdleTimeSeconds and the Go client's
	// read deadline); negative disables it.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to a connection; a connection whose
	// peer does not read is closed. Default 30 s; negative disables it.
	WriteTimeout time.Duration
	// CallTimeout is the timeout of Invoke calls whose context has no
	// deadline. Default 3 s.
	CallTimeout time.Duration
	// TimeoutScanInterval is how often pending calls are checked for
	// expiry (timeouts fire up to this late). Default 20 ms.
	TimeoutScanInterval time.Duration
	// Pools sizes the worker pool of each Kind (server and client; the
	// client runs all its handlers on KindDefault). Missing kinds get the
	// PoolOptions defaults. KindInline has no pool.
	Pools map[Kind]PoolOptions
	// CallbackWorkers run InvokeAsync callbacks. Default 4.
	CallbackWorkers int
	// DialTimeout bounds a client's connection attempt. Default 3 s.
	DialTimeout time.Duration
	// ConnsPerAddr is the number of connections a client keeps to each
	// address; calls are spread over them round-robin. Default 1.
	ConnsPerAddr int
	// Logger receives connection errors. Default slog.Default().
	Logger *slog.Logger
	// Interceptor, if set, decides before each handler runs whether the request is served
	// (see Interceptor). Default none.
	Interceptor Interceptor
	// Listener, if set, wraps each listener a Server serves (TLS: see the tlsconfig package).
	Listener func(net.Listener) net.Listener
	// OnSend, if set, is called on every request before it is queued for writing: a client
	// signs requests here (acl.Signer), as RocketMQ's RPC hooks do.
	OnSend func(req *Command)
	// BinaryHeaders makes the requests an endpoint sends use the ROCKETMQ
	// binary header form (SerializeRocketMQ) instead of their own
	// SerializeType (JSON unless set). Peers answer in the request's form.
	// Default false.
	BinaryHeaders bool
	// Dial, if set, replaces a Client's TCP dial (TLS: see the tlsconfig package).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Validate reports an invalid option.
func (o *Options) Validate() error {
	switch {
	case o.MaxFrameSize < 0 || o.MaxFrameSize > 1<<30:
		return fmt.Errorf("remoting: MaxFrameSize %d out of range [0, 1 GiB]", o.MaxFrameSize)
	case o.MaxFrameSize > 0 && o.MaxFrameSize < 64:
		return fmt.Errorf("remoting: MaxFrameSize %d below 64", o.MaxFrameSize)
	case o.ReadBufferSize < 0 || o.ReadBufferSize > 64<<20:
		return fmt.Errorf("remoting: ReadBufferSize %d out of range", o.ReadBufferSize)
	case o.CallTimeout < 0 || o.TimeoutScanInterval < 0 || o.DialTimeout < 0:
		return fmt.Errorf("remoting: negative timeout")
	case o.ConnsPerAddr < 0 || o.ConnsPerAddr > 1024:
		return fmt.Errorf("remoting: ConnsPerAddr %d out of range", o.ConnsPerAddr)
	case o.CallbackWorkers < 0:
		return fmt.Errorf("remoting: negative CallbackWorkers")
	}
	for k, p := range o.Pools {
		if k >= numKinds {
			return fmt.Errorf("remoting: unknown pool kind %d", k)
		}
		if p.Workers < 0 || p.QueueSize < 0 {
			return fmt.Errorf("remoting: negative size for pool %s", k)
		}
	}
	return nil
}

// withDefaults returns o with defaults filled in.
func (o Options) withDefaults() Options {
	if o.MaxFrameSize == 0 {
		o.MaxFrameSize = DefaultMaxFrameSize
	}
	if o.ReadBufferSize == 0 {
		o.ReadBufferSize = 32 << 10
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 120 * time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.CallTimeout == 0 {
		o.CallTimeout = 3 * time.Second
	}
	if o.TimeoutScanInterval == 0 {
		o.TimeoutScanInterval = 20 * time.Millisecond
	}
	if o.CallbackWorkers == 0 {
		o.CallbackWorkers = 4
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 3 * time.Second
	}
	if o.ConnsPerAddr == 0 {
		o.ConnsPerAddr = 1
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

func (o *Options) pool(k Kind) PoolOptions {
	p := o.Pools[k]
	if p.Workers == 0 {
		p.Workers = 16
	}
	if p.QueueSize == 0 {
		p.QueueSize = 10000
	}
	return p
}
