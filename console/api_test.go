package console_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mqstore/mqstore/console"
	"github.com/mqstore/mqstore/namesrv"
)

func TestWriteSecurity(t *testing.T) {
	e := startEnv(t, nil)
	e.createTopic("Keep", 2)
	tok := e.token()
	good := map[string]string{"Content-Type": "application/json", console.TokenHeader: tok}
	with := func(kv ...string) map[string]string {
		h := map[string]string{}
		for k, v := range good {
			h[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(h, kv[i])
			} else {
				h[kv[i]] = kv[i+1]
			}
		}
		return h
	}
	body := `{"topic":"Keep"}`
	tests := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"no token", with(console.TokenHeader, ""), http.StatusForbidden},
		{"wrong token", with(console.TokenHeader, strings.Repeat("0", 64)), http.StatusForbidden},
		{"foreign origin", with("Origin", "http://evil.example"), http.StatusForbidden},
		{"cross-site fetch", with("Sec-Fetch-Site", "cross-site"), http.StatusForbidden},
		{"form content type", with("Content-Type", "application/x-www-form-urlencoded"), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := e.post("/console/api/topics/delete", body, tt.header)
			if status != tt.want {
				t.Errorf("status %d (%v), want %d", status, out, tt.want)
			}
			if _, ok, _ := e.b.TopicConfig("Keep"); !ok {
				t.Fatal("a refused write deleted the topic")
			}
		})
	}
	if !strings.Contains(e.log.String(), `msg="console: write refused" action="topic delete" remote=127.0.0.1:`) {
		t.Errorf("refusals not logged with the caller:\n%s", e.log.String())
	}
	// GET on a write endpoint is not a write.
	resp, err := http.Get(e.base + "/console/api/transactions/commit")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET of a write endpoint: %d", resp.StatusCode)
	}
	// The same origin and the token: allowed, and logged with the caller.
	status, out := e.post("/console/api/topics/delete", body, with("Origin", e.base))
	if status != http.StatusOK {
		t.Fatalf("good write: %d %v", status, out)
	}
	if _, ok, _ := e.b.TopicConfig("Keep"); ok {
		t.Error("topic still there after the delete")
	}
	if !strings.Contains(e.log.String(), `msg="console: write" action="topic delete" remote=127.0.0.1:`) {
		t.Errorf("write not logged with the caller:\n%s", e.log.String())
	}
}

func TestWritesRefusedWhenNotLoopback(t *testing.T) {
	e := startEnv(t, func(o *console.Options) { o.ListenAddr = "0.0.0.0:5557" })
	e.createTopic("Keep", 2)
	h := map[string]string{"Content-Type": "application/json", console.TokenHeader: e.token()}
	status, out := e.post("/console/api/topics/delete", `{"topic":"Keep"}`, h)
	if status != http.StatusForbidden || !strings.Contains(fmt.Sprint(out["error"]), "loopback") {
		t.Fatalf("write on a non-loopback console: %d %v", status, out)
	}
	var o console.Overview
	e.getJSON("/console/api/overview", &o)
	if o.Writable || o.WriteRefusal == "" {
		t.Errorf("overview says writable=%v refusal=%q", o.Writable, o.WriteRefusal)
	}
}

func TestAuthorizeHook(t *testing.T) {
	e := startEnv(t, func(o *console.Options) {
		o.ListenAddr = "0.0.0.0:5557" // the hook replaces the loopback rule
		o.Authorize = func(r *http.Request, write bool) error {
			if write && r.Header.Get("Authorization") != "admin" {
				return errors.New("admin credentials required")
			}
			return nil
		}
	})
	e.createTopic("Keep", 2)
	h := map[string]string{"Content-Type": "application/json", console.TokenHeader: e.token()}
	if status, out := e.post("/console/api/topics/delete", `{"topic":"Keep"}`, h); status != http.StatusForbidden {
		t.Fatalf("write without credentials: %d %v", status, out)
	}
	h["Authorization"] = "admin"
	if status, out := e.post("/console/api/topics/delete", `{"topic":"Keep"}`, h); status != http.StatusOK {
		t.Fatalf("write with credentials: %d %v", status, out)
	}
}

