package replstate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/proctest"
	"github.com/mqstore/mqstore/namesrv"
)

// relayACL is the ACL file of TestCheckBackThroughFollowerACL: an account for the clients and
// one the replicas sign their own requests with (innerClientAuthenticationCredentials).
const relayACL = `
globalWhiteRemoteAddresses:
accounts:
  - accessKey: rsproducer
    secretKey: producer-secret
    defaultTopicPerm: PUB|SUB
    defaultGroupPerm: PUB|SUB
  - accessKey: rsbroker
    secretKey: broker-secret
    admin: true
`

// TestCheckBackThroughFollowerACL: with aclEnable on every replica and no white list, an
// unmodified TransactionProducer with credentials talks to one follower only; the follower
// forwards its halves and ends to the leader (the leader checks the client's own signature)
// and declares the producer's group to the leader with a heartbeat signed with its
// innerClientAuthenticationCredentials, so the leader checks the transactions left UNKNOW
// back through the follower: every one resolved, none refused.
func TestCheckBackThroughFollowerACL(t *testing.T) {
	const topic, n = "RSRelayACL", 3
	aclPath := filepath.Join(t.TempDir(), "plain_acl.yml")
	if err := os.WriteFile(aclPath, []byte(relayACL), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGroup(t, "rs-acl", 161, "-aclEnable=true", "-rocketmq.acl.plain.file", aclPath,
		"-innerClientAuthenticationCredentials", `{"accessKey":"rsbroker","secretKey":"broker-secret"}`,
		"-transactionTimeOut", "1000", "-transactionCheckInterval", "300")
	leader := g.waitMaster("")
	admin, err := client.NewAdmin(client.WithNameServer(g.ns), client.WithInstanceName(proctest.Instance("acladmin")),
		client.WithCallTimeout(3*time.Second), client.WithCredentials("rsbroker", "broker-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := admin.CreateTopic(ctx, leader, namesrv.TopicConfig{TopicName: topic, ReadQueueNums: 2, WriteQueueNums: 2, Perm: namesrv.PermRW, TopicFilterType: "SINGLE_TAG"}); err != nil {
		t.Fatal(err)
	}
	var follower string
	for _, r := range g.replicas {
		if r.addr != leader {
			follower = r.addr
		}
	}
	listener := &relayListener{checks: map[string]int{}}
	p, err := rocketmq.NewTransactionProducer(listener, producer.WithNameServer([]string{followerRoute(t, g, follower, topic)}),
		producer.WithGroupName("rs-relay-acl"), producer.WithInstanceName(proctest.Instance("relayacl")), producer.WithRetry(2),
		producer.WithCredentials(primitive.Credentials{AccessKey: "rsproducer", SecretKey: "producer-secret"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	for j := range n {
		body := fmt.Sprintf("check-commit-%d", j)
		// A follower answers 14 until it has learned the leader's address; the client retries.
		for try := 0; ; try++ {
			res, err := p.SendMessageInTransaction(ctx, primitive.NewMessage(topic, []byte(body)))
			if err == nil && res.Status == primitive.SendOK {
				break
			}
			if try == 20 {
				t.Fatalf("%s through follower %s: %v %v; its log:\n%s", body, follower, res, err, g.stderr(follower))
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	start := time.Now()
	var open int
	_, ok := waitUntil(20*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, total, err := admin.OpenTransactions(ctx, leader, 0)
		open = total
		return err == nil && total == 0 && listener.checked("check-") >= n
	})
	if !ok {
		t.Fatalf("after %v: %d transactions open at the leader, %d of %d checked back through follower %s; follower's log:\n%s\nleader's log:\n%s",
			time.Since(start).Round(time.Millisecond), open, listener.checked("check-"), n, follower, g.stderr(follower), g.stderr(leader))
	}
	t.Logf("every transaction checked back through follower %s %v after the last send", follower, time.Since(start).Round(time.Millisecond))
	if log := g.stderr(follower); strings.Contains(log, "the leader refused this follower's producer groups") {
		t.Errorf("the leader refused the follower's signed heartbeat:\n%s", log)
	}
}
