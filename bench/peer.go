package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strconv"

	"github.com/mqstore/mqstore/bench/report"
)

// ErrNoPeer: the peer cannot be built or found (no go command, no
// bench/peer module).
var ErrNoPeer = errors.New("bench: peer unavailable")

// findPeerDir looks for bench/peer (a directory with a go.mod) from the
// working directory upward.
func findPeerDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		for _, cand := range []string{filepath.Join(dir, "bench", "peer"), filepath.Join(dir, "peer")} {
			if _, err := os.Stat(filepath.Join(cand, "go.mod")); err == nil {
				return cand, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: no bench/peer module above the working directory (set -peer-dir)", ErrNoPeer)
		}
		dir = parent
	}
}

// PeerBinary builds the peer (bench/peer) with the go command into dir and
// returns its path. The build is cached by the go command.
func PeerBinary(peerDir, dir string) (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoPeer, err)
	}
	if peerDir == "" {
		if peerDir, err = findPeerDir(); err != nil {
			return "", err
		}
	}
	bin := filepath.Join(dir, "mqbench-peer")
	cmd := exec.Command(goCmd, "build", "-o", bin, ".")
	cmd.Dir = peerDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w: go build in %s: %w\n%s", ErrNoPeer, peerDir, err, out)
	}
	return bin, nil
}

// runPeer runs the produce workload against NATS JetStream in the peer
// subprocess, passing its output through, and returns the report of its
// last line.
func runPeer(ctx context.Context, cfg *Config, out, stderr io.Writer) (*report.Report, error) {
	bin := cfg.PeerBin
	if bin == "" {
		tmp, err := os.MkdirTemp(cfg.Dir, "mqbench-peer-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		if bin, err = PeerBinary(cfg.PeerDir, tmp); err != nil {
			return nil, err
		}
	}
	args := []string{
		"-size", strconv.Itoa(cfg.Size),
		"-n", strconv.FormatInt(cfg.Messages, 10),
		"-duration", cfg.Duration.String(),
		"-producers", strconv.Itoa(cfg.Producers),
		"-window", strconv.Itoa(cfg.Window),
		"-flush", cfg.Flush,
		"-json", "-quiet=" + strconv.FormatBool(cfg.Quiet),
	}
	if cfg.Dir != "" {
		args = append(args, "-dir", cfg.Dir)
	}
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout = &buf
	cmd.Stderr = stderr
	cmd.Env = peerEnv()
	err := cmd.Run()
	// Pass the peer's progress lines through; its text report and JSON
	// line are printed again by Run, with the ceilings.
	text := buf.Bytes()
	if i := bytes.Index(text, []byte("\n== ")); i >= 0 {
		text = text[:i+1]
	} else if i := bytes.LastIndexByte(bytes.TrimRight(text, "\n"), '\n'); i >= 0 {
		text = text[:i+1]
	} else {
		text = nil
	}
	out.Write(text)
	if err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	rep, err := report.ParseJSON(buf.Bytes())
	if err != nil {
		return nil, err
	}
	rep.Mode = ModePeer
	return rep, nil
}

// peerEnv is the peer's environment: this process's, plus this process's collector settings
// (GOGC, GOMEMLIMIT: what gctune.Apply chose in mqbench) where the environment sets none, so that
// both sides of a comparison collect alike.
func peerEnv() []string {
	env := os.Environ()
	samples := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(samples)
	if _, set := os.LookupEnv("GOGC"); !set && samples[0].Value.Kind() == metrics.KindUint64 {
		gogc := "off" // the runtime reports off (-1) as a huge unsigned number
		if p := samples[0].Value.Uint64(); p <= math.MaxInt32 {
			gogc = strconv.FormatUint(p, 10)
		}
		env = append(env, "GOGC="+gogc)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && samples[1].Value.Kind() == metrics.KindUint64 {
		if limit := samples[1].Value.Uint64(); limit < math.MaxInt64 {
			env = append(env, "GOMEMLIMIT="+strconv.FormatUint(limit, 10))
		}
	}
	return env
}