func TestTopicsAndTransactionsAPI(t *testing.T) {
	e := startEnv(t, nil)
	ctx := context.Background()
	e.createTopic("Orders", 4)
	e.sendN("Orders", 0, 10)
	offsets := e.prepare("Orders", "pg-tx", 3)

	var d console.TopicDetail
	if status := e.getJSON("/console/api/topics/Orders", &d); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	stats, err := e.admin().TopicStats(ctx, "Orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != len(d.Queues) {
		t.Fatalf("%d queues on the wire, %d in the console", len(stats), len(d.Queues))
	}
	for i, s := range stats {
		if q := d.Queues[i]; q.MinOffset != s.MinOffset || q.MaxOffset != s.MaxOffset {
			t.Errorf("queue %d: console %d..%d, wire %d..%d", i, q.MinOffset, q.MaxOffset, s.MinOffset, s.MaxOffset)
		}
	}
	if d.Messages != 10 {
		t.Errorf("messages %d, want 10", d.Messages)
	}

	var txns console.Transactions
	e.getJSON("/console/api/transactions", &txns)
	_, total, err := e.admin().OpenTransactions(ctx, e.b.Addr(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if txns.Total != 3 || total != 3 || len(txns.Transactions) != 3 {
		t.Fatalf("open transactions: console %d (%d listed), wire %d", txns.Total, len(txns.Transactions), total)
	}

	h := map[string]string{"Content-Type": "application/json", console.TokenHeader: e.token()}
	commit := fmt.Sprintf(`{"commitLogOffset":%d}`, offsets[0])
	status, out := e.post("/console/api/transactions/commit", commit, h)
	if status != http.StatusOK || out["changed"] != true || out["msgId"] == "" {
		t.Fatalf("commit: %d %v", status, out)
	}
	status, out = e.post("/console/api/transactions/commit", commit, h)
	if status != http.StatusOK || out["changed"] != false {
		t.Fatalf("second commit: %d %v, want 200 and changed=false", status, out)
	}
	status, out = e.post("/console/api/transactions/rollback", commit, h)
	if status != http.StatusConflict {
		t.Fatalf("rollback of a committed transaction: %d %v, want 409", status, out)
	}
	if status, out = e.post("/console/api/transactions/rollback", fmt.Sprintf(`{"commitLogOffset":%d}`, offsets[1]), h); status != http.StatusOK || out["changed"] != true {
		t.Fatalf("rollback: %d %v", status, out)
	}
	if status, out = e.post("/console/api/transactions/resume", fmt.Sprintf(`{"commitLogOffset":%d}`, offsets[2]), h); status != http.StatusConflict {
		t.Fatalf("resume of an open transaction: %d %v, want 409", status, out)
	}
	if status, out = e.post("/console/api/transactions/commit", `{"commitLogOffset":12345678}`, h); status != http.StatusNotFound {
		t.Fatalf("commit of nothing: %d %v, want 404", status, out)
	}
	_, total, _ = e.admin().OpenTransactions(ctx, e.b.Addr(), 0)
	if total != 1 {
		t.Fatalf("open after commit and rollback: %d, want 1", total)
	}

	// The committed message is found by its id in either form and by key, once dispatched
	// into the index.
	if err := e.b.Store().WaitDispatched(ctx, e.b.Store().MaxPhysicalOffset()); err != nil {
		t.Fatal(err)
	}
	var byID struct{ Messages []console.Message }
	e.getJSON("/console/api/messages?id="+fmt.Sprint(out["msgId"]), &byID)
	var byUniq struct{ Messages []console.Message }
	e.getJSON("/console/api/messages?id=TX"+strings.Repeat("0", 30), &byUniq)
	if len(byUniq.Messages) != 1 || byUniq.Messages[0].BodyText != "txn 0" || byUniq.Messages[0].Topic != "Orders" {
		t.Fatalf("by UNIQ_KEY: %+v", byUniq.Messages)
	}
	var byKey struct{ Messages []console.Message }
	e.getJSON("/console/api/messages?topic=Orders&key=Orders-key-7", &byKey)
	if len(byKey.Messages) != 1 || byKey.Messages[0].BodyText != "body <b>7</b> of Orders" {
		t.Fatalf("by key: %+v", byKey.Messages)
	}
	m := byKey.Messages[0]
	var byOffsetID struct{ Messages []console.Message }
	e.getJSON("/console/api/messages?id="+m.MsgID, &byOffsetID)
	if len(byOffsetID.Messages) != 1 || byOffsetID.Messages[0].UniqKey != m.UniqKey || m.Properties["TAGS"] != "TagA" {
		t.Fatalf("by offset id %s: %+v", m.MsgID, byOffsetID.Messages)
	}
	var bad map[string]string
	if status := e.getJSON("/console/api/messages", &bad); status != http.StatusBadRequest {
		t.Errorf("query without parameters: %d", status)
	}
}

func TestListPaging(t *testing.T) {
	e := startEnv(t, nil)
	for i := range 25 {
		if err := e.b.UpdateTopic(namesrv.TopicConfig{TopicName: fmt.Sprintf("Page%02d", i), ReadQueueNums: 1, WriteQueueNums: 1, Perm: namesrv.PermRW}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	var all console.Topics
	e.getJSON("/console/api/topics", &all)
	if all.Total != len(e.b.TopicConfigs()) || all.Matched != all.Total || len(all.Topics) != all.Total {
		t.Fatalf("no filter: total %d matched %d listed %d, broker has %d", all.Total, all.Matched, len(all.Topics), len(e.b.TopicConfigs()))
	}
	var page console.Topics
	e.getJSON("/console/api/topics?kind=normal&q=page1&offset=3&limit=4", &page)
	var names []string
	for _, tp := range page.Topics {
		names = append(names, tp.Topic)
	}
	if page.Matched != 10 || page.Offset != 3 || strings.Join(names, ",") != "Page13,Page14,Page15,Page16" {
		t.Fatalf("kind=normal q=page1 offset 3 limit 4: matched %d offset %d %v", page.Matched, page.Offset, names)
	}
	e.getJSON("/console/api/topics?kind=system", &page)
	for _, tp := range page.Topics {
		if tp.Kind != "system" {
			t.Errorf("kind=system listed %s (%s)", tp.Topic, tp.Kind)
		}
	}
	var bad map[string]string
	for _, q := range []string{"kind=other", "offset=-1", "limit=0", "limit=x"} {
		if status := e.getJSON("/console/api/topics?"+q, &bad); status != http.StatusBadRequest {
			t.Errorf("topics?%s: status %d, want 400", q, status)
		}
	}

	offsets := e.prepare("Page00", "pg", 7)
	var txns console.Transactions
	e.getJSON("/console/api/transactions?offset=5&limit=10", &txns)
	if txns.Total != 7 || txns.Offset != 5 || len(txns.Transactions) != 2 || txns.Transactions[0].CommitLogOffset != offsets[5] {
		t.Fatalf("transactions offset 5: %+v", txns)
	}
}
