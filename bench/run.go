package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/bench/report"
)

// Run runs cfg, writes the plot if asked, and returns the report. Progress
// lines and the text report go to stdout; with cfg.JSON they go to stderr
// and stdout gets only the report as one JSON object.
func Run(ctx context.Context, cfg Config, stdout, stderr io.Writer) (*report.Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	out := stdout
	if cfg.JSON {
		out = stderr
	}
	progress := out
	if cfg.Quiet {
		progress = nil
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	// MQBENCH_TRACE=file writes a runtime/trace of the run (server included when embedded),
	// to find where the e2e tail latencies go (issue 19).
	if path := os.Getenv("MQBENCH_TRACE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			return nil, err
		}
		defer func() {
			trace.Stop()
			f.Close()
		}()
	}
	var rep *report.Report
	var err error
	switch cfg.Mode {
	case ModeStore:
		rep, err = runStore(ctx, &cfg, progress)
	case ModeProduce:
		rep, err = runWire(ctx, &cfg, progress, runProduce)
	case ModeConsume:
		rep, err = runWire(ctx, &cfg, progress, runConsume)
	case ModeTxn:
		rep, err = runWire(ctx, &cfg, progress, runTxn)
	case ModeE2E:
		rep, err = runWire(ctx, &cfg, progress, runE2E)
	case ModePeer:
		rep, err = runPeer(ctx, &cfg, out, stderr)
	case ModeCeilings:
		rep = &report.Report{Mode: ModeCeilings}
		cfg.Ceilings = true
	}
	// A failed clean-up after a good run still prints the report.
	var cleanupErr error
	if errors.Is(err, ErrCleanup) {
		cleanupErr, err = err, nil
	}
	if err != nil {
		return rep, err
	}
	if cfg.Mode != ModePeer { // the peer reports its own workload
		rep.Size, rep.Producers, rep.Window, rep.Batch = cfg.Size, cfg.Producers, cfg.Window, cfg.Batch
		rep.Topics, rep.Queues, rep.Rate = cfg.Topics, cfg.Queues, cfg.Rate
	}
	if rep.Flush == "" {
		rep.Flush = cfg.Flush
	}
	if rep.Target == "" {
		rep.Target = "mqstore"
	}
	if cfg.Ceilings {
		c, err := MeasureCeilings(cfg.Size, cfg.Dir)
		if err != nil {
			return rep, fmt.Errorf("ceilings: %w", err)
		}
		rep.Ceilings = c
	}
	rep.WriteText(out)
	if cfg.Plot != "" {
		if err := writePlot(cfg.Plot, rep); err != nil {
			return rep, err
		}
		fmt.Fprintf(out, "plot       %s\n", cfg.Plot)
	}
	if cfg.JSON {
		if err := rep.WriteJSON(stdout); err != nil {
			return rep, err
		}
	}
	return rep, cleanupErr
}

func writePlot(path string, rep *report.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("%s %s, %d B, flush %s: %.0f msgs/s, p99 %.0f µs", rep.Target, rep.Mode, rep.Size, rep.Flush, rep.MsgsPerSec, rep.P99us)
	if err := rep.WriteSVG(f, title); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// budget hands out the messages of a run to its producers: a count (-n) or
// a deadline (-duration).
type budget struct {
	n        int64
	deadline time.Time
	taken    atomic.Int64
	stop     atomic.Bool
}

func newBudget(cfg *Config) *budget {
	b := &budget{n: cfg.Messages}
	if b.n == 0 {
		b.deadline = time.Now().Add(cfg.Duration)
	}
	return b
}

// take claims up to k messages and returns how many were granted (0: the
// run is over).
func (b *budget) take(k int) int {
	if b.stop.Load() {
		return 0
	}
	if b.n == 0 {
		if time.Now().After(b.deadline) {
			return 0
		}
		b.taken.Add(int64(k))
		return k
	}
	end := b.taken.Add(int64(k))
	if end <= b.n {
		return k
	}
	if over := end - b.n; over < int64(k) {
		return k - int(over)
	}
	return 0
}

// body returns a message body of size bytes.
func body(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

// stampBody writes the current time into the first 8 bytes of b (e2e).
func stampBody(b []byte) { binary.BigEndian.PutUint64(b, uint64(time.Now().UnixNano())) }

// bodyAge returns the time since stampBody wrote b.
func bodyAge(b []byte, now time.Time) time.Duration {
	if len(b) < 8 {
		return 0
	}
	return time.Duration(now.UnixNano() - int64(binary.BigEndian.Uint64(b)))
}

// topicName returns the name of topic i.
func (c *Config) topicName(i int) string { return fmt.Sprintf("%s-%d", c.Topic, i) }
