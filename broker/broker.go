package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/acl"
	"github.com/mqstore/mqstore/internal/vfs"
	"github.com/mqstore/mqstore/metrics"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
	"github.com/mqstore/mqstore/txn"
)

// Registrar publishes the broker's registration to a name server: at Start, every
// registerNameServerPeriod, and after topic changes. An embedded name server's registry is
// wrapped with RegistrarFunc; see also Options.Registrar.
type Registrar interface {
	Register(ctx context.Context, r namesrv.Registration) error
}

// RegistrarFunc adapts a function to Registrar.
type RegistrarFunc func(ctx context.Context, r namesrv.Registration) error

// Register calls f.
func (f RegistrarFunc) Register(ctx context.Context, r namesrv.Registration) error { return f(ctx, r) }

// Options are the broker's collaborators; the zero value is usable.
type Options struct {
	// Registrar receives the broker's registrations. Nil: the broker registers with the name
	// servers of Config.NamesrvAddr over its own client (RemoteRegistrar), or nowhere when that
	// is empty. For a name server in the same process use EmbeddedRegistrar.
	Registrar Registrar
	// Logger receives the broker's logs. Default slog.Default().
	Logger *slog.Logger
	// Remoting configures the TCP server (its Logger defaults to Logger).
	Remoting remoting.Options
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Store, if set, adjusts the store options derived from the Config before the store opens
	// (tests use it for small segments).
	Store func(*store.Options)
	// ClientScanInterval is how often clients silent for channelExpiredTimeout are dropped.
	// Default 10 s.
	ClientScanInterval time.Duration
	// Metrics, if set, receives the broker's counters (messages in and out, request latency,
	// store put latency). Nil: no metrics.
	Metrics *metrics.Metrics
}

// syncFlushSendWorkers is the send pool under SYNC_FLUSH (see New).
const syncFlushSendWorkers = 512

// Broker is a RocketMQ-compatible broker: the request handlers over a store, with the topic,
// group, offset and client tables around them.
type Broker struct {
	cfg       Config
	opts      Options
	log       *slog.Logger
	now       func() time.Time
	store     *store.Store
	fs        vfs.FS // the store's file system, for the config files
	server    *remoting.Server
	topics    *topicTable
	groups    *groupTable
	offsets   *offsetTable
	clients   *clientTable
	locks     *lockTable
	holds     *pullHolds
	origins   *txnOrigins         // senders of open half messages (transaction.go)
	checker   *transactionChecker // the store's txn.Checker
	replica   *replicaGroup       // nil in single-node mode (replicated.go)
	startTime time.Time
	stats     brokerStats
	front     frontends // hooks of a second front end (frontend.go)

	security *Security        // ACL checker and TLS (config_security.go)
	host     netip.AddrPort   // brokerIP1:port, set by Start before serving
	client   *remoting.Client // for RemoteRegistrar when the broker made it; nil otherwise
	register chan struct{}    // asks the register loop for an immediate registration

	mu      sync.Mutex // guards started, closed
	started bool
	closed  bool

	quit chan struct{}
	wg   sync.WaitGroup
}

// brokerStats are running counters for GET_BROKER_RUNTIME_INFO.
type brokerStats struct {
	putMessages    atomic.Int64
	pulledMessages atomic.Int64
}

