package chaos

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/replication"
)

// replicaRead is a full read of every queue of the topic on one replica.
type replicaRead struct {
	name   string
	queues [queues]map[int64]string // queue → offset → body
	min    [queues]int64            // first offset read
	max    [queues]int64            // one past the last offset read
	gaps   []string                 // offsets missing inside [min, max)
}

// readReplica pulls every queue of the topic from addr (that replica only, whatever its role)
// from its first offset to its end.
func readReplica(rc *remoting.Client, name, addr string) (replicaRead, error) {
	rr := replicaRead{name: name}
	for q := range queues {
		rr.queues[q] = map[int64]string{}
		rr.min[q] = -1
		offset := int64(0)
		for {
			req := remoting.NewRequest(remoting.RequestPullMessage)
			req.ExtFields = append(req.ExtFields,
				remoting.Field{Key: protocol.FieldConsumerGroup, Value: "chaos-check"},
				remoting.Field{Key: protocol.FieldTopic, Value: topic},
				remoting.Field{Key: protocol.FieldQueueID, Value: strconv.Itoa(q)},
				remoting.Field{Key: protocol.FieldQueueOffset, Value: strconv.FormatInt(offset, 10)},
				remoting.Field{Key: protocol.FieldMaxMsgNums, Value: "256"},
				remoting.Field{Key: protocol.FieldSysFlag, Value: strconv.Itoa(protocol.PullFlagSubscription)},
				remoting.Field{Key: protocol.FieldCommitOffset, Value: "0"},
				remoting.Field{Key: protocol.FieldSuspendTimeoutMillis, Value: "0"},
				remoting.Field{Key: protocol.FieldSubscription, Value: "*"},
				remoting.Field{Key: protocol.FieldSubVersion, Value: "0"},
				remoting.Field{Key: protocol.FieldExpressionType, Value: "TAG"},
			)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, err := rc.Invoke(ctx, addr, req)
			cancel()
			if err != nil {
				return rr, fmt.Errorf("pull %s queue %d at %d: %w", name, q, offset, err)
			}
			next, err := resp.GetInt64(protocol.FieldNextBeginOffset)
			if err != nil {
				return rr, fmt.Errorf("pull %s queue %d at %d: code %d %s", name, q, offset, resp.Code, resp.Remark)
			}
			switch resp.ResponseCode() {
			case remoting.ResponseSuccess:
				var rec message.Record
				for pos := 0; pos < len(resp.Body); {
					n, err := message.DecodeRecord(resp.Body[pos:], &rec, true)
					if err != nil {
						return rr, fmt.Errorf("pull %s queue %d: record at %d: %w", name, q, pos, err)
					}
					if rr.min[q] < 0 {
						rr.min[q] = rec.QueueOffset
					} else if rec.QueueOffset != rr.max[q] {
						rr.gaps = append(rr.gaps, fmt.Sprintf("%s queue %d: offset %d follows %d", name, q, rec.QueueOffset, rr.max[q]-1))
					}
					rr.queues[q][rec.QueueOffset] = string(rec.Body)
					rr.max[q] = rec.QueueOffset + 1
					pos += n
				}
			case remoting.ResponsePullOffsetMoved, remoting.ResponsePullRetryImmediately:
			case remoting.ResponsePullNotFound:
				if next <= offset {
					if rr.min[q] < 0 {
						rr.min[q] = offset
						rr.max[q] = offset
					}
					resp.Release()
					goto nextQueue
				}
			default:
				return rr, fmt.Errorf("pull %s queue %d at %d: code %d %s", name, q, offset, resp.Code, resp.Remark)
			}
			resp.Release()
			if next <= offset {
				break
			}
			offset = next
		}
	nextQueue:
	}
	return rr, nil
}

