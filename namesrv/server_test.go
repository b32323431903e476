package namesrv

import (
	"context"
	"errors"
	"net"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqstore/mqstore/remoting"
)

// testNamesrv is a name server on a loopback port with a client to it.
type testNamesrv struct {
	addr   string
	ns     *Server
	srv    *remoting.Server
	client *remoting.Client
}

var smallPools = map[remoting.Kind]remoting.PoolOptions{
	remoting.KindDefault: {Workers: 2}, remoting.KindSend: {Workers: 1}, remoting.KindPull: {Workers: 1},
	remoting.KindQuery: {Workers: 1}, remoting.KindHeartbeat: {Workers: 1}, remoting.KindTransaction: {Workers: 1},
	remoting.KindAdmin: {Workers: 4},
}

// startNamesrv serves a new Registry with opts on 127.0.0.1:0. Cleanup
// closes everything.
func startNamesrv(t testing.TB, opts Options) *testNamesrv {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger
	}
	srv, err := remoting.NewServer(remoting.Options{Logger: quietLogger, Pools: smallPools})
	if err != nil {
		t.Fatal(err)
	}
	ns := NewServer(NewRegistry(opts), opts)
	ns.Attach(srv)
	ns.Start()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	client, err := remoting.NewClient(remoting.Options{Logger: quietLogger, CallTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		srv.Close()
		<-served
		ns.Close()
	})
	return &testNamesrv{addr: ln.Addr().String(), ns: ns, srv: srv, client: client}
}

// call sends a request with the given version and ext fields and returns
// the response.
func (n *testNamesrv) call(t testing.TB, code remoting.RequestCode, version int32, ext map[string]string, body []byte) *remoting.Command {
	t.Helper()
	req := remoting.NewRequest(code)
	req.Version = version
	for k, v := range ext {
		req.SetExt(k, v)
	}
	req.Body = body
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := n.client.Invoke(ctx, n.addr, req)
	if err != nil {
		t.Fatalf("%s: %v", code, err)
	}
	t.Cleanup(resp.Release)
	return resp
}

func (n *testNamesrv) register(t testing.TB, reg Registration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := RegisterRemote(ctx, n.client, n.addr, reg); err != nil {
		t.Fatalf("RegisterRemote: %v", err)
	}
}

