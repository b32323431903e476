package namesrv

import (
	"fmt"
	"hash/crc32"
	"sync"
	"time"

	"github.com/mqstore/mqstore/remoting"
)

// Header field names of the name-server requests (4.9
// common/protocol/header/namesrv/, 5.x remoting/protocol/header/namesrv/),
// defined once here.
const (
	fieldTopic                  = "topic"
	fieldAcceptStandardJSONOnly = "acceptStandardJsonOnly"
	fieldBrokerName             = "brokerName"
	fieldBrokerAddr             = "brokerAddr"
	fieldClusterName            = "clusterName"
	fieldHAServerAddr           = "haServerAddr"
	fieldBrokerID               = "brokerId"
	fieldCompressed             = "compressed"
	fieldBodyCRC32              = "bodyCrc32"
	fieldHeartbeatTimeoutMillis = "heartbeatTimeoutMillis"
	fieldMasterAddr             = "masterAddr"
	fieldCluster                = "cluster"
	fieldNamespace              = "namespace"
	fieldKey                    = "key"
	fieldValue                  = "value"
)

// standardJSONVersion is MQVersion V4_9_4's ordinal: requests at or above
// it get the standard route JSON, older ones the legacy form.
const standardJSONVersion = 401

// maxKVEntries caps the number of PUT_KV_CONFIG entries held in memory.
const maxKVEntries = 10000

// Server serves the name-server request codes of a Registry on a
// remoting.Server and runs the scanner that expires silent brokers.
type Server struct {
	reg  *Registry
	opts Options

	kvMu sync.RWMutex // guards kv and kvCount
	// kv holds PUT_KV_CONFIG values by namespace and key (in memory only).
	kv      map[string]map[string]string
	kvCount int

	mu      sync.Mutex // guards started and closed
	started bool
	closed  bool
	quit    chan struct{} // closed by Close to stop the scanner
	done    chan struct{} // closed by the scanner when it exits
}

// NewServer returns a server for reg. Call Attach to serve requests and
// Start to run the expiry scanner.
func NewServer(reg *Registry, opts Options) *Server {
	return &Server{
		reg:  reg,
		opts: opts.withDefaults(),
		kv:   make(map[string]map[string]string),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
}

// Registry returns the registry the server serves.
func (s *Server) Registry() *Registry { return s.reg }

// Attach registers the name-server handlers on srv: REGISTER_BROKER,
// UNREGISTER_BROKER, GET_ROUTEINFO_BY_TOPIC, GET_BROKER_CLUSTER_INFO,
// GET_ALL_TOPIC_LIST_FROM_NAMESERVER, GET_TOPICS_BY_CLUSTER,
// DELETE_TOPIC_IN_NAMESRV, PUT_KV_CONFIG and GET_KV_CONFIG. A broker that
// registered over a connection is removed when that connection closes, as
// RocketMQ's BrokerHousekeepingService does.
func (s *Server) Attach(srv *remoting.Server) {
	srv.Handle(remoting.RequestRegisterBroker, remoting.KindAdmin, s.handleRegisterBroker)
	srv.Handle(remoting.RequestUnregisterBroker, remoting.KindAdmin, s.handleUnregisterBroker)
	srv.Handle(remoting.RequestGetRouteInfoByTopic, remoting.KindAdmin, s.handleGetRouteInfo)
	srv.Handle(remoting.RequestGetBrokerClusterInfo, remoting.KindAdmin, s.handleGetClusterInfo)
	srv.Handle(remoting.RequestGetAllTopicListFromNameServer, remoting.KindAdmin, s.handleGetAllTopicList)
	srv.Handle(remoting.RequestGetTopicsByCluster, remoting.KindAdmin, s.handleGetTopicsByCluster)
	srv.Handle(remoting.RequestDeleteTopicInNameServer, remoting.KindAdmin, s.handleDeleteTopic)
	srv.Handle(remoting.RequestPutKVConfig, remoting.KindAdmin, s.handlePutKVConfig)
	srv.Handle(remoting.RequestGetKVConfig, remoting.KindAdmin, s.handleGetKVConfig)
	srv.OnConnClose(s.connClosed)
}

// Start runs the expiry scanner: every Options.ScanInterval it calls the
// registry's ExpireBrokers. Calls after the first, or after Close, do
// nothing.
func (s *Server) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return
	}
	s.started = true
	go s.scan()
}

