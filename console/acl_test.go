package console_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mqstore/mqstore/acl"
	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/console"
	"github.com/mqstore/mqstore/message"
	"github.com/mqstore/mqstore/remoting"
)

const aclFile = `accounts:
  - accessKey: consoleAdmin
    secretKey: admin-secret-1
    admin: true
  - accessKey: plainUser
    secretKey: plain-secret-1
    admin: false
    defaultTopicPerm: PUB|SUB
    defaultGroupPerm: SUB
`

// startACLEnv is a broker with aclEnable on and the accounts of aclFile.
func startACLEnv(t testing.TB) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plain_acl.yml")
	if err := os.WriteFile(path, []byte(aclFile), 0o600); err != nil {
		t.Fatal(err)
	}
	return startEnvConfig(t, func(c *broker.Config) {
		c.Security.AclEnable = true
		c.Security.AclFile = path
	}, nil)
}

// signed returns the headers of a write signed as the console documents it.
func signed(token, path, body, ak, sk string, at time.Time) map[string]string {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	var f remoting.Fields
	f.Set(acl.FieldAccessKey, ak)
	f.Set("Method", "POST")
	f.Set("Path", path)
	f.Set("Timestamp", ts)
	return map[string]string{"Content-Type": "application/json", console.TokenHeader: token,
		console.AccessKeyHeader: ak, console.TimestampHeader: ts, console.SignatureHeader: acl.Sign(sk, f, []byte(body))}
}

func TestWritesSignedByACLAdmin(t *testing.T) {
	e := startACLEnv(t)
	e.createTopicInProcess("Keep")
	tok := e.token()
	const path = "/console/api/topics/delete"
	body := `{"topic":"Keep"}`
	now := time.Now()
	unsigned := map[string]string{"Content-Type": "application/json", console.TokenHeader: tok}
	wrongSecret := signed(tok, path, body, "consoleAdmin", "not-the-secret", now)
	otherBody := signed(tok, path, `{"topic":"Other"}`, "consoleAdmin", "admin-secret-1", now)
	otherPath := signed(tok, "/console/api/topics/update", body, "consoleAdmin", "admin-secret-1", now)
	tests := []struct {
		name   string
		header map[string]string
		remark string
	}{
		{"unsigned (loopback is not enough once ACL is on)", unsigned, "writes must be signed"},
		{"unknown access key", signed(tok, path, body, "nobody", "whatever-1", now), "No acl config for nobody"},
		{"wrong secret", wrongSecret, "Check signature failed"},
		{"signature of another body", otherBody, "Check signature failed"},
		{"signature of another path", otherPath, "Check signature failed"},
		{"stale timestamp", signed(tok, path, body, "consoleAdmin", "admin-secret-1", now.Add(-10*time.Minute)), "away from the console's clock"},
		{"not an admin", signed(tok, path, body, "plainUser", "plain-secret-1", now), "Need admin permission"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := e.post(path, body, tt.header)
			if status != http.StatusForbidden || !strings.Contains(fmt.Sprint(out["error"]), tt.remark) {
				t.Errorf("status %d %v, want 403 saying %q", status, out, tt.remark)
			}
			if _, ok, _ := e.b.TopicConfig("Keep"); !ok {
				t.Fatal("a refused write deleted the topic")
			}
		})
	}
	if n := e.b.ACL().Denials(acl.ReasonBadSignature); n < 3 {
		t.Errorf("bad-signature denials counted %d, want ≥ 3", n)
	}
	status, out := e.post(path, body, signed(tok, path, body, "consoleAdmin", "admin-secret-1", time.Now()))
	if status != http.StatusOK {
		t.Fatalf("signed by the admin: %d %v", status, out)
	}
	if _, ok, _ := e.b.TopicConfig("Keep"); ok {
		t.Error("topic still there after the admin's delete")
	}
	if !strings.Contains(e.log.String(), `msg="console: write" action="topic delete" remote=127.0.0.1:`) ||
		!strings.Contains(e.log.String(), `accessKey=consoleAdmin`) {
		t.Errorf("the write is not logged with the caller and the account:\n%s", e.log.String())
	}
	var o console.Overview
	e.getJSON("/console/api/overview", &o)
	if !o.ACL || !o.Writable {
		t.Errorf("overview: acl %v writable %v, want both", o.ACL, o.Writable)
	}
}

// TestACLInBrowser signs a write in the page (WebCrypto) with keys typed into it.
func TestACLInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	e := startACLEnv(t)
	e.createTopicInProcess("Doomed")
	open(t, ctx, e.base+"/console/topics?topic=Doomed", "topics", `!!document.querySelector('#topic-detail[data-topic="Doomed"]')`)
	// Without keys: refused in the page, nothing sent.
	clickAndConfirm(t, ctx, "#delete-topic")
	waitJS(t, ctx, `document.querySelector("#flash-error")?.textContent.includes("enter an admin account")`)
	// A non-admin account: the broker refuses.
	signIn := func(ak, sk string) {
		t.Helper()
		err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#signin-ak"), ak), chromedp.SetValue(chromedp.CSS("#signin-sk"), sk),
			chromedp.Click(chromedp.CSS("#signin-go")))
		if err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, fmt.Sprintf(`document.querySelector("#signin-state").textContent === "signing as %s"`, ak))
	}
	signIn("plainUser", "plain-secret-1")
	clickAndConfirm(t, ctx, "#delete-topic")
	waitJS(t, ctx, `document.querySelector("#flash-error")?.textContent.includes("Need admin permission")`)
	if _, ok, _ := e.b.TopicConfig("Doomed"); !ok {
		t.Fatal("a non-admin's delete went through")
	}
	signIn("consoleAdmin", "admin-secret-1")
	clickAndConfirm(t, ctx, "#delete-topic")
	waitJS(t, ctx, `document.querySelector("#flash-ok")?.textContent === "Topic Doomed deleted."`)
	if _, ok, _ := e.b.TopicConfig("Doomed"); ok {
		t.Error("the admin's delete from the page did not delete the topic")
	}

	// A reset by time from the groups page is signed the same way: group ag at the end of
	// Kept's three messages, reset from the page to the start.
	e.createTopicInProcess("Kept")
	for i := range 3 {
		m := message.New("Kept", []byte(fmt.Sprintf("kept %d", i)))
		if _, err := e.b.Store().Put(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.b.Store().WaitDispatched(context.Background(), e.b.Store().MaxPhysicalOffset()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.ResetOffset("ag", "Kept", -1, true, "test"); err != nil {
		t.Fatal(err)
	}
	if off, _ := e.b.ConsumerOffset("ag", "Kept", 0); off != 3 {
		t.Fatalf("ag on Kept queue 0 at %d before the reset, want 3", off)
	}
	open(t, ctx, e.base+"/console/groups?group=ag", "groups", `!!document.querySelector('#group-detail[data-group="ag"] #reset-form')`)
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#reset-topic"), "Kept"), chromedp.SetValue(chromedp.CSS("#reset-time"), "0")); err != nil {
		t.Fatal(err)
	}
	clickAndConfirm(t, ctx, "#reset-go")
	waitJS(t, ctx, `document.querySelector("#flash-ok")?.textContent.startsWith("Offsets of ag on Kept reset: queue 0 → 0")`)
	if off, _ := e.b.ConsumerOffset("ag", "Kept", 0); off != 0 {
		t.Errorf("ag on Kept queue 0 at %d after the signed reset from the page, want 0", off)
	}
	if !strings.Contains(e.log.String(), `msg="console: write" action="offset reset"`) {
		t.Errorf("the reset is not in the write log:\n%s", e.log.String())
	}
}
