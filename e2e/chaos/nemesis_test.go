package chaos

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mqstore/mqstore/internal/faultproxy"
	"github.com/mqstore/mqstore/internal/proctest"
)

// electionTimeout is the replicas' election timeout at most (10 ticks of 100 ms, randomized up
// to twice that); a pause must outlast it so the others elect a new leader.
const electionTimeout = 2 * time.Second

// nemesis injects faults into a cluster, one at a time: inject, hold, heal, then wait for a
// published leader before the next.
type nemesis struct {
	c    *cluster
	fw   *firewall // nil: no partitions (fwNote says why)
	rng  *rand.Rand
	hold time.Duration // how long a fault lasts

	fwNote      string
	injected    map[string]int // fault name → times injected
	leaderKills []leaderKill   // when a published leader was SIGKILLed
	events      []string       // what happened, in order (for the report)
	damaged     damageReport
}

// damageReport counts what the replicas did with a damaged log at restart.
type damageReport struct {
	repaired int // started: the damage was past the commit index, truncated and re-replicated
	refused  int // refused at start (committed entries damaged) and re-seeded from a healthy replica
}

// fault is one kind of fault; inject returns a description, or "" when it does not apply now.
type fault struct {
	name   string
	inject func(n *nemesis) (string, error)
}

var faults = []fault{
	{"kill-leader", func(n *nemesis) (string, error) { return n.kill(n.leader()) }},
	{"kill-follower", func(n *nemesis) (string, error) { return n.kill(n.follower()) }},
	{"kill-leader-and-follower", func(n *nemesis) (string, error) { return n.kill(n.leader(), n.follower()) }},
	{"pause-leader", func(n *nemesis) (string, error) { return n.pause(n.leader()) }},
	{"pause-follower", func(n *nemesis) (string, error) { return n.pause(n.follower()) }},
	{"partition-minority-leader", func(n *nemesis) (string, error) { return n.partition(n.leader(), true, true) }},
	{"drop-leader-outbound", func(n *nemesis) (string, error) { return n.partition(n.leader(), true, false) }},
	{"drop-leader-inbound", func(n *nemesis) (string, error) { return n.partition(n.leader(), false, true) }},
	{"partition-follower", func(n *nemesis) (string, error) { return n.partition(n.follower(), true, true) }},
	{"proxy-delay", func(n *nemesis) (string, error) {
		return n.proxies("latency 20-120 ms on every replication link", func(int, int) faultproxy.Faults {
			return faultproxy.Faults{Latency: 20 * time.Millisecond, Jitter: 100 * time.Millisecond}
		})
	}},
	{"proxy-cut-leader", func(n *nemesis) (string, error) {
		l := n.leader()
		return n.proxies(fmt.Sprintf("links of leader %s cut with probability 0.3 per chunk", n.c.nodes[l].name), func(from, to int) faultproxy.Faults {
			if from == l || to == l {
				return faultproxy.Faults{CutRate: 0.3}
			}
			return faultproxy.Faults{}
		})
	}},
	{"proxy-blackhole-follower", func(n *nemesis) (string, error) {
		f := n.follower()
		return n.proxies(fmt.Sprintf("links into follower %s blackholed", n.c.nodes[f].name), func(_, to int) faultproxy.Faults {
			return faultproxy.Faults{Blackhole: to == f}
		})
	}},
	{"truncate-follower-log", func(n *nemesis) (string, error) { return n.corrupt(n.follower(), "truncate") }},
	{"bitflip-follower-log", func(n *nemesis) (string, error) { return n.corrupt(n.follower(), "bitflip") }},
	{"truncate-follower-raftidx", func(n *nemesis) (string, error) { return n.corrupt(n.follower(), "raftidx") }},
}

var partitionFaults = []string{"partition-minority-leader", "drop-leader-outbound", "drop-leader-inbound", "partition-follower"}

// leader is the published leader, or any replica up when none is published.
func (n *nemesis) leader() int {
	if l := n.c.leader(); l >= 0 {
		return l
	}
	return n.rng.IntN(replicas)
}

