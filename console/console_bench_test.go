package console_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mqstore/mqstore/namesrv"
)

// benchEnv is a broker with 1,000 topics (4 queues each) and 10,000 open transactions.
func benchEnv(b *testing.B) *env {
	e := startEnv(b, nil)
	for i := range 1000 {
		tc := namesrv.TopicConfig{TopicName: fmt.Sprintf("Topic%04d", i), ReadQueueNums: 4, WriteQueueNums: 4, Perm: namesrv.PermRW}
		if err := e.b.UpdateTopic(tc, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	e.prepare("Topic0000", "pg-bench", 10_000)
	return e
}

// BenchmarkAPI measures the JSON endpoints behind the heavy pages, over HTTP.
func BenchmarkAPI(b *testing.B) {
	e := benchEnv(b)
	for _, path := range []string{"topics", "transactions?limit=1000", "overview", "groups"} {
		b.Run(path, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := http.Get(e.base + "/console/api/" + path)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
				b.SetBytes(n)
			}
		})
	}
}

// BenchmarkPageRender measures a page in headless Chromium, from navigation until its data is
// in the DOM (the page sets body[data-loaded]) and the condition holds; ns/op is that as the
// test sees it (chromedp round trips included), page-ms the page's own time from navigation
// to the frame after its first render (performance.now()). The pages show ROWS (100) rows of
// a long list; the "-rows1000" cases ask for 1,000 (?rows=1000), the size of the whole list
// before paging, for comparison in the same run.
func BenchmarkPageRender(b *testing.B) {
	ctx := newBrowser(b)
	e := benchEnv(b)
	for _, p := range []struct{ name, page, path, cond string }{
		{"topics", "topics", "topics", `document.querySelectorAll("#topics tbody tr").length === 100`},
		{"topics-rows1000", "topics", "topics?rows=1000", `document.querySelectorAll("#topics tbody tr").length === 1000`},
		{"transactions", "transactions", "transactions", `document.querySelectorAll("#txns tbody tr").length === 100`},
		{"transactions-rows1000", "transactions", "transactions?rows=1000", `document.querySelectorAll("#txns tbody tr").length === 1000`},
		{"overview", "overview", "", `!!document.querySelector("#throughput")`},
	} {
		b.Run(p.name, func(b *testing.B) {
			i := 0
			var pageMs float64
			for b.Loop() {
				i++
				sep := "?"
				if strings.Contains(p.path, "?") {
					sep = "&"
				}
				open(b, ctx, fmt.Sprintf("%s/console/%s%sn=%d", e.base, p.path, sep, i), p.page, p.cond+` && !!document.body.dataset.firstPaintMs`)
				pageMs += js[float64](b, ctx, `Number(document.body.dataset.firstPaintMs)`)
			}
			b.ReportMetric(pageMs/float64(i), "page-ms")
		})
	}
}
