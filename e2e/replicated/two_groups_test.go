package replicated

import (
	"syscall"
	"testing"
	"time"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/proctest"
)

// TestTwoGroupsLeaderKilled: two broker groups of three replicas each register with two name
// servers, and one topic has 4 queues on each group. The unmodified producer sends through both
// name servers; group A's leader is SIGKILLed. A send that meets the dead leader is retried by
// the client on a queue of group B (its retry budget), so sends keep being acknowledged while A
// elects; A's new leader registers with both name servers; no acknowledged send is lost on
// either group.
func TestTwoGroupsLeaderKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const topic = "Spread"
	namesrvs := []string{startNamesrv(t), startNamesrv(t)}
	groupA := startGroup(t, group{brokerName: "broker-a", namesrvs: namesrvs, topics: []string{topic}})
	groupB := startGroup(t, group{brokerName: "broker-b", namesrvs: namesrvs, topics: []string{topic}})
	admins := make([]*client.Admin, len(namesrvs))
	for i, ns := range namesrvs {
		a, err := client.NewAdmin(client.WithNameServer(ns), client.WithInstanceName(proctest.Instance("admin")), client.WithCallTimeout(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		admins[i] = a
	}
	leaderA := waitLeader(t, admins[0], "broker-a", "", groupA)
	waitLeader(t, admins[1], "broker-a", "", groupA)
	waitLeader(t, admins[0], "broker-b", "", groupB)
	waitLeader(t, admins[1], "broker-b", "", groupB)

	pr := produce(t, namesrvs, topic, "s")
	perGroup := func(after time.Time) map[string]int {
		pr.mu.Lock()
		defer pr.mu.Unlock()
		n := map[string]int{}
		for _, a := range pr.acks {
			if a.sent.After(after) {
				n[a.brokerName]++
			}
		}
		return n
	}
	waitFor(t, 30*time.Second, "100 acknowledged sends on each group before the kill", func() bool {
		n := perGroup(time.Time{})
		return n["broker-a"] >= 100 && n["broker-b"] >= 100
	})

	pr.mu.Lock()
	failsBefore := pr.fails
	pr.mu.Unlock()
	killed := time.Now()
	leaderA.Signal(syscall.SIGKILL)
	leaderA.Wait()
	// The client goes on sending: to group B, within its retries, while A has no leader.
	waitFor(t, 15*time.Second, "200 sends begun after the kill acknowledged", func() bool {
		n := perGroup(killed)
		return n["broker-a"]+n["broker-b"] >= 200
	})
	n := perGroup(killed)
	pr.mu.Lock()
	failed := pr.fails - failsBefore
	pr.mu.Unlock()
	t.Logf("after the SIGKILL of broker-a's leader: %v later, %d sends acknowledged by broker-b, %d by broker-a, %d failed after the client's retries",
		time.Since(killed).Round(time.Millisecond), n["broker-b"], n["broker-a"], failed)
	if failed > 0 {
		pr.mu.Lock()
		t.Errorf("%d sends failed after the client's retries while broker-b was up (last error: %v)", failed, pr.lastErr)
		pr.mu.Unlock()
	}
	newA := waitLeader(t, admins[0], "broker-a", "", groupA, leaderA)
	waitLeader(t, admins[1], "broker-a", "", groupA, leaderA)
	t.Logf("SIGKILL of broker-a's leader %s to the new leader %s registered with both name servers: %v", leaderA.addr, newA.addr, time.Since(killed).Round(time.Millisecond))

	acks := pr.halt()
	checkStored(t, namesrvs, topic, []string{"broker-a", "broker-b"}, acks)
}
