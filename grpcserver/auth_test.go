package grpcserver_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/apache/rocketmq-clients/golang/v5/credentials"
	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/mqstore/mqstore/acl"
	"github.com/mqstore/mqstore/broker"
)

const grpcACLFile = `
accounts:
  - accessKey: rmq5user
    secretKey: rmq5secret
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms: [aclOK=PUB|SUB, aclPubOnly=PUB]
    groupPerms: [aclGroup=SUB]
`

func startACL(t *testing.T) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plain_acl.yml")
	if err := os.WriteFile(path, []byte(grpcACLFile), 0o600); err != nil {
		t.Fatal(err)
	}
	e := start(t, func(c *broker.Config) {
		c.Security.AclEnable = true
		c.Security.AclFile = path
	})
	createTopic(t, e, "aclOK", "")
	createTopic(t, e, "aclPubOnly", "")
	createTopic(t, e, "aclDenied", "") // exists: the refusal is the ACL's
	return e
}

func signedConfig(e *env, group, ak, sk string) *rmq.Config {
	return &rmq.Config{Endpoint: e.Addr, ConsumerGroup: group,
		Credentials: &credentials.SessionCredentials{AccessKey: ak, AccessSecret: sk}}
}

// wantCode checks that err is the client's ErrRpcStatus with code and a message containing msg.
func wantCode(t *testing.T, err error, code v2.Code, msg string) {
	t.Helper()
	st, ok := rmq.AsErrRpcStatus(err)
	if !ok || st.GetCode() != int32(code) || !strings.Contains(st.GetMessage(), msg) {
		t.Fatalf("err = %v, want %v with %q", err, code, msg)
	}
}

func sendOne(p rmq.Producer, topic string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := p.Send(ctx, &rmq.Message{Topic: topic, Body: []byte("hello")})
	return err
}

// The unmodified v5 Go client signs with MQv2-HMAC-SHA1: a signed account's allowed calls are
// served, a topic it may not publish to is FORBIDDEN, and the client keeps working after it;
// a wrong secret and an unknown key are UNAUTHORIZED. Each denial is counted as remoting's are.
func TestACLSignedClient(t *testing.T) {
	e := startACL(t)
	needClient(t)

	p, err := rmq.NewProducer(signedConfig(e, "", "rmq5user", "rmq5secret"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.GracefulStop() })
	if err := sendOne(p, "aclOK"); err != nil {
		t.Fatalf("signed send: %v", err)
	}
	before := e.Broker.ACL().Denials(acl.ReasonNoPermission)
	wantCode(t, sendOne(p, "aclDenied"), v2.Code_FORBIDDEN, "topic:aclDenied")
	if got := e.Broker.ACL().Denials(acl.ReasonNoPermission); got <= before {
		t.Fatalf("no_permission denials %d, want > %d", got, before)
	}
	if err := sendOne(p, "aclOK"); err != nil {
		t.Fatalf("send after a denial: %v", err)
	}

	// Receive and ack with the allowed group.
	c, err := rmq.NewSimpleConsumer(signedConfig(e, "aclGroup", "rmq5user", "rmq5secret"), rmq.WithAwaitDuration(time.Second),
		rmq.WithSubscriptionExpressions(map[string]*rmq.FilterExpression{"aclOK": rmq.SUB_ALL}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.GracefulStop() })
	mvs := receiveN(t, c, 2, 30*time.Second, 15*time.Second)
	for _, mv := range mvs {
		if err := c.Ack(context.Background(), mv); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}

	for _, tc := range []struct {
		name, ak, sk string
		reason       acl.Reason
		msg          string
	}{
		{"wrong secret", "rmq5user", "not-the-secret", acl.ReasonBadSignature, "Check signature failed for accessKey=rmq5user"},
		{"unknown key", "nobody12345", "rmq5secret", acl.ReasonUnknownAccessKey, "No acl config for nobody12345"},
		{"no credentials", "", "", acl.ReasonNoAccessKey, "No accessKey is configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.Broker.ACL().Denials(tc.reason)
			bad, err := rmq.NewProducer(signedConfig(e, "", tc.ak, tc.sk))
			if err != nil {
				t.Fatal(err)
			}
			if err := bad.Start(); err != nil {
				t.Fatal(err)
			}
			defer bad.GracefulStop()
			wantCode(t, sendOne(bad, "aclOK"), v2.Code_UNAUTHORIZED, tc.msg)
			if got := e.Broker.ACL().Denials(tc.reason); got <= before {
				t.Fatalf("%v denials %d, want > %d", tc.reason, got, before)
			}
		})
	}
}

// The raw protocol: a call without the authorization metadata, or with a malformed one, is
// UNAUTHORIZED; a receive on a topic the account may only publish to is FORBIDDEN; the same
// connection then serves an allowed call.
func TestACLRaw(t *testing.T) {
	e := startACL(t)
	c := rawClient(t, e)
	ctx, cancel := context.WithTimeout(withClientID(context.Background()), 10*time.Second)
	defer cancel()
	route := &v2.QueryRouteRequest{Topic: &v2.Resource{Name: "aclOK"}}

	resp, err := c.QueryRoute(ctx, route)
	if err != nil || resp.GetStatus().GetCode() != v2.Code_UNAUTHORIZED || !strings.Contains(resp.GetStatus().GetMessage(), "No accessKey") {
		t.Fatalf("unsigned: %v %v", resp.GetStatus(), err)
	}
	bad := metadata.AppendToOutgoingContext(ctx, "authorization", "Basic abc", "x-mq-date-time", "20240101T000000Z")
	resp, err = c.QueryRoute(bad, route)
	if err != nil || resp.GetStatus().GetCode() != v2.Code_UNAUTHORIZED {
		t.Fatalf("malformed: %v %v", resp.GetStatus(), err)
	}

	signed := sign(ctx, "rmq5user", "rmq5secret")
	st, err := c.ReceiveMessage(signed, &v2.ReceiveMessageRequest{Group: &v2.Resource{Name: "aclGroup"},
		MessageQueue: &v2.MessageQueue{Topic: &v2.Resource{Name: "aclPubOnly"}}, BatchSize: 1,
		InvisibleDuration: durationpb.New(10 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if _, status := receiveAll(t, st); status.GetCode() != v2.Code_FORBIDDEN || !strings.Contains(status.GetMessage(), "topic:aclPubOnly") {
		t.Fatalf("receive of a PUB-only topic: %v", status)
	}
	resp, err = c.QueryRoute(signed, route)
	if err != nil || resp.GetStatus().GetCode() != v2.Code_OK {
		t.Fatalf("signed route: %v %v", resp.GetStatus(), err)
	}
}

// sign adds the metadata the v5 clients sign calls with (rocketmq-clients' Sign).
func sign(ctx context.Context, ak, sk string) context.Context {
	now := time.Now().UTC().Format("20060102T150405Z")
	mac := hmac.New(sha1.New, []byte(sk))
	mac.Write([]byte(now))
	return metadata.AppendToOutgoingContext(ctx, "x-mq-date-time", now, "authorization",
		"MQv2-HMAC-SHA1 Credential="+ak+"//Rocketmq, SignedHeaders=x-mq-date-time, Signature="+hex.EncodeToString(mac.Sum(nil)))
}
