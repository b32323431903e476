package txn_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/store"
	"github.com/mqstore/mqstore/txn"
)

// The crash child (TestMain): runs the mode named by MQSTORE_TXN_CRASH on
// the store in MQSTORE_TXN_DIR until it is killed (or kills itself).
func TestMain(m *testing.M) {
	if mode := os.Getenv("MQSTORE_TXN_CRASH"); mode != "" {
		os.Exit(crashChild(mode, os.Getenv("MQSTORE_TXN_DIR"), os.Getenv("MQSTORE_TXN_SEQ")))
	}
	os.Exit(m.Run())
}

const (
	realTopic  = "Orders"
	realQueues = 4
	group      = "txn-group"
)

func storeOptions() store.Options {
	return store.Options{
		CommitLogSegmentSize: 1 << 20,
		MaxMessageSize:       64 << 10,
		ConsumeQueueUnits:    1000,
		IndexHashSlots:       1000,
		IndexMaxEntries:      4000,
		FlushInterval:        10 * time.Millisecond,
		CheckpointInterval:   20 * time.Millisecond,
		DiskUsage:            func(string) (float64, error) { return 0.1, nil },
		Transactions: txn.Options{
			TransactionTimeout: time.Millisecond,
			CheckInterval:      time.Hour, // rounds run by CheckNow
		},
	}
}

