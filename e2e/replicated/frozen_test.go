package replicated

import (
	"syscall"
	"testing"
	"time"

	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/proctest"
	"github.com/mqstore/mqstore/remoting"
)

// TestStableLeaderAddrFrozenLeader: a leader frozen by SIGSTOP keeps the stable leader address
// bound, so the new leader cannot take it. After its grace the new leader registers its own
// address as brokerId 0, and a follower forwards writes there; once the old leader runs again it
// steps down and releases the address, and the new leader binds it and registers it as brokerId 0
// again, where a send succeeds.
func TestStableLeaderAddrFrozenLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const brokerName, topic = "broker-z", "Frozen"
	ns := startNamesrv(t)
	stable := proctest.FreeAddr(t, "127.0.0.10")
	replicas := startGroup(t, group{brokerName: brokerName, namesrvs: []string{ns}, leaderAddr: stable, topics: []string{topic}})
	admin, err := client.NewAdmin(client.WithNameServer(ns), client.WithInstanceName(proctest.Instance("admin")), client.WithCallTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	frozen := waitLeader(t, admin, brokerName, stable, replicas)
	rc, err := remoting.NewClient(remoting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()

	stopped := time.Now()
	frozen.Signal(syscall.SIGSTOP)
	var leader *replica
	waitFor(t, 20*time.Second, "the new leader to register its own address as brokerId 0", func() bool {
		zero := groupAddrs(admin, brokerName)[0]
		for _, r := range replicas {
			if r != frozen && r.addr == zero {
				leader = r
				return true
			}
		}
		return false
	})
	t.Logf("SIGSTOP of leader %s to the new leader %s registered under its own address as brokerId 0: %v", frozen.addr, leader.addr, time.Since(stopped).Round(time.Millisecond))
	var follower *replica
	for _, r := range replicas {
		if r != frozen && r != leader {
			follower = r
		}
	}
	took := waitFor(t, 20*time.Second, "a SEND through the follower acknowledged by the new leader", func() bool {
		resp, err := rawSend(t, rc, follower.addr, topic, "while-frozen", "")
		if err != nil {
			t.Fatalf("SEND to follower %s: %v", follower.addr, err)
		}
		defer resp.Release()
		return resp.ResponseCode() == remoting.ResponseSuccess
	})
	t.Logf("a SEND through follower %s acknowledged %v later (its first forward may wait out the frozen address)", follower.addr, took.Round(time.Millisecond))

	resumed := time.Now()
	frozen.Signal(syscall.SIGCONT)
	waitFor(t, 20*time.Second, "the old leader to step down and the new one to take the stable address", func() bool {
		addrs := groupAddrs(admin, brokerName)
		if addrs[0] != stable {
			return false
		}
		stepped := false
		for id, a := range addrs {
			if id > 0 && a == leader.addr {
				return false // the new leader withdraws its follower entry once it holds the address
			}
			stepped = stepped || id > 0 && a == frozen.addr
		}
		return stepped // the old leader registers under its own id after it released the address
	})
	waitFor(t, 10*time.Second, "a SEND to the stable address acknowledged", func() bool {
		resp, err := rawSend(t, rc, stable, topic, "after-resume", "")
		if err != nil {
			return false // the old leader closed the connection when it released the address
		}
		defer resp.Release()
		return resp.ResponseCode() == remoting.ResponseSuccess
	})
	t.Logf("SIGCONT of the old leader to a SEND acknowledged at the stable address: %v", time.Since(resumed).Round(time.Millisecond))
}
