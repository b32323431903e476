package namesrv

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"time"
)

// Registry is the name server's state (RocketMQ's RouteInfoManager): the
// clusters, the broker groups and their addresses, the topics each master
// serves, and when each broker last registered. It is safe for concurrent
// use. Every method returns copies; nothing returned aliases the registry.
type Registry struct {
	opts Options

	mu sync.RWMutex // guards topics, brokers, clusters and live
	// topics maps a topic to the queue data of each broker group serving it.
	topics map[string]map[string]QueueData
	// brokers maps a broker name to its group (cluster and addresses by id).
	brokers map[string]*BrokerData
	// clusters maps a cluster name to the broker names in it.
	clusters map[string]map[string]struct{}
	// live maps a broker address to its last registration.
	live map[string]*liveBroker
}

// liveBroker is one broker address's registration state (RocketMQ's
// BrokerLiveInfo).
type liveBroker struct {
	cluster      string
	brokerName   string
	brokerID     int64
	haServerAddr string
	lastUpdate   time.Time
	// timeout is how long the broker may stay silent (its
	// heartbeatTimeoutMillis, else Options.BrokerExpiry).
	timeout     time.Duration
	dataVersion DataVersion
	// owner is the connection the registration arrived on (nil for direct
	// registrations); its close removes the broker (dropOwner).
	owner any
}

// registerResult is what REGISTER_BROKER answers a slave: its master's
// address and HA address.
type registerResult struct {
	masterAddr   string
	haServerAddr string
}

// NewRegistry returns an empty registry.
func NewRegistry(opts Options) *Registry {
	return &Registry{
		opts:     opts.withDefaults(),
		topics:   make(map[string]map[string]QueueData),
		brokers:  make(map[string]*BrokerData),
		clusters: make(map[string]map[string]struct{}),
		live:     make(map[string]*liveBroker),
	}
}

// RegisterBroker records a broker's (re)registration: it joins its cluster
// and broker group, its last-update time is refreshed, and, for a master
// (BrokerID 0), its topic set replaces the one it registered before (topics
// it no longer lists lose this broker's queues).
func (r *Registry) RegisterBroker(reg Registration) {
	r.register(reg, nil)
}

func (r *Registry) register(reg Registration, owner any) registerResult {
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()

	names := r.clusters[reg.ClusterName]
	if names == nil {
		names = make(map[string]struct{})
		r.clusters[reg.ClusterName] = names
	}
	names[reg.BrokerName] = struct{}{}

	bd := r.brokers[reg.BrokerName]
	if bd == nil {
		bd = &BrokerData{Cluster: reg.ClusterName, BrokerName: reg.BrokerName, BrokerAddrs: make(map[int64]string)}
		r.brokers[reg.BrokerName] = bd
	}
	// A slave promoted to master (or the reverse) keeps its address under
	// a new id: drop the old id first, as RocketMQ does.
	for id, addr := range bd.BrokerAddrs {
		if addr == reg.BrokerAddr && id != reg.BrokerID {
			delete(bd.BrokerAddrs, id)
		}
	}
	if old, ok := bd.BrokerAddrs[reg.BrokerID]; ok && old != reg.BrokerAddr {
		delete(r.live, old)
	}
	bd.BrokerAddrs[reg.BrokerID] = reg.BrokerAddr

	if reg.BrokerID == 0 {
		r.replaceTopicsLocked(reg.BrokerName, reg.Topics)
	}

	timeout := reg.HeartbeatTimeout
	if timeout <= 0 {
		timeout = r.opts.BrokerExpiry
	}
	if _, known := r.live[reg.BrokerAddr]; !known {
		r.opts.Logger.Info("namesrv: broker joined", "cluster", reg.ClusterName, "broker", reg.BrokerName,
			"id", reg.BrokerID, "addr", reg.BrokerAddr, "topics", len(reg.Topics), "expiry", timeout)
	}
	r.live[reg.BrokerAddr] = &liveBroker{
		cluster:      reg.ClusterName,
		brokerName:   reg.BrokerName,
		brokerID:     reg.BrokerID,
		haServerAddr: reg.HAServerAddr,
		lastUpdate:   now,
		timeout:      timeout,
		dataVersion:  reg.DataVersion,
		owner:        owner,
	}

	var res registerResult
	if reg.BrokerID != 0 {
		if master, ok := bd.BrokerAddrs[0]; ok {
			res.masterAddr = master
			if lb := r.live[master]; lb != nil {
				res.haServerAddr = lb.haServerAddr
			}
		}
	}
	return res
}

// replaceTopicsLocked makes topics the set of topics broker group name
// serves.
func (r *Registry) replaceTopicsLocked(name string, topics map[string]TopicConfig) {
	for topic, byBroker := range r.topics {
		if _, ok := byBroker[name]; !ok {
			continue
		}
		if _, keep := topics[topic]; !keep {
			delete(byBroker, name)
			if len(byBroker) == 0 {
				delete(r.topics, topic)
			}
		}
	}
	for topic, tc := range topics {
		if topic == "" {
			continue
		}
		byBroker := r.topics[topic]
		if byBroker == nil {
			byBroker = make(map[string]QueueData, 1)
			r.topics[topic] = byBroker
		}
		byBroker[name] = QueueData{
			BrokerName:     name,
			ReadQueueNums:  tc.ReadQueueNums,
			WriteQueueNums: tc.WriteQueueNums,
			Perm:           tc.Perm,
			TopicSysFlag:   tc.TopicSysFlag,
		}
	}
}