// New validates cfg, opens the store under cfg.StorePathRootDir, loads the config files and
// registers the request handlers. The broker serves once Start (or ListenAndServe) is called.
func New(cfg Config, opts Options) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ClientScanInterval <= 0 {
		opts.ClientScanInterval = 10 * time.Second
	}
	if opts.Remoting.Logger == nil {
		opts.Remoting.Logger = opts.Logger
	}
	if _, set := opts.Remoting.Pools[remoting.KindSend]; !set && (cfg.FlushDiskType == SyncFlush || cfg.EnableDLegerCommitLog) {
		// Under SYNC_FLUSH, single sends answer from the group commit's callback, but batch
		// sends, half messages and send-backs still hold their worker until the sync: the pool
		// bounds how many of those share one msync, so it must be as large as they are in flight.
		// In a replicated group every send holds its worker until a quorum stored it (with the
		// default 16 workers, 16 sends shared a Raft round: 1.4 k msgs/s, measured by mqbench).
		pools := make(map[remoting.Kind]remoting.PoolOptions, len(opts.Remoting.Pools)+1)
		for k, v := range opts.Remoting.Pools {
			pools[k] = v
		}
		pools[remoting.KindSend] = remoting.PoolOptions{Workers: syncFlushSendWorkers, QueueSize: 10000}
		opts.Remoting.Pools = pools
	}
	b := &Broker{
		cfg:       cfg,
		opts:      opts,
		log:       opts.Logger,
		now:       opts.Now,
		clients:   newClientTable(),
		locks:     newLockTable(),
		origins:   newTxnOrigins(),
		startTime: opts.Now(),
		register:  make(chan struct{}, 1),
		quit:      make(chan struct{}),
	}
	ip, _ := netip.ParseAddr(cfg.BrokerIP1)
	b.host = netip.AddrPortFrom(ip.Unmap(), uint16(cfg.ListenPort))
	sopts := cfg.StoreOptions()
	sopts.StoreHost = b.host
	// Discards happen inside the check rounds: log and count them from the round's stats.
	sopts.Transactions.OnRound = func(st txn.RoundStats) {
		if st.Discarded == 0 {
			return
		}
		b.log.Warn("broker: transactions discarded unresolved to "+txn.DiscardTopic+" (mqadmin txnList -discarded lists them, txnResume puts one back)",
			"discarded", st.Discarded, "transactionCheckMax", cfg.TransactionCheckMax, "fileReservedTimeHours", cfg.FileReservedTime)
		if mt := opts.Metrics; mt != nil {
			for range st.Discarded {
				mt.HalfDiscarded()
			}
		}
	}
	if opts.Store != nil {
		opts.Store(&sopts)
	}
	// Errors of the store's background services (checkpoint, retention, statfs, dispatch) have
	// no caller: log them, and still tell an embedder's own listener.
	embedderListener := sopts.EventListener.BackgroundError
	sopts.EventListener.BackgroundError = func(err error) {
		opts.Logger.Error("store: background error", "err", err)
		if embedderListener != nil {
			embedderListener(err)
		}
	}
	b.fs = vfs.Default(sopts.FS) // the config files share the store's file system (seam)
	dir := cfg.configDir()
	b.topics = newTopicTable(b.fs, filepath.Join(dir, topicsFile), b.now)
	b.groups = newGroupTable(b.fs, filepath.Join(dir, subscriptionFile), b.now)
	b.offsets = newOffsetTable(b.fs, filepath.Join(dir, consumerOffsetFile))
	for _, load := range []func() error{b.topics.load, b.groups.load, b.offsets.load} {
		if err := load(); err != nil {
			return nil, err
		}
	}
	b.holds = newPullHolds(b)
	sopts.OnArrival = func(topic string, queueID int32, maxOffset, tagsCode int64) {
		b.holds.arrive(topic, queueID, maxOffset, tagsCode)
		b.arrivedFrontends(topic, queueID)
	}
	storeDir := cfg.StorePathRootDir
	if cfg.EnableDLegerCommitLog {
		rg, err := newReplicaGroup(&cfg, opts.Logger)
		if err != nil {
			b.holds.close()
			return nil, err
		}
		sopts.Replicator = rg
		storeDir = replicaStoreDir(cfg.StorePathRootDir)
	}
	st, err := store.Open(storeDir, sopts)
	if err != nil {
		b.holds.close()
		if rg, ok := sopts.Replicator.(*replicaGroup); ok {
			rg.rlog.Close()
		}
		return nil, err
	}
	b.store = st
	if rg, ok := sopts.Replicator.(*replicaGroup); ok {
		if err := rg.start(b, &cfg, st); err != nil {
			b.holds.close()
			return nil, errors.Join(err, st.Close())
		}
		b.replica = rg
		go rg.watchRoles(b)
	}
	// The config files are written only once the store's lock is held.
	if err := errors.Join(b.initSystemTopics(), b.restoreTopics()); err != nil {
		b.holds.close()
		return nil, errors.Join(err, b.closeReplica(), st.Close())
	}
	if b.security, err = NewSecurity(cfg.Security, acl.ScopeBroker, opts.Logger, opts.Metrics); err != nil {
		b.holds.close()
		return nil, errors.Join(err, b.closeReplica(), st.Close())
	}
	opts.Remoting = b.security.RemotingOptions(opts.Remoting)
	srv, err := remoting.NewServer(opts.Remoting)
	if err != nil {
		b.holds.close()
		return nil, errors.Join(err, b.closeReplica(), st.Close(), b.security.Close())
	}
	b.server = srv
	if opts.Registrar == nil && cfg.NamesrvAddr != "" {
		copts := opts.Remoting
		copts.Pools = nil
		copts.Interceptor = nil
		client, err := remoting.NewClient(copts)
		if err != nil {
			b.holds.close()
			return nil, errors.Join(err, srv.Close(), b.closeReplica(), st.Close(), b.security.Close())
		}
		b.client = client
		b.opts.Registrar = RemoteRegistrar(client, cfg.NamesrvAddr)
	}
	b.checker = &transactionChecker{b: b}
	b.registerHandlers()
	if err := b.startForwarding(); err != nil { // a replica's follower write-forwarding (forward.go)
		b.holds.close()
		return nil, errors.Join(err, srv.Close(), b.closeReplica(), st.Close(), b.security.Close())
	}
	srv.OnConnClose(b.connClosed)
	return b, nil
}

