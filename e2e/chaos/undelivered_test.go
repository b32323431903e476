package chaos

import "testing"

// TestUndelivered: the acknowledged non-transactional sends the push consumer did not deliver
// are counted and described by queue (how many, their offsets, how far the consumer got), and
// the checker fails on them.
func TestUndelivered(t *testing.T) {
	var ops []op
	for i := range 5 {
		ops = append(ops, op{body: string(rune('a' + i)), kind: "async", outcome: ok, queue: 0, offset: int64(i)})
	}
	ops = append(ops,
		op{body: "failed", kind: "sync", outcome: failed, queue: 1, offset: 0},
		op{body: "txn", kind: "txn", outcome: ok, queue: 1, offset: 1},
		op{body: "q2", kind: "sync", outcome: ok, queue: 2, offset: 7},
	)
	received := []receipt{{queue: 0, offset: 0, body: "a"}, {queue: 0, offset: 1, body: "b"}, {queue: 0, offset: 3, body: "d"}}
	n, where := undelivered(ops, received)
	if n != 3 {
		t.Fatalf("%d undelivered, want 3 (q0 offsets 2 and 4, q2 offset 7)", n)
	}
	if want := "q0 2 at 2..4 (delivered up to 3); q2 1 at 7..7 (delivered up to none)"; where != want {
		t.Fatalf("described as %q, want %q", where, want)
	}
	if r := (&report{ackedNotReceived: n}); !r.failedChecks() {
		t.Fatal("the checker passes acknowledged sends the consumer never delivered")
	}
}