// UnregisterBroker removes one broker address (RocketMQ's
// UNREGISTER_BROKER). When its group has no address left, the group leaves
// its cluster and every topic it served.
func (r *Registry) UnregisterBroker(cluster, brokerName, brokerAddr string, brokerID int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.live, brokerAddr)
	r.removeAddrLocked(cluster, brokerName, brokerAddr, brokerID)
}

// removeAddrLocked removes address addr with id from group brokerName and
// the group from everything when it is empty.
func (r *Registry) removeAddrLocked(cluster, brokerName, addr string, id int64) {
	bd := r.brokers[brokerName]
	if bd == nil {
		return
	}
	if cur, ok := bd.BrokerAddrs[id]; ok && cur == addr {
		delete(bd.BrokerAddrs, id)
	}
	if len(bd.BrokerAddrs) > 0 {
		return
	}
	delete(r.brokers, brokerName)
	for _, c := range []string{cluster, bd.Cluster} {
		if names := r.clusters[c]; names != nil {
			delete(names, brokerName)
			if len(names) == 0 {
				delete(r.clusters, c)
			}
		}
	}
	for topic, byBroker := range r.topics {
		delete(byBroker, brokerName)
		if len(byBroker) == 0 {
			delete(r.topics, topic)
		}
	}
}

// ExpireBrokers removes every broker that has not registered within its
// expiry (Registration.HeartbeatTimeout, else Options.BrokerExpiry) and
// returns how many it removed.
func (r *Registry) ExpireBrokers() int {
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for addr, lb := range r.live {
		if now.Sub(lb.lastUpdate) > lb.timeout {
			r.dropLiveLocked(addr, lb)
			n++
		}
	}
	return n
}

// dropOwner removes every broker whose last registration arrived with
// owner (a connection that closed) and returns how many it removed.
func (r *Registry) dropOwner(owner any) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for addr, lb := range r.live {
		if lb.owner == owner {
			r.dropLiveLocked(addr, lb)
			n++
		}
	}
	return n
}

func (r *Registry) dropLiveLocked(addr string, lb *liveBroker) {
	delete(r.live, addr)
	r.removeAddrLocked(lb.cluster, lb.brokerName, addr, lb.brokerID)
	r.opts.Logger.Info("namesrv: broker removed", "cluster", lb.cluster, "broker", lb.brokerName, "id", lb.brokerID, "addr", addr,
		"silent", r.opts.Now().Sub(lb.lastUpdate).Round(time.Millisecond))
}

// DeleteTopic removes a topic from every broker group's routes
// (DELETE_TOPIC_IN_NAMESRV). A master that still lists it brings it back at
// its next registration.
func (r *Registry) DeleteTopic(topic string) {
	r.mu.Lock()
	delete(r.topics, topic)
	r.mu.Unlock()
}

// Route returns the route of topic: the queue data of every broker group
// serving it and those groups' addresses, both sorted by broker name. It
// reports false when no broker serves the topic.
func (r *Registry) Route(topic string) (TopicRoute, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	byBroker := r.topics[topic]
	if len(byBroker) == 0 {
		return TopicRoute{}, false
	}
	route := TopicRoute{
		QueueDatas:  make([]QueueData, 0, len(byBroker)),
		BrokerDatas: make([]BrokerData, 0, len(byBroker)),
	}
	for _, qd := range byBroker {
		route.QueueDatas = append(route.QueueDatas, qd)
	}
	slices.SortFunc(route.QueueDatas, func(a, b QueueData) int { return cmp.Compare(a.BrokerName, b.BrokerName) })
	for _, qd := range route.QueueDatas {
		if bd := r.brokers[qd.BrokerName]; bd != nil {
			route.BrokerDatas = append(route.BrokerDatas, cloneBrokerData(bd))
		}
	}
	if len(route.BrokerDatas) == 0 {
		return TopicRoute{}, false
	}
	return route, true
}

// Topics returns every routed topic, sorted.
func (r *Registry) Topics() []string {
	r.mu.RLock()
	topics := slices.Collect(maps.Keys(r.topics))
	r.mu.RUnlock()
	slices.Sort(topics)
	return topics
}

// TopicsByCluster returns the topics served by the broker groups of
// cluster, sorted (GET_TOPICS_BY_CLUSTER).
func (r *Registry) TopicsByCluster(cluster string) []string {
	r.mu.RLock()
	names := r.clusters[cluster]
	var topics []string
	for topic, byBroker := range r.topics {
		for name := range byBroker {
			if _, ok := names[name]; ok {
				topics = append(topics, topic)
				break
			}
		}
	}
	r.mu.RUnlock()
	slices.Sort(topics)
	return topics
}

// Clusters returns every broker group by name and every cluster's broker
// names (sorted) (GET_BROKER_CLUSTER_INFO).
func (r *Registry) Clusters() (brokers map[string]BrokerData, clusters map[string][]string) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	brokers = make(map[string]BrokerData, len(r.brokers))
	for name, bd := range r.brokers {
		brokers[name] = cloneBrokerData(bd)
	}
	clusters = make(map[string][]string, len(r.clusters))
	for c, names := range r.clusters {
		list := slices.Collect(maps.Keys(names))
		slices.Sort(list)
		clusters[c] = list
	}
	return brokers, clusters
}

func cloneBrokerData(bd *BrokerData) BrokerData {
	return BrokerData{Cluster: bd.Cluster, BrokerName: bd.BrokerName, BrokerAddrs: maps.Clone(bd.BrokerAddrs)}
}