// initSystemTopics creates TBW102 (when auto-create is on) as RocketMQ's TopicConfigManager
// does, and writes topics.json when that changed it.
func (b *Broker) initSystemTopics() error {
	if b.cfg.AutoCreateTopicEnable {
		b.topics.createIfAbsent(namesrv.TopicConfig{
			TopicName:       namesrv.AutoCreateTopic,
			ReadQueueNums:   b.cfg.DefaultTopicQueueNums,
			WriteQueueNums:  b.cfg.DefaultTopicQueueNums,
			Perm:            namesrv.PermRW | namesrv.PermInherit,
			TopicFilterType: "SINGLE_TAG",
		})
	}
	b.initTraceTopic()   // config_trace.go
	b.initDiscardTopic() // discard_topic.go
	return b.topics.commit()
}

// registerHandlers is the table of served request codes; every other code is answered
// REQUEST_CODE_NOT_SUPPORTED by the remoting server.
func (b *Broker) registerHandlers() {
	send := b.sendKind()
	for _, h := range []struct {
		code    remoting.RequestCode
		kind    remoting.Kind
		handler remoting.Handler
	}{
		{remoting.RequestSendMessage, send, b.handleSendMessage},
		{remoting.RequestSendMessageV2, send, b.handleSendMessageV2},
		{remoting.RequestSendBatchMessage, send, b.handleSendBatchMessage},
		{remoting.RequestEndTransaction, send, b.handleEndTransaction},
		{remoting.RequestConsumerSendMsgBack, remoting.KindSend, b.handleConsumerSendMsgBack},
		{remoting.RequestPullMessage, remoting.KindPull, b.handlePullMessage},
		{remoting.RequestHeartBeat, remoting.KindHeartbeat, b.handleHeartBeat},
		{remoting.RequestUnregisterClient, remoting.KindHeartbeat, b.handleUnregisterClient},
		{remoting.RequestCheckClientConfig, remoting.KindHeartbeat, b.handleCheckClientConfig},
		{remoting.RequestGetConsumerListByGroup, remoting.KindHeartbeat, b.handleGetConsumerListByGroup},
		{remoting.RequestQueryConsumerOffset, remoting.KindQuery, b.handleQueryConsumerOffset},
		{remoting.RequestUpdateConsumerOffset, remoting.KindQuery, b.handleUpdateConsumerOffset},
		{remoting.RequestGetMaxOffset, remoting.KindQuery, b.handleGetMaxOffset},
		{remoting.RequestGetMinOffset, remoting.KindQuery, b.handleGetMinOffset},
		{remoting.RequestSearchOffsetByTimestamp, remoting.KindQuery, b.handleSearchOffsetByTimestamp},
		{remoting.RequestGetEarliestMsgStoreTime, remoting.KindQuery, b.handleGetEarliestMsgStoreTime},
		{remoting.RequestQueryMessage, remoting.KindQuery, b.handleQueryMessage},
		{remoting.RequestViewMessageByID, remoting.KindQuery, b.handleViewMessageByID},
		{remoting.RequestUpdateAndCreateTopic, remoting.KindAdmin, b.handleUpdateAndCreateTopic},
		{remoting.RequestDeleteTopicInBroker, remoting.KindAdmin, b.handleDeleteTopicInBroker},
		{remoting.RequestGetAllTopicConfig, remoting.KindAdmin, b.handleGetAllTopicConfig},
		{remoting.RequestGetAllSubscriptionGroupConfig, remoting.KindAdmin, b.handleGetAllSubscriptionGroupConfig},
		{remoting.RequestGetBrokerRuntimeInfo, remoting.KindAdmin, b.handleGetBrokerRuntimeInfo},
		{remoting.RequestLockBatchMQ, remoting.KindAdmin, b.handleLockBatchMQ},
		{remoting.RequestUnlockBatchMQ, remoting.KindAdmin, b.handleUnlockBatchMQ},
		{remoting.RequestResumeCheckHalfMessage, remoting.KindAdmin, b.handleResumeCheckHalfMessage},
		{remoting.RequestGetAllDelayOffset, remoting.KindAdmin, b.handleGetAllDelayOffset},
	} {
		b.server.Handle(h.code, h.kind, b.timed(h.code, h.handler))
	}
	b.registerOpsHandlers()
}

