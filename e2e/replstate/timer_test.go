package replstate

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/mqstore/mqstore/namesrv"
)

// TestDelayedAcrossLeaderKill: the unmodified producer sends messages with delay level 1 (1 s)
// and level 3 (10 s) to the leader, which is SIGKILLed once the 1 s ones are delivered. The new
// leader delivers the 10 s ones; every delayed message is stored in its topic exactly once.
func TestDelayedAcrossLeaderKill(t *testing.T) {
	const topic, n = "RSDelay", 5
	g := startGroup(t, "rs-d", 27)
	leader := g.waitMaster("")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := g.admin.CreateTopic(ctx, leader, namesrv.TopicConfig{TopicName: topic, ReadQueueNums: 2, WriteQueueNums: 2, Perm: namesrv.PermRW, TopicFilterType: "SINGLE_TAG"}); err != nil {
		t.Fatal(err)
	}
	p := g.producer(t, "rs-dp", "dp")
	for _, level := range []int{1, 3} {
		for i := range n {
			m := primitive.NewMessage(topic, []byte("level"+strconv.Itoa(level)+"-"+strconv.Itoa(i)))
			m.WithDelayTimeLevel(level)
			if res, err := p.SendSync(ctx, m); err != nil || res.Status != primitive.SendOK {
				t.Fatalf("send: %v %v", res, err)
			}
		}
	}
	sent := time.Now()
	waitFor(t, 10*time.Second, "the 1 s messages delivered", func() bool { return len(g.readTopic(topic, 2)) == n })
	killed := time.Now()
	g.kill(leader)
	next := g.waitMaster(leader)
	t.Logf("SIGKILL of leader %s to new leader %s registered: %v", leader, next, time.Since(killed).Round(time.Millisecond))
	waitFor(t, 30*time.Second, "the 10 s messages delivered by the new leader", func() bool { return len(g.readTopic(topic, 2)) == 2*n })
	t.Logf("the 10 s messages delivered %v after they were sent", time.Since(sent).Round(time.Millisecond))
	time.Sleep(time.Second) // a second copy of either would be in by now
	for body, k := range g.readTopic(topic, 2) {
		if k != 1 {
			t.Errorf("%s stored %d times, want once", body, k)
		}
	}
}