// follower is a random replica other than the published leader.
func (n *nemesis) follower() int {
	l := n.c.leader()
	for {
		if f := n.rng.IntN(replicas); f != l {
			return f
		}
	}
}

func (n *nemesis) names(idx ...int) string {
	var s []string
	for _, i := range idx {
		s = append(s, n.c.nodes[i].name)
	}
	return strings.Join(s, "+")
}

// leaderKill is a SIGKILL of the published leader: alone, or with a follower (no quorum until
// they return).
type leaderKill struct {
	at    time.Time
	alone bool
}

func (n *nemesis) kill(idx ...int) (string, error) {
	idx = slices.Compact(slices.Sorted(slices.Values(idx)))
	if slices.Contains(idx, n.c.leader()) {
		n.leaderKills = append(n.leaderKills, leaderKill{at: time.Now(), alone: len(idx) == 1})
	}
	for _, i := range idx {
		if err := n.c.kill(i); err != nil {
			return "", err
		}
	}
	time.Sleep(n.hold)
	// Replicas that must be re-seeded from the leader start last, once there can be one.
	slices.SortStableFunc(idx, func(a, b int) int { return cmpBool(n.c.nodes[a].needsReseed, n.c.nodes[b].needsReseed) })
	for _, i := range idx {
		if err := n.restart(i); err != nil {
			return "", fmt.Errorf("after kill: %w", err)
		}
	}
	return "kill -9 " + n.names(idx...), nil
}

func (n *nemesis) pause(i int) (string, error) {
	if err := n.c.pause(i); err != nil {
		return "", err
	}
	time.Sleep(max(n.hold, electionTimeout+time.Second))
	if err := n.c.resume(i); err != nil {
		return "", err
	}
	return "SIGSTOP " + n.names(i) + " past the election timeout, SIGCONT", nil
}

// partition drops i's replication traffic to (out) and from (in) the other replicas.
func (n *nemesis) partition(i int, out, in bool) (string, error) {
	if n.fw == nil {
		return "", nil
	}
	me := n.c.nodes[i].ip
	for j, o := range n.c.nodes {
		if j == i {
			continue
		}
		if out {
			if err := n.fw.drop(me, o.ip); err != nil {
				return "", err
			}
		}
		if in {
			if err := n.fw.drop(o.ip, me); err != nil {
				return "", err
			}
		}
	}
	time.Sleep(max(n.hold, electionTimeout+time.Second))
	rules := n.fw.rules()
	if err := n.fw.heal(); err != nil {
		return "", err
	}
	what := map[[2]bool]string{{true, true}: "isolated", {true, false}: "outbound dropped", {false, true}: "inbound dropped"}[[2]bool{out, in}]
	return fmt.Sprintf("nft: %s %s (%d rules)", n.names(i), what, strings.Count(rules, " drop")), nil
}

func (n *nemesis) proxies(what string, set func(from, to int) faultproxy.Faults) (string, error) {
	for from := range replicas {
		for to := range replicas {
			if p := n.c.proxies[from][to]; p != nil {
				p.Set(set(from, to))
			}
		}
	}
	time.Sleep(max(n.hold, electionTimeout))
	n.healProxies()
	return "proxy: " + what, nil
}

func (n *nemesis) healProxies() {
	for from := range replicas {
		for to := range replicas {
			if p := n.c.proxies[from][to]; p != nil {
				p.Set(faultproxy.Faults{})
			}
		}
	}
}