// sendKind is where sends (SEND_MESSAGE, SEND_MESSAGE_V2, SEND_BATCH_MESSAGE) and
// END_TRANSACTION run. Under ASYNC_FLUSH on a single broker none of them waits (a put copies
// into the mapped log and answers; a commit reads the half record from the mapping, puts the
// restored one and queues its op marker), so they run on the connection's reader
// (remoting.KindInline): no hand-off to a worker and its wake-up per message, and a
// connection's sends are stored in the order they arrived. Under SYNC_FLUSH or in a replicated
// group some of them hold their handler until a sync or a quorum, and an explicitly configured
// send pool is kept: those stay on the pool.
func (b *Broker) sendKind() remoting.Kind {
	if _, set := b.opts.Remoting.Pools[remoting.KindSend]; set || b.cfg.FlushDiskType == SyncFlush || b.cfg.EnableDLegerCommitLog {
		return remoting.KindSend
	}
	return remoting.KindInline
}

// Start serves ln in the background and starts the broker's services: persistence of the
// config files, client expiry, name server registration (a first registration is done
// before Start returns) and the transaction check-back. When listenPort is 0, the port of ln becomes the broker's port in
// its address, routes and message ids.
func (b *Broker) Start(ln net.Listener) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.started {
		return ErrStarted
	}
	if err := b.startTransactions(); err != nil {
		return err
	}
	b.started = true
	if a, ok := ln.Addr().(*net.TCPAddr); ok && b.cfg.ListenPort == 0 {
		b.host = netip.AddrPortFrom(b.host.Addr(), uint16(a.Port))
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if err := b.server.Serve(ln); err != nil && !errors.Is(err, remoting.ErrClosed) {
			b.log.Error("broker: serve failed", "err", err)
		}
	}()
	b.wg.Add(3)
	go b.persistLoop()
	go b.clientScanLoop()
	go b.registerLoop()
	if err := b.registerNow(context.Background()); err != nil {
		b.log.Warn("broker: first name server registration failed", "err", err)
	}
	b.log.Info("broker: serving", "addr", b.Addr(), "name", b.cfg.BrokerName, "cluster", b.cfg.BrokerClusterName,
		"store", b.cfg.StorePathRootDir)
	return nil
}

