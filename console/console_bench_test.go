package console_test

import (
	"fmt"
	"io"
	"net/http"
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
// in the DOM (the page sets body[data-loaded]).
func BenchmarkPageRender(b *testing.B) {
	ctx := newBrowser(b)
	e := benchEnv(b)
	for _, p := range []struct{ name, path, cond string }{
		{"topics", "topics", `document.querySelectorAll("#topics tbody tr").length === 1000`},
		{"transactions", "transactions", `document.querySelectorAll("#txns tbody tr").length === 1000`},
		{"overview", "", `!!document.querySelector("#throughput")`},
	} {
		b.Run(p.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				open(b, ctx, fmt.Sprintf("%s/console/%s?n=%d", e.base, p.path, i), p.name, p.cond)
			}
		})
	}
}