// readAll reads every replica; quiesce repeats until the replicas agree on every queue's end
// (they have applied the same committed log) or the timeout passes.
func readAll(c *cluster, timeout time.Duration) ([]replicaRead, error) {
	rc, err := remoting.NewClient(remoting.Options{CallTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	deadline := time.Now().Add(timeout)
	for {
		var reads []replicaRead
		var readErr error
		for _, n := range c.nodes {
			rr, err := readReplica(rc, n.name, n.addr)
			if err != nil {
				readErr = err
				break
			}
			reads = append(reads, rr)
		}
		if readErr == nil {
			agree := true
			for _, rr := range reads[1:] {
				agree = agree && rr.max == reads[0].max
			}
			if agree {
				return reads, nil
			}
		}
		if time.Now().After(deadline) {
			if readErr != nil {
				return nil, readErr
			}
			var ends []string
			for _, rr := range reads {
				ends = append(ends, fmt.Sprintf("%s %v", rr.name, rr.max))
			}
			return reads, fmt.Errorf("replicas did not converge within %v: queue ends %s", timeout, strings.Join(ends, "; "))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// report is the checker's verdict and the run's numbers.
type report struct {
	ops, acked, failed, indeterminate int
	byKind                            map[string]int

	lost         int // acknowledged but absent (or another body) at its (queue, offset)
	inconsistent int // a (queue, offset) holding different bodies on different replicas
	gaps         int // offsets missing inside a replica's queue
	abortedReads int // a definitively failed send read back

	forwardUnknown, forwardUnknownStored int // 14s of a forward that lost the leader's answer; ... stored anyway

	duplicates          int // bodies stored at more than one offset
	duplicatesExplained int // ... of sends with retries whose outcome of some attempt was unknown
	unexplainedDup      []string

	txnCommitted, txnRolledBack int // txn bodies by the local decision
	txnMissing                  int // committed with an acknowledged half, not delivered once
	txnRolledBackRead           int // rolled back (decided), read anyway
	txnDupes                    int

	receipts, receiptMismatch int // push consumer deliveries; deliveries disagreeing with the replicas
	ackedNotReceived          int
	pushWait                  time.Duration // how long the run waited for the push consumer to catch up
	notReceivedByQueue        string        // where the undelivered acknowledged sends are (undelivered())

	raftCompared int64 // bytes of committed Raft log compared across replicas
	raftDiffer   string

	problems []string
}

func (r *report) problem(format string, args ...any) {
	if len(r.problems) < 30 {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
	}
}

// check compares the history with the replicas' reads.
func check(ops []op, received []receipt, reads []replicaRead, txn bool) *report {
	r := &report{byKind: map[string]int{}}
	// One value per (queue, offset) across replicas; the union is the group's content.
	type pos struct {
		queue  int
		offset int64
	}
	at := map[pos]string{}
	where := map[string][]pos{} // body → positions (on the first replica holding each)
	for _, rr := range reads {
		r.gaps += len(rr.gaps)
		for _, g := range rr.gaps {
			r.problem("gap: %s", g)
		}
		for q := range queues {
			for off, body := range rr.queues[q] {
				p := pos{q, off}
				if prev, seen := at[p]; seen {
					if prev != body {
						r.inconsistent++
						r.problem("inconsistent: queue %d offset %d holds %q and %q (on %s)", q, off, prev, body, rr.name)
					}
					continue
				}
				at[p] = body
				where[body] = append(where[body], p)
			}
		}
	}
	// Every replica holds every position (the reads converged, so only a hole would differ).
	for p := range at {
		for _, rr := range reads {
			if _, ok := rr.queues[p.queue][p.offset]; !ok && p.offset >= rr.min[p.queue] {
				r.inconsistent++
				r.problem("inconsistent: queue %d offset %d missing on %s", p.queue, p.offset, rr.name)
			}
		}
	}
	byBody := map[string]*op{}
	for i := range ops {
		o := &ops[i]
		byBody[o.body] = o
		r.ops++
		r.byKind[o.kind]++
		switch o.outcome {
		case ok:
			r.acked++
		case failed:
			r.failed++
		default:
			r.indeterminate++
		}
		if o.kind == "txn" {
			continue
		}
		if o.retries == 0 && strings.Contains(o.err, forwardFailed) {
			r.forwardUnknown++
			if len(where[o.body]) > 0 {
				r.forwardUnknownStored++
			}
		}
		switch o.outcome {
		case ok:
			for _, rr := range reads {
				if got, present := rr.queues[o.queue][o.offset]; !present || got != o.body {
					r.lost++
					r.problem("lost: %s acknowledged at queue %d offset %d (sent %s); %s holds %q there (present %v)", o.body, o.queue, o.offset, o.start.UTC().Format("15:04:05.000"), rr.name, got, present)
					break
				}
			}
		case failed:
			if len(where[o.body]) > 0 {
				r.abortedReads++
				r.problem("aborted read: %s failed definitively (%s) but is stored at %v", o.body, o.err, where[o.body])
			}
		}
	}
	for body, ps := range where {
		o := byBody[body]
		if o == nil {
			if body != "txn-1" { // the transactional probe, rolled back
				r.problem("unknown body %q stored at %v", body, ps)
			}
			continue
		}
		if o.kind == "txn" {
			continue
		}
		if len(ps) > 1 {
			r.duplicates++
			if o.retries > 0 && o.outcome != failed {
				r.duplicatesExplained++ // the client retried an attempt whose outcome it did not learn
			} else {
				r.unexplainedDup = append(r.unexplainedDup, fmt.Sprintf("%s (%s, %s) at %v", body, o.kind, o.outcome, ps))
			}
		}
	}
	if txn {
		for i := range ops {
			o := &ops[i]
			if o.kind != "txn" {
				continue
			}
			n := len(where[o.body])
			if txnDecision(o.body) == primitive.CommitMessageState {
				r.txnCommitted++
				if n > 1 {
					r.txnDupes++
					r.problem("txn %s committed, delivered %d times: %v", o.body, n, where[o.body])
				}
				if o.outcome == ok && n == 0 {
					r.txnMissing++
					r.problem("txn %s committed with an acknowledged half message (sent %s), never delivered", o.body, o.start.UTC().Format("15:04:05.000"))
				}
			} else {
				r.txnRolledBack++
				if n > 0 {
					r.txnRolledBackRead++
					r.problem("txn %s rolled back, delivered at %v", o.body, where[o.body])
				}
			}
		}
	}
	for _, rc := range received {
		r.receipts++
		if body, present := at[pos{rc.queue, rc.offset}]; present && body != rc.body {
			r.receiptMismatch++
			r.problem("push consumer got %q at queue %d offset %d; the replicas hold %q", rc.body, rc.queue, rc.offset, body)
		}
	}
	r.ackedNotReceived, r.notReceivedByQueue = undelivered(ops, received)
	return r
}

// undelivered counts the acknowledged (non-transactional) sends the push consumer has not
// delivered, and describes them by queue: how many, their offset range, and the highest offset
// the consumer delivered on that queue (a consumer past a missing offset skipped it; one below
// it is behind).
func undelivered(ops []op, received []receipt) (int, string) {
	got := map[string]bool{}
	top := map[int]int64{}
	for _, rc := range received {
		got[rc.body] = true
		if o, ok := top[rc.queue]; !ok || rc.offset > o {
			top[rc.queue] = rc.offset
		}
	}
	type span struct {
		n        int
		min, max int64
	}
	missing := map[int]*span{}
	n := 0
	for i := range ops {
		o := &ops[i]
		if o.outcome != ok || o.kind == "txn" || got[o.body] {
			continue
		}
		n++
		sp := missing[o.queue]
		if sp == nil {
			sp = &span{min: o.offset, max: o.offset}
			missing[o.queue] = sp
		}
		sp.n++
		sp.min, sp.max = min(sp.min, o.offset), max(sp.max, o.offset)
	}
	queues := make([]int, 0, len(missing))
	for q := range missing {
		queues = append(queues, q)
	}
	sort.Ints(queues)
	var parts []string
	for _, q := range queues {
		sp := missing[q]
		delivered := "none"
		if o, ok := top[q]; ok {
			delivered = fmt.Sprint(o)
		}
		parts = append(parts, fmt.Sprintf("q%d %d at %d..%d (delivered up to %s)", q, sp.n, sp.min, sp.max, delivered))
	}
	return n, strings.Join(parts, "; ")
}

// failed reports whether the checker found a safety violation.
func (r *report) failedChecks() bool {
	return r.lost+r.inconsistent+r.gaps+r.abortedReads+len(r.unexplainedDup)+r.txnMissing+r.txnRolledBackRead+r.txnDupes+r.receiptMismatch+r.ackedNotReceived > 0 || r.raftDiffer != ""
}

func (r *report) String() string {
	var b strings.Builder
	kinds := make([]string, 0, len(r.byKind))
	for k := range r.byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var perKind []string
	for _, k := range kinds {
		perKind = append(perKind, fmt.Sprintf("%s %d", k, r.byKind[k]))
	}
	fmt.Fprintf(&b, "ops %d (%s): acked %d, failed %d, indeterminate %d\n", r.ops, strings.Join(perKind, ", "), r.acked, r.failed, r.indeterminate)
	fmt.Fprintf(&b, "lost %d, inconsistent offsets %d, gaps %d, aborted reads %d\n", r.lost, r.inconsistent, r.gaps, r.abortedReads)
	if r.forwardUnknown > 0 {
		fmt.Fprintf(&b, "forwards whose leader answer a follower lost (SYSTEM_ERROR, indeterminate): %d, stored anyway %d\n", r.forwardUnknown, r.forwardUnknownStored)
	}
	fmt.Fprintf(&b, "duplicates %d (explained by client retries of unknown outcomes %d, unexplained %d)\n", r.duplicates, r.duplicatesExplained, len(r.unexplainedDup))
	fmt.Fprintf(&b, "txn: committed %d (missing %d, duplicated %d), rolled back %d (read %d)\n", r.txnCommitted, r.txnMissing, r.txnDupes, r.txnRolledBack, r.txnRolledBackRead)
	fmt.Fprintf(&b, "push consumer: %d deliveries, %d disagreeing with the replicas, %d acknowledged sends not delivered after waiting %v for it to catch up\n",
		r.receipts, r.receiptMismatch, r.ackedNotReceived, r.pushWait.Round(100*time.Millisecond))
	if r.notReceivedByQueue != "" {
		fmt.Fprintf(&b, "  not delivered, by queue: %s\n", r.notReceivedByQueue)
	}
	fmt.Fprintf(&b, "raft logs: %d committed bytes compared across replicas", r.raftCompared)
	if r.raftDiffer != "" {
		fmt.Fprintf(&b, ", DIFFER: %s", r.raftDiffer)
	} else {
		b.WriteString(", byte-identical")
	}
	b.WriteString("\n")
	for _, d := range r.unexplainedDup {
		fmt.Fprintf(&b, "unexplained duplicate: %s\n", d)
	}
	for _, p := range r.problems {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	return b.String()
}

// compareRaftLogs opens every stopped replica's Raft log, finds the end of its committed entries
// and compares the commitlog bytes of all replicas up to the smallest of those ends.
func compareRaftLogs(c *cluster, segmentSize int64) (int64, string, error) {
	common := int64(-1)
	var dirs []string
	for _, n := range c.nodes {
		dir := filepath.Join(n.dir, "raft")
		l, err := replication.OpenLog(dir, replication.LogOptions{SegmentSize: segmentSize})
		if err != nil {
			return 0, "", fmt.Errorf("open %s's raft log: %w", n.name, err)
		}
		hs, _, err := l.InitialState()
		var end int64
		if err == nil {
			err = l.EntryRecords(hs.GetCommit(), func(phys int64, records []byte) { end = phys + int64(len(records)) })
		}
		l.Close()
		if err != nil {
			return 0, "", fmt.Errorf("%s's committed end: %w", n.name, err)
		}
		if common < 0 || end < common {
			common = end
		}
		dirs = append(dirs, filepath.Join(dir, "commitlog"))
	}
	var first []byte
	for i, dir := range dirs {
		b, err := readCommitlog(dir, common)
		if err != nil {
			return 0, "", err
		}
		if i == 0 {
			first = b
			continue
		}
		if !bytes.Equal(first, b) {
			at := 0
			for at < len(b) && at < len(first) && b[at] == first[at] {
				at++
			}
			return common, fmt.Sprintf("%s and %s differ first at commitlog offset %d (of %d committed)", c.nodes[0].name, c.nodes[i].name, at, common), nil
		}
	}
	return common, "", nil
}

// readCommitlog concatenates a commitlog's segments (named by their 20-digit start offset) up to
// end. Segments missing at the start (none here: no retention runs) would show as a mismatch.
func readCommitlog(dir string, end int64) ([]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	out := make([]byte, 0, end)
	for _, name := range names {
		from, err := strconv.ParseInt(name, 10, 64)
		if err != nil || from >= end {
			continue
		}
		if from != int64(len(out)) {
			return nil, fmt.Errorf("%s: segment %s does not follow offset %d", dir, name, len(out))
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, b[:min(int64(len(b)), end-from)]...)
	}
	if int64(len(out)) != end {
		return nil, fmt.Errorf("%s holds %d bytes, fewer than the committed %d", dir, len(out), end)
	}
	return out, nil
}