func openStore(t testing.TB, dir string, opts store.Options) *store.Store {
	t.Helper()
	s, err := store.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// closeStore writes the queued op markers, then closes the store.
// (store.Close refuses puts before it closes txn, so txn's last op markers
// would be dropped and re-derived at the next open.)
func closeStore(t testing.TB, s *store.Store) {
	t.Helper()
	if err := s.Transactions().Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func txnMessage(n int) *message.Message {
	m := message.New(realTopic, []byte(strconv.Itoa(n)))
	m.QueueID = int32(n % realQueues)
	m.BornTimestamp = time.Now().UnixMilli()
	m.SetTags("t")
	m.SetKeys("key-" + strconv.Itoa(n))
	m.SetProperty(message.PropertyUniqKey, fmt.Sprintf("U%010d", n))
	return m
}

// decision is the producers' local-transaction outcome of message n:
// commit, rollback, or unknown until the final resolution (then commit).
func decision(n int, final bool) txn.Resolution {
	switch n % 3 {
	case 0:
		return txn.Commit
	case 1:
		return txn.Rollback
	}
	if final {
		return txn.Commit
	}
	return txn.Unknown
}

func decider(final bool) txn.Checker {
	return txn.CheckerFunc(func(_ context.Context, h txn.HalfMessage) (txn.Resolution, error) {
		n, err := strconv.Atoi(string(h.Message.Body))
		if err != nil {
			return txn.Unknown, err
		}
		return decision(n, final), nil
	})
}

// consumed returns how often each body is in the real topic's queues.
func consumed(t testing.TB, s *store.Store) map[string]int {
	t.Helper()
	if err := s.WaitDispatched(context.Background(), s.MaxPhysicalOffset()); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for q := int32(0); q < realQueues; q++ {
		var offsets []int64
		s.ScanQueue(realTopic, q, 0, func(_ int64, u consumequeueUnit) bool {
			offsets = append(offsets, u.CommitLogOffset)
			return true
		})
		for _, p := range offsets {
			m, err := s.ReadAt(p)
			if err != nil {
				t.Fatal(err)
			}
			if message.TransactionType(m.SysFlag) != message.TransactionCommitType {
				t.Fatalf("non-committed record in the real topic: %+v", m)
			}
			out[string(m.Body)]++
		}
	}
	return out
}

// halfBodies returns the bodies of every half message in the store.
func halfBodies(t testing.TB, s *store.Store) []int {
	t.Helper()
	var offsets []int64
	s.ScanQueue(txn.HalfTopic, 0, 0, func(_ int64, u consumequeueUnit) bool {
		offsets = append(offsets, u.CommitLogOffset)
		return true
	})
	var out []int
	for _, p := range offsets {
		m, err := s.ReadAt(p)
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(string(m.Body))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// resolveAll resumes the discarded transactions, checks every open one with the final
// decisions and verifies what a consumer reads: every committed message
// exactly once, no rolled-back one.
func resolveAll(t testing.TB, s *store.Store) {
	t.Helper()
	svc := s.Transactions()
	if err := svc.Start(decider(true)); err != nil && !errors.Is(err, txn.ErrAlreadyStarted) {
		t.Fatal(err)
	}
	// Transactions discarded after CheckMax unknown answers are resumed:
	// their producers have decided by now.
	var copies []int64
	s.ScanQueue(txn.DiscardTopic, 0, 0, func(_ int64, u consumequeueUnit) bool {
		copies = append(copies, u.CommitLogOffset)
		return true
	})
	for _, p := range copies {
		if _, err := svc.Resume(p); err != nil && !errors.Is(err, txn.ErrNotDiscarded) {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Millisecond) // past TransactionTimeout
	for i := 0; i < 3 && len(svc.Open()) > 0; i++ {
		if _, err := svc.CheckNow(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if open := svc.Open(); len(open) != 0 {
		t.Fatalf("%d transactions still open: %+v", len(open), open[0])
	}
	got := consumed(t, s)
	for _, n := range halfBodies(t, s) {
		b := strconv.Itoa(n)
		want := 0
		if decision(n, true) == txn.Commit {
			want = 1
		}
		if got[b] != want {
			debugHalf(t, s, b)
			t.Fatalf("message %s (decision %v) consumed %d times", b, decision(n, true), got[b])
		}
		delete(got, b)
	}
	if len(got) != 0 {
		t.Fatalf("consumed messages that were never prepared: %v", got)
	}
}

func TestStoreScenarios(t *testing.T) {
	s := openStore(t, t.TempDir(), storeOptions())
	defer closeStore(t, s)
	svc := s.Transactions()
	// commit → once; rollback → never; idempotent ends.
	c, err := svc.Prepare(txnMessage(0), group)
	if err != nil {
		t.Fatal(err)
	}
	r, err := svc.Prepare(txnMessage(1), group)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Commit(c.HalfOffset, group, c.QueueOffset); err != nil {
		t.Fatal(err)
	}
	if err := svc.Rollback(r.HalfOffset, group, r.QueueOffset); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Commit(c.HalfOffset, group, c.QueueOffset); !errors.Is(err, txn.ErrAlreadyCommitted) {
		t.Fatalf("second commit: %v", err)
	}
	if _, err := svc.Commit(r.HalfOffset, group, r.QueueOffset); !errors.Is(err, txn.ErrAlreadyRolledBack) {
		t.Fatalf("commit after rollback: %v", err)
	}
	if _, err := svc.Commit(c.HalfOffset, "other", c.QueueOffset); !errors.Is(err, txn.ErrGroupMismatch) {
		t.Fatalf("wrong group: %v", err)
	}
	got := consumed(t, s)
	if got["0"] != 1 || got["1"] != 0 {
		t.Fatalf("consumed %v", got)
	}
	// The committed record as a RocketMQ client sees it.
	var off int64 = -1
	s.ScanQueue(realTopic, 0, 0, func(_ int64, u consumequeueUnit) bool { off = u.CommitLogOffset; return false })
	m, err := s.ReadAt(off)
	if err != nil {
		t.Fatal(err)
	}
	if m.PreparedTransactionOffset != c.HalfOffset {
		t.Errorf("PreparedTransactionOffset %d, want %d", m.PreparedTransactionOffset, c.HalfOffset)
	}
	for _, name := range []string{message.PropertyRealTopic, message.PropertyRealQueueID, message.PropertyTransactionPrepared} {
		if _, ok := m.Property(name); !ok {
			t.Errorf("committed record lacks %s", name)
		}
	}
	// Keys of the committed message are indexed under the real topic.
	found, err := s.QueryByKey(realTopic, "key-0", 10, 0, time.Now().UnixMilli()+1000)
	if err != nil || len(found) != 1 {
		t.Errorf("QueryByKey: %v %v", found, err)
	}

	// No answer → checked after the timeout; unknown N times then commit → once.
	var mu sync.Mutex
	calls := map[string]int{}
	checker := txn.CheckerFunc(func(_ context.Context, h txn.HalfMessage) (txn.Resolution, error) {
		mu.Lock()
		defer mu.Unlock()
		b := string(h.Message.Body)
		calls[b]++
		switch {
		case b == "3" && calls[b] <= 3:
			return txn.Unknown, nil
		case b == "4":
			return txn.Unknown, nil // never answered
		case b == "5":
			return txn.Rollback, nil
		}
		return txn.Commit, nil
	})
	if err := svc.Start(checker); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{3, 4, 5, 6} {
		m := txnMessage(n)
		if n == 6 {
			m.SetProperty(message.PropertyCheckImmunityTime, "3600")
		}
		if _, err := svc.Prepare(m, group); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Millisecond)
	for i := 0; i < txn.DefaultCheckMax+2; i++ {
		if _, err := svc.CheckNow(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	got = consumed(t, s)
	if got["3"] != 1 || got["4"] != 0 || got["5"] != 0 || got["6"] != 0 {
		t.Fatalf("consumed %v", got)
	}
	if calls["3"] != 4 || calls["4"] != txn.DefaultCheckMax || calls["6"] != 0 {
		t.Fatalf("checks %v", calls)
	}
	// 4 was discarded after the max checks; 6 waits out its immunity.
	if open := svc.Open(); len(open) != 1 || open[0].TransactionID != "U0000000006" {
		t.Fatalf("open %+v", open)
	}
	var discarded int
	s.ScanQueue(txn.DiscardTopic, 0, 0, func(int64, consumequeueUnit) bool { discarded++; return true })
	if discarded != 1 {
		t.Fatalf("%d discarded copies", discarded)
	}
}

// 10,000 concurrent transactions with random outcomes through the real store.
func TestStoreConcurrentRandom(t *testing.T) {
	n := 10_000
	if testing.Short() {
		n = 2000
	}
	dir := t.TempDir()
	s := openStore(t, dir, storeOptions())
	svc := s.Transactions()
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				r, err := svc.Prepare(txnMessage(i), group)
				if err != nil {
					t.Error(err)
					return
				}
				switch decision(i, false) {
				case txn.Commit:
					_, err = svc.Commit(r.HalfOffset, group, r.QueueOffset)
				case txn.Rollback:
					err = svc.Rollback(r.HalfOffset, group, r.QueueOffset)
				}
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	before := svc.Open()
	if len(before) != n/3 {
		t.Fatalf("%d open, want %d", len(before), n/3)
	}
	// The open table survives a restart of the store.
	closeStore(t, s)
	s = openStore(t, dir, storeOptions())
	defer closeStore(t, s)
	after := s.Transactions().Open()
	for i := range after { // ages moved on
		after[i].Age, before[i].Age = 0, 0
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatal("open table differs after restart")
	}
	resolveAll(t, s)
}

// Crash tests: a child process is killed with SIGKILL (by the parent at a
// random moment, or by itself right after a commit returned, i.e. between
// the restored append and the op marker); the parent reopens the store and
// checks that nothing is lost or doubled.
func TestCrash(t *testing.T) {
	cycles := 10
	if testing.Short() {
		cycles = 3
	}
	for _, mode := range []string{"prepare", "commit", "commit-selfkill", "check"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			rng := rand.New(rand.NewPCG(uint64(len(mode)), 1))
			seq := 0
			for cycle := 0; cycle < cycles; cycle++ {
				seq = runChild(t, mode, dir, seq, rng)
				s := openStore(t, dir, storeOptions())
				// Between cycles: nothing consumed twice, nothing rolled back consumed.
				for b, k := range consumed(t, s) {
					n, _ := strconv.Atoi(b)
					if k != 1 || decision(n, true) != txn.Commit {
						t.Fatalf("cycle %d: %s consumed %d times", cycle, b, k)
					}
				}
				closeStore(t, s)
			}
			s := openStore(t, dir, storeOptions())
			defer closeStore(t, s)
			resolveAll(t, s)
		})
	}
}

// runChild runs one crash cycle and returns the next sequence number.
func runChild(t *testing.T, mode, dir string, seq int, rng *rand.Rand) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MQSTORE_TXN_CRASH="+mode, "MQSTORE_TXN_DIR="+dir, "MQSTORE_TXN_SEQ="+strconv.Itoa(seq))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() { // "READY"
		cmd.Wait()
		t.Fatalf("child %s did not start", mode)
	}
	if mode != "commit-selfkill" {
		time.Sleep(time.Duration(5+rng.IntN(40)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
	}
	for sc.Scan() {
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child %s ended with %v, not SIGKILL", mode, err)
	}
	return seq + 100_000
}

func crashChild(mode, dir, seqText string) int {
	seq, _ := strconv.Atoi(seqText)
	s, err := store.Open(dir, storeOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 2
	}
	svc := s.Transactions()
	fmt.Println("READY")
	prepare := func(n int) txn.PrepareResult {
		r, err := svc.Prepare(txnMessage(n), group)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child prepare:", err)
			os.Exit(3)
		}
		return r
	}
	end := func(n int, r txn.PrepareResult) {
		var err error
		switch decision(n, false) {
		case txn.Commit:
			_, err = svc.Commit(r.HalfOffset, group, r.QueueOffset)
		case txn.Rollback:
			err = svc.Rollback(r.HalfOffset, group, r.QueueOffset)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "child end:", err)
			os.Exit(4)
		}
	}
	switch mode {
	case "prepare": // prepares only, killed before any answer
		for n := seq; ; n++ {
			prepare(n)
		}
	case "commit": // ends from several goroutines, killed at random
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				for n := seq + g; ; n += 4 {
					end(n, prepare(n))
				}
			}()
		}
		wg.Wait()
	case "commit-selfkill": // killed right after a commit returned, before its op marker
		first := seq + (3-seq%3)%3 // decided commit
		r := prepare(first)
		for n := first + 1; n < first+50; n++ {
			end(n, prepare(n))
		}
		if _, err := svc.Commit(r.HalfOffset, group, r.QueueOffset); err != nil {
			os.Exit(5)
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	case "check": // check rounds (with commits and rollbacks) while preparing
		svc.Start(decider(false))
		go func() {
			for n := seq; ; n++ {
				prepare(n)
			}
		}()
		for {
			svc.CheckNow(context.Background())
		}
	}
	return 1
}

func debugHalf(t testing.TB, s *store.Store, body string) {
	var hp, hq int64 = -1, -1
	s.ScanQueue(txn.HalfTopic, 0, 0, func(q int64, u consumequeueUnit) bool {
		m, _ := s.ReadAt(u.CommitLogOffset)
		if string(m.Body) == body {
			hp, hq = u.CommitLogOffset, q
			t.Logf("half q%d p%d storets %d", q, u.CommitLogOffset, m.StoreTimestamp)
		}
		return true
	})
	s.ScanQueue(txn.OpTopic, 0, 0, func(q int64, u consumequeueUnit) bool {
		m, _ := s.ReadAt(u.CommitLogOffset)
		for _, f := range bytes.Split(m.Body, []byte(",")) {
			if string(f) == strconv.FormatInt(hq, 10) {
				end, _ := m.Property(txn.PropertyEnd)
				t.Logf("op q%d p%d end %s body %s", q, u.CommitLogOffset, end, m.Body)
			}
		}
		return true
	})
	for qid := int32(0); qid < realQueues; qid++ {
		s.ScanQueue(realTopic, qid, 0, func(q int64, u consumequeueUnit) bool {
			m, _ := s.ReadAt(u.CommitLogOffset)
			if m.PreparedTransactionOffset == hp || string(m.Body) == body {
				t.Logf("real %d q%d p%d prepared %d body %s", qid, q, u.CommitLogOffset, m.PreparedTransactionOffset, m.Body)
			}
			return true
		})
	}
	t.Logf("recovery %+v", s.Recovery())
}
