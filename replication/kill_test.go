package replication

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The kill test runs each replica as a child process (this test binary re-executed with
// childEnv set): a Node driven by lines on stdin ("append <n>": append one record whose body
// is n, answered "<n> ok" or "<n> err <reason>" on stdout; "close": Close and exit).
const childEnv = "MQSTORE_REPLICATION_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

func runChild() int {
	cfg := NodeConfig{Group: "g", Peers: os.Getenv("PEERS"), SelfID: os.Getenv("SELF"), Dir: os.Getenv("DIR"),
		Log: LogOptions{SegmentSize: testSegment}, TickInterval: 20 * time.Millisecond, ElectionTicks: 20, Logger: quiet}
	n, err := OpenNode(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	var mu sync.Mutex // guards stdout
	out := bufio.NewWriter(os.Stdout)
	reply := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush()
		mu.Unlock()
	}
	in := bufio.NewScanner(os.Stdin)
	var wg sync.WaitGroup
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		switch cmd {
		case "append":
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				if _, err := n.Append(ctx, record(0, arg)); err != nil {
					reply("%s err %v", arg, err)
					return
				}
				reply("%s ok", arg)
			})
		case "close":
			wg.Wait()
			if err := n.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "close:", err)
				return 1
			}
			return 0
		}
	}
	wg.Wait()
	n.Close()
	return 0
}

// proctestTail is the end of a child's stderr.
func proctestTail(s string) string { return s[max(0, len(s)-2000):] }

// child is one replica process.
type child struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *bytes.Buffer // read after the process exited
	done   chan struct{} // closed when its stdout reader ends
}