// corrupt kills replica i, damages the tail of its Raft log and restarts it. A replica that
// refuses its log (committed entries damaged) is re-seeded as its error says: the commitlog,
// raftidx and raftmeta of the leader (paused while they are copied), its own hardstate.
func (n *nemesis) corrupt(i int, how string) (string, error) {
	if err := n.c.kill(i); err != nil {
		return "", err
	}
	raft := filepath.Join(n.c.nodes[i].dir, "raft")
	var what string
	var err error
	switch how {
	case "raftidx":
		what, err = damageTail(filepath.Join(raft, "raftidx"), n.rng, false, 32*3)
	case "bitflip":
		what, err = damageTail(filepath.Join(raft, "commitlog"), n.rng, true, 4096)
	default:
		what, err = damageTail(filepath.Join(raft, "commitlog"), n.rng, false, 4096)
	}
	if err != nil {
		return "", err
	}
	ok, why := n.c.tryStart(i)
	if ok {
		n.damaged.repaired++
		return fmt.Sprintf("%s: %s; restarted", n.names(i), what), nil
	}
	if strings.Contains(why, knownDamagePanic) {
		n.c.nodes[i].needsReseed = true
		n.c.damageCrashes = append(n.c.damageCrashes, fmt.Sprintf("%s %s (at start after damage: %s; raftidx rows up to %d before this start)",
			time.Now().UTC().Format("15:04:05.000"), n.names(i), panicLine(why), n.c.nodes[i].rowsBeforeStart))
		if err := n.restart(i); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s: %s; started, then died of the log its recovery had cut short; re-seeded from the leader", n.names(i), what), nil
	}
	if !strings.Contains(why, "committed entries damaged") {
		return "", fmt.Errorf("%s did not restart after %s: %s", n.names(i), what, proctest.Tail(why, 2000))
	}
	n.damaged.refused++
	// The source must hold every entry the damaged replica knew committed: the leader does (a
	// follower may still be catching up, maybe from its own re-seed).
	if err := n.reseedFromLeader(i); err != nil {
		return "", err
	}
	if ok, why := n.c.tryStart(i); !ok {
		return "", fmt.Errorf("%s did not start after re-seeding from the leader: %s", n.names(i), proctest.Tail(why, 2000))
	}
	return fmt.Sprintf("%s: %s; refused at start (committed entries damaged), re-seeded from the leader", n.names(i), what), nil
}

// damageTail damages the last written bytes of the newest file in dir (files are preallocated,
// so the written end is the last non-zero byte): it zeroes up to span bytes before it
// (truncation), or flips one bit among them.
func damageTail(dir string, rng *rand.Rand, flip bool, span int) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var newest string
	for _, e := range entries {
		if !e.IsDir() && e.Name() > newest {
			newest = e.Name()
		}
	}
	if newest == "" {
		return "", fmt.Errorf("no file in %s", dir)
	}
	path := filepath.Join(dir, newest)
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	end := len(b)
	for end > 0 && b[end-1] == 0 {
		end--
	}
	if end == 0 {
		return "nothing written yet in " + path, nil
	}
	n := 1 + rng.IntN(min(span, end))
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	rel := filepath.Join(filepath.Base(filepath.Dir(dir)), filepath.Base(dir), newest)
	if flip {
		at := end - n
		bit := byte(1) << rng.IntN(8)
		if _, err := f.WriteAt([]byte{b[at] ^ bit}, int64(at)); err != nil {
			return "", err
		}
		return fmt.Sprintf("bit flipped at byte %d of %s (written end %d)", at, rel, end), nil
	}
	if _, err := f.WriteAt(make([]byte, n), int64(end-n)); err != nil {
		return "", err
	}
	return fmt.Sprintf("last %d written bytes of %s zeroed (written end %d)", n, rel, end), nil
}

// reseed replaces dst's commitlog, raftidx and raftmeta with copies of src's, keeping dst's
// hardstate (its term and vote).
func reseed(dst, src string) error {
	for _, name := range []string{"commitlog", "raftidx", "raftmeta"} {
		if err := os.RemoveAll(filepath.Join(dst, name)); err != nil {
			return err
		}
		if err := os.CopyFS(filepath.Join(dst, name), os.DirFS(filepath.Join(src, name))); err != nil {
			// raftmeta is a file, not a directory.
			b, rerr := os.ReadFile(filepath.Join(src, name))
			if rerr != nil {
				return fmt.Errorf("copy %s: %w", name, err)
			}
			if werr := os.WriteFile(filepath.Join(dst, name), b, 0o644); werr != nil {
				return werr
			}
		}
	}
	return nil
}

