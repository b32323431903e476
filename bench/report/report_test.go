package report

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRecorderPercentiles(t *testing.T) {
	r := NewRecorder()
	for i := 1; i <= 1000; i++ {
		r.Record(time.Duration(i)*time.Microsecond, 2, 200)
	}
	r.Error()
	rep := r.Finish("produce")
	if rep.Messages != 2000 || rep.Bytes != 200000 || rep.Errors != 1 || rep.Samples != 1000 {
		t.Fatalf("counts %+v", rep)
	}
	for _, c := range []struct{ got, want float64 }{
		{rep.P50us, 500}, {rep.P90us, 900}, {rep.P99us, 990}, {rep.P999us, 999}, {rep.MaxUs, 1000}, {rep.MeanUs, 500.5},
	} {
		if math.Abs(c.got-c.want)/c.want > 0.002 {
			t.Errorf("got %.2f, want %.2f", c.got, c.want)
		}
	}
	if rep.MsgsPerSec <= 0 || rep.MBPerSec <= 0 {
		t.Fatalf("rates %+v", rep)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := NewRecorder()
	r.Record(3*time.Millisecond, 1, 1024)
	rep := r.Finish("e2e")
	rep.Target, rep.Consumed, rep.Ceilings = "mqstore", 1, &Ceilings{Size: 1024, TCPEchoPerSec: 5}
	var out bytes.Buffer
	out.WriteString("progress line\n")
	rep.WriteText(&out)
	if err := rep.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	got, err := ParseJSON(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got.Mode != "e2e" || got.Messages != 1 || got.Consumed != 1 || got.Ceilings == nil || got.Ceilings.TCPEchoPerSec != 5 ||
		math.Abs(got.P99us-3000)/3000 > 0.002 {
		t.Fatalf("parsed %+v", got)
	}
	for _, field := range []string{`"mode"`, `"messages"`, `"bytes"`, `"seconds"`, `"msgs_per_sec"`, `"mb_per_sec"`,
		`"errors"`, `"p50_us"`, `"p99_us"`, `"p999_us"`, `"max_us"`} {
		if !strings.Contains(out.String(), field) {
			t.Errorf("JSON lacks %s", field)
		}
	}
	if _, err := ParseJSON([]byte("not json\n")); err == nil {
		t.Fatal("parsed a non-JSON line")
	}
}

func TestProgressAndSVG(t *testing.T) {
	r := NewRecorder()
	var out safeBuffer
	r.StartProgress(&out, "test", 100, 20*time.Millisecond)
	for i := 0; i < 30; i++ {
		r.Record(time.Duration(i+1)*100*time.Microsecond, 10, 1000)
		time.Sleep(3 * time.Millisecond)
	}
	rep := r.Finish("produce")
	if len(rep.Series()) < 2 {
		t.Fatalf("%d points", len(rep.Series()))
	}
	if !strings.Contains(out.String(), "msgs/s") {
		t.Fatalf("progress: %q", out.String())
	}
	var svg bytes.Buffer
	if err := rep.WriteSVG(&svg, "a <title> & more"); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&svg)
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("svg: %v", err)
		}
	}
	// An empty run still draws.
	var empty bytes.Buffer
	if err := NewRecorder().Finish("x").WriteSVG(&empty, "empty"); err != nil || !strings.Contains(empty.String(), "</svg>") {
		t.Fatalf("empty svg: %v", err)
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}, {-5, "-5"}} {
		if got := group(c.n); got != c.want {
			t.Errorf("group(%d) = %q", c.n, got)
		}
	}
	for _, c := range []struct {
		d    time.Duration
		want string
	}{{1500 * time.Nanosecond, "1.50µs"}, {250 * time.Microsecond, "250µs"}, {12 * time.Millisecond, "12.0ms"}, {12 * time.Second, "12s"}} {
		if got := fmtDur(c.d); got != c.want {
			t.Errorf("fmtDur(%v) = %q", c.d, got)
		}
	}
}

// safeBuffer is a bytes.Buffer safe for the progress goroutine and the test.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A run shorter than its progress interval ends with one point, its partial
// interval, and its SVG draws throughput and latency as lines.
func TestShortRunSeries(t *testing.T) {
	r := NewRecorder()
	r.StartProgress(nil, "short", 100, time.Hour)
	for i := 0; i < 10; i++ {
		r.Record(time.Duration(i+1)*time.Millisecond, 1, 100)
	}
	time.Sleep(2 * time.Millisecond)
	rep := r.Finish("produce")
	s := rep.Series()
	if len(s) != 1 || s[0].Msgs != 10 || s[0].PerSecond <= 0 || s[0].P99 < 9*time.Millisecond {
		t.Fatalf("series %+v", s)
	}
	var svg bytes.Buffer
	if err := rep.WriteSVG(&svg, "short"); err != nil {
		t.Fatal(err)
	}
	// Every polyline (throughput, p50, p99, max, distribution) has a segment.
	lines := strings.Split(svg.String(), "<polyline")[1:]
	if len(lines) != 5 {
		t.Fatalf("%d polylines", len(lines))
	}
	for i, l := range lines {
		pts := l[strings.Index(l, `points="`)+len(`points="`):]
		pts = pts[:strings.IndexByte(pts, '"')]
		if n := len(strings.Fields(pts)); n < 2 {
			t.Errorf("polyline %d: %d points", i, n)
		}
	}
}

// TestCPUPerMessage: the report carries the process CPU spent between the
// recorder's start (or Restart) and Finish, per message, in its text and
// JSON forms.
func TestCPUPerMessage(t *testing.T) {
	r := NewRecorder()
	burn := func(d time.Duration) {
		for c0 := ProcessCPU(); ProcessCPU()-c0 < d; {
		}
	}
	burn(30 * time.Millisecond) // before Restart: not counted
	r.Restart()
	burn(20 * time.Millisecond)
	r.Record(time.Millisecond, 10, 100)
	rep := r.Finish("produce")
	// 20 ms over 10 messages: at least 2,000 µs each, and not the 5,000 µs
	// that counting the burn before Restart would give (with slack for the
	// test's other goroutines).
	if rep.CPUPerMsgUs < 2000 || rep.CPUPerMsgUs >= 4500 {
		t.Fatalf("cpu per message %.1f µs, want [2000, 4500)", rep.CPUPerMsgUs)
	}
	var out bytes.Buffer
	if err := rep.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	got, err := ParseJSON(out.Bytes())
	if err != nil || got.CPUPerMsgUs != rep.CPUPerMsgUs {
		t.Fatalf("JSON %s: %+v, %v", out.String(), got, err)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	if !strings.Contains(text.String(), "µs per message") {
		t.Fatalf("text report lacks the CPU line:\n%s", text.String())
	}
}