// Close stops the scanner and waits for it to exit. It does not close the
// remoting.Server. Later calls return ErrClosed.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	close(s.quit)
	if started {
		<-s.done
	}
	return nil
}

func (s *Server) scan() {
	defer close(s.done)
	t := time.NewTicker(s.opts.ScanInterval)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			if n := s.reg.ExpireBrokers(); n > 0 {
				s.opts.Logger.Warn("namesrv: expired silent brokers", "count", n, "expiry", s.opts.BrokerExpiry)
			}
		}
	}
}

func (s *Server) connClosed(c *remoting.Conn) {
	if n := s.reg.dropOwner(c); n > 0 {
		s.opts.Logger.Info("namesrv: connection of registered brokers closed", "remote", c.RemoteAddrString(), "brokers", n)
	}
}

// useLegacyJSON reports whether req gets the legacy JSON form (bare integer
// keys): version below 401 and no acceptStandardJsonOnly=true.
func useLegacyJSON(req *remoting.Command) bool {
	if req.Version >= standardJSONVersion {
		return false
	}
	standard, _ := req.GetBool(fieldAcceptStandardJSONOnly)
	return !standard
}

func badRequest(req *remoting.Command, err error) *remoting.Command {
	return remoting.NewResponse(req, remoting.ResponseSystemError, err.Error())
}

// bodyCRC32 is RocketMQ's UtilAll.crc32: CRC-32 (IEEE) masked to 31 bits.
func bodyCRC32(b []byte) int64 { return int64(crc32.ChecksumIEEE(b) & 0x7fffffff) }

// decodeRegistration reads a REGISTER_BROKER request.
func decodeRegistration(req *remoting.Command) (Registration, error) {
	var reg Registration
	var err error
	for _, f := range []struct {
		key string
		dst *string
	}{
		{fieldBrokerName, &reg.BrokerName},
		{fieldBrokerAddr, &reg.BrokerAddr},
		{fieldClusterName, &reg.ClusterName},
	} {
		if *f.dst, err = req.GetString(f.key); err != nil {
			return Registration{}, fmt.Errorf("%w: %v", ErrMalformedRegistration, err)
		}
		if *f.dst == "" {
			return Registration{}, fmt.Errorf("%w: empty %s", ErrMalformedRegistration, f.key)
		}
	}
	reg.HAServerAddr = req.Ext(fieldHAServerAddr)
	if reg.BrokerID, err = req.GetInt64(fieldBrokerID); err != nil {
		return Registration{}, fmt.Errorf("%w: %v", ErrMalformedRegistration, err)
	}
	if _, ok := req.ExtFields.Get(fieldHeartbeatTimeoutMillis); ok {
		ms, err := req.GetInt64(fieldHeartbeatTimeoutMillis)
		if err != nil || ms < 0 {
			return Registration{}, fmt.Errorf("%w: %s: %v", ErrMalformedRegistration, fieldHeartbeatTimeoutMillis, req.Ext(fieldHeartbeatTimeoutMillis))
		}
		reg.HeartbeatTimeout = time.Duration(ms) * time.Millisecond
	}
	if compressed, _ := req.GetBool(fieldCompressed); compressed {
		return Registration{}, fmt.Errorf("%w: compressed register body not supported (set compressedRegister=false)", ErrMalformedRegistration)
	}
	if _, ok := req.ExtFields.Get(fieldBodyCRC32); ok {
		want, err := req.GetInt64(fieldBodyCRC32)
		if err != nil {
			return Registration{}, fmt.Errorf("%w: %v", ErrMalformedRegistration, err)
		}
		if want != 0 && want != bodyCRC32(req.Body) {
			return Registration{}, fmt.Errorf("%w: crc32 not match: header %d, body %d", ErrMalformedRegistration, want, bodyCRC32(req.Body))
		}
	}
	reg.Topics = map[string]TopicConfig{}
	if len(req.Body) > 0 {
		if reg.Topics, reg.DataVersion, err = decodeRegisterBody(req.Body); err != nil {
			return Registration{}, err
		}
	}
	return reg, nil
}

func (s *Server) handleRegisterBroker(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	reg, err := decodeRegistration(req)
	if err != nil {
		s.opts.Logger.Warn("namesrv: bad REGISTER_BROKER", "remote", c.RemoteAddrString(), "err", err)
		return badRequest(req, err)
	}
	res := s.reg.register(reg, c)
	s.opts.Logger.Debug("namesrv: broker registered", "cluster", reg.ClusterName, "broker", reg.BrokerName,
		"id", reg.BrokerID, "addr", reg.BrokerAddr, "topics", len(reg.Topics))
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	if res.masterAddr != "" {
		resp.SetExt(fieldMasterAddr, res.masterAddr)
	}
	if res.haServerAddr != "" {
		resp.SetExt(fieldHAServerAddr, res.haServerAddr)
	}
	return resp
}

