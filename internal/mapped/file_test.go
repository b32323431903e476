package mapped

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestFileCreateAppendReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName(4096))
	f, err := Create(nil, path, 4096, 8192)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Size() != 8192 {
		t.Fatalf("size = %v, %v; want 8192", st.Size(), err)
	}
	if err := f.Append([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got := string(f.Readable(0)); got != "hello" {
		t.Fatalf("Readable = %q", got)
	}
	if f.Readable(5) != nil {
		t.Fatal("Readable past write position must be nil")
	}
	if err := f.Append(make([]byte, 8192)); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("overfull append: %v, want ErrNoSpace", err)
	}
	if pos, err := f.Flush(); err != nil || pos != 5 {
		t.Fatalf("Flush = %d, %v", pos, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	g, err := Open(nil, path, 4096, 8192)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if !bytes.Equal(g.Bytes()[:5], []byte("hello")) {
		t.Fatal("data not persisted")
	}
	if g.WrotePosition() != 8192 {
		t.Fatalf("opened file write position = %d, want full", g.WrotePosition())
	}
	g.SetWrotePosition(5)
	if g.WrotePosition() != 5 || g.FlushedPosition() != 5 {
		t.Fatalf("positions after SetWrotePosition = %d/%d", g.WrotePosition(), g.FlushedPosition())
	}
	if _, err := Open(nil, path, 4096, 4096); !errors.Is(err, ErrBadSize) {
		t.Fatalf("Open with wrong size: %v, want ErrBadSize", err)
	}
}

func TestFileReserveAndZero(t *testing.T) {
	f, err := Create(nil, filepath.Join(t.TempDir(), FileName(0)), 0, 4096*3)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := f.Reserve(10)
	copy(buf, "0123456789")
	if f.WrotePosition() != 0 {
		t.Fatal("Reserve must not publish")
	}
	f.Publish(10)
	if string(f.Readable(0)) != "0123456789" {
		t.Fatal("published bytes differ")
	}
	if f.Reserve(4096*3) != nil {
		t.Fatal("Reserve beyond the end must fail")
	}
	f.SetWrotePosition(4)
	if string(f.Bytes()[:10]) != "0123456789" {
		t.Fatal("SetWrotePosition must not touch the bytes")
	}
	f.Bytes()[9000] = 7
	f.Bytes()[4096*3-1] = 9
	if err := f.ZeroFrom(4); err != nil {
		t.Fatal(err)
	}
	if !isZero(f.Bytes()[4:]) || string(f.Bytes()[:4]) != "0123" {
		t.Fatal("ZeroFrom left bytes or cleared too much")
	}
	// The zeroing reached the file, not only the mapping.
	f.Flush()
	disk, err := os.ReadFile(f.Path())
	if err != nil || !isZero(disk[4:]) {
		t.Fatalf("file not zeroed on disk: %v", err)
	}
	f.WarmTo(f.Size())
	if f.warmed.Load() != f.Size() {
		t.Fatalf("warmed up to %d, want %d", f.warmed.Load(), f.Size())
	}
}

func TestFileReferenceCounting(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName(0))
	f, err := Create(nil, path, 0, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Retain() {
		t.Fatal("Retain on a live file failed")
	}
	if err := f.Destroy(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.Released():
		t.Fatal("released while a reader holds it")
	default:
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal("file deleted while a reader holds it")
	}
	f.Bytes()[0] = 1 // still mapped
	f.Release()
	select {
	case <-f.Released():
	case <-time.After(time.Second):
		t.Fatal("not released")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("file still exists after the last release: %v", err)
	}
	if f.Retain() {
		t.Fatal("Retain after release must fail")
	}
}

func TestLowerPriority(t *testing.T) {
	got := make(chan int, 1)
	go func() {
		LowerPriority(7)
		// getpriority(2) returns 20 - nice for the calling thread.
		prio, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
		if err != nil {
			got <- -100
			return
		}
		got <- 20 - prio
	}()
	if nice := <-got; nice != 7 {
		t.Fatalf("nice of the lowered thread = %d, want 7", nice)
	}
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	if nice := 20 - prio; nice == 7 {
		t.Fatalf("the test's own thread was lowered too")
	}
}
