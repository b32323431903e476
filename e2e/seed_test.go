package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	bolt "go.etcd.io/bbolt"
)

// The seed scenario: an order service creates orders in its own database inside RocketMQ
// transactions (half message, local transaction, END_TRANSACTION; CheckLocalTransaction answers
// from the orders table), and a points service consumes the committed orders and adds points,
// idempotently by message key. Under failures — local transactions that fail before or after
// writing, order-service processes killed with SIGKILL between the half message and its end, a
// broker restart while orders are being placed — every order gets its points exactly once and
// no points exist without an order.
//
// The order service runs as child processes (this test binary re-executed, TestSeedOrderService)
// one after the other on the same bbolt file, as a service restarting after a crash would.

const (
	seedEnvChild  = "MQSTORE_SEED_CHILD"
	seedGroup     = "order-service"
	seedTopic     = "Orders"
	ordersBucket  = "orders"
	pointsBucket  = "points"
	seedKeyPrefix = "order-"
)

// orderRule is what the local transaction of order i does (i % 10).
//
//	0-5  write the order, COMMIT
//	6    fail before writing (the database refused), ROLLBACK
//	7    write the order, then fail to report it (UNKNOW): the check finds it, COMMIT
//	8    do not write, UNKNOW (crashed mid-way): the check does not find it, ROLLBACK
//	9    business rejection: no order, ROLLBACK
func orderRule(i int) int { return i % 10 }

// TestSeedScenario drives three order-service processes and the points service in this process.
func TestSeedScenario(t *testing.T) {
	t.Parallel()
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)
	s := startServer(t, fastTransactions)
	ordersPath := t.TempDir() + "/orders.db"
	points, err := bolt.Open(t.TempDir()+"/points.db", 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer points.Close()

	createTopic(t, s, seedTopic, 4)
	var raw atomic.Int64
	newFuncConsumer(t, s.ns.addr, "points-service", seedTopic, func(m *primitive.MessageExt) consumer.ConsumeResult {
		raw.Add(1)
		key := m.GetKeys()
		err := points.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte(pointsBucket))
			if err != nil {
				return err
			}
			if b.Get([]byte(key)) != nil {
				return nil // already credited: idempotent by key
			}
			return b.Put([]byte(key), m.Body)
		})
		if err != nil {
			return consumer.ConsumeRetryLater
		}
		return consumer.ConsumeSuccess
	})

	// Child 1 and 2 are killed in the middle of a transaction, one after writing its order,
	// one before. Child 3 places the rest and stays up to answer the checks, also those of its
	// predecessors' orphans; the broker restarts while it places orders.
	const perChild = 50
	runChild(t, s, ordersPath, 0, perChild, rng.IntN(perChild), true, nil)
	runChild(t, s, ordersPath, perChild, perChild, rng.IntN(perChild), false, nil)
	restartAt := 2*perChild + perChild/2 + rng.IntN(perChild/2)
	runChild(t, s, ordersPath, 2*perChild, 2*perChild, -1, false, func(sent int) {
		if sent == restartAt {
			t.Logf("restarting the broker after order %d", sent)
			s.restart()
		}
	})

	orders := readKeys(t, ordersPath, ordersBucket)
	if len(orders) == 0 {
		t.Fatal("no orders")
	}
	// A pull the broker never read before its restart (the Go client sends the next one as soon as
	// an answer arrives) waits out the client's 30 s call timeout and its 3 s back-off: rocketmq-
	// client-go does not fail pending calls when a connection closes. Allow for that once.
	deadline := time.Now().Add(60 * time.Second)
	for len(keysOf(t, points, pointsBucket)) < len(orders) {
		if time.Now().After(deadline) {
			credited := keysOf(t, points, pointsBucket)
			for k := range orders {
				if credited[k] {
					continue
				}
				found, _ := s.b.Store().QueryByKey(seedTopic, k, 4, 0, 0)
				t.Logf("order %s has no points; messages in %s with its key: %d", k, seedTopic, len(found))
			}
			for _, o := range s.b.Store().Transactions().Open() {
				t.Logf("open transaction: %+v", o)
			}
			for _, q := range s.b.Store().Queues() {
				if q.Topic == seedTopic {
					t.Logf("queue %d: min %d max %d", q.QueueID, q.MinOffset, q.MaxOffset)
				}
			}
			t.Fatalf("timed out after 60s waiting for points for every order (%d of %d)", len(credited), len(orders))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a point without an order would arrive now
	credited := keysOf(t, points, pointsBucket)
	for k := range orders {
		if !credited[k] {
			t.Errorf("order %s has no points", k)
		}
	}
	for k := range credited {
		if !orders[k] {
			t.Errorf("points for %s, which has no order", k)
		}
	}
	if n := len(s.b.Store().Transactions().Open()); n != 0 {
		t.Errorf("%d transactions still open", n)
	}
	t.Logf("%d orders placed (order ids up to %d), %d credited once; %d raw deliveries (%d duplicates absorbed by the key)",
		len(orders), 4*perChild, len(credited), raw.Load(), raw.Load()-int64(len(credited)))
}

// runChild runs one order-service process for orders [from, from+n). killAt ≥ 0 makes it kill
// itself (SIGKILL) in the local transaction of order from+killAt, after writing the order when
// afterWrite. Otherwise, once it has placed its orders, the process stays up until the broker
// has no open transaction, then exits. onSent is called as orders are placed.
func runChild(t *testing.T, s *server, dbPath string, from, n, killAt int, afterWrite bool, onSent func(int)) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSeedOrderService$", "-test.v")
	cmd.Env = append(os.Environ(), seedEnvChild+"=1",
		"SEED_NS="+s.ns.addr, "SEED_DB="+dbPath,
		"SEED_FROM="+strconv.Itoa(from), "SEED_COUNT="+strconv.Itoa(n),
		"SEED_KILL_AT="+strconv.Itoa(killAt), "SEED_AFTER_WRITE="+strconv.FormatBool(afterWrite))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "SENT "):
			if onSent != nil {
				i, _ := strconv.Atoi(strings.TrimPrefix(line, "SENT "))
				onSent(i)
			}
		case line == "DONE":
			done = true
			waitFor(t, 30*time.Second, "the open transactions to be resolved", func() bool {
				return len(s.b.Store().Transactions().Open()) == 0
			})
			stdin.Close()
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	switch {
	case killAt >= 0:
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("order service for [%d,%d) should have been killed: %v\n%s", from, from+n, err, stderr.String())
		}
	case err != nil || !done:
		t.Fatalf("order service for [%d,%d): %v (done %v)\n%s", from, from+n, err, done, stderr.String())
	}
}

