package store

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqstore/mqstore/commitlog"
	"github.com/mqstore/mqstore/message"
)

var longCrash = flag.Bool("long", false, "run the crash tests with many more kill cycles")

// The crash child: opens the store named by MQSTORE_CRASH_DIR and appends until killed, printing
// one line per acknowledged message: "ACK <queue> <queueOffset> <msgID> <seq>".
func TestMain(m *testing.M) {
	if dir := os.Getenv("MQSTORE_CRASH_DIR"); dir != "" {
		os.Exit(crashChild(dir, os.Getenv("MQSTORE_CRASH_FLUSH")))
	}
	os.Exit(m.Run())
}

func crashOptions(flush string) Options {
	o := testOptions()
	o.CommitLogSegmentSize = 256 << 10 // roll often
	o.CheckpointInterval = 20 * time.Millisecond
	if flush == "sync" {
		o.FlushMode = commitlog.SyncFlush
	}
	return o
}

func crashChild(dir, flush string) int {
	s, err := Open(dir, crashOptions(flush))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 2
	}
	out := bufio.NewWriter(os.Stdout)
	seq, _ := strconv.Atoi(os.Getenv("MQSTORE_CRASH_SEQ"))
	for ; ; seq++ {
		m := crashMessage(seq)
		res, err := s.Put(m)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child put:", err)
			return 3
		}
		fmt.Fprintf(out, "ACK %d %d %s %d\n", m.QueueID, res.QueueOffset, res.MsgID, seq)
		if flush == "sync" || seq%16 == 0 {
			out.Flush() // sync: the ack is printed only after the flush covering it
		}
	}
}

func crashMessage(seq int) *message.Message {
	m := message.New("Crash", []byte(strings.Repeat(strconv.Itoa(seq), 1+seq%40)))
	m.QueueID = int32(seq % 4)
	m.SetKeys(fmt.Sprintf("seq-%d", seq))
	m.SetProperty(message.PropertyUniqKey, fmt.Sprintf("U%010d", seq))
	return m
}

type ack struct {
	queue       int32
	queueOffset int64
	msgID       string
	seq         int
}

// runCrashCycle starts a child, lets it append for a random while, kills it with SIGKILL and
// returns what it acknowledged.
func runCrashCycle(t *testing.T, dir, flush string, seq int, rng *rand.Rand) []ack {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MQSTORE_CRASH_DIR="+dir, "MQSTORE_CRASH_FLUSH="+flush, "MQSTORE_CRASH_SEQ="+strconv.Itoa(seq))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1<<16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// Wait for the first ack, then let it run a random while.
	var acks []ack
	first := true
	deadline := time.After(time.Duration(10+rng.IntN(60)) * time.Millisecond)
	timeout := time.After(20 * time.Second)
loop:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				break loop
			}
			acks = append(acks, parseAck(t, line))
			if first {
				first = false
			}
		case <-deadline:
			if !first {
				break loop
			}
			deadline = time.After(5 * time.Millisecond)
		case <-timeout:
			cmd.Process.Kill()
			t.Fatalf("child produced nothing; stderr: %s", stderr.String())
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	// Lines written before the kill are acknowledged too.
	for line := range lines {
		acks = append(acks, parseAck(t, line))
	}
	cmd.Wait()
	io.Copy(io.Discard, stdout)
	if len(acks) == 0 {
		t.Fatalf("child acknowledged nothing; stderr: %s", stderr.String())
	}
	return acks
}

func parseAck(t *testing.T, line string) ack {
	var a ack
	if _, err := fmt.Sscanf(line, "ACK %d %d %s %d", &a.queue, &a.queueOffset, &a.msgID, &a.seq); err != nil {
		t.Fatalf("bad child line %q: %v", line, err)
	}
	return a
}

// verifyAcks checks that every acknowledged message reads back from its queue at its offset with
// the same body, keys and message id.
func verifyAcks(t *testing.T, s *Store, acks []ack) {
	t.Helper()
	for _, a := range acks {
		u, ok := s.QueueUnit("Crash", a.queue, a.queueOffset)
		if !ok {
			t.Fatalf("acknowledged seq %d (queue %d offset %d) is missing; queue max %d", a.seq, a.queue, a.queueOffset, s.MaxOffset("Crash", a.queue))
		}
		m, err := s.ReadAt(u.CommitLogOffset)
		if err != nil {
			t.Fatalf("seq %d: %v", a.seq, err)
		}
		want := crashMessage(a.seq)
		if string(m.Body) != string(want.Body) || m.MsgID != a.msgID || m.Keys()[0] != fmt.Sprintf("seq-%d", a.seq) {
			t.Fatalf("seq %d reads back as %q id %s keys %v", a.seq, m.Body, m.MsgID, m.Keys())
		}
	}
}

func testCrash(t *testing.T, flush string) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	cycles := 20
	if *longCrash {
		cycles = 200
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var all []ack
	seq := 0
	for cycle := range cycles {
		acks := runCrashCycle(t, dir, flush, seq, rng)
		all = append(all, acks...)
		seq = acks[len(acks)-1].seq + 1

		s, err := Open(dir, crashOptions(flush))
		if err != nil {
			t.Fatalf("cycle %d: reopen: %v", cycle, err)
		}
		if !s.Recovery().Crashed {
			t.Fatalf("cycle %d: the abort file did not mark the crash", cycle)
		}
		// Every acknowledged message of every cycle so far survives (SIGKILL keeps the page
		// cache, so this holds for async flush too).
		verifyAcks(t, s, all)
		checkStoreConsistent(t, s)
		// Appends continue from the right offsets: the queues' next offsets follow what is stored.
		for q := range int32(4) {
			next := s.MaxOffset("Crash", q)
			m := crashMessage(seq)
			m.QueueID = q
			res, err := s.Put(m)
			if err != nil {
				t.Fatal(err)
			}
			if res.QueueOffset != next {
				t.Fatalf("cycle %d: queue %d continues at %d, want %d", cycle, q, res.QueueOffset, next)
			}
			all = append(all, ack{queue: q, queueOffset: res.QueueOffset, msgID: res.MsgID, seq: seq})
			seq++
		}
		if cycle%5 == 4 {
			// Now and then a clean close, so the clean-restart path is crossed too.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		// Leave the store as a crash would: no Close (release the lock by closing its file).
		crashClose(s)
	}
	t.Logf("%d cycles, %d acknowledged messages verified", cycles, len(all))
}

// crashClose stops the store's goroutines and unmaps it without the clean-shutdown steps (no final
// dispatch, checkpoint or abort-file removal), as if the process had died.
func crashClose(s *Store) {
	s.txn.Load().Close() // its goroutines belong to this process; the crash children never use it
	s.closeMu.Lock()
	s.closed.Store(true)
	s.closeMu.Unlock()
	close(s.quit)
	s.wg.Wait()
	s.closeParts()
}

func TestCrashSyncFlush(t *testing.T)  { testCrash(t, "sync") }
func TestCrashAsyncFlush(t *testing.T) { testCrash(t, "async") }