// TestKillNine: three replica processes on 127.0.0.11-13; while a client appends, replicas
// (leaders and followers, chosen at random) are killed with SIGKILL and restarted from their
// files. After a graceful stop of all three: every append acknowledged by a replica is in the
// log, the three commitlogs are byte-identical, queue offsets dense, consume queues identical.
// MQSTORE_KILL_SECONDS runs it longer (default 6 s).
func TestKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	seconds := 6
	if s, err := strconv.Atoi(os.Getenv("MQSTORE_KILL_SECONDS")); err == nil && s > 0 {
		seconds = s
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	peers := dLegerPeers(t)
	names := []string{"n0", "n1", "n2"}

	var mu sync.Mutex // guards children, acked, pending
	children := map[string]*child{}
	acked := map[string]bool{}
	answered := make(chan string, 1024)

	start := func(name string) {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1", "PEERS="+peers, "SELF="+name, "DIR="+filepath.Join(dir, name))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c := &child{name: name, cmd: cmd, stdin: stdin, stderr: &stderr, done: make(chan struct{})}
		go func() {
			defer close(c.done)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				body, rest, _ := strings.Cut(sc.Text(), " ")
				if rest == "ok" {
					mu.Lock()
					acked[body] = true
					mu.Unlock()
				}
				answered <- body
			}
		}()
		mu.Lock()
		children[name] = c
		mu.Unlock()
	}
	// A replica that exited before it was killed (refused its log at open, or panicked) fails
	// the test: a restart would otherwise hide it.
	var died []string // guarded by mu
	kill := func(name string) {
		mu.Lock()
		c := children[name]
		delete(children, name)
		mu.Unlock()
		c.cmd.Process.Signal(syscall.SIGKILL)
		c.cmd.Wait()
		<-c.done
		if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && !(ws.Signaled() && ws.Signal() == syscall.SIGKILL) {
			mu.Lock()
			died = append(died, fmt.Sprintf("%s exited on its own (%v): %s", name, c.cmd.ProcessState, proctestTail(c.stderr.String())))
			mu.Unlock()
		}
	}
	for _, name := range names {
		start(name)
	}
	t.Cleanup(func() { // only the processes this test started
		for _, name := range names {
			mu.Lock()
			c := children[name]
			mu.Unlock()
			if c != nil {
				kill(name)
			}
		}
	})

	// The client: appends to every live replica in turn (only the leader accepts), one
	// outstanding append at a time per replica.
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
	defer cancel()
	var clientWG sync.WaitGroup
	clientWG.Go(func() {
		next := 0
		inflight := 0
		for ctx.Err() == nil {
			for inflight < 8 {
				mu.Lock()
				c := children[names[next%3]]
				mu.Unlock()
				if c != nil {
					fmt.Fprintf(c.stdin, "append v%06d\n", next)
					inflight++
				}
				next++
			}
			select {
			case <-answered:
				inflight--
			case <-time.After(100 * time.Millisecond):
				inflight = 0 // a killed replica never answers
			case <-ctx.Done():
			}
		}
	})
	// The nemesis: kill -9 a random replica, restart it shortly after.
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	kills := 0
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(400+rng.IntN(600)) * time.Millisecond):
			name := names[rng.IntN(3)]
			kill(name)
			kills++
			time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
			start(name)
		}
	}
	clientWG.Wait()
	mu.Lock()
	for _, d := range died {
		t.Error(d)
	}
	mu.Unlock()
	// Let the group settle (a leader elected, everything committed applied), then stop all
	// three gracefully and check their files.
	time.Sleep(2 * time.Second)
	for _, name := range names {
		mu.Lock()
		c := children[name]
		delete(children, name)
		mu.Unlock()
		fmt.Fprintln(c.stdin, "close")
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, c.stderr)
		}
		<-c.done
	}
	logs := map[string]*Log{}
	for _, name := range names {
		l, err := OpenLog(filepath.Join(dir, name, "raft"), LogOptions{SegmentSize: testSegment})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		logs[name] = l
	}
	n := &simnet{stores: map[uint64]Storage{1: logs["n0"], 2: logs["n1"], 3: logs["n2"]}}
	// The tails may differ by entries not yet committed when the replicas stopped; compare the
	// common prefix up to the shortest end, which holds every acknowledged append.
	minEnd := min(logs["n0"].End(), logs["n1"].End(), logs["n2"].End())
	ref := commitlogBytes(t, logs["n0"])[:minEnd]
	for _, name := range names[1:] {
		if got := commitlogBytes(t, logs[name])[:minEnd]; !bytes.Equal(got, ref) {
			t.Fatalf("commitlogs of n0 and %s differ below %d", name, minEnd)
		}
	}
	// The consume queues agree up to what every replica dispatched, and point at records of
	// their queue and offset.
	var disp []*Dispatcher
	minDispatched := minEnd
	for _, name := range names {
		d, err := OpenDispatcher(filepath.Join(dir, name, "raft"), DispatcherOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		checkUnits(t, d, logs[name])
		disp = append(disp, d)
		minDispatched = min(minDispatched, d.DispatchedOffset())
	}
	below := func(d *Dispatcher) []string {
		var out []string
		for _, u := range queueUnits(t, d) {
			f := strings.Split(u, "/")
			phys, _ := strconv.ParseInt(f[3], 10, 64)
			size, _ := strconv.ParseInt(f[4], 10, 64)
			if phys+size <= minDispatched {
				out = append(out, u)
			}
		}
		return out
	}
	if a, b, c := below(disp[0]), below(disp[1]), below(disp[2]); len(a) == 0 || fmt.Sprint(a) != fmt.Sprint(b) || fmt.Sprint(a) != fmt.Sprint(c) {
		t.Fatalf("consume queues differ below %d: %d, %d, %d units", minDispatched, len(a), len(b), len(c))
	}
	// Acknowledged appends are committed: the longest log (a replica that restarted last may
	// still be catching up after the settle) must hold every one.
	longest := uint64(1)
	for id := uint64(2); id <= 3; id++ {
		if n.stores[id].(*Log).End() > n.stores[longest].(*Log).End() {
			longest = id
		}
	}
	got := map[string]int{}
	for _, b := range sameCommitlogs(t, n, longest) {
		got[b]++
	}
	mu.Lock()
	defer mu.Unlock()
	lost := 0
	for body := range acked {
		if got[body] == 0 {
			lost++
			t.Errorf("acknowledged %s is not in the log", body)
		}
	}
	dups := 0
	for _, k := range got {
		dups += k - 1
	}
	t.Logf("%d kills, %d appends acknowledged, %d in the log, %d lost, %d duplicates", kills, len(acked), len(got), lost, dups)
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged")
	}
	if dups > 0 {
		t.Fatalf("%d duplicates: the client never retries, so none may appear", dups)
	}
}
