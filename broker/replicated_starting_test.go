package broker

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/store"
)

// TestReplicateBeforeStart: the store opens with the replica group as its Replicator before the
// replica starts, and its transaction service's recovery may write an op marker while it opens
// (found in a chaos run: a replica re-seeded from its leader panicked in Replicate on the nil
// group). A put that reaches the group before start is refused as SERVICE_NOT_AVAILABLE, with
// or without dedupe keys, and the group then starts.
func TestReplicateBeforeStart(t *testing.T) {
	cfg := DefaultConfig()
	cfg.StorePathRootDir = t.TempDir()
	cfg.MappedFileSizeCommitLog = 4 << 20
	cfg.EnableDLegerCommitLog = true
	cfg.DLegerPeers = fmt.Sprintf("n0-%s", freeAddr(t, 41))
	cfg.DLegerSelfID = "n0"
	rg, err := newReplicaGroup(&cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer rg.rlog.Close()

	op := message.New("RMQ_SYS_TRANS_OP_HALF_TOPIC", []byte("d"))
	keyed := message.New("T", []byte("body"))
	keyed.SetProperty(message.PropertyUniqKey, "0A0000010000000000000001")
	for _, m := range []*message.Message{op, keyed} {
		rec, err := message.AppendRecord(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		res, err := rg.Replicate(context.Background(), rec)
		if !errors.Is(err, store.ErrServiceNotAvailable) || res != nil {
			t.Fatalf("%s: Replicate before start = %v, %v; want store.ErrServiceNotAvailable", m.Topic, res, err)
		}
	}
}
