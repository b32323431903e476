package console_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/mqstore/mqstore/console"
)

func TestResetQueryTimersResend(t *testing.T) {
	e := startEnv(t, nil)
	e.createTopic("Orders", 2)
	e.sendN("Orders", 0, 10)
	h := map[string]string{"Content-Type": "application/json", console.TokenHeader: e.token()}

	// By time range: everything since 0; nothing from an hour ahead.
	var res struct{ Messages []console.Message }
	e.getJSON("/console/api/messages?topic=Orders&begin=0", &res)
	if len(res.Messages) != 10 {
		t.Fatalf("by time range: %d messages, want 10", len(res.Messages))
	}
	e.getJSON(fmt.Sprintf("/console/api/messages?topic=Orders&begin=%d", time.Now().Add(time.Hour).UnixMilli()), &res)
	if len(res.Messages) != 0 {
		t.Fatalf("from an hour ahead: %d messages", len(res.Messages))
	}

	// Timers of a topic.
	var tm console.Timers
	if status := e.getJSON("/console/api/timers?topic=Orders", &tm); status != http.StatusOK || tm.Topic != "Orders" || tm.Count != 0 {
		t.Fatalf("timers: %d %+v", status, tm)
	}

	// A consumer reads all ten; resending one to its group delivers it again, to it only.
	c, got := e.consume("rg", "Orders")
	defer c.Shutdown()
	waitFor(t, 30*time.Second, "the ten messages", func() bool { return got.count() == 10 })
	var one struct{ Messages []console.Message }
	e.getJSON("/console/api/messages?topic=Orders&key=Orders-key-3", &one)
	if len(one.Messages) != 1 {
		t.Fatalf("by key: %d", len(one.Messages))
	}
	got.mu.Lock()
	clear(got.bodies)
	got.mu.Unlock()
	status, out := e.post("/console/api/messages/resend", fmt.Sprintf(`{"commitLogOffset":%d,"group":"rg"}`, one.Messages[0].CommitLogOffset), h)
	if status != http.StatusOK || out["topic"] != "%RETRY%rg" {
		t.Fatalf("resend: %d %v", status, out)
	}
	// The copy is in the group's retry topic, naming the original topic (what the client
	// restores). Delivery to the running client-go consumer is not awaited here: it reads
	// %RETRY%rg once its rebalance picks up the topic's route (up to 30 s in client-go).
	if err := e.b.Store().WaitDispatched(context.Background(), e.b.Store().MaxPhysicalOffset()); err != nil {
		t.Fatal(err)
	}
	var retry struct{ Messages []console.Message }
	e.getJSON("/console/api/messages?topic=%25RETRY%25rg", &retry)
	if len(retry.Messages) != 1 || retry.Messages[0].BodyText != "body <b>3</b> of Orders" || retry.Messages[0].Properties["RETRY_TOPIC"] != "Orders" {
		t.Fatalf("retry topic after the resend: %+v", retry.Messages)
	}
	if status, out := e.post("/console/api/messages/resend", `{"commitLogOffset":0,"group":"no-such-group"}`, h); status != http.StatusNotFound {
		t.Errorf("resend to an unknown group: %d %v, want 404", status, out)
	}
	waitFor(t, 30*time.Second, "rg to commit its offsets", func() bool {
		var sum int64
		for _, p := range e.b.GroupProgress("rg") {
			if p.Topic == "Orders" {
				sum += p.ConsumerOffset
			}
		}
		return sum == 10
	})
	c.Shutdown()
	// client-go persists its offsets while shutting down and unregisters last: wait for that,
	// or a late offset commit can land after the reset below.
	waitFor(t, 10*time.Second, "rg to go offline", func() bool {
		for _, g := range e.b.ConsumerGroups() {
			if g.Name == "rg" {
				return !g.Online
			}
		}
		return true
	})

	// Reset by time: back to the start (not forced: backwards is allowed), then to the end.
	status, out = e.post("/console/api/groups/reset", `{"group":"rg","topic":"Orders","timestamp":0}`, h)
	if status != http.StatusOK {
		t.Fatalf("reset to 0: %d %v", status, out)
	}
	for q := range int32(2) {
		if off, _ := e.b.ConsumerOffset("rg", "Orders", q); off != 0 {
			t.Errorf("queue %d after the reset to 0: offset %d", q, off)
		}
	}
	if status, out = e.post("/console/api/groups/reset", `{"group":"rg","topic":"Orders","timestamp":-1,"force":true}`, h); status != http.StatusOK {
		t.Fatalf("reset to the end: %d %v", status, out)
	}
	var sum int64
	for q := range int32(2) {
		off, _ := e.b.ConsumerOffset("rg", "Orders", q)
		sum += off
	}
	if sum != 10 {
		t.Errorf("offsets after the reset to the end sum to %d, want 10", sum)
	}
	if status, out = e.post("/console/api/groups/reset", `{"group":"rg","topic":"Nope","timestamp":0}`, h); status != http.StatusNotFound {
		t.Errorf("reset on an unknown topic: %d %v", status, out)
	}
}