// ListenAndServe listens on bindAddress:listenPort (loopback by default) and calls Start.
func (b *Broker) ListenAndServe() error {
	ln, err := net.Listen("tcp", net.JoinHostPort(b.cfg.BindAddress, strconv.Itoa(b.cfg.ListenPort)))
	if err != nil {
		return err
	}
	if err := b.Start(ln); err != nil {
		ln.Close()
		return err
	}
	return nil
}

// Addr is the address clients reach the broker at: brokerIP1:port.
func (b *Broker) Addr() string { return b.host.String() }

// IOStats returns the socket calls of the broker's connections and the frames they carried.
func (b *Broker) IOStats() remoting.IOStats { return b.server.IOStats() }

// storeHost is the STOREHOST stamped into records.
func (b *Broker) storeHost() netip.AddrPort { return b.host }

// Store returns the broker's store.
func (b *Broker) Store() *store.Store { return b.store }

// Config returns the broker's configuration.
func (b *Broker) Config() Config { return b.cfg }

// Close shuts the broker down gracefully: parked pulls are answered, the server stops
// accepting and reading, requests already read are answered, connections close, the config
// files are written and the store is closed (flushed, checkpointed). Later calls return
// ErrClosed.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.closed = true
	started := b.started
	b.mu.Unlock()

	b.holds.close()
	err := b.server.Close()
	if errors.Is(err, remoting.ErrClosed) {
		err = nil
	}
	close(b.quit)
	b.wg.Wait()
	if u, ok := b.opts.Registrar.(Unregisterer); ok && started {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if uerr := u.Unregister(ctx, b.registration()); uerr != nil {
			b.log.Warn("broker: unregistering from the name server failed", "err", uerr)
		}
		cancel()
	}
	if b.client != nil {
		if cerr := b.client.Close(); cerr != nil && !errors.Is(cerr, remoting.ErrClosed) {
			err = errors.Join(err, cerr)
		}
	}
	// Delivered delayed messages are flushed before delayOffset.json says so (schedule.go).
	if _, ferr := b.store.CommitLog().Flush(); ferr != nil {
		b.log.Warn("broker: flushing the commitlog before the last persist failed", "err", ferr)
	}
	err = errors.Join(err, b.closeReplica(), b.persist(true), b.store.Close(), b.security.Close())
	return err
}

// persist writes the config files (only those that changed, unless force).
func (b *Broker) persist(force bool) error {
	return errors.Join(b.topics.persist(force), b.groups.persist(force), b.offsets.persist(force))
}

func (b *Broker) persistLoop() {
	defer b.wg.Done()
	t := time.NewTicker(ms(b.cfg.FlushConsumerOffsetInterval))
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := b.persist(false); err != nil {
				b.log.Error("broker: persisting config files failed", "err", err)
			}
		case <-b.quit:
			return
		}
	}
}

func (b *Broker) clientScanLoop() {
	defer b.wg.Done()
	t := time.NewTicker(b.opts.ClientScanInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			for _, g := range b.clients.expire(b.now(), ms(b.cfg.ChannelExpiredTimeout)) {
				b.log.Info("broker: consumer expired", "group", g)
				b.notifyConsumerIDsChanged(g)
			}
		case <-b.quit:
			return
		}
	}
}

// connClosed drops the registrations made over a closed connection and tells the remaining
// consumers of each affected group to rebalance.
func (b *Broker) connClosed(c *remoting.Conn) {
	b.origins.dropConn(c)
	for _, g := range b.clients.removeConn(c) {
		b.notifyConsumerIDsChanged(g)
	}
}

// notifyConsumerIDsChanged sends NOTIFY_CONSUMER_IDS_CHANGED (40, oneway) to every consumer
// of a group, so they rebalance now rather than at their next 20 s tick.
func (b *Broker) notifyConsumerIDsChanged(group string) {
	if !b.cfg.NotifyConsumerIdsChangedEnable {
		return
	}
	if gc, ok := b.groups.get(group); ok && !gc.NotifyConsumerIdsChangedEnable {
		return
	}
	for _, c := range b.clients.consumerConns(group) {
		req := remoting.NewRequest(remoting.RequestNotifyConsumerIDsChanged)
		req.SetExt(protocol.FieldConsumerGroup, group)
		if err := c.InvokeOneway(req); err != nil {
			b.log.Debug("broker: notify consumer failed", "group", group, "remote", c.RemoteAddrString(), "err", err)
		}
	}
}

