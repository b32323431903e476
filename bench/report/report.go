package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Report is a run's result. Its JSON form is one object, printed on the
// last line of the output with -json; the required fields come first.
type Report struct {
	Mode       string  `json:"mode"`
	Messages   int64   `json:"messages"` // messages completed (sent and acknowledged, or received)
	Bytes      int64   `json:"bytes"`    // their payload bytes
	Seconds    float64 `json:"seconds"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	MBPerSec   float64 `json:"mb_per_sec"` // 10^6 bytes of payload per second
	Errors     int64   `json:"errors"`
	P50us      float64 `json:"p50_us"`
	P90us      float64 `json:"p90_us"`
	P99us      float64 `json:"p99_us"`
	P999us     float64 `json:"p999_us"`
	MaxUs      float64 `json:"max_us"`
	MeanUs     float64 `json:"mean_us"`
	Samples    int64   `json:"samples"` // latencies recorded (one per batch or pull)
	// CPUPerMsgUs is the process's CPU time (user + system, every goroutine:
	// clients and, when embedded, the broker) during the measured phase,
	// per message, in µs. Steadier than throughput on a shared machine.
	CPUPerMsgUs float64 `json:"cpu_us_per_msg,omitempty"`
	// Sched is how long the process's goroutines and threads waited for a
	// core during the measured phase, and how many cores it used.
	Sched *Sched `json:"sched,omitempty"`

	// The workload.
	Target    string `json:"target,omitempty"` // mqstore, jetstream
	Size      int    `json:"size,omitempty"`
	Flush     string `json:"flush,omitempty"`
	Producers int    `json:"producers,omitempty"`
	Consumers int    `json:"consumers,omitempty"`
	Window    int    `json:"window,omitempty"`
	Batch     int    `json:"batch,omitempty"`
	Topics    int    `json:"topics,omitempty"`
	Queues    int    `json:"queues,omitempty"`
	Rate      int    `json:"rate,omitempty"` // target msgs/s (e2e), 0 = unlimited

	// Counts checked at the end of a run.
	Sent       int64 `json:"sent,omitempty"`        // messages acknowledged by the store or broker
	Stored     int64 `json:"stored,omitempty"`      // messages found in the queues afterwards
	Consumed   int64 `json:"consumed,omitempty"`    // messages received by consumers
	Committed  int64 `json:"committed,omitempty"`   // txn: local transactions ended with commit
	RolledBack int64 `json:"rolled_back,omitempty"` // txn: ended with rollback
	Unknown    int64 `json:"unknown,omitempty"`     // txn: ended unknown (left to the check-back)
	Checked    int64 `json:"checked,omitempty"`     // txn: check-backs answered

	// Cleanup says what became of the topics a run against a running server
	// created: deleted, or kept with -keep.
	Cleanup string `json:"cleanup,omitempty"`

	// ClientIO counts the socket calls of the producers during the load and
	// the frames they carried (produce, txn, e2e).
	ClientIO *IO `json:"client_io,omitempty"`
	// ServerIO is the same for the embedded broker (nil with -addr).
	ServerIO *IO `json:"server_io,omitempty"`

	// Ceilings of the machine, measured in the same run.
	Ceilings *Ceilings `json:"ceilings,omitempty"`

	series    []Point
	histogram *hdrhistogram.Snapshot
}

// IO is socket calls and the frames they carried.
type IO struct {
	Reads         int64 `json:"reads"`
	FramesRead    int64 `json:"frames_read"`
	Writes        int64 `json:"writes"`
	FramesWritten int64 `json:"frames_written"`
}

// Ceilings are the machine's physical limits for the message size.
type Ceilings struct {
	Size             int     `json:"size"`
	MemcpyMsgsPerSec float64 `json:"memcpy_msgs_per_sec"` // size-byte copies into a fresh mapped file
	MemcpyMBPerSec   float64 `json:"memcpy_mb_per_sec"`
	TCPEchoPerSec    float64 `json:"tcp_echo_per_sec"`      // pipelined echo of size-byte frames, one connection
	TCPEchoMBPerSec  float64 `json:"tcp_echo_mb_per_sec"`   // each way
	TCPRoundTripUs   float64 `json:"tcp_round_trip_p50_us"` // one frame at a time
}

// Series returns the per-second points of the run.
func (r *Report) Series() []Point { return r.series }

// WriteJSON writes the report as one line of JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// ParseJSON reads a report from the last non-empty line of out (the
// output of a run with -json).
func ParseJSON(out []byte) (*Report, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	var r Report
	if err := json.Unmarshal([]byte(last), &r); err != nil {
		return nil, fmt.Errorf("report: last line is not a JSON report: %w (%q)", err, last)
	}
	return &r, nil
}

// WriteText writes the report for a person.
func (r *Report) WriteText(w io.Writer) {
	target := r.Target
	if target == "" {
		target = "mqstore"
	}
	fmt.Fprintf(w, "\n== %s %s: %d B messages, flush %s, producers %d, consumers %d, window %d, batch %d, topics %d, queues %d\n",
		target, r.Mode, r.Size, r.Flush, r.Producers, r.Consumers, r.Window, r.Batch, r.Topics, r.Queues)
	fmt.Fprintf(w, "messages   %s in %.2f s, %d errors\n", group(r.Messages), r.Seconds, r.Errors)
	fmt.Fprintf(w, "throughput %s msgs/s, %.1f MB/s\n", group(int64(r.MsgsPerSec)), r.MBPerSec)
	if r.CPUPerMsgUs > 0 {
		fmt.Fprintf(w, "cpu        %.2f µs per message (process, user + system)\n", r.CPUPerMsgUs)
	}
	if s := r.Sched; s != nil {
		fmt.Fprintf(w, "sched      %.2f cores used; goroutines waited for a P p50 %.1f µs  p99 %.1f µs  p99.9 %.1f µs (%s waits)",
			s.Cores, s.GoroutineP50us, s.GoroutineP99us, s.GoroutineP999us, group(int64(s.GoroutineWaits)))
		if s.ThreadWaitMsPerSec > 0 {
			fmt.Fprintf(w, "; threads waited for a CPU %.0f ms per s", s.ThreadWaitMsPerSec)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "latency    p50 %.1f µs  p90 %.1f µs  p99 %.1f µs  p99.9 %.1f µs  max %.1f µs  (mean %.1f µs, %s samples)\n",
		r.P50us, r.P90us, r.P99us, r.P999us, r.MaxUs, r.MeanUs, group(r.Samples))
	var counts []string
	for _, c := range []struct {
		name string
		v    int64
	}{{"sent", r.Sent}, {"stored", r.Stored}, {"consumed", r.Consumed}, {"committed", r.Committed},
		{"rolled back", r.RolledBack}, {"unknown", r.Unknown}, {"checked", r.Checked}} {
		if c.v != 0 {
			counts = append(counts, fmt.Sprintf("%s %s", c.name, group(c.v)))
		}
	}
	if len(counts) > 0 {
		fmt.Fprintf(w, "counts     %s\n", strings.Join(counts, ", "))
	}
	if r.Cleanup != "" {
		fmt.Fprintf(w, "cleanup    %s\n", r.Cleanup)
	}
	for _, side := range []struct {
		name string
		io   *IO
	}{{"client io ", r.ClientIO}, {"server io ", r.ServerIO}} {
		io := side.io
		if io == nil {
			continue
		}
		per := func(frames, calls int64) float64 {
			if calls == 0 {
				return 0
			}
			return float64(frames) / float64(calls)
		}
		fmt.Fprintf(w, "%s %.1f frames per read (%s reads), %.1f frames per write (%s writes)\n", side.name,
			per(io.FramesRead, io.Reads), group(io.Reads), per(io.FramesWritten, io.Writes), group(io.Writes))
	}
	if c := r.Ceilings; c != nil {
		fmt.Fprintf(w, "ceilings   memcpy into a mapped file %s msgs/s (%.0f MB/s); loopback TCP echo %s msgs/s (%.0f MB/s each way), round trip p50 %.1f µs\n",
			group(int64(c.MemcpyMsgsPerSec)), c.MemcpyMBPerSec, group(int64(c.TCPEchoPerSec)), c.TCPEchoMBPerSec, c.TCPRoundTripUs)
	}
}
