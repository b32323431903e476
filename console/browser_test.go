package console_test

import (
	"bufio"
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

	"github.com/mqstore/mqstore/console"
)

// chromiumPath is Debian's chromium (apt-get install chromium; .ci/setup installs it).
const chromiumPath = "/usr/bin/chromium"

// newBrowser starts headless Chromium for the test. Without Chromium the test is skipped,
// unless MQSTORE_REQUIRE_BROWSER is set (CI sets it), which makes that a failure.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("MQSTORE_REQUIRE_BROWSER") != "" {
			t.Fatalf("MQSTORE_REQUIRE_BROWSER is set but %s is missing: %v (apt-get install -y chromium)", chromiumPath, err)
		}
		t.Skipf("browser test skipped: %s not installed (apt-get install -y chromium); set MQSTORE_REQUIRE_BROWSER=1 to fail instead", chromiumPath)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return ctx
}

// open navigates to a console page and waits until its data is rendered and cond (a JS
// expression) holds.
func open(t testing.TB, ctx context.Context, url, page, cond string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate %s: %v", url, err)
	}
	waitJS(t, ctx, fmt.Sprintf("document.body.dataset.loaded === %q && (%s)", page, cond))
}

// waitJS waits until a JS expression is truthy.
func waitJS(t testing.TB, ctx context.Context, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		errText, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("load-error")||document.getElementById("flash")||{}).textContent||""`))
		t.Fatalf("waiting for %s: %v (page says %q)", expr, err, errText)
	}
}

// js evaluates an expression in the page.
func js[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// number reads an element's text as a number (digits only, thousands separators dropped).
func number(t testing.TB, ctx context.Context, sel string) int64 {
	t.Helper()
	text := js[string](t, ctx, fmt.Sprintf("document.querySelector(%q).textContent", sel))
	n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(text), ",", ""), 10, 64)
	if err != nil {
		t.Fatalf("%s: %q is not a number", sel, text)
	}
	return n
}

// click clicks an element, then confirms in the console's dialog.
//
// The clicks run as one script in the page (element lookup and click in the same turn of its
// event loop): a node found by a separate query can be replaced by a re-render (the topic detail
// redraws when its pending timers arrive) before a protocol-level click reaches it.
func clickAndConfirm(t testing.TB, ctx context.Context, sel string) {
	t.Helper()
	clickJS := func(sel string) string {
		return fmt.Sprintf(`(() => { const n = document.querySelector(%q); if (!n) return false; n.click(); return true; })()`, sel)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		clicked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](clickJS(sel)))
		if err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
		if clicked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("click %s: no such element", sel)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#confirm-ok"))); err != nil {
		t.Fatalf("click %s: no confirmation: %v", sel, err)
	}
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](clickJS("#confirm-ok"))); err != nil || !ok {
		t.Fatalf("confirm %s: %v", sel, err)
	}
}

// screenshot saves the page into the test's artifact directory and, with
// MQSTORE_CONSOLE_DOCS set, into docs/console/ (the screenshots of docs/CONSOLE.md).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dirs := []string{t.ArtifactDir()}
	if os.Getenv("MQSTORE_CONSOLE_DOCS") != "" {
		dirs = append(dirs, filepath.Join("..", "docs", "console"))
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot %s.png in %s", name, strings.Join(dirs, " and "))
}

// metricSum scrapes /metrics and sums a counter over its labels.
func metricSum(t testing.TB, base, name string) int64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		sum += v
	}
	return int64(sum)
}

func TestPagesInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	e := startEnv(t, nil)
	admin := e.admin()
	bg := context.Background()

	// Data: Orders with 20 messages consumed by group g1, then 7 more it has not consumed;
	// Pay with 3 open transactions and group g2 consuming it.
	e.createTopic("Orders", 4)
	e.createTopic("Pay", 4)
	e.sendN("Orders", 0, 20)
	c1, _ := e.consume("g1", "Orders")
	waitFor(t, 30*time.Second, "g1 to commit 20 offsets", func() bool {
		var sum int64
		for _, p := range e.b.GroupProgress("g1") {
			sum += p.ConsumerOffset
		}
		return sum == 20
	})
	c1.Shutdown()
	e.sendN("Orders", 20, 7)
	halfOffsets := e.prepare("Pay", "pg-pay", 3)
	// Later: two messages at delay level 18 (2 h), pending in the timing wheel; g1 has two dead letters.
	e.createTopic("Later", 4)
	e.sendDelayed("Later", 2, 18)
	e.deadLetters("g1", "Orders", 2)
	c2, got := e.consume("g2", "Pay")
	defer c2.Shutdown()

	t.Run("overview", func(t *testing.T) {
		open(t, ctx, e.base+"/console/", "overview", `!!document.querySelector("#throughput svg")`)
		if got, want := number(t, ctx, `[data-k="topics"]`), int64(len(e.b.TopicConfigs())); got != want {
			t.Errorf("topics shown %d, broker has %d", got, want)
		}
		if got := number(t, ctx, `[data-k="openTransactions"]`); got != 3 {
			t.Errorf("open transactions shown %d, want 3", got)
		}
		if got, want := number(t, ctx, `[data-k="metricsMessagesIn"]`), metricSum(t, e.base, "rocketmq_messages_in_total"); got != want || want < 27 {
			t.Errorf("messages in shown %d, /metrics says %d (want ≥ 27)", got, want)
		}
		info, err := admin.BrokerRuntimeInfo(bg, e.b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if got := js[string](t, ctx, `document.querySelector('[data-k="version"]').textContent`); got != info["brokerVersionDesc"] {
			t.Errorf("version shown %q, wire says %q", got, info["brokerVersionDesc"])
		}
		if got, want := number(t, ctx, `[data-k="messagesPut"]`), info["msgPutTotalTodayNow"]; strconv.FormatInt(got, 10) != want {
			t.Errorf("messages put shown %d, wire says %s", got, want)
		}
		// The chart fills while the page is open (it refreshes every 2 s).
		waitJS(t, ctx, `document.querySelectorAll("#throughput polyline").length === 3`)
		screenshot(t, ctx, "overview")
	})

	t.Run("topics", func(t *testing.T) {
		open(t, ctx, e.base+"/console/topics?topic=Orders", "topics", `!!document.querySelector('#topic-detail[data-topic="Orders"]')`)
		shown := js[[][]int64](t, ctx, `[...document.querySelectorAll("#queues tbody tr")].map(r =>
			[+r.dataset.queue, +r.querySelector(".min").textContent, +r.querySelector(".max").textContent])`)
		stats, err := admin.TopicStats(bg, "Orders")
		if err != nil {
			t.Fatal(err)
		}
		if len(shown) != len(stats) {
			t.Fatalf("%d queues shown, wire has %d", len(shown), len(stats))
		}
		for i, s := range stats {
			if shown[i][0] != int64(s.QueueID) || shown[i][1] != s.MinOffset || shown[i][2] != s.MaxOffset {
				t.Errorf("queue %d shown %v, wire %d..%d", s.QueueID, shown[i], s.MinOffset, s.MaxOffset)
			}
		}
		screenshot(t, ctx, "topics")

		// Pending timers of a topic, as MQSTORE_PENDING_TIMERS answers on the wire.
		open(t, ctx, e.base+"/console/topics?topic=Later", "topics", `!!document.querySelector('#topic-detail[data-topic="Later"] #timers-count')`)
		timers, err := admin.PendingTimers(bg, e.b.Addr(), "Later")
		if err != nil {
			t.Fatal(err)
		}
		if got := number(t, ctx, "#timers-count"); got != timers.Count || timers.Count != 2 || e.b.Store().PendingTimers("Later").Count != 2 {
			t.Errorf("pending timers shown %d, wire %d, store %d (want 2)", got, timers.Count, e.b.Store().PendingTimers("Later").Count)
		}
		if got := js[string](t, ctx, `document.querySelector("#timers-next").dataset.ms`); got != strconv.FormatInt(timers.NextDue.UnixMilli(), 10) {
			t.Errorf("next due shown %s, wire %d", got, timers.NextDue.UnixMilli())
		}
		screenshot(t, ctx, "topics-timers")

		// Create a topic from the page, then delete it, each confirmed in the dialog.
		err = chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#new-topic"), "Created"),
			chromedp.SetValue(chromedp.CSS("#new-topic-read"), "3"),
			chromedp.SetValue(chromedp.CSS("#new-topic-write"), "3"))
		if err != nil {
			t.Fatal(err)
		}
		clickAndConfirm(t, ctx, "#create-topic")
		waitJS(t, ctx, `!!document.querySelector("#flash-ok") && !!document.querySelector('#topic-detail[data-topic="Created"]')`)
		stats, err = admin.TopicStats(bg, "Created")
		if err != nil || len(stats) != 3 {
			t.Fatalf("created topic on the wire: %v queues, err %v", len(stats), err)
		}
		clickAndConfirm(t, ctx, "#delete-topic")
		waitJS(t, ctx, `document.querySelector("#flash-ok")?.textContent === "Topic Created deleted."`)
		if _, ok, _ := e.b.TopicConfig("Created"); ok {
			t.Error("topic still there after the delete from the page")
		}

		// Paging: two rows a page over every kind; next shows the following two, as the API lists them.
		open(t, ctx, e.base+"/console/topics?rows=2", "topics", `document.querySelectorAll("#topics tbody tr").length === 2`)
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#topic-filter"), "all")); err != nil {
			t.Fatal(err)
		}
		js[bool](t, ctx, `document.querySelector("#topic-filter").dispatchEvent(new Event("change")), true`)
		waitJS(t, ctx, `document.querySelector("#topics-pager .range").textContent.startsWith("1–2 of")`)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#topics-pager .next"))); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, `document.querySelector("#topics-pager .range").textContent.startsWith("3–4 of")`)
		var listed struct{ Topics []struct{ Topic string } }
		e.getJSON("/console/api/topics?kind=all&offset=2&limit=2", &listed)
		shownNames := js[[]string](t, ctx, `[...document.querySelectorAll("#topics tbody tr")].map(r => r.dataset.topic)`)
		if len(listed.Topics) != 2 || len(shownNames) != 2 || shownNames[0] != listed.Topics[0].Topic || shownNames[1] != listed.Topics[1].Topic {
			t.Errorf("second page shows %v, API lists %v", shownNames, listed.Topics)
		}
		js[bool](t, ctx, `sessionStorage.removeItem("topicFilter"), true`)
	})

	t.Run("groups", func(t *testing.T) {
		open(t, ctx, e.base+"/console/groups?group=g1", "groups", `!!document.querySelector('#group-detail[data-group="g1"]')`)
		progress, err := admin.ConsumeStats(bg, "g1", "Orders")
		if err != nil {
			t.Fatal(err)
		}
		var lag int64
		for _, p := range progress {
			lag += p.Lag()
			sel := fmt.Sprintf(`#group-queues tr[data-topic="Orders"][data-queue="%d"]`, p.QueueID)
			if got := number(t, ctx, sel+" .lag"); got != p.Lag() {
				t.Errorf("queue %d: lag shown %d, wire %d", p.QueueID, got, p.Lag())
			}
			if got := number(t, ctx, sel+" .consumer"); got != p.ConsumerOffset {
				t.Errorf("queue %d: consumer offset shown %d, wire %d", p.QueueID, got, p.ConsumerOffset)
			}
		}
		if lag != 7 {
			t.Errorf("wire lag %d, want 7", lag)
		}
		if got := number(t, ctx, "#group-lag"); got != lag {
			t.Errorf("group lag shown %d, wire %d", got, lag)
		}
		if got := number(t, ctx, `#groups tr[data-group="g1"] .lag`); got != lag {
			t.Errorf("group list lag shown %d, wire %d", got, lag)
		}
		screenshot(t, ctx, "groups")

		// Reset by time from the page: back to the start (typed in UTC), then forced to the end.
		consumerOffsets := func() (sum int64) {
			for q := range int32(4) {
				off, _ := e.b.ConsumerOffset("g1", "Orders", q)
				sum += off
			}
			return sum
		}
		resetFromPage := func(when string, force bool) {
			t.Helper()
			err := chromedp.Do(ctx,
				chromedp.SetValue(chromedp.CSS("#reset-topic"), "Orders"),
				chromedp.SetValue(chromedp.CSS("#reset-time"), when))
			if err != nil {
				t.Fatal(err)
			}
			js[bool](t, ctx, fmt.Sprintf(`document.querySelector("#reset-force").checked = %v, true`, force))
			js[bool](t, ctx, `document.getElementById("flash").replaceChildren(), true`)
			clickAndConfirm(t, ctx, "#reset-go")
			waitJS(t, ctx, `document.querySelector("#flash-ok")?.textContent.startsWith("Offsets of g1 on Orders reset")`)
		}
		resetFromPage("1970-01-01 00:00:00", false)
		if sum := consumerOffsets(); sum != 0 {
			t.Errorf("after the reset to the start: offsets sum to %d, want 0", sum)
		}
		progress, err = admin.ConsumeStats(bg, "g1", "Orders")
		if err != nil {
			t.Fatal(err)
		}
		lag = 0
		for _, p := range progress {
			lag += p.Lag()
		}
		if lag != 27 {
			t.Errorf("wire lag after the reset to the start: %d, want 27", lag)
		}
		waitJS(t, ctx, `document.querySelector("#group-lag").textContent === "27"`) // the page reloads after the action
		resetFromPage("end", true)
		if sum := consumerOffsets(); sum != 27 {
			t.Errorf("after the forced reset to the end: offsets sum to %d, want 27", sum)
		}
		waitJS(t, ctx, `document.querySelector("#group-lag").textContent === "0"`)
	})

	t.Run("transactions", func(t *testing.T) {
		open(t, ctx, e.base+"/console/transactions", "transactions", `!!document.querySelector("#txns")`)
		_, total, err := admin.OpenTransactions(bg, e.b.Addr(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := number(t, ctx, "#txn-total"); got != int64(total) || total != 3 {
			t.Errorf("open transactions shown %d, wire %d (want 3)", got, total)
		}
		screenshot(t, ctx, "transactions")

		// Commit one from the page: a client-go consumer of Pay receives it.
		clickAndConfirm(t, ctx, fmt.Sprintf(`#txns tr[data-offset="%d"] button.commit`, halfOffsets[0]))
		waitJS(t, ctx, `document.querySelector("#flash-ok")?.textContent.startsWith("Committed")`)
		waitFor(t, 20*time.Second, "the committed message at the client-go consumer", func() bool { return got.has("txn 0") })
		if _, total, _ = admin.OpenTransactions(bg, e.b.Addr(), 0); total != 2 {
			t.Errorf("open after the commit: %d, want 2", total)
		}
		waitJS(t, ctx, `document.querySelector("#txn-total").textContent === "2"`) // the page reloads its data after an action
		if got.count() != 1 {
			t.Errorf("consumer got %d messages, want 1 (the two open ones must not be delivered)", got.count())
		}
	})

	t.Run("messages", func(t *testing.T) {
		open(t, ctx, e.base+"/console/messages?topic=Orders&key=Orders-key-3", "messages", `!!document.querySelector("section.message")`)
		if got := js[string](t, ctx, `document.querySelector("section.message .body-text").textContent`); got != "body <b>3</b> of Orders" {
			t.Errorf("body shown %q", got)
		}
		if js[bool](t, ctx, `!!document.querySelector("section.message .body-text b")`) {
			t.Error("the body's markup was rendered, not escaped")
		}
		if got := js[string](t, ctx, `document.querySelector('section.message [data-prop="KEYS"]').textContent`); got != "Orders-key-3" {
			t.Errorf("KEYS shown %q", got)
		}
		msgID := js[string](t, ctx, `document.querySelector('section.message').dataset.msgid`)
		m, err := admin.QueryMessageByID(bg, msgID)
		if err != nil {
			t.Fatalf("wire lookup of the id shown (%s): %v", msgID, err)
		}
		if string(m.Body) != "body <b>3</b> of Orders" {
			t.Errorf("wire body of %s: %q", msgID, m.Body)
		}
		screenshot(t, ctx, "messages")
		// By UNIQ_KEY, no topic.
		uniq := js[string](t, ctx, `document.querySelector('section.message [data-k="uniqKey"]').textContent`)
		open(t, ctx, e.base+"/console/messages?id="+uniq, "messages", `!!document.querySelector("section.message")`)
		if got := js[string](t, ctx, `document.querySelector('section.message').dataset.msgid`); got != msgID {
			t.Errorf("by UNIQ_KEY %s: shown %s, want %s", uniq, got, msgID)
		}

		// retried lists %RETRY%g1 through the API (each resend adds one).
		retried := func(n int) []console.Message {
			t.Helper()
			var res struct{ Messages []console.Message }
			waitFor(t, 10*time.Second, fmt.Sprintf("%d messages in %%RETRY%%g1", n), func() bool {
				e.getJSON("/console/api/messages?topic=%25RETRY%25g1&begin=0", &res)
				return len(res.Messages) >= n
			})
			if len(res.Messages) != n {
				t.Fatalf("%%RETRY%%g1 holds %d messages, want %d", len(res.Messages), n)
			}
			return res.Messages
		}
		// Resend the message shown (its consuming group g1 is offered).
		if got := js[string](t, ctx, `document.querySelector("section.message .resend-group").value`); got != "g1" {
			t.Errorf("resend group offered %q, want g1", got)
		}
		clickAndConfirm(t, ctx, "section.message button.resend")
		waitJS(t, ctx, `document.querySelector("#flash-ok")?.textContent.startsWith("Resent to %RETRY%g1")`)
		if r := retried(1)[0]; r.BodyText != "body <b>3</b> of Orders" || r.Properties["RETRY_TOPIC"] != "Orders" {
			t.Errorf("resent copy: body %q RETRY_TOPIC %q", r.BodyText, r.Properties["RETRY_TOPIC"])
		}

		// By time range from the form, ten rows a page: each page lists what the API lists.
		open(t, ctx, e.base+"/console/messages?rows=10", "messages", `!!document.querySelector("#query-form")`)
		err = chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#q-topic"), "Orders"),
			chromedp.SetValue(chromedp.CSS("#q-begin"), "1970-01-01 00:00:00"), chromedp.Click(chromedp.CSS("#q-go")))
		if err != nil {
			t.Fatal(err)
		}
		for page, offset := range []int{0, 10} {
			waitJS(t, ctx, fmt.Sprintf(`document.querySelector("#result-count")?.textContent === "%d–%d, more follow"`, offset+1, offset+10))
			var listed struct{ Messages []console.Message }
			e.getJSON(fmt.Sprintf("/console/api/messages?topic=Orders&begin=0&offset=%d&max=10", offset), &listed)
			shownIDs := js[[]string](t, ctx, `[...document.querySelectorAll("#messages tbody tr")].map(r => r.dataset.msgid)`)
			if len(listed.Messages) != 10 || len(shownIDs) != 10 {
				t.Fatalf("page %d: %d shown, API lists %d", page, len(shownIDs), len(listed.Messages))
			}
			for i, m := range listed.Messages {
				if shownIDs[i] != m.MsgID {
					t.Errorf("page %d row %d: %s shown, API lists %s", page, i, shownIDs[i], m.MsgID)
				}
			}
			if page == 0 {
				if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#messages-pager .next"))); err != nil {
					t.Fatal(err)
				}
			}
		}

		// The dead letters of g1, a resend button per message (the group is filled in).
		open(t, ctx, e.base+"/console/messages", "messages", `!!document.querySelector("#dlq-form")`)
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#dlq-group"), "g1"), chromedp.Click(chromedp.CSS("#dlq-go"))); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, `document.querySelectorAll('#message-list[data-topic="%DLQ%g1"] #messages tbody tr').length === 2`)
		screenshot(t, ctx, "messages-dlq")
		dead := js[string](t, ctx, `document.querySelector("#messages tbody tr").dataset.offset`)
		clickAndConfirm(t, ctx, "#messages tbody tr button.resend")
		waitJS(t, ctx, `document.querySelector("#flash-ok")?.textContent.startsWith("Resent to %RETRY%g1")`)
		r := retried(2)[1]
		if r.BodyText != "dead 0" || r.Properties["RETRY_TOPIC"] != "Orders" || r.ReconsumeTimes != 0 {
			t.Errorf("resent dead letter (from offset %s): body %q RETRY_TOPIC %q reconsume %d", dead, r.BodyText, r.Properties["RETRY_TOPIC"], r.ReconsumeTimes)
		}
		// On the wire, the copy is a message of %RETRY%g1.
		m, err = admin.QueryMessageByID(bg, r.MsgID)
		if err != nil || m.Topic != "%RETRY%g1" || string(m.Body) != "dead 0" {
			t.Errorf("wire lookup of the resent copy %s: topic %q body %q err %v", r.MsgID, m.Topic, m.Body, err)
		}
	})
}
