package broker

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mqstore/mqstore/internal/vfs"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
)

// TestPowerLossConfigs loses power (every write not yet synced is dropped, data and directory
// entries, vfs.PowerLossFS) right after each step of the config-file writes a SYNC_FLUSH broker
// makes while SENDs auto-create topics and heartbeats create groups. Whatever the broker
// acknowledged must be in the config files on disk afterwards — before any reconciliation: an
// acknowledged message's topic in topics.json, an acknowledged heartbeat's group in
// subscriptionGroup.json and its retry topic in topics.json — and every acknowledged message
// is read back at its queue offset by a broker reopened on the directory.
func TestPowerLossConfigs(t *testing.T) {
	for _, op := range []vfs.Op{vfs.OpCreate, vfs.OpWrite, vfs.OpSync, vfs.OpRename, vfs.OpSyncDir} {
		for after := range 5 {
			t.Run(fmt.Sprintf("%v-after-%d", op, after), func(t *testing.T) { powerLossConfigs(t, op, after) })
		}
	}
}

type sentAck struct {
	topic   string
	queueID int
	offset  int64
	body    string
}

func powerLossConfigs(t *testing.T, op vfs.Op, after int) {
	dir := t.TempDir()
	pl := vfs.NewPowerLoss(dir)
	faults := vfs.NewFaultFS(pl)
	syncFlush := func(c *Config) { c.StorePathRootDir = dir; c.FlushDiskType = SyncFlush }
	// Small files (the power-loss model copies a synced file's pages), the same on both opens.
	small := func(so *store.Options) {
		so.ConsumeQueueUnits, so.IndexHashSlots, so.IndexMaxEntries = 1000, 1024, 4096
	}
	tb := startBroker(t, syncFlush, func(o *Options) {
		o.Store = func(so *store.Options) { small(so); so.FS = faults }
	})
	// Counted from here: the config writes the requests below cause.
	faults.Inject(vfs.Rule{Op: op, Path: string(filepath.Separator) + "config" + string(filepath.Separator), After: after, Count: 1, Then: pl.Crash})

	var acks []sentAck
	var groups []string
	for i := range 4 {
		group := fmt.Sprintf("G%d", i)
		if tb.call(remoting.RequestHeartBeat, heartbeatBody("client-"+group, group, "T", "*")).ResponseCode() == remoting.ResponseSuccess {
			groups = append(groups, group)
		}
		topic := fmt.Sprintf("Fresh%d", i)
		for m := range 3 {
			body := fmt.Sprintf("%s/%d", topic, m)
			resp := tb.send(topic, m%2, body, nil)
			if resp.ResponseCode() != remoting.ResponseSuccess {
				continue
			}
			off, _ := strconv.ParseInt(resp.Ext(protocol.FieldQueueOffset), 10, 64)
			qid, _ := strconv.Atoi(resp.Ext(protocol.FieldQueueID))
			acks = append(acks, sentAck{topic, qid, off, body})
		}
	}
	pl.Crash() // at the latest right after the last answer (a no-op when a rule fired)
	tb.Close() // after the crash every file operation fails: nothing more reaches the disk
	if err := pl.Restore(); err != nil {
		t.Fatal(err)
	}

	// The config files as the power loss left them, before a broker reconciles them.
	topics := newTopicTable(nil, filepath.Join(dir, "config", topicsFile), nil)
	gt := newGroupTable(nil, filepath.Join(dir, "config", subscriptionFile), nil)
	if err := topics.load(); err != nil {
		t.Fatal(err)
	}
	if err := gt.load(); err != nil {
		t.Fatal(err)
	}
	for _, a := range acks {
		if _, ok := topics.get(a.topic); !ok {
			t.Fatalf("topic %s of an acknowledged message is not in topics.json after the power loss", a.topic)
		}
	}
	for _, g := range groups {
		if _, ok := gt.get(g); !ok {
			t.Fatalf("group %s of an acknowledged heartbeat is not in subscriptionGroup.json", g)
		}
		if _, ok := topics.get(RetryTopicPrefix + g); !ok {
			t.Fatalf("retry topic of group %s (acknowledged heartbeat) is not in topics.json", g)
		}
	}

	tb2 := startBroker(t, syncFlush, func(o *Options) { o.Store = small })
	for _, a := range acks {
		resp := tb2.call(remoting.RequestPullMessage, nil, pullArgs(a.topic, a.queueID, a.offset, 1, 0, 0, "*")...)
		if resp.ResponseCode() != remoting.ResponseSuccess {
			t.Fatalf("acknowledged %s/%d@%d: pull answered %v", a.topic, a.queueID, a.offset, resp)
		}
		if recs := records(t, resp.Body); len(recs) != 1 || string(recs[0].Body) != a.body {
			t.Fatalf("acknowledged %s/%d@%d: read %d records, want %q", a.topic, a.queueID, a.offset, len(recs), a.body)
		}
	}
}

// TestFlushFailureIsSticky: after an msync of the commitlog fails (EIO), the SEND that waited
// for it and every later SEND are refused with SYSTEM_ERROR naming the failure, the broker's
// gauges say so, and messages acknowledged before it are still readable.
func TestFlushFailureIsSticky(t *testing.T) {
	faults := vfs.NewFaultFS(nil)
	tb := startBroker(t, func(c *Config) { c.FlushDiskType = SyncFlush }, func(o *Options) {
		o.Store = func(so *store.Options) { so.ConsumeQueueUnits = 1000; so.FS = faults }
	})
	expect(t, tb.send("Before", 0, "kept", nil), remoting.ResponseSuccess)
	if tb.MetricsSnapshot().StoreWriteFailed {
		t.Fatal("write failure reported before any failure")
	}
	faults.Inject(vfs.Rule{Op: vfs.OpMsync, Path: "commitlog", Err: syscall.EIO})
	for i := range 3 {
		resp := tb.send("After", 0, fmt.Sprintf("refused %d", i), nil)
		if resp.ResponseCode() != remoting.ResponseSystemError || !strings.Contains(resp.Remark, "input/output error") {
			t.Fatalf("send %d after a failed flush: %v %q", i, resp.ResponseCode(), resp.Remark)
		}
	}
	faults.Clear() // the disk works again: the store still refuses until a restart
	if resp := tb.send("After", 0, "still refused", nil); resp.ResponseCode() != remoting.ResponseSystemError {
		t.Fatalf("send after the disk recovered: %v", resp)
	}
	if !tb.MetricsSnapshot().StoreWriteFailed {
		t.Fatal("the snapshot does not report the failed flush")
	}
	// Reads keep working: the message acknowledged before the failure is (dispatched and) readable.
	var resp *remoting.Command
	waitUntil(t, "the message acknowledged before the failure to be readable", func() bool {
		resp = tb.call(remoting.RequestPullMessage, nil, pullArgs("Before", 0, 0, 1, 0, 0, "*")...)
		return resp.ResponseCode() == remoting.ResponseSuccess
	})
	if string(records(t, resp.Body)[0].Body) != "kept" {
		t.Fatalf("message acknowledged before the failure: %v", resp)
	}
}
