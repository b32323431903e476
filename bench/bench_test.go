package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqstore/mqstore/bench/report"
	"github.com/mqstore/mqstore/client"
	"github.com/mqstore/mqstore/internal/testserver"
)

// testConfig is a short run of mode with small segments.
func testConfig(t *testing.T, mode string, mutate func(*Config)) Config {
	cfg := Defaults(mode)
	cfg.Size = 256
	cfg.Messages = 2000
	cfg.Queues = 4
	cfg.Window = 32
	cfg.SegmentSize = 16 << 20
	cfg.Dir = t.TempDir()
	cfg.JSON = true
	cfg.Quiet = true
	if mutate != nil {
		mutate(&cfg)
	}
	return cfg
}

// runJSON runs cfg (with -json) and parses its stdout, which must be one
// JSON object and nothing else.
func runJSON(t *testing.T, cfg Config) (*report.Report, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	_, err := Run(ctx, cfg, &stdout, &stderr)
	if err != nil {
		return nil, err
	}
	var rep report.Report
	d := json.NewDecoder(&stdout)
	d.DisallowUnknownFields()
	if err := d.Decode(&rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, stdout.String())
	}
	// What follows the object: the decoder's buffer, then what it did not read (a trailing
	// newline can be left in stdout when the object ends a read).
	if rest, _ := io.ReadAll(io.MultiReader(d.Buffered(), &stdout)); len(bytes.TrimSpace(rest)) > 0 {
		t.Fatalf("stdout holds more than the JSON object: %q", rest)
	}
	if !strings.Contains(stderr.String(), "== mqstore") && !strings.Contains(stderr.String(), "== jetstream") {
		t.Fatalf("stderr lacks the text report:\n%s", stderr.String())
	}
	return &rep, nil
}