// restart starts replica i again, re-seeding it from the leader first when it died of a log
// its recovery had cut short (knownDamagePanic).
func (n *nemesis) restart(i int) error {
	for attempt := 0; ; attempt++ {
		if n.c.nodes[i].needsReseed {
			if err := n.reseedFromLeader(i); err != nil {
				return err
			}
			n.c.nodes[i].needsReseed = false
			n.events = append(n.events, fmt.Sprintf("    %s died of a log its recovery had cut short (%q); re-seeded from the leader", n.names(i), knownDamagePanic))
		}
		ok, why := n.c.tryStart(i)
		if ok {
			return nil
		}
		if attempt == 0 && strings.Contains(why, knownDamagePanic) {
			n.c.nodes[i].needsReseed = true
			n.c.damageCrashes = append(n.c.damageCrashes, fmt.Sprintf("%s %s (at start: %s; raftidx rows up to %d before this start)",
				time.Now().UTC().Format("15:04:05.000"), n.names(i), panicLine(why), n.c.nodes[i].rowsBeforeStart))
			continue
		}
		return fmt.Errorf("restart %s: %s", n.names(i), proctest.Tail(why, 2000))
	}
}

// reseedFromLeader copies the leader's log into stopped replica i (see corrupt).
func (n *nemesis) reseedFromLeader(i int) error {
	src := n.c.waitLeader(30 * time.Second)
	if src < 0 || src == i {
		return fmt.Errorf("no leader to re-seed %s from", n.names(i))
	}
	if err := n.c.pause(src); err != nil {
		return err
	}
	err := reseed(filepath.Join(n.c.nodes[i].dir, "raft"), filepath.Join(n.c.nodes[src].dir, "raft"))
	if rerr := n.c.resume(src); err == nil {
		err = rerr
	}
	return err
}

// healAll ends every fault: rules removed, proxies faithful, every replica running.
func (n *nemesis) healAll() error {
	if n.fw != nil {
		if err := n.fw.heal(); err != nil {
			return err
		}
	}
	n.healProxies()
	for i := range n.c.nodes {
		if err := n.c.resume(i); err != nil {
			return err
		}
	}
	// Replicas that must be re-seeded from the leader start last, once there can be one.
	for _, reseed := range []bool{false, true} {
		for i, node := range n.c.nodes {
			if !node.up && node.needsReseed == reseed {
				if err := n.restart(i); err != nil {
					return fmt.Errorf("at heal: %w", err)
				}
			}
		}
	}
	return nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
	}
}

// run injects faults from the enabled kinds, chosen at random, until count faults or the
// deadline, waiting for a published leader between them (up to settle; a group that does not
// recover within it is an error).
func (n *nemesis) run(kinds []fault, count int, deadline time.Time, settle time.Duration) error {
	began := time.Now()
	for done := 0; done < count && time.Now().Before(deadline); {
		f := kinds[n.rng.IntN(len(kinds))]
		for i := range n.c.nodes {
			if err := n.c.crashed(i); err != nil {
				return err
			}
		}
		start := time.Now()
		what, err := f.inject(n)
		if err != nil {
			return fmt.Errorf("fault %s: %w", f.name, err)
		}
		if what == "" {
			continue
		}
		if err := n.healAll(); err != nil {
			return err
		}
		l := n.c.waitLeader(settle)
		if l < 0 {
			return fmt.Errorf("after %s (%s) and heal, no leader published within %v", f.name, what, settle)
		}
		done++
		n.injected[f.name]++
		n.events = append(n.events, fmt.Sprintf("%3d +%-6v %-26s %-80s leader %s after %v", done, start.Sub(began).Round(100*time.Millisecond), f.name, what, n.c.nodes[l].name, time.Since(start).Round(100*time.Millisecond)))
	}
	return nil
}
