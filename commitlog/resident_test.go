package commitlog

import (
	"bytes"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mqstore/mqstore/message"
)

// residentPages counts the pages of b that are in memory.
func residentPages(t *testing.T, b []byte) (resident, total int) {
	t.Helper()
	vec := make([]byte, (len(b)+4095)/4096)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		t.Skipf("mincore: %v", errno)
	}
	for _, v := range vec {
		if v&1 != 0 {
			resident++
		}
	}
	return resident, len(vec)
}

// TestResidentBytes: with ResidentBytes, a flush evicts the pages more than ResidentBytes behind
// the flushed offset; the records there still read back intact (from disk).
func TestResidentBytes(t *testing.T) {
	const window = 4 << 20
	c, err := Open(t.TempDir(), Options{SegmentSize: 32 << 20, ResidentBytes: window})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := bytes.Repeat([]byte("r"), 1000)
	var first AppendResult
	for i := 0; c.MaxOffset() < 12<<20; i++ {
		m := message.New("ResidentTopic", body)
		res, err := c.Append(m)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = res
		}
	}
	flushed, err := c.Flush()
	if err != nil {
		t.Fatal(err)
	}
	seg := c.queue.First()
	evictEnd := (flushed - window) &^ (2<<20 - 1)
	// Flush returns once the flushed offset covers the log; the flusher evicts right after, on
	// its own goroutine: wait for it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		r, n := residentPages(t, seg.Bytes()[:evictEnd])
		if r <= n/4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pages below %d still resident", r, n, evictEnd)
		}
	}
	if r, n := residentPages(t, seg.Bytes()[evictEnd:flushed&^4095]); r < n/2 {
		t.Fatalf("only %d of %d pages of the window resident", r, n)
	}
	m, _, err := c.Message(first.PhysicalOffset)
	if err != nil {
		t.Fatal(err)
	}
	if m.Topic != "ResidentTopic" || !bytes.Equal(m.Body, body) {
		t.Fatalf("evicted record reads back as %q / %d bytes", m.Topic, len(m.Body))
	}
}
