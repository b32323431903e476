package broker

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

func TestLifecycle(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FlushDiskType = "NEVER"
	if _, err := New(cfg, Options{Logger: quiet}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("bad config: %v", err)
	}
	tb := startBroker(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := tb.Start(ln); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tb.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if err := tb.Start(ln); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	// A broker closed before it started.
	cfg = DefaultConfig()
	cfg.StorePathRootDir = t.TempDir()
	cfg.MappedFileSizeCommitLog = 16 << 20
	b, err := New(cfg, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	mutate := func(c *Config) { c.StorePathRootDir = dir }
	tb := startBroker(t, mutate)
	expect(t, tb.call(remoting.RequestUpdateAndCreateTopic, nil, "topic", "Kept", "readQueueNums", "3", "writeQueueNums", "3"),
		remoting.ResponseSuccess)
	expect(t, tb.call(remoting.RequestUpdateConsumerOffset, nil, "consumerGroup", "kept-group", "topic", "Kept",
		"queueId", "2", "commitOffset", "99"), remoting.ResponseSuccess)
	c := newConsumerClient(t, "10.0.0.1@c")
	c.heartbeat(t, tb.Addr(), heartbeatBody(c.id, "kept-group", "Kept", "*"))
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{topicsFile, consumerOffsetFile, subscriptionFile} {
		data, err := os.ReadFile(filepath.Join(dir, "config", f))
		if err != nil || !strings.Contains(string(data), "Kept") && !strings.Contains(string(data), "kept-group") {
			t.Fatalf("%s: %v %s", f, err, data)
		}
	}

	tb2 := startBroker(t, mutate)
	if tc, ok := tb2.topics.get("Kept"); !ok || tc.WriteQueueNums != 3 {
		t.Fatalf("topic after restart: %+v %v", tc, ok)
	}
	if _, ok := tb2.topics.get("%RETRY%kept-group"); !ok {
		t.Fatal("retry topic lost")
	}
	if _, ok := tb2.groups.get("kept-group"); !ok {
		t.Fatal("group lost")
	}
	resp := tb2.call(remoting.RequestQueryConsumerOffset, nil, "consumerGroup", "kept-group", "topic", "Kept", "queueId", "2")
	expect(t, resp, remoting.ResponseSuccess)
	if extInt(t, resp, protocol.FieldOffset) != 99 {
		t.Fatalf("offset after restart %s", resp.Ext(protocol.FieldOffset))
	}
}

func TestPeriodicPersistence(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.FlushConsumerOffsetInterval = 20 })
	tb.offsets.commit("periodic-group", "P", 0, 5)
	path := filepath.Join(tb.dir, "config", consumerOffsetFile)
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), "P@periodic-group") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("offsets not persisted: %s", data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRegistration(t *testing.T) {
	reg := &recordingRegistrar{}
	tb := startBroker(t, func(c *Config) { c.BrokerPermission = 4 }, func(o *Options) { o.Registrar = reg })
	r := reg.last()
	if r.BrokerAddr != tb.Addr() || r.ClusterName != "DefaultCluster" || r.BrokerID != 0 {
		t.Fatalf("registration %+v", r)
	}
	// A read-only broker registers its topics read-only.
	if tc := r.Topics["TBW102"]; tc.Perm&namesrv.PermWrite != 0 || tc.Perm&namesrv.PermRead == 0 {
		t.Fatalf("TBW102 of a read-only broker: %+v", tc)
	}
	// Auto-created topics are registered soon after.
	if _, _, err := tb.ensureTopic(namesrv.TopicConfig{TopicName: "Later", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "registration of Later", func() bool { _, ok := reg.last().Topics["Later"]; return ok })
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.gone != 1 {
		t.Fatalf("%d unregistrations", reg.gone)
	}
}

func TestNoAutoCreateTopic(t *testing.T) {
	reg := &recordingRegistrar{}
	startBroker(t, func(c *Config) { c.AutoCreateTopicEnable = false }, func(o *Options) { o.Registrar = reg })
	if _, ok := reg.last().Topics["TBW102"]; ok {
		t.Fatal("TBW102 registered with autoCreateTopicEnable=false")
	}
}

// TestRemoteRegistration registers with a name server over the network (namesrvAddr).
func TestRemoteRegistration(t *testing.T) {
	registry := namesrv.NewRegistry(namesrv.Options{Logger: quiet})
	srv, err := remoting.NewServer(remoting.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	namesrv.NewServer(registry, namesrv.Options{Logger: quiet}).Attach(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	tb := startBroker(t, func(c *Config) { c.NamesrvAddr = ln.Addr().String() })
	route, ok := registry.Route("TBW102")
	if !ok || len(route.BrokerDatas) != 1 || route.BrokerDatas[0].BrokerAddrs[0] != tb.Addr() {
		t.Fatalf("route %+v %v", route, ok)
	}
	tb.fill("RemoteT", 1)
	waitUntil(t, "route of RemoteT", func() bool { _, ok := registry.Route("RemoteT"); return ok })
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := registry.Route("RemoteT"); ok {
		t.Fatal("route survived the broker's unregistration")
	}
}