func TestRegisterRemoteThenRoute(t *testing.T) {
	n := startNamesrv(t, Options{})
	reg := brokerReg("DefaultCluster", "broker-a", "127.0.0.1:10911", 0, topicSet(4, "TopicTest", AutoCreateTopic))
	reg.Topics[AutoCreateTopic] = TopicConfig{TopicName: AutoCreateTopic, ReadQueueNums: 8, WriteQueueNums: 8, Perm: PermRW | PermInherit}
	reg.DataVersion = DataVersion{Timestamp: 1700000000000, Counter: 2}
	n.register(t, reg)

	wantRoute := TopicRoute{
		QueueDatas:  []QueueData{{BrokerName: "broker-a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: PermRW}},
		BrokerDatas: []BrokerData{{Cluster: "DefaultCluster", BrokerName: "broker-a", BrokerAddrs: map[int64]string{0: "127.0.0.1:10911"}}},
	}
	tests := []struct {
		name    string
		version int32
		ext     map[string]string
		legacy  bool
	}{
		{"go client version 317", 317, nil, true},
		{"old version with acceptStandardJsonOnly", 317, map[string]string{"acceptStandardJsonOnly": "true"}, false},
		{"old version with acceptStandardJsonOnly=false", 317, map[string]string{"acceptStandardJsonOnly": "false"}, true},
		{"version 401", 401, nil, false},
		{"version 453", 453, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ext := map[string]string{"topic": "TopicTest"}
			for k, v := range tt.ext {
				ext[k] = v
			}
			resp := n.call(t, remoting.RequestGetRouteInfoByTopic, tt.version, ext, nil)
			if resp.ResponseCode() != remoting.ResponseSuccess || len(resp.Body) == 0 {
				t.Fatalf("response %v", resp)
			}
			if want := string(EncodeRoute(nil, wantRoute, tt.legacy)); string(resp.Body) != want {
				t.Fatalf("body\n got %s\nwant %s", resp.Body, want)
			}
			got, err := DecodeRoute(resp.Body)
			if err != nil || !routesEqual(got, wantRoute) {
				t.Fatalf("DecodeRoute = %+v, %v", got, err)
			}
		})
	}
	route, ok := n.ns.Registry().Route(AutoCreateTopic)
	if !ok || route.QueueDatas[0].Perm != 7 || route.QueueDatas[0].WriteQueueNums != 8 {
		t.Fatalf("TBW102 route = %+v, %v", route, ok)
	}
}

func TestUnknownTopic(t *testing.T) {
	n := startNamesrv(t, Options{})
	n.register(t, brokerReg("C", "a", "127.0.0.1:1", 0, topicSet(1, "Known")))
	resp := n.call(t, remoting.RequestGetRouteInfoByTopic, 317, map[string]string{"topic": "Nope"}, nil)
	if resp.ResponseCode() != remoting.ResponseTopicNotExist || resp.Code != 17 {
		t.Fatalf("code = %v", resp.ResponseCode())
	}
	if !strings.HasPrefix(resp.Remark, "No topic route info in name server for the topic: Nope") {
		t.Fatalf("remark = %q", resp.Remark)
	}
	if len(resp.Body) != 0 {
		t.Fatalf("body = %q", resp.Body)
	}
	resp = n.call(t, remoting.RequestGetRouteInfoByTopic, 317, nil, nil)
	if resp.ResponseCode() != remoting.ResponseSystemError {
		t.Fatalf("missing topic: code = %v", resp.ResponseCode())
	}
}

func TestKVConfig(t *testing.T) {
	n := startNamesrv(t, Options{})
	get := map[string]string{"namespace": "ORDER_TOPIC_CONFIG", "key": "T"}
	resp := n.call(t, remoting.RequestGetKVConfig, 317, get, nil)
	if resp.ResponseCode() != remoting.ResponseQueryNotFound || resp.Remark != "No config item, Namespace: ORDER_TOPIC_CONFIG Key: T" {
		t.Fatalf("not found: %v", resp)
	}
	if _, ok := resp.ExtFields.Get("value"); ok {
		t.Fatal("not found carries a value")
	}
	for _, v := range []string{"broker-a:4", "broker-a:8"} {
		put := map[string]string{"namespace": "ORDER_TOPIC_CONFIG", "key": "T", "value": v}
		if resp := n.call(t, remoting.RequestPutKVConfig, 317, put, nil); resp.ResponseCode() != remoting.ResponseSuccess {
			t.Fatalf("put: %v", resp)
		}
		resp = n.call(t, remoting.RequestGetKVConfig, 317, get, nil)
		if resp.ResponseCode() != remoting.ResponseSuccess || resp.Ext("value") != v {
			t.Fatalf("get after put: %v", resp)
		}
	}
	tests := []struct {
		code remoting.RequestCode
		ext  map[string]string
	}{
		{remoting.RequestGetKVConfig, map[string]string{"namespace": "x"}},
		{remoting.RequestGetKVConfig, map[string]string{"key": "x"}},
		{remoting.RequestPutKVConfig, map[string]string{"namespace": "x", "key": "y"}},
	}
	for _, tt := range tests {
		if resp := n.call(t, tt.code, 317, tt.ext, nil); resp.ResponseCode() != remoting.ResponseSystemError {
			t.Errorf("%s %v: code = %v", tt.code, tt.ext, resp.ResponseCode())
		}
	}
}

func TestListingsOverTCP(t *testing.T) {
	n := startNamesrv(t, Options{})
	n.register(t, brokerReg("C1", "a", "127.0.0.1:1", 0, topicSet(1, "X", "Y")))
	n.register(t, brokerReg("C1", "a", "127.0.0.1:2", 1, nil))
	n.register(t, brokerReg("C2", "b", "127.0.0.1:3", 0, topicSet(1, "Z")))

	resp := n.call(t, remoting.RequestGetAllTopicListFromNameServer, 317, nil, nil)
	if string(resp.Body) != `{"topicList":["X","Y","Z"]}` {
		t.Fatalf("topic list = %s", resp.Body)
	}
	resp = n.call(t, remoting.RequestGetTopicsByCluster, 317, map[string]string{"cluster": "C2"}, nil)
	if string(resp.Body) != `{"topicList":["Z"]}` {
		t.Fatalf("topics by cluster = %s", resp.Body)
	}
	wantLegacy := `{"brokerAddrTable":{"a":{"brokerAddrs":{0:"127.0.0.1:1",1:"127.0.0.1:2"},"brokerName":"a","cluster":"C1"},` +
		`"b":{"brokerAddrs":{0:"127.0.0.1:3"},"brokerName":"b","cluster":"C2"}},"clusterAddrTable":{"C1":["a"],"C2":["b"]}}`
	for _, tt := range []struct {
		version int32
		want    string
	}{
		{317, wantLegacy},
		{401, strings.NewReplacer("{0:", `{"0":`, ",1:", `,"1":`).Replace(wantLegacy)},
	} {
		resp = n.call(t, remoting.RequestGetBrokerClusterInfo, tt.version, nil, nil)
		if string(resp.Body) != tt.want {
			t.Fatalf("version %d cluster info\n got %s\nwant %s", tt.version, resp.Body, tt.want)
		}
	}

	// DELETE_TOPIC_IN_NAMESRV, then UNREGISTER_BROKER of b.
	if resp := n.call(t, remoting.RequestDeleteTopicInNameServer, 317, map[string]string{"topic": "X"}, nil); resp.ResponseCode() != remoting.ResponseSuccess {
		t.Fatalf("delete: %v", resp)
	}
	ctx := context.Background()
	if err := UnregisterRemote(ctx, n.client, n.addr, "C2", "b", "127.0.0.1:3", 0); err != nil {
		t.Fatal(err)
	}
	resp = n.call(t, remoting.RequestGetAllTopicListFromNameServer, 317, nil, nil)
	if topics, err := DecodeTopicList(resp.Body); err != nil || !reflect.DeepEqual(topics, []string{"Y"}) {
		t.Fatalf("after delete and unregister: %v %v", topics, err)
	}
	if err := UnregisterRemote(ctx, n.client, n.addr, "C2", "b", "127.0.0.1:3", 0); err != nil {
		t.Fatalf("second unregister: %v", err)
	}
	resp = n.call(t, remoting.RequestUnregisterBroker, 317, map[string]string{"brokerName": "b"}, nil)
	if resp.ResponseCode() != remoting.ResponseSystemError {
		t.Fatalf("unregister without fields: %v", resp)
	}
}

func TestRegisterBrokerRequests(t *testing.T) {
	n := startNamesrv(t, Options{})
	body := appendRegisterBody(nil, &Registration{Topics: topicSet(2, "T")})
	header := func(mod map[string]string) map[string]string {
		h := map[string]string{"brokerName": "a", "brokerAddr": "127.0.0.1:1", "clusterName": "C", "haServerAddr": "127.0.0.1:2",
			"brokerId": "0", "compressed": "false", "bodyCrc32": "0"}
		for k, v := range mod {
			if v == "" {
				delete(h, k)
			} else {
				h[k] = v
			}
		}
		return h
	}
	tests := []struct {
		name string
		ext  map[string]string
		body []byte
		code remoting.ResponseCode
	}{
		{"crc 0 is not checked", header(nil), body, remoting.ResponseSuccess},
		{"crc matches", header(map[string]string{"bodyCrc32": itoa(bodyCRC32(body))}), body, remoting.ResponseSuccess},
		{"no body", header(nil), nil, remoting.ResponseSuccess},
		{"crc mismatch", header(map[string]string{"bodyCrc32": "12345"}), body, remoting.ResponseSystemError},
		{"bad crc", header(map[string]string{"bodyCrc32": "x"}), body, remoting.ResponseSystemError},
		{"compressed", header(map[string]string{"compressed": "true"}), body, remoting.ResponseSystemError},
		{"missing brokerName", header(map[string]string{"brokerName": ""}), body, remoting.ResponseSystemError},
		{"missing brokerId", header(map[string]string{"brokerId": ""}), body, remoting.ResponseSystemError},
		{"bad brokerId", header(map[string]string{"brokerId": "one"}), body, remoting.ResponseSystemError},
		{"bad body", header(nil), []byte(`{"topicConfigTable":[`), remoting.ResponseSystemError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := n.call(t, remoting.RequestRegisterBroker, 401, tt.ext, tt.body)
			if resp.ResponseCode() != tt.code {
				t.Fatalf("code = %v (%s), want %v", resp.ResponseCode(), resp.Remark, tt.code)
			}
		})
	}
	// A slave learns its master's address and HA address.
	resp := n.call(t, remoting.RequestRegisterBroker, 401, header(map[string]string{"brokerId": "1", "brokerAddr": "127.0.0.1:3"}), nil)
	if resp.Ext("masterAddr") != "127.0.0.1:1" || resp.Ext("haServerAddr") != "127.0.0.1:2" {
		t.Fatalf("slave response ext = %v", resp.ExtFields)
	}
	// RegisterRemote reports a rejection.
	err := RegisterRemote(context.Background(), n.client, n.addr, Registration{BrokerName: "a", BrokerAddr: "x"})
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("RegisterRemote without cluster: %v", err)
	}
}

