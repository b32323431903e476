package crash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/mqstore/mqstore/internal/proctest"
)

// TestKillAfterFreshTopics is the loop of issue 12: under SYNC_FLUSH, producers of the
// unmodified client send to topics that do not exist yet (auto-created by their first message);
// the broker is killed with SIGKILL 50–500 ms after the first send and restarted. Every
// acknowledged message of every cycle must be read back at its acknowledged queue offset.
func TestKillAfterFreshTopics(t *testing.T) {
	t.Parallel() // overlaps the gRPC check-back test, which mostly waits on client timers
	n := newNode(t, "-flushDiskType", "SYNC_FLUSH")
	total, cyclesRun := 0, cycles(20, 200)
	for cycle := range cyclesRun {
		n.start()
		acks := sendUntilKilled(t, n, cycle)
		total += len(acks)
		n.start()
		if lost, err := verify(t, n.namesrvAddr(), acks); err != nil {
			t.Fatalf("cycle %d: %d of %d acknowledged messages lost (first: %v)\nbroker log:\n%s",
				cycle, lost, len(acks), err, proctest.Tail(n.Stderr(), 3000))
		}
		n.kill()
	}
	t.Logf("%d cycles, %d acknowledged messages, 0 lost", cyclesRun, total)
}

// sendUntilKilled starts producers on fresh topics, kills the node 50–500 ms after the first
// send and returns what was acknowledged.
func sendUntilKilled(t *testing.T, n *node, cycle int) []ack {
	t.Helper()
	p, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{n.namesrvAddr()})),
		producer.WithGroupName("crash-producer"),
		producer.WithInstanceName(fmt.Sprintf("crash-%d-%d", cycle, rand.Int64())),
		producer.WithRetry(0),
		// The client does not fail calls in flight when the connection drops; they wait for
		// this timeout. A send that times out is simply not counted as acknowledged.
		producer.WithSendMsgTimeout(time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()

	var mu sync.Mutex
	var acks []ack
	started := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	const topicsPerCycle, sendersPerTopic = 4, 2
	for tp := range topicsPerCycle {
		topic := fmt.Sprintf("crash-%d-%d-%d", cycle, tp, rand.IntN(1e6))
		for s := range sendersPerTopic {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					body := fmt.Sprintf("%s/%d/%d", topic, s, i)
					once.Do(func() { close(started) })
					res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(body)))
					if err != nil || res.Status != primitive.SendOK {
						return // the broker is gone
					}
					mu.Lock()
					acks = append(acks, ack{topic: topic, queueID: res.MessageQueue.QueueId, offset: res.QueueOffset, body: body})
					mu.Unlock()
				}
			}()
		}
	}
	<-started
	time.Sleep(time.Duration(50+rand.IntN(451)) * time.Millisecond)
	n.kill()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return acks
}
