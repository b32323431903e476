package bench

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqstore/mqstore/bench/report"
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

// runJSON runs cfg and parses the JSON line its output ends with.
func runJSON(t *testing.T, cfg Config) (*report.Report, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	_, err := Run(ctx, cfg, &out)
	if err != nil {
		return nil, err
	}
	rep, perr := report.ParseJSON(out.Bytes())
	if perr != nil {
		t.Fatalf("output: %v\n%s", perr, out.String())
	}
	return rep, nil
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
		c.Quiet = false
		c.Plot = filepath.Join(t.TempDir(), "run.svg")
	})
	var out bytes.Buffer
	rep, err := Run(context.Background(), cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Seconds < 1.4 || rep.Messages == 0 || rep.Stored != rep.Messages {
		t.Fatalf("report %+v", rep)
	}
	if n := strings.Count(out.String(), "msgs/s"); n < 5 {
		t.Fatalf("%d progress lines:\n%s", n, out.String())
	}
	svg, err := os.ReadFile(cfg.Plot)
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
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
	}
	if polylines != 5 {
		t.Fatalf("%d polylines, want 5 (throughput, p50, p99, max, distribution)", polylines)
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
		{[]string{"txn", "-commit", "80", "-rollback", "30"}, false},
		{[]string{"txn", "-check", "maybe"}, false},
		{[]string{"produce", "extra"}, false},
	}
	for _, tt := range tests {
		_, err := ParseArgs(tt.args, io.Discard)
		if (err == nil) != tt.ok {
			t.Errorf("%q: err %v", tt.args, err)
		}
		if err != nil && !errors.Is(err, ErrUsage) {
			t.Errorf("%q: %v is not ErrUsage", tt.args, err)
		}
	}
}