// TestSeedOrderService is the order-service process of TestSeedScenario (skipped otherwise).
func TestSeedOrderService(t *testing.T) {
	if os.Getenv(seedEnvChild) == "" {
		t.Skip("run by TestSeedScenario")
	}
	env := func(k string) int {
		v, err := strconv.Atoi(os.Getenv(k))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		return v
	}
	from, n, killAt := env("SEED_FROM"), env("SEED_COUNT"), env("SEED_KILL_AT")
	afterWrite := os.Getenv("SEED_AFTER_WRITE") == "true"
	db, err := bolt.Open(os.Getenv("SEED_DB"), 0o600, &bolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	writeOrder := func(key string, body []byte) error {
		return db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte(ordersBucket))
			if err != nil {
				return err
			}
			return b.Put([]byte(key), body)
		})
	}
	hasOrder := func(key string) bool {
		found := false
		db.View(func(tx *bolt.Tx) error {
			if b := tx.Bucket([]byte(ordersBucket)); b != nil {
				found = b.Get([]byte(key)) != nil
			}
			return nil
		})
		return found
	}
	var out sync.Mutex
	say := func(format string, args ...any) {
		out.Lock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
		out.Unlock()
	}

	p := newTxProducer(t, os.Getenv("SEED_NS"), seedGroup, listenerFuncs{
		execute: func(m *primitive.Message) primitive.LocalTransactionState {
			key := m.GetKeys()
			i := keyIndex(key)
			if i == from+killAt {
				if afterWrite {
					if err := writeOrder(key, m.Body); err != nil {
						t.Errorf("write %s: %v", key, err)
					}
				}
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
			switch orderRule(i) {
			case 6, 8, 9:
				if orderRule(i) == 8 {
					return primitive.UnkonwnState
				}
				return primitive.RollbackMessageState
			case 7:
				if err := writeOrder(key, m.Body); err != nil {
					return primitive.RollbackMessageState
				}
				return primitive.UnkonwnState
			}
			if err := writeOrder(key, m.Body); err != nil {
				return primitive.RollbackMessageState
			}
			return primitive.CommitMessageState
		},
		check: func(m *primitive.MessageExt) primitive.LocalTransactionState {
			if hasOrder(m.GetKeys()) {
				return primitive.CommitMessageState
			}
			return primitive.RollbackMessageState
		},
	})
	for i := from; i < from+n; i++ {
		key := seedKeyPrefix + strconv.Itoa(i)
		m := primitive.NewMessage(seedTopic, []byte(fmt.Sprintf("%d points", 10+i%7)))
		m.WithKeys([]string{key})
		deadline := time.Now().Add(20 * time.Second)
		for {
			// A failed send (the broker restarting) ran no local transaction: try again. A half
			// message stored whose answer was lost is checked later and rolled back or, if
			// the retry wrote the order, committed — a duplicate the points service absorbs.
			_, err := p.SendMessageInTransaction(context.Background(), m)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("order %d: %v", i, err)
			}
			time.Sleep(100 * time.Millisecond)
			m = primitive.NewMessage(seedTopic, m.Body)
			m.WithKeys([]string{key})
		}
		say("SENT %d", i)
	}
	say("DONE")
	io.Copy(io.Discard, os.Stdin) // until the parent closes it: answer checks meanwhile
}

// readKeys opens a bbolt file and returns the keys of a bucket.
func readKeys(t *testing.T, path, bucket string) map[string]bool {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 10 * time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return keysOf(t, db, bucket)
}

func keysOf(t *testing.T, db *bolt.DB, bucket string) map[string]bool {
	t.Helper()
	keys := map[string]bool{}
	err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			keys[string(k)] = true
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