func (s *Server) handleUnregisterBroker(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	var name, addr, cluster string
	var err error
	if name, err = req.GetString(fieldBrokerName); err != nil {
		return badRequest(req, err)
	}
	if addr, err = req.GetString(fieldBrokerAddr); err != nil {
		return badRequest(req, err)
	}
	if cluster, err = req.GetString(fieldClusterName); err != nil {
		return badRequest(req, err)
	}
	id, err := req.GetInt64(fieldBrokerID)
	if err != nil {
		return badRequest(req, err)
	}
	s.reg.UnregisterBroker(cluster, name, addr, id)
	s.opts.Logger.Info("namesrv: broker unregistered", "cluster", cluster, "broker", name, "id", id, "addr", addr)
	return remoting.NewResponse(req, remoting.ResponseSuccess, "")
}

func (s *Server) handleGetRouteInfo(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	topic, err := req.GetString(fieldTopic)
	if err != nil {
		return badRequest(req, err)
	}
	route, ok := s.reg.Route(topic)
	if !ok {
		return remoting.NewResponse(req, remoting.ResponseTopicNotExist,
			"No topic route info in name server for the topic: "+topic+"\nSee http://rocketmq.apache.org/docs/faq/ for further details.")
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.Body = EncodeRoute(make([]byte, 0, 256), route, useLegacyJSON(req))
	return resp
}

func (s *Server) handleGetClusterInfo(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	brokers, clusters := s.reg.Clusters()
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.Body = appendClusterInfo(make([]byte, 0, 256), brokers, clusters, useLegacyJSON(req))
	return resp
}

func (s *Server) handleGetAllTopicList(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.Body = appendTopicList(nil, s.reg.Topics())
	return resp
}

func (s *Server) handleGetTopicsByCluster(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	cluster, err := req.GetString(fieldCluster)
	if err != nil {
		return badRequest(req, err)
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.Body = appendTopicList(nil, s.reg.TopicsByCluster(cluster))
	return resp
}

func (s *Server) handleDeleteTopic(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	topic, err := req.GetString(fieldTopic)
	if err != nil {
		return badRequest(req, err)
	}
	s.reg.DeleteTopic(topic)
	s.opts.Logger.Info("namesrv: topic deleted", "topic", topic, "remote", c.RemoteAddrString())
	return remoting.NewResponse(req, remoting.ResponseSuccess, "")
}

func (s *Server) handlePutKVConfig(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	var ns, key, value string
	var err error
	if ns, err = req.GetString(fieldNamespace); err != nil {
		return badRequest(req, err)
	}
	if key, err = req.GetString(fieldKey); err != nil {
		return badRequest(req, err)
	}
	if value, err = req.GetString(fieldValue); err != nil {
		return badRequest(req, err)
	}
	s.kvMu.Lock()
	defer s.kvMu.Unlock()
	table := s.kv[ns]
	if _, exists := table[key]; !exists {
		if s.kvCount >= maxKVEntries {
			return remoting.NewResponse(req, remoting.ResponseSystemError,
				fmt.Sprintf("too many KV config entries (max %d)", maxKVEntries))
		}
		s.kvCount++
	}
	if table == nil {
		table = make(map[string]string)
		s.kv[ns] = table
	}
	table[key] = value
	return remoting.NewResponse(req, remoting.ResponseSuccess, "")
}

func (s *Server) handleGetKVConfig(c *remoting.Conn, req *remoting.Command) *remoting.Command {
	var ns, key string
	var err error
	if ns, err = req.GetString(fieldNamespace); err != nil {
		return badRequest(req, err)
	}
	if key, err = req.GetString(fieldKey); err != nil {
		return badRequest(req, err)
	}
	s.kvMu.RLock()
	value, ok := s.kv[ns][key]
	s.kvMu.RUnlock()
	if !ok {
		return remoting.NewResponse(req, remoting.ResponseQueryNotFound, "No config item, Namespace: "+ns+" Key: "+key)
	}
	resp := remoting.NewResponse(req, remoting.ResponseSuccess, "")
	resp.SetExt(fieldValue, value)
	return resp
}
