// Package security tests ACL and TLS with the unmodified rocketmq-client-go against a real
// broker on loopback. It is its own test binary because client-go's WithTls is process-global
// (a client that sets it makes later clients use TLS unless they pass WithTls(false)); every
// client here passes WithTls explicitly.
package security

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/mqstore/mqstore/acl"
	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/testserver"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
	"github.com/mqstore/mqstore/tlsconfig"
)

func init() { rlog.SetLogLevel("error") }

const aclFile = `
globalWhiteRemoteAddresses:
accounts:
  - accessKey: producer1
    secretKey: producer-secret
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms: [AclTopic=PUB, SubOnlyTopic=SUB]
  - accessKey: consumer1
    secretKey: consumer-secret
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms: [AclTopic=SUB]
    groupPerms: [aclGroup=SUB]
  - accessKey: admin001
    secretKey: admin-secret
    admin: true
`

var seq atomic.Int64

func instance(name string) string { return fmt.Sprintf("%s-%d-%d", name, os.Getpid(), seq.Add(1)) }

func creds(ak, sk string) primitive.Credentials {
	return primitive.Credentials{AccessKey: ak, SecretKey: sk}
}

func startACL(t *testing.T) (*testserver.Server, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plain_acl.yml")
	if err := os.WriteFile(path, []byte(aclFile), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := testserver.Start(t, func(c *broker.Config) {
		c.Security.AclEnable = true
		c.Security.AclFile = path
	})
	return srv, path
}

func newProducer(t *testing.T, ns string, opts ...producer.Option) rocketmq.Producer {
	t.Helper()
	opts = append([]producer.Option{
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns})),
		producer.WithInstanceName(instance("p")), producer.WithRetry(0), producer.WithTls(false),
		producer.WithSendMsgTimeout(3 * time.Second),
	}, opts...)
	p, err := rocketmq.NewProducer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

func send(p rocketmq.Producer, topic, body string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(body)))
	return err
}

func wantDenied(t *testing.T, err error, remark string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "16") || !strings.Contains(err.Error(), remark) {
		t.Fatalf("err = %v, want code 16 with %q", err, remark)
	}
}

func TestACLProducerConsumer(t *testing.T) {
	srv, _ := startACL(t)
	ns := srv.NameServer

	good := newProducer(t, ns, producer.WithCredentials(creds("producer1", "producer-secret")))
	if err := send(good, "AclTopic", "m1"); err != nil {
		t.Fatalf("signed send: %v", err)
	}
	wantDenied(t, send(newProducer(t, ns, producer.WithCredentials(creds("producer1", "wrong-secret"))), "AclTopic", "x"),
		"Check signature failed for accessKey=producer1")
	wantDenied(t, send(newProducer(t, ns, producer.WithCredentials(creds("nobody00", "whatever1"))), "AclTopic", "x"),
		"No acl config for nobody00")
	wantDenied(t, send(newProducer(t, ns), "AclTopic", "x"), "No accessKey is configured")
	wantDenied(t, send(good, "SubOnlyTopic", "x"), "No permission for topic:SubOnlyTopic")
	wantDenied(t, send(good, "OtherTopic", "x"), "No default permission for topic:OtherTopic")
	// The same producer keeps working after its denials.
	if err := send(good, "AclTopic", "m2"); err != nil {
		t.Fatalf("send after a denial: %v", err)
	}

	// A signed push consumer receives; one without permission on its group receives nothing.
	got := make(chan string, 16)
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns})),
		consumer.WithGroupName("aclGroup"), consumer.WithInstance(instance("c")), consumer.WithTls(false),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithCredentials(creds("consumer1", "consumer-secret")))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe("AclTopic", consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, m := range msgs {
			got <- string(m.Body)
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown() })
	seen := map[string]bool{}
	for timeout := time.After(20 * time.Second); !seen["m1"] || !seen["m2"]; {
		select {
		case b := <-got:
			seen[b] = true
		case <-timeout:
			t.Fatalf("signed consumer received %v, want m1 and m2", seen)
		}
	}
}

