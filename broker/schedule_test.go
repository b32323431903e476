package broker

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
	"github.com/mqstore/mqstore/store"
)

// delivered returns the messages of a queue.
func (tb *testBroker) delivered(topic string, queueID int32) []message.Record {
	tb.t.Helper()
	tb.sync()
	got, err := tb.Store().GetMessages(topic, queueID, 0, 100, 1<<20, nil)
	if err != nil {
		tb.t.Fatal(err)
	}
	defer got.Release()
	var out []message.Record
	for _, raw := range got.Messages {
		r := records(tb.t, raw)[0]
		r.Body, r.Topic, r.Properties = append([]byte(nil), r.Body...), append([]byte(nil), r.Topic...), r.Properties.Clone()
		out = append(out, r)
	}
	return out
}

// waitDelivered waits until a queue holds n messages.
func (tb *testBroker) waitDelivered(topic string, queueID int32, n int) []message.Record {
	tb.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got := tb.delivered(topic, queueID); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("timed out waiting for %d messages in %s/%d", n, topic, queueID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDelayedSend: messages with DELAY wait in the store's timer topic (levels above the last
// capped) and reach their queue no earlier than their delay, restored (DELAY removed,
// tags code from TAGS); the send answer names the queue asked.
func TestDelayedSend(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, func(c *Config) { c.MessageDelayLevel = "1s 2s" })
	start := time.Now()
	for _, tt := range []struct {
		body, delay string
		level       int32
	}{
		{"one", "1", 1},
		{"two", "2", 2},
		{"capped", "9", 2},
		{"zero", "0", 0},
	} {
		resp := tb.send("DelayTopic", 1, tt.body, props("DELAY", tt.delay, "TAGS", "TagD", "KEYS", tt.body))
		expect(t, resp, remoting.ResponseSuccess)
		if resp.Ext(protocol.FieldQueueID) != "1" {
			t.Fatalf("%s: queueId %q, want the queue asked", tt.body, resp.Ext(protocol.FieldQueueID))
		}
		if tt.level == 0 {
			continue
		}
		_, off, _ := message.ParseOffsetMsgID(resp.Ext(protocol.FieldMsgID))
		sm, err := tb.Store().ReadAt(off)
		if err != nil {
			t.Fatal(err)
		}
		if sm.Topic != store.TimerTopic || sm.QueueID != 0 {
			t.Fatalf("%s stored in %s/%d", tt.body, sm.Topic, sm.QueueID)
		}
		if v, _ := sm.Property(message.PropertyRealTopic); v != "DelayTopic" {
			t.Fatalf("%s: REAL_TOPIC %q", tt.body, v)
		}
	}
	// The undelayed one is there at once; the others are not.
	if got := tb.delivered("DelayTopic", 1); len(got) != 1 || string(got[0].Body) != "zero" {
		t.Fatalf("delivered at once: %d", len(got))
	}
	got := tb.waitDelivered("DelayTopic", 1, 2)
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Fatalf("level 1 delivered after %v", elapsed)
	}
	r := got[1]
	if string(r.Body) != "one" {
		t.Fatalf("first delayed delivery %q", r.Body)
	}
	if _, ok := r.Properties.Lookup(message.PropertyDelayLevel); ok {
		t.Fatal("delivered message keeps DELAY")
	}
	if u, _ := tb.Store().QueueUnit("DelayTopic", 1, r.QueueOffset); u.TagsCode != message.TagsHashCode("TagD") {
		t.Fatalf("tags code %d", u.TagsCode)
	}
	tb.waitDelivered("DelayTopic", 1, 4)
	if elapsed := time.Since(start); elapsed < 2*time.Second {
		t.Fatalf("level 2 delivered after %v", elapsed)
	}
	// Delay levels ride on the store's timer: no schedule queue, so no delay offsets.
	var offsets delayFileContent
	if err := json.Unmarshal(tb.call(remoting.RequestGetAllDelayOffset, nil).Body, &offsets); err != nil {
		t.Fatal(err)
	}
	if len(offsets.OffsetTable) != 0 {
		t.Fatalf("delay offsets %v", offsets.OffsetTable)
	}
}

// TestDelayAcrossRestart: a delayed message pending at a restart is delivered after it, once,
// not early; the store's timer checkpoint keeps the progress.
func TestDelayAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := func(c *Config) { c.StorePathRootDir = dir; c.MessageDelayLevel = "1s 2s" }
	tb := startBroker(t, cfg)
	start := time.Now()
	expect(t, tb.send("RestartDelay", 0, "early", props("DELAY", "1")), remoting.ResponseSuccess)
	expect(t, tb.send("RestartDelay", 0, "pending", props("DELAY", "2")), remoting.ResponseSuccess)
	tb.waitDelivered("RestartDelay", 0, 1)
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	tb = startBroker(t, cfg)
	got := tb.waitDelivered("RestartDelay", 0, 2)
	if elapsed := time.Since(start); elapsed < 2*time.Second {
		t.Fatalf("pending message delivered %v after its send", elapsed)
	}
	if string(got[0].Body) != "early" || string(got[1].Body) != "pending" {
		t.Fatalf("delivered %q, %q", got[0].Body, got[1].Body)
	}
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	// Nothing is delivered again.
	tb = startBroker(t, cfg)
	time.Sleep(200 * time.Millisecond)
	if got := tb.delivered("RestartDelay", 0); len(got) != 2 {
		t.Fatalf("%d messages after the second restart, want 2", len(got))
	}
}
