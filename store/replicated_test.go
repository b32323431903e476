package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/mqstore/mqstore/commitlog"
	"github.com/mqstore/mqstore/message"
)

// loopReplicator is a one-replica "group": it commits a proposal at once by applying it to
// every store of its group in order, or refuses it while not leading.
type loopReplicator struct {
	mu       sync.Mutex
	leading  bool
	replicas []*Store // replicas[0] is the proposer's store
	entries  [][]byte
}

func (r *loopReplicator) Replicate(_ context.Context, records []byte) ([]commitlog.AppendResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.leading {
		return nil, fmt.Errorf("%w: not the leader", ErrServiceNotAvailable)
	}
	r.entries = append(r.entries, append([]byte(nil), records...))
	var out []commitlog.AppendResult
	for i, s := range r.replicas {
		res, err := s.ApplyEncoded(records)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			out = res
		}
	}
	return out, nil
}

// TestReplicatedPut: in replicated mode every put path goes through the Replicator; the
// committed records land in the store (and in a second store applying the same entries) at
// the same offsets with the leader's store timestamp; a refused proposal is
// PutServiceNotAvailable.
func TestReplicatedPut(t *testing.T) {
	rep := &loopReplicator{leading: true}
	opts := testOptions()
	opts.Replicator = rep
	leader := openStore(t, t.TempDir(), opts)
	follower := openStore(t, t.TempDir(), testOptions())
	rep.replicas = []*Store{leader, follower}

	res, err := leader.Put(&message.Message{Topic: "T", QueueID: 1, Body: []byte("one")})
	if err != nil || res.Status != PutOK || res.QueueOffset != 0 || res.MsgID == "" {
		t.Fatalf("Put: %+v %v", res, err)
	}
	batch, err := leader.PutBatch([]*message.Message{{Topic: "T", QueueID: 1, Body: []byte("two")}, {Topic: "T", QueueID: 2, Body: []byte("three")}})
	if err != nil || len(batch) != 2 || batch[0].QueueOffset != 1 || batch[1].QueueOffset != 0 || batch[1].QueueID != 2 {
		t.Fatalf("PutBatch: %+v %v", batch, err)
	}
	donec := make(chan PutResult, 1)
	if _, err := leader.PutAsync(&message.Message{Topic: "T", QueueID: 1, Body: []byte("four")}, func(r PutResult, err error) {
		if err != nil {
			t.Error(err)
		}
		donec <- r
	}); err != nil {
		t.Fatal(err)
	}
	if r := <-donec; r.QueueOffset != 2 {
		t.Fatalf("PutAsync: %+v", r)
	}
	if len(rep.entries) != 3 {
		t.Fatalf("%d entries proposed, want 3 (one per put call)", len(rep.entries))
	}
	for _, s := range []*Store{leader, follower} {
		if err := s.WaitDispatched(context.Background(), s.MaxPhysicalOffset()); err != nil {
			t.Fatal(err)
		}
		if got := s.MaxOffset("T", 1); got != 3 {
			t.Fatalf("queue T/1 max offset %d, want 3", got)
		}
		m, err := s.ReadAt(res.PhysicalOffset)
		if err != nil || string(m.Body) != "one" || m.StoreTimestamp != res.StoreTimestamp {
			t.Fatalf("ReadAt(%d): %+v %v", res.PhysicalOffset, m, err)
		}
	}
	if leader.MaxPhysicalOffset() != follower.MaxPhysicalOffset() {
		t.Fatalf("replicas end at %d and %d", leader.MaxPhysicalOffset(), follower.MaxPhysicalOffset())
	}

	rep.mu.Lock()
	rep.leading = false
	rep.mu.Unlock()
	res, err = leader.Put(&message.Message{Topic: "T", QueueID: 1, Body: []byte("five")})
	if !errors.Is(err, ErrServiceNotAvailable) || res.Status != PutServiceNotAvailable {
		t.Fatalf("Put on a non-leader: %+v %v", res, err)
	}
}
