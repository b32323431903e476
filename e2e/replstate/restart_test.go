package replstate

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/mqstore/mqstore/internal/proctest"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/namesrv"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// pullFrom reads every message of one queue from the replica at addr itself (followers serve
// pulls of committed data) and returns their bodies.
func (g *group) pullFrom(addr, topic string, queueID int) []string {
	g.t.Helper()
	var out []string
	for offset := int64(0); ; {
		req := remoting.NewRequest(remoting.RequestPullMessage)
		req.SetExt(protocol.FieldConsumerGroup, "rs-k-check")
		req.SetExt(protocol.FieldTopic, topic)
		req.SetExt(protocol.FieldQueueID, strconv.Itoa(queueID))
		req.SetExtInt64(protocol.FieldQueueOffset, offset)
		req.SetExt(protocol.FieldMaxMsgNums, "64")
		req.SetExt(protocol.FieldSysFlag, "0")
		req.SetExt(protocol.FieldCommitOffset, "0")
		req.SetExt(protocol.FieldSuspendTimeoutMillis, "0")
		req.SetExt(protocol.FieldSubscription, "*")
		req.SetExt(protocol.FieldSubVersion, "0")
		resp, err := g.call(addr, req)
		if err != nil {
			g.t.Fatalf("pull %s/%d at %d from %s: %v", topic, queueID, offset, addr, err)
		}
		code := resp.ResponseCode()
		if code != remoting.ResponseSuccess {
			resp.Release()
			if code == remoting.ResponsePullNotFound || code == remoting.ResponsePullOffsetMoved {
				return out
			}
			g.t.Fatalf("pull %s/%d at %d from %s: code %d %s", topic, queueID, offset, addr, code, resp.Remark)
		}
		for body := resp.Body; len(body) > 0; {
			var rec message.Record
			n, err := message.DecodeRecord(body, &rec, true)
			if err != nil {
				g.t.Fatalf("pull from %s: %v", addr, err)
			}
			out = append(out, string(rec.Body))
			body = body[n:]
		}
		next, err := resp.GetInt64(protocol.FieldNextBeginOffset)
		resp.Release()
		if err != nil || next <= offset {
			return out
		}
		offset = next
	}
}

var resumeAfter = regexp.MustCompile(`broker: replica started.* resumeAfter=(\d+)`)

// TestReplicaRestartAfterKill: under load from the unmodified producer, a follower is SIGKILLed
// and restarted. Its store is the Raft log's own commitlog and persists: it resumes applying
// after its store's checkpoint (not from entry 1), and it then serves, from its own store,
// every message the group acknowledged, before and after the kill.
func TestReplicaRestartAfterKill(t *testing.T) {
	const topic, queues = "RSKill", 4
	g := startGroup(t, "rs-k", 71)
	leader := g.waitMaster("")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := g.admin.CreateTopic(ctx, leader, namesrv.TopicConfig{TopicName: topic, ReadQueueNums: queues, WriteQueueNums: queues, Perm: namesrv.PermRW, TopicFilterType: "SINGLE_TAG"}); err != nil {
		t.Fatal(err)
	}
	p := g.producer(t, "rs-kp", "kp", producer.WithRetry(2))
	var (
		mu    sync.Mutex
		acked []string
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				body := fmt.Sprintf("w%d-%06d", w, i)
				res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(body)))
				if err == nil && res.Status == primitive.SendOK {
					mu.Lock()
					acked = append(acked, body)
					mu.Unlock()
				}
			}
		}()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	waitFor(t, 30*time.Second, "acknowledged sends before the kill", func() bool { return count() >= 400 })
	time.Sleep(1500 * time.Millisecond) // the follower's store checkpoints (every second)
	var victim *replica
	for _, r := range g.replicas {
		if r.addr != leader {
			victim = r
		}
	}
	before := count()
	victim.Kill()
	t.Logf("SIGKILLed follower %s after %d acknowledged sends", victim.addr, before)
	waitFor(t, 30*time.Second, "acknowledged sends while the follower is down", func() bool { return count() >= before+200 })
	victim.Start()
	victim.BrokerStarted()
	var resumed int
	waitFor(t, 10*time.Second, "the restarted replica's start line", func() bool {
		m := resumeAfter.FindStringSubmatch(victim.Stderr())
		if m != nil {
			resumed, _ = strconv.Atoi(m[1])
		}
		return m != nil
	})
	if resumed == 0 {
		t.Fatalf("the restarted replica re-applies its log from entry 1 (resumeAfter=0); stderr: %s", proctest.Tail(victim.Stderr(), 3000))
	}
	t.Logf("the restarted replica resumed applying after entry %d", resumed)
	after := count()
	waitFor(t, 30*time.Second, "acknowledged sends after the restart", func() bool { return count() >= after+200 })
	stop.Store(true)
	wg.Wait()
	mu.Lock()
	want := append([]string(nil), acked...)
	mu.Unlock()
	missing := func() []string {
		have := map[string]bool{}
		for q := range queues {
			for _, b := range g.pullFrom(victim.addr, topic, q) {
				have[b] = true
			}
		}
		var out []string
		for _, b := range want {
			if !have[b] {
				out = append(out, b)
			}
		}
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	for lost := missing(); len(lost) > 0; lost = missing() {
		if time.Now().After(deadline) {
			t.Fatalf("the restarted replica lacks %d of %d acknowledged messages, e.g. %v", len(lost), len(want), lost[:min(len(lost), 5)])
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("the restarted replica serves all %d acknowledged messages", len(want))
}
