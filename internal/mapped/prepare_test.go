package mapped

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Prepare creates an empty queue's first file at the rounded start offset, asks for its successor
// and its warming, and leaves a queue that has files as it is.
func TestQueuePrepare(t *testing.T) {
	dir := t.TempDir()
	q, err := OpenQueue(dir, QueueOptions{FileSize: 4 << 20, Preallocate: true, Warm: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Prepare(5<<20 + 7); err != nil {
		t.Fatal(err)
	}
	files := q.Files()
	if len(files) != 1 || files[0].FromOffset() != 4<<20 || files[0].WrotePosition() != 0 {
		t.Fatalf("after Prepare: %d files, first at %d", len(files), files[0].FromOffset())
	}
	if q.MaxOffset() != 4<<20 || q.MinOffset() != 4<<20 {
		t.Fatalf("offsets [%d, %d)", q.MinOffset(), q.MaxOffset())
	}
	// The successor appears in the background; the warmer covers the first window.
	next := filepath.Join(dir, FileName(8<<20))
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, err := os.Stat(next)
		if err == nil && files[0].warmed.Load() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("successor %v, warmed %d", err, files[0].warmed.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The writer takes the prepared file, not a new one.
	f, err := q.LastOrCreate(0)
	if err != nil || f != files[0] {
		t.Fatalf("LastOrCreate after Prepare: %v %v", f, err)
	}
	if err := f.Append([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := q.Prepare(0); err != nil || len(q.Files()) != 1 {
		t.Fatalf("Prepare of a queue with files: %v, %d files", err, len(q.Files()))
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Prepare(0); err == nil {
		t.Fatal("Prepare after Close succeeded")
	}
}