func TestACLAdmin(t *testing.T) {
	srv, _ := startACL(t)
	ns, addr := srv.NameServer, srv.Broker.Addr()
	topicExists := func(topic string) bool {
		a, err := client.NewAdmin(client.WithNameServer(ns), client.WithLogger(testserver.Quiet))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		_, err = a.TopicRoute(context.Background(), topic)
		return err == nil
	}
	create := func(ak, sk, topic string) {
		ad, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{ns})),
			admin.WithCredentials(creds(ak, sk)), admin.WithTls(false))
		if err != nil {
			t.Fatal(err)
		}
		defer ad.Close()
		ctx := context.Background()
		// client-go signs admin requests only after GetAllSubscriptionGroup registered the
		// credentials (docs/SECURITY.md).
		ad.GetAllSubscriptionGroup(ctx, addr, 3*time.Second)
		// CreateTopic ignores the response code: the outcome is read from the routes.
		ad.CreateTopic(ctx, admin.WithTopicCreate(topic), admin.WithBrokerAddrCreate(addr))
	}
	create("producer1", "producer-secret", "NotByProducer")
	create("admin001", "admin-secret", "ByAdmin")
	deadline := time.Now().Add(5 * time.Second)
	for !topicExists("ByAdmin") {
		if time.Now().After(deadline) {
			t.Fatal("the admin account's CreateTopic did not create the topic")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if topicExists("NotByProducer") {
		t.Fatal("a non-admin account created a topic")
	}

	// Resolving transactions by hand (mqstore's 9001/9002) and resuming checks need admin.
	ctx := context.Background()
	plain, err := client.NewAdmin(client.WithNameServer(ns), client.WithLogger(testserver.Quiet),
		client.WithCredentials("producer1", "producer-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for name, call := range map[string]func() error{
		"commit":   func() error { _, err := plain.CommitTransaction(ctx, addr, 0); return err },
		"rollback": func() error { _, err := plain.RollbackTransaction(ctx, addr, 0); return err },
		"list":     func() error { _, _, err := plain.OpenTransactions(ctx, addr, 10); return err },
	} {
		if err := call(); err == nil || !strings.Contains(err.Error(), "Need admin permission") {
			t.Errorf("%s by a non-admin account: %v", name, err)
		}
	}
	adm, err := client.NewAdmin(client.WithNameServer(ns), client.WithLogger(testserver.Quiet),
		client.WithCredentials("admin001", "admin-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if _, _, err := adm.OpenTransactions(ctx, addr, 10); err != nil {
		t.Fatalf("open transactions by the admin account: %v", err)
	}
}

// TestACLConnectionSurvivesDenial sends a denied and then an allowed request on one connection.
func TestACLConnectionSurvivesDenial(t *testing.T) {
	srv, _ := startACL(t)
	rc, err := remoting.NewClient(remoting.Options{Logger: testserver.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ctx := context.Background()
	conn, err := rc.Conn(ctx, srv.Broker.Addr())
	if err != nil {
		t.Fatal(err)
	}
	call := func(ak, sk string) *remoting.Command {
		req := remoting.NewRequest(remoting.RequestQueryConsumerOffset)
		req.SetExt("consumerGroup", "g")
		req.SetExt("topic", "AclTopic")
		req.SetExt("queueId", "0")
		if ak != "" {
			acl.SignCommand(req, ak, sk, "")
		}
		resp, err := conn.Invoke(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := call("", ""); resp.ResponseCode() != remoting.ResponseNoPermission || resp.Remark != "No accessKey is configured" {
		t.Fatalf("unsigned: %v", resp)
	}
	if resp := call("producer1", "producer-secret"); resp.ResponseCode() == remoting.ResponseNoPermission {
		t.Fatalf("signed after a denial: %v", resp)
	}
	if conn.Err() != nil {
		t.Fatalf("connection closed: %v", conn.Err())
	}
}

func TestACLWhiteListAndReload(t *testing.T) {
	srv, path := startACL(t)
	anon := newProducer(t, srv.NameServer)
	wantDenied(t, send(anon, "AclTopic", "x"), "No accessKey is configured")
	// Editing the file takes effect without a restart: white-list loopback.
	edited := strings.Replace(aclFile, "globalWhiteRemoteAddresses:", "globalWhiteRemoteAddresses: [127.0.0.1]", 1)
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for send(anon, "AclTopic", "x") != nil {
		if time.Now().After(deadline) {
			t.Fatal("the white-listed address is still refused")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A broken file keeps the rules in force.
	os.WriteFile(path, []byte("accounts: ["), 0o600)
	time.Sleep(1500 * time.Millisecond)
	if err := send(anon, "AclTopic", "y"); err != nil {
		t.Fatalf("after a broken edit: %v", err)
	}
}

// startTLS starts a name server (permissive) and a broker in mode.
func startTLS(t *testing.T, mode string) (ns, brokerAddr string) {
	return startServers(t, func(c *broker.Config) { c.Security.TLSServerMode = mode })
}

// startServers starts a name server serving TLS and plaintext, and a broker configured by mutate.
func startServers(t testing.TB, mutate func(*broker.Config)) (ns, brokerAddr string) {
	t.Helper()
	nsTLS, err := tlsconfig.NewServer(tlsconfig.ServerConfig{Mode: tlsconfig.Permissive, Logger: testserver.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	l, err := namesrv.Listen("127.0.0.1:0", namesrv.Options{Logger: testserver.Quiet,
		Remoting: remoting.Options{Listener: nsTLS.Listener}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	cfg := broker.DefaultConfig()
	cfg.StorePathRootDir = t.TempDir()
	cfg.ListenPort = 0
	cfg.MappedFileSizeCommitLog = 16 << 20
	mutate(&cfg)
	b, err := broker.New(cfg, broker.Options{Registrar: broker.EmbeddedRegistrar(l.Registry()), Logger: testserver.Quiet,
		Remoting: remoting.Options{Logger: testserver.Quiet}, Store: func(o *store.Options) { o.ConsumeQueueUnits = 1000 }})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return l.Addr(), b.Addr()
}

func TestTLS(t *testing.T) {
	t.Run("enforcing", func(t *testing.T) {
		ns, _ := startTLS(t, "enforcing")
		if err := send(newProducer(t, ns, producer.WithTls(true)), "TlsTopic", "over tls"); err != nil {
			t.Fatalf("TLS producer: %v", err)
		}
		if err := send(newProducer(t, ns, producer.WithTls(false)), "TlsTopic", "plain"); err == nil {
			t.Fatal("a plaintext producer was served by an enforcing broker")
		}
	})
	t.Run("permissive", func(t *testing.T) {
		ns, _ := startTLS(t, "permissive")
		if err := send(newProducer(t, ns, producer.WithTls(true)), "TlsTopic", "over tls"); err != nil {
			t.Fatalf("TLS producer: %v", err)
		}
		if err := send(newProducer(t, ns, producer.WithTls(false)), "TlsTopic", "plain"); err != nil {
			t.Fatalf("plaintext producer: %v", err)
		}
	})
	t.Run("own client", func(t *testing.T) {
		ns, _ := startTLS(t, "enforcing")
		p, err := client.NewProducer(client.WithNameServer(ns), client.WithLogger(testserver.Quiet), client.WithTLSEnabled(true))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if _, err := p.Send(context.Background(), message.New("TlsTopic", []byte("x"))); err != nil {
			t.Fatalf("client.WithTLS: %v", err)
		}
	})
}
