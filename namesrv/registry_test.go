package namesrv

import (
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"
)

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1700000000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func topicSet(queues int, names ...string) map[string]TopicConfig {
	m := make(map[string]TopicConfig, len(names))
	for _, n := range names {
		m[n] = TopicConfig{TopicName: n, ReadQueueNums: queues, WriteQueueNums: queues, Perm: PermRW}
	}
	return m
}

func brokerReg(cluster, name, addr string, id int64, topics map[string]TopicConfig) Registration {
	return Registration{ClusterName: cluster, BrokerName: name, BrokerAddr: addr, BrokerID: id, HAServerAddr: addr + "-ha", Topics: topics}
}

func TestRegistryRoutes(t *testing.T) {
	type step struct {
		register   *Registration
		unregister *Registration
		deleteT    string
	}
	regA := brokerReg("C", "broker-a", "a:1", 0, topicSet(4, "T1", "T2"))
	regA2 := brokerReg("C", "broker-a", "a:1", 0, topicSet(2, "T2", "T3"))
	regASlave := brokerReg("C", "broker-a", "a:2", 1, topicSet(9, "IGNORED"))
	regB := brokerReg("C2", "broker-b", "b:1", 0, topicSet(8, "T1"))
	tests := []struct {
		name     string
		steps    []step
		routes   map[string]TopicRoute // topic → route; nil route means no route
		topics   []string
		clusters map[string][]string
	}{
		{
			name:  "one master",
			steps: []step{{register: &regA}},
			routes: map[string]TopicRoute{
				"T1": {QueueDatas: []QueueData{{"broker-a", 4, 4, 6, 0}}, BrokerDatas: []BrokerData{{"C", "broker-a", map[int64]string{0: "a:1"}}}},
				"T9": {},
			},
			topics:   []string{"T1", "T2"},
			clusters: map[string][]string{"C": {"broker-a"}},
		},
		{
			name:  "two brokers merge, slave topics ignored",
			steps: []step{{register: &regB}, {register: &regA}, {register: &regASlave}},
			routes: map[string]TopicRoute{
				"T1": {
					QueueDatas:  []QueueData{{"broker-a", 4, 4, 6, 0}, {"broker-b", 8, 8, 6, 0}},
					BrokerDatas: []BrokerData{{"C", "broker-a", map[int64]string{0: "a:1", 1: "a:2"}}, {"C2", "broker-b", map[int64]string{0: "b:1"}}},
				},
				"IGNORED": {},
			},
			topics:   []string{"T1", "T2"},
			clusters: map[string][]string{"C": {"broker-a"}, "C2": {"broker-b"}},
		},
		{
			name:  "re-registration replaces the topic set",
			steps: []step{{register: &regA}, {register: &regA2}},
			routes: map[string]TopicRoute{
				"T1": {},
				"T2": {QueueDatas: []QueueData{{"broker-a", 2, 2, 6, 0}}, BrokerDatas: []BrokerData{{"C", "broker-a", map[int64]string{0: "a:1"}}}},
			},
			topics: []string{"T2", "T3"},
		},
		{
			name:     "unregistering the last address removes the group",
			steps:    []step{{register: &regA}, {register: &regB}, {unregister: &regA}},
			routes:   map[string]TopicRoute{"T2": {}, "T1": {QueueDatas: []QueueData{{"broker-b", 8, 8, 6, 0}}, BrokerDatas: []BrokerData{{"C2", "broker-b", map[int64]string{0: "b:1"}}}}},
			topics:   []string{"T1"},
			clusters: map[string][]string{"C2": {"broker-b"}},
		},
		{
			name:  "unregistering the master keeps the slave and the queues",
			steps: []step{{register: &regA}, {register: &regASlave}, {unregister: &regA}},
			routes: map[string]TopicRoute{
				"T1": {QueueDatas: []QueueData{{"broker-a", 4, 4, 6, 0}}, BrokerDatas: []BrokerData{{"C", "broker-a", map[int64]string{1: "a:2"}}}},
			},
			topics:   []string{"T1", "T2"},
			clusters: map[string][]string{"C": {"broker-a"}},
		},
		{
			name:     "delete topic",
			steps:    []step{{register: &regA}, {deleteT: "T1"}},
			routes:   map[string]TopicRoute{"T1": {}},
			topics:   []string{"T2"},
			clusters: map[string][]string{"C": {"broker-a"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRegistry(Options{Logger: quietLogger})
			for _, s := range tt.steps {
				switch {
				case s.register != nil:
					r.RegisterBroker(*s.register)
				case s.unregister != nil:
					u := s.unregister
					r.UnregisterBroker(u.ClusterName, u.BrokerName, u.BrokerAddr, u.BrokerID)
				default:
					r.DeleteTopic(s.deleteT)
				}
			}
			for topic, want := range tt.routes {
				got, ok := r.Route(topic)
				if ok != (len(want.QueueDatas) > 0) {
					t.Fatalf("Route(%s) ok = %v", topic, ok)
				}
				if ok && !reflect.DeepEqual(got, want) {
					t.Errorf("Route(%s) =\n %+v\nwant %+v", topic, got, want)
				}
			}
			if got := r.Topics(); !reflect.DeepEqual(got, tt.topics) {
				t.Errorf("Topics() = %v, want %v", got, tt.topics)
			}
			if tt.clusters != nil {
				if _, got := r.Clusters(); !reflect.DeepEqual(got, tt.clusters) {
					t.Errorf("Clusters() = %v, want %v", got, tt.clusters)
				}
			}
		})
	}
}

func TestRegistryReturnsCopies(t *testing.T) {
	r := NewRegistry(Options{Logger: quietLogger})
	r.RegisterBroker(brokerReg("C", "a", "a:1", 0, topicSet(1, "T")))
	route, _ := r.Route("T")
	route.BrokerDatas[0].BrokerAddrs[0] = "evil"
	brokers, clusters := r.Clusters()
	brokers["a"].BrokerAddrs[0] = "evil"
	clusters["C"][0] = "evil"
	route, _ = r.Route("T")
	if route.BrokerDatas[0].BrokerAddrs[0] != "a:1" {
		t.Fatal("Route aliases the registry")
	}
	if _, clusters = r.Clusters(); clusters["C"][0] != "a" {
		t.Fatal("Clusters aliases the registry")
	}
}

func TestRegistryAddressChanges(t *testing.T) {
	r := NewRegistry(Options{Logger: quietLogger})
	// A slave promoted to master keeps its address under id 0 only.
	r.RegisterBroker(brokerReg("C", "a", "a:1", 0, topicSet(1, "T")))
	r.RegisterBroker(brokerReg("C", "a", "a:2", 1, nil))
	r.UnregisterBroker("C", "a", "a:1", 0)
	r.RegisterBroker(brokerReg("C", "a", "a:2", 0, topicSet(1, "T")))
	route, ok := r.Route("T")
	if !ok || !reflect.DeepEqual(route.BrokerDatas[0].BrokerAddrs, map[int64]string{0: "a:2"}) {
		t.Fatalf("after promotion: %+v %v", route, ok)
	}
	// The master moves to a new address: the old one stops counting as live.
	r.RegisterBroker(brokerReg("C", "a", "a:3", 0, topicSet(1, "T")))
	route, _ = r.Route("T")
	if !reflect.DeepEqual(route.BrokerDatas[0].BrokerAddrs, map[int64]string{0: "a:3"}) {
		t.Fatalf("after move: %+v", route)
	}
	// A slave learns its master.
	res := r.register(brokerReg("C", "a", "a:4", 1, nil), nil)
	if res.masterAddr != "a:3" || res.haServerAddr != "a:3-ha" {
		t.Fatalf("slave result = %+v", res)
	}
	if res := r.register(brokerReg("C", "a", "a:3", 0, topicSet(1, "T")), nil); res != (registerResult{}) {
		t.Fatalf("master result = %+v", res)
	}
}

func TestRegistryExpiry(t *testing.T) {
	clock := newFakeClock()
	r := NewRegistry(Options{BrokerExpiry: 120 * time.Second, Now: clock.Now, Logger: quietLogger})
	r.RegisterBroker(brokerReg("C", "a", "a:1", 0, topicSet(4, "T", AutoCreateTopic)))
	r.RegisterBroker(brokerReg("C", "a", "a:2", 1, nil))
	r.RegisterBroker(brokerReg("C", "b", "b:1", 0, topicSet(4, "T")))

	steps := []struct {
		advance  time.Duration
		refresh  []Registration
		expired  int
		brokersT []string // broker names in T's route
	}{
		{advance: 60 * time.Second, expired: 0, brokersT: []string{"a", "b"}},
		{advance: 0, refresh: []Registration{brokerReg("C", "b", "b:1", 0, topicSet(4, "T"))}, expired: 0, brokersT: []string{"a", "b"}},
		{advance: 60 * time.Second, expired: 0, brokersT: []string{"a", "b"}},                               // exactly 120 s: not yet
		{advance: time.Millisecond, expired: 2, brokersT: []string{"b"}},                                    // a's master and slave
		{advance: 60*time.Second - time.Millisecond, expired: 0, brokersT: []string{"b"}},                   // b at exactly 120 s
		{advance: time.Millisecond, expired: 1, brokersT: nil},                                              // b gone
		{advance: time.Hour, expired: 0, brokersT: nil},                                                     // nothing left
		{refresh: []Registration{brokerReg("C", "b", "b:1", 0, topicSet(4, "T"))}, brokersT: []string{"b"}}, // comes back
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		for _, reg := range s.refresh {
			r.RegisterBroker(reg)
		}
		if n := r.ExpireBrokers(); n != s.expired {
			t.Fatalf("step %d: ExpireBrokers = %d, want %d", i, n, s.expired)
		}
		route, ok := r.Route("T")
		var names []string
		for _, bd := range route.BrokerDatas {
			names = append(names, bd.BrokerName)
		}
		if ok != (len(s.brokersT) > 0) || !reflect.DeepEqual(names, s.brokersT) {
			t.Fatalf("step %d: route brokers = %v (ok %v), want %v", i, names, ok, s.brokersT)
		}
	}
	if _, ok := r.Route(AutoCreateTopic); ok {
		t.Fatal("TBW102 of an expired broker is still routed")
	}
	if _, clusters := r.Clusters(); !reflect.DeepEqual(clusters, map[string][]string{"C": {"b"}}) {
		t.Fatalf("clusters = %v", clusters)
	}
}

func TestRegistryTopicsByCluster(t *testing.T) {
	r := NewRegistry(Options{Logger: quietLogger})
	r.RegisterBroker(brokerReg("C1", "a", "a:1", 0, topicSet(1, "X", "Y")))
	r.RegisterBroker(brokerReg("C2", "b", "b:1", 0, topicSet(1, "Y", "Z")))
	tests := map[string][]string{"C1": {"X", "Y"}, "C2": {"Y", "Z"}, "none": nil}
	for cluster, want := range tests {
		if got := r.TopicsByCluster(cluster); !reflect.DeepEqual(got, want) {
			t.Errorf("TopicsByCluster(%s) = %v, want %v", cluster, got, want)
		}
	}
}

func TestRegistryConcurrent(t *testing.T) {
	clock := newFakeClock()
	r := NewRegistry(Options{Now: clock.Now, Logger: quietLogger})
	var wg sync.WaitGroup
	const brokers, rounds = 4, 200
	for b := range brokers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("broker-%d", b)
			for i := range rounds {
				r.RegisterBroker(brokerReg("C", name, name+":1", 0, topicSet(1+i%4, "T", fmt.Sprintf("T%d", i%8))))
				if i%50 == 49 {
					r.UnregisterBroker("C", name, name+":1", 0)
				}
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if route, ok := r.Route("T"); ok {
					if len(route.BrokerDatas) != len(route.QueueDatas) {
						t.Errorf("inconsistent route %+v", route)
						return
					}
					EncodeRoute(nil, route, true)
				}
				r.Topics()
				r.Clusters()
				r.ExpireBrokers()
				clock.Advance(time.Second)
			}
		}()
	}
	wg.Wait()
}

// TestRegistryHeartbeatTimeout: a broker that sends its own heartbeatTimeoutMillis is expired
// after it, the others after Options.BrokerExpiry.
func TestRegistryHeartbeatTimeout(t *testing.T) {
	clock := newFakeClock()
	r := NewRegistry(Options{BrokerExpiry: 10 * time.Second, Now: clock.Now, Logger: quietLogger})
	short := brokerReg("C", "a", "a:1", 0, topicSet(4, "T"))
	short.HeartbeatTimeout = 2 * time.Second
	r.RegisterBroker(short)
	r.RegisterBroker(brokerReg("C", "b", "b:1", 0, topicSet(4, "T")))
	for _, s := range []struct {
		advance time.Duration
		expired int
	}{
		{2 * time.Second, 0},                  // a at exactly its timeout
		{time.Millisecond, 1},                 // a gone
		{8*time.Second - time.Millisecond, 0}, // b at exactly BrokerExpiry
		{time.Millisecond, 1},                 // b gone
	} {
		clock.Advance(s.advance)
		if n := r.ExpireBrokers(); n != s.expired {
			t.Fatalf("after %v: expired %d, want %d", s.advance, n, s.expired)
		}
	}
}