// ensureTopic creates a topic unless it exists, and registers the change with the name server.
// When it returns without error the topic is durable in topics.json (see configFile.commit), so
// the caller may acknowledge what depends on it; with an error the caller must refuse.
//
// A created topic is registered before ensureTopic returns, as RocketMQ's broker does when a send
// auto-creates a topic (registerBrokerAll in createTopicInSendMessageMethod): a client that
// looks the topic up once the send is answered (a consumer started after the first message)
// finds its route. A failed registration is logged; the register loop retries it.
func (b *Broker) ensureTopic(tc namesrv.TopicConfig) (namesrv.TopicConfig, bool, error) {
	got, created := b.topics.createIfAbsent(tc)
	if err := b.topics.commit(); err != nil {
		return got, created, err
	}
	if created {
		b.log.Info("broker: topic created", "topic", tc.TopicName, "queues", tc.WriteQueueNums)
		b.prepareQueues(got)
		if err := b.registerNow(context.Background()); err != nil {
			b.log.Warn("broker: registration of a created topic failed", "topic", tc.TopicName, "err", err)
		}
	}
	return got, created, nil
}

// registration is what the broker tells name servers.
func (b *Broker) registration() namesrv.Registration {
	topics, version := b.topics.snapshot()
	if b.cfg.BrokerPermission&namesrv.PermWrite == 0 || b.cfg.BrokerPermission&namesrv.PermRead == 0 {
		for name, tc := range topics {
			tc.Perm &= b.cfg.BrokerPermission | namesrv.PermInherit
			topics[name] = tc
		}
	}
	return namesrv.Registration{
		ClusterName: b.cfg.BrokerClusterName,
		BrokerName:  b.cfg.BrokerName,
		BrokerAddr:  b.registerAddr(),
		BrokerID:    b.brokerID(),
		Topics:      topics,
		DataVersion: version,
	}
}

// brokerID is the id the broker registers under: brokerId, or in a replicated group 0 for the
// ready leader and the replica's own id otherwise.
func (b *Broker) brokerID() int64 {
	if b.replica != nil {
		return b.replica.brokerID()
	}
	return b.cfg.BrokerID
}

// closeReplica stops the replica of a replicated group (before the store closes).
func (b *Broker) closeReplica() error {
	if b.replica == nil {
		return nil
	}
	return b.replica.close()
}

// registerNow registers with the name server (a no-op without a Registrar).
func (b *Broker) registerNow(ctx context.Context) error {
	if b.opts.Registrar == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	reg := b.registration()
	if err := b.opts.Registrar.Register(ctx, reg); err != nil {
		return fmt.Errorf("broker: register with the name server: %w", err)
	}
	b.withdrawOwnAddr(ctx, reg) // a replica registered under the stable leader address (register.go)
	return nil
}

// triggerRegister asks the register loop for a registration soon.
func (b *Broker) triggerRegister() {
	select {
	case b.register <- struct{}{}:
	default:
	}
}

func (b *Broker) registerLoop() {
	defer b.wg.Done()
	t := time.NewTicker(ms(b.cfg.RegisterNameServerPeriod))
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-b.register:
		case <-b.quit:
			return
		}
		if err := b.registerNow(context.Background()); err != nil {
			b.log.Warn("broker: name server registration failed", "err", err)
		}
	}
}

// timed wraps a handler to record its latency and answer code in the metrics (requests answered
// later, such as parked pulls, are not timed).
func (b *Broker) timed(code remoting.RequestCode, h remoting.Handler) remoting.Handler {
	m := b.opts.Metrics
	if m == nil {
		return h
	}
	return func(c *remoting.Conn, req *remoting.Command) *remoting.Command {
		start := time.Now()
		resp := h(c, req)
		if resp != nil {
			m.RPC(int32(code), resp.Code, time.Since(start))
		}
		return resp
	}
}