func TestModes(t *testing.T) {
	tests := []struct {
		name   string
		mode   string
		mutate func(*Config)
		check  func(t *testing.T, r *report.Report)
	}{
		{name: "store", mode: ModeStore},
		{name: "store/sync/batch", mode: ModeStore, mutate: func(c *Config) { c.Flush = FlushSync; c.Producers = 4; c.Batch = 8 }},
		{name: "store/txn", mode: ModeStore, mutate: func(c *Config) { c.Txn = true; c.Topics = 2 }, check: func(t *testing.T, r *report.Report) {
			if r.Committed != r.Messages {
				t.Errorf("committed %d", r.Committed)
			}
		}},
		{name: "produce", mode: ModeProduce},
		{name: "produce/sync-flush/2-producers", mode: ModeProduce, mutate: func(c *Config) { c.Flush = FlushSync; c.Producers = 2 }},
		{name: "produce/batch", mode: ModeProduce, mutate: func(c *Config) { c.Batch = 16; c.Topics = 2 }},
		{name: "produce/window-1", mode: ModeProduce, mutate: func(c *Config) { c.Window = 1; c.Messages = 300 }},
		{name: "produce/header-json", mode: ModeProduce, mutate: func(c *Config) { c.Header = HeaderJSON }},
		{name: "consume", mode: ModeConsume, mutate: func(c *Config) { c.Consumers = 2 }, check: func(t *testing.T, r *report.Report) {
			if r.Consumed != r.Messages {
				t.Errorf("consumed %d", r.Consumed)
			}
		}},
		{name: "e2e", mode: ModeE2E, mutate: func(c *Config) { c.Rate = 20000 }, check: func(t *testing.T, r *report.Report) {
			if r.Consumed != r.Messages || r.Samples != r.Messages {
				t.Errorf("consumed %d, %d latencies", r.Consumed, r.Samples)
			}
		}},
		{name: "txn/check-back", mode: ModeTxn, mutate: func(c *Config) { c.Messages = 200; c.CommitPct, c.RollbackPct = 50, 25 }, check: func(t *testing.T, r *report.Report) {
			if r.Unknown != 50 || r.Checked < 50 || r.Committed != 150 || r.Consumed != 150 {
				t.Errorf("unknown %d checked %d committed %d consumed %d", r.Unknown, r.Checked, r.Committed, r.Consumed)
			}
		}},
		{name: "txn", mode: ModeTxn, mutate: func(c *Config) { c.CommitPct, c.RollbackPct = 70, 30 }, check: func(t *testing.T, r *report.Report) {
			if r.Committed+r.RolledBack != r.Messages || r.Consumed != r.Committed || r.Committed != 1400 {
				t.Errorf("committed %d rolled back %d consumed %d", r.Committed, r.RolledBack, r.Consumed)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, tt.mode, tt.mutate)
			r, err := runJSON(t, cfg)
			if errors.Is(err, ErrNoEndTransaction) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			wantMode := tt.mode
			if cfg.Txn {
				wantMode = "store-txn"
			}
			if r.Mode != wantMode || r.Messages != cfg.Messages || r.Bytes != cfg.Messages*int64(cfg.Size) || r.Errors != 0 {
				t.Fatalf("report %+v", r)
			}
			if r.Sent != cfg.Messages || (tt.mode != ModeE2E && tt.mode != ModeTxn && r.Stored != cfg.Messages) {
				t.Fatalf("sent %d stored %d", r.Sent, r.Stored)
			}
			if r.MsgsPerSec <= 0 || r.P50us <= 0 || r.P99us < r.P50us || r.MaxUs < r.P999us || r.Seconds <= 0 {
				t.Fatalf("measurements %+v", r)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestDurationAndPlot(t *testing.T) {
	cfg := testConfig(t, ModeProduce, func(c *Config) {
		c.Messages = 0
		c.Duration = 1500 * time.Millisecond
		c.Progress = 200 * time.Millisecond
		c.Quiet, c.JSON = false, false
		c.Plot = filepath.Join(t.TempDir(), "run.svg")
	})
	var out bytes.Buffer
	rep, err := Run(context.Background(), cfg, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Seconds < 1.4 || rep.Messages == 0 || rep.Stored != rep.Messages {
		t.Fatalf("report %+v", rep)
	}
	if n := strings.Count(out.String(), "msgs/s"); n < 5 {
		t.Fatalf("%d progress lines:\n%s", n, out.String())
	}
	checkPlot(t, cfg.Plot)
}

// checkPlot checks that the SVG at path parses and draws every line:
// throughput, p50, p99, max and the distribution, each with at least two
// points.
func checkPlot(t *testing.T, path string) {
	t.Helper()
	svg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(svg))
	polylines := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("svg does not parse: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "polyline" {
			continue
		}
		polylines++
		for _, a := range se.Attr {
			if a.Name.Local == "points" && len(strings.Fields(a.Value)) < 2 {
				t.Errorf("polyline %d has %d points", polylines, len(strings.Fields(a.Value)))
			}
		}
	}
	if polylines != 5 {
		t.Fatalf("%d polylines, want 5 (throughput, p50, p99, max, distribution)", polylines)
	}
}

// A run shorter than one progress interval still plots throughput and
// latency over time (its one, partial interval).
func TestShortRunPlots(t *testing.T) {
	for _, mode := range []string{ModeStore, ModeProduce} {
		t.Run(mode, func(t *testing.T) {
			cfg := testConfig(t, mode, func(c *Config) {
				c.Messages = 500
				c.Plot = filepath.Join(t.TempDir(), "short.svg")
			})
			rep, err := Run(context.Background(), cfg, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Seconds >= cfg.Progress.Seconds() {
				t.Skipf("the run took %.2f s, not shorter than the %v progress interval", rep.Seconds, cfg.Progress)
			}
			if n := len(rep.Series()); n != 1 {
				t.Fatalf("%d points, want the one partial interval", n)
			}
			checkPlot(t, cfg.Plot)
		})
	}
}

// A run against a running server (-addr) deletes the topics it created,
// unless -keep.
func TestRemoteTopicsCleanup(t *testing.T) {
	srv := testserver.Start(t, nil)
	admin, err := client.NewAdmin(client.WithNameServer(srv.NameServer))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx := context.Background()
	benchTopics := func() []string {
		t.Helper()
		all, err := admin.TopicList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ours []string
		for _, name := range all {
			if strings.HasPrefix(name, "Remote") {
				ours = append(ours, name)
			}
		}
		return ours
	}
	for _, keep := range []bool{false, true} {
		// e2e: consumers too, whose heartbeats create their group's retry topic.
		cfg := testConfig(t, ModeE2E, func(c *Config) {
			c.Addr, c.Keep, c.Topic, c.Topics, c.Messages = srv.NameServer, keep, "Remote", 2, 200
		})
		rep, err := runJSON(t, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Sent != 200 || rep.Consumed != 200 || rep.Flush != "server's" {
			t.Fatalf("report %+v", rep)
		}
		left := benchTopics()
		if !keep {
			if len(left) != 0 || !strings.HasPrefix(rep.Cleanup, "deleted 2 of 2 topics") {
				t.Fatalf("topics left after the run: %q; cleanup %q", left, rep.Cleanup)
			}
			all, err := admin.TopicList(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range all {
				if strings.HasPrefix(name, "%RETRY%mqbench") {
					t.Fatalf("the consumers' retry topic %s is left", name)
				}
			}
			for _, q := range srv.Broker.Store().Queues() {
				if strings.HasPrefix(q.Topic, "Remote") {
					t.Fatalf("the store still has queue %+v", q)
				}
			}
			continue
		}
		if len(left) != 2 || !strings.HasPrefix(rep.Cleanup, "kept topics Remote-") {
			t.Fatalf("with -keep: topics %q; cleanup %q", left, rep.Cleanup)
		}
	}
}

func TestCeilings(t *testing.T) {
	c, err := MeasureCeilings(1024, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.MemcpyMsgsPerSec <= 0 || c.TCPEchoPerSec <= 0 || c.TCPRoundTripUs <= 0 || c.MemcpyMBPerSec <= 0 {
		t.Fatalf("ceilings %+v", c)
	}
}

func TestPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("peer: builds nats-server (skipped with -short)")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("peer: no go command to build bench/peer:", err)
	}
	start := time.Now()
	bin, err := PeerBinary("", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("peer built in %v", time.Since(start))
	for _, flush := range []string{FlushAsync, FlushSync} {
		cfg := testConfig(t, ModePeer, func(c *Config) { c.PeerBin = bin; c.Flush = flush; c.Messages = 1000 })
		r, err := runJSON(t, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if r.Mode != ModePeer || r.Target != "jetstream" || r.Messages != cfg.Messages || r.Sent != cfg.Messages ||
			r.Stored != cfg.Messages || r.Flush != flush || r.Errors != 0 {
			t.Fatalf("report %+v", r)
		}
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args []string
		ok   bool
	}{
		{[]string{"produce", "-size", "128", "-n", "10", "-window", "4", "-json"}, true},
		{[]string{"store", "-flush", "sync", "-txn"}, true},
		{[]string{"e2e", "-rate", "1000", "-plot", "x.svg"}, true},
		{[]string{"ceilings"}, true},
		{nil, false},
		{[]string{"bogus"}, false},
		{[]string{"produce", "-flush", "never"}, false},
		{[]string{"produce", "-size", "1"}, false},
		{[]string{"produce", "-window", "0"}, false},
		{[]string{"txn", "-header", "json"}, true},
		{[]string{"produce", "-header", "xml"}, false},
		{[]string{"store", "-header", "json"}, false}, // the store mode has no client
		{[]string{"txn", "-commit", "80", "-rollback", "30"}, false},
		{[]string{"txn", "-check", "maybe"}, false},
		{[]string{"produce", "extra"}, false},
		{[]string{"produce", "-txn"}, false},             // a flag of another mode
		{[]string{"ceilings", "-producers", "2"}, false}, // idem
		{[]string{"produce", "-addr", "x:9876", "-keep"}, true},
		{[]string{"store", "-segment", "4194304"}, false}, // below twice the largest message
		{[]string{"store", "-segment", "8388608"}, true},
	}
	for _, tt := range tests {
		_, err := ParseArgs(tt.args)
		if (err == nil) != tt.ok {
			t.Errorf("%q: err %v", tt.args, err)
		}
		if err != nil && !errors.Is(err, ErrUsage) {
			t.Errorf("%q: %v is not ErrUsage", tt.args, err)
		}
	}
}

// TestPeerEnv: the JetStream peer runs with this process's GOGC and memory limit when the
// environment sets neither (mqbench's gctune settings reach both sides of a comparison), and
// with the environment's when it does.
func TestPeerEnv(t *testing.T) {
	prevPercent := debug.SetGCPercent(321)
	prevLimit := debug.SetMemoryLimit(1 << 30)
	t.Cleanup(func() { debug.SetGCPercent(prevPercent); debug.SetMemoryLimit(prevLimit) })
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Setenv(k, "") // restores the variable after the test
		os.Unsetenv(k)
	}
	env := peerEnv()
	if !slices.Contains(env, "GOGC=321") || !slices.Contains(env, "GOMEMLIMIT=1073741824") {
		t.Fatalf("peer environment without GOGC/GOMEMLIMIT set: %q", env[len(env)-2:])
	}
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "2GiB")
	env = peerEnv()
	for _, v := range env {
		if v == "GOGC=321" || strings.HasPrefix(v, "GOMEMLIMIT=1073741824") {
			t.Fatalf("peer environment overrides the operator's settings: %q", v)
		}
	}
}
