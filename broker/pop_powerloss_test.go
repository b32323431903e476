package broker

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mqstore/mqstore/internal/vfs"
	"github.com/mqstore/mqstore/store"
)

// TestPopPowerLoss loses power (vfs.PowerLossFS: every write not yet synced is dropped) after
// some acks reached a pop-log sync and some did not. Reopened, the broker never redelivers a
// message whose ack was synced, and loses none: every other message (in flight, or acked after
// the last sync) is delivered again once its invisible time passes.
func TestPopPowerLoss(t *testing.T) {
	dir := t.TempDir()
	pl := vfs.NewPowerLoss(dir)
	open := func(fsys vfs.FS) (*Broker, *Pop) {
		cfg := DefaultConfig()
		cfg.StorePathRootDir, cfg.ListenPort, cfg.MappedFileSizeCommitLog = dir, 0, 16<<20
		b, err := New(cfg, Options{Logger: quietLog, Store: func(so *store.Options) {
			// Small index: the power-loss model copies a synced file's pages.
			so.IndexHashSlots, so.IndexMaxEntries, so.FS = 1024, 4096, fsys
		}})
		if err != nil {
			t.Fatal(err)
		}
		p, err := b.OpenPop()
		if err != nil {
			b.Close()
			t.Fatal(err)
		}
		return b, p
	}
	b, p := open(pl)
	putN(t, b, "PL", 10)
	if err := b.store.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.CommitLog().Flush(); err != nil { // the messages are durable
		t.Fatal(err)
	}
	req := PopRequest{Group: "g", Topic: "PL", QueueID: -1, MaxMessages: 16, Invisible: 2 * time.Second}
	got, err := p.Receive(context.Background(), req)
	if err != nil || len(got) != 10 {
		t.Fatalf("receive: %d %v", len(got), err)
	}
	for _, m := range got[:5] {
		if err := p.Ack("g", m.Receipt); err != nil {
			t.Fatal(err)
		}
	}
	p.logMu.Lock()
	err = p.log.sync() // the periodic sync (syncLoop)
	p.logMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range got[5:7] { // acked after the last sync: lost with the power
		if err := p.Ack("g", m.Receipt); err != nil {
			t.Fatal(err)
		}
	}
	pl.Crash()
	p.Close()
	b.Close()
	if err := pl.Restore(); err != nil {
		t.Fatal(err)
	}

	b, p = open(nil)
	defer b.Close()
	defer p.Close()
	var want, again []string
	for _, m := range got[5:] {
		want = append(want, string(m.Message.Body))
	}
	req.Invisible, req.Wait = time.Hour, 5*time.Second
	for deadline := time.Now().Add(15 * time.Second); len(again) < len(want) && time.Now().Before(deadline); {
		more, err := p.Receive(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range more {
			again = append(again, string(m.Message.Body))
		}
	}
	slices.Sort(want)
	slices.Sort(again)
	if !slices.Equal(again, want) {
		t.Fatalf("after the power loss: delivered %v, want %v (the unacked and the unsynced acks, never a synced ack)", again, want)
	}
	if more, _ := p.Receive(context.Background(), PopRequest{Group: "g", Topic: "PL", QueueID: -1, MaxMessages: 16, Invisible: time.Hour}); len(more) != 0 {
		t.Fatalf("%d more delivered", len(more))
	}
}