func itoa(v int64) string { return string(appendIntKey(nil, v, true)) }

func TestBrokerConnectionCloseUnregisters(t *testing.T) {
	n := startNamesrv(t, Options{})
	// A direct registration and one over a connection that then closes.
	n.ns.Registry().RegisterBroker(brokerReg("C", "embedded", "127.0.0.1:9", 0, topicSet(1, "E")))
	other, err := remoting.NewClient(remoting.Options{Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if err := RegisterRemote(context.Background(), other, n.addr, brokerReg("C", "remote", "127.0.0.1:8", 0, topicSet(1, "R"))); err != nil {
		t.Fatal(err)
	}
	if _, ok := n.ns.Registry().Route("R"); !ok {
		t.Fatal("remote broker not registered")
	}
	other.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := n.ns.Registry().Route("R"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("broker still routed after its connection closed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, ok := n.ns.Registry().Route("E"); !ok {
		t.Fatal("direct registration dropped")
	}
}

func TestServerScannerExpires(t *testing.T) {
	clock := newFakeClock()
	n := startNamesrv(t, Options{BrokerExpiry: time.Minute, ScanInterval: 5 * time.Millisecond, Now: clock.Now})
	n.ns.Registry().RegisterBroker(brokerReg("C", "a", "127.0.0.1:1", 0, topicSet(1, "T")))
	time.Sleep(20 * time.Millisecond)
	if _, ok := n.ns.Registry().Route("T"); !ok {
		t.Fatal("expired too early")
	}
	clock.Advance(time.Minute + time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp := n.call(t, remoting.RequestGetRouteInfoByTopic, 317, map[string]string{"topic": "T"}, nil)
		if resp.ResponseCode() == remoting.ResponseTopicNotExist {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("scanner did not expire the broker")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestServerConcurrentRegisterAndRoute(t *testing.T) {
	n := startNamesrv(t, Options{})
	var wg sync.WaitGroup
	for b := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := string(rune('a' + b))
			for i := range 30 {
				reg := brokerReg("C", name, "127.0.0.1:"+itoa(int64(1000+b)), 0, topicSet(1+i%3, "T", "U"+name))
				if err := RegisterRemote(context.Background(), n.client, n.addr, reg); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 30 {
				req := remoting.NewRequest(remoting.RequestGetRouteInfoByTopic)
				req.Version = 317
				req.SetExt("topic", "T")
				resp, err := n.client.Invoke(context.Background(), n.addr, req)
				if err != nil {
					t.Error(err)
					return
				}
				code := resp.ResponseCode()
				_, derr := DecodeRoute(resp.Body)
				resp.Release()
				switch code {
				case remoting.ResponseTopicNotExist:
				case remoting.ResponseSuccess:
					if derr != nil {
						t.Error(derr)
						return
					}
				default:
					t.Errorf("code %v", code)
					return
				}
			}
		}()
	}
	wg.Wait()
	route, ok := n.ns.Registry().Route("T")
	if !ok || len(route.BrokerDatas) != 3 {
		t.Fatalf("final route %+v", route)
	}
}

// ourGoroutines returns the stacks of goroutines running namesrv or
// remoting code (other than test functions).
func ourGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var ours []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "testing.tRunner") {
			continue
		}
		if strings.Contains(g, "mqstore/namesrv.") || strings.Contains(g, "mqstore/remoting.") {
			ours = append(ours, g)
		}
	}
	return ours
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	t.Run("serve", func(t *testing.T) {
		n := startNamesrv(t, Options{ScanInterval: time.Millisecond})
		n.register(t, brokerReg("C", "a", "127.0.0.1:1", 0, topicSet(1, "T")))
		n.call(t, remoting.RequestGetRouteInfoByTopic, 317, map[string]string{"topic": "T"}, nil)
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := ourGoroutines()
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}

	s := NewServer(NewRegistry(Options{}), Options{ScanInterval: time.Millisecond})
	s.Start()
	s.Start()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
	s.Start() // no-op after Close
	if left := ourGoroutines(); len(left) != 0 {
		t.Fatalf("scanner left running:\n%s", strings.Join(left, "\n\n"))
	}
	// Close without Start.
	if err := NewServer(NewRegistry(Options{}), Options{}).Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		opts Options
		ok   bool
	}{
		{Options{}, true},
		{Options{BrokerExpiry: time.Second, ScanInterval: time.Second}, true},
		{Options{BrokerExpiry: -1}, false},
		{Options{ScanInterval: -1}, false},
	}
	for _, tt := range tests {
		if err := tt.opts.Validate(); (err == nil) != tt.ok {
			t.Errorf("Validate(%+v) = %v", tt.opts, err)
		}
	}
}

// TestRegisterRemoteHeartbeatTimeout: heartbeatTimeoutMillis crosses the wire and sets that
// broker's expiry; a malformed value is refused.
func TestRegisterRemoteHeartbeatTimeout(t *testing.T) {
	clock := newFakeClock()
	n := startNamesrv(t, Options{BrokerExpiry: time.Hour, ScanInterval: time.Hour, Now: clock.Now})
	reg := brokerReg("C", "a", "127.0.0.1:1", 0, topicSet(1, "T"))
	reg.HeartbeatTimeout = 1500 * time.Millisecond
	if err := RegisterRemote(context.Background(), n.client, n.addr, reg); err != nil {
		t.Fatal(err)
	}
	clock.Advance(1500 * time.Millisecond)
	if got := n.ns.Registry().ExpireBrokers(); got != 0 {
		t.Fatalf("expired %d at exactly the timeout", got)
	}
	clock.Advance(time.Millisecond)
	if got := n.ns.Registry().ExpireBrokers(); got != 1 {
		t.Fatalf("expired %d after the broker's own timeout, want 1", got)
	}
	resp := n.call(t, remoting.RequestRegisterBroker, 317, map[string]string{"brokerName": "a", "brokerAddr": "127.0.0.1:1",
		"clusterName": "C", "brokerId": "0", "heartbeatTimeoutMillis": "soon"}, nil)
	if resp.ResponseCode() == remoting.ResponseSuccess || !strings.Contains(resp.Remark, "heartbeatTimeoutMillis") {
		t.Fatalf("malformed heartbeatTimeoutMillis answered %v %q", resp.ResponseCode(), resp.Remark)
	}
}
