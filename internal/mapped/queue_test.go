package mapped

import (
	"errors"
	"os"
	"slices"
	"testing"
	"time"
)

func fill(t *testing.T, q *Queue, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		f, err := q.LastOrCreate(0)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Append(make([]byte, f.Remaining())); err != nil {
			t.Fatal(err)
		}
	}
}

func TestQueueRollFindReopen(t *testing.T) {
	dir := t.TempDir()
	for _, prealloc := range []bool{false, true} {
		q, err := OpenQueue(dir, QueueOptions{FileSize: 4096, Preallocate: prealloc, Warm: prealloc})
		if err != nil {
			t.Fatal(err)
		}
		if q.MaxOffset() != 0 || q.MinOffset() != -1 {
			t.Fatalf("empty queue offsets %d/%d", q.MinOffset(), q.MaxOffset())
		}
		fill(t, q, 3)
		if got := len(q.Files()); got != 3 {
			t.Fatalf("files = %d, want 3", got)
		}
		if q.MaxOffset() != 3*4096 {
			t.Fatalf("MaxOffset = %d", q.MaxOffset())
		}
		for _, off := range []int64{0, 4095, 4096, 8191, 8192, 12287} {
			f := q.Find(off)
			if f == nil || f.FromOffset() != off-off%4096 {
				t.Fatalf("Find(%d) = %v", off, f)
			}
		}
		if q.Find(12288) != nil || q.Find(-1) != nil {
			t.Fatal("Find outside the queue must be nil")
		}
		f, err := q.Acquire(5000)
		if err != nil {
			t.Fatal(err)
		}
		f.Release()
		if _, err := q.Acquire(1 << 40); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Acquire out of range: %v", err)
		}
		if _, err := q.Flush(); err != nil {
			t.Fatal(err)
		}
		if q.FlushedOffset() != 3*4096 {
			t.Fatalf("FlushedOffset = %d", q.FlushedOffset())
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		if err := q.Close(); !errors.Is(err, ErrClosed) {
			t.Fatalf("second Close = %v", err)
		}
		// Reopen: files are back and count as full; the preallocated spare is gone.
		q, err = OpenQueue(dir, QueueOptions{FileSize: 4096})
		if err != nil {
			t.Fatal(err)
		}
		if len(q.Files()) != 3 || q.MaxOffset() != 3*4096 {
			t.Fatalf("reopened: %d files, max %d", len(q.Files()), q.MaxOffset())
		}
		if err := q.Destroy(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestQueueStartOffsetAndTruncate(t *testing.T) {
	q, err := OpenQueue(t.TempDir(), QueueOptions{FileSize: 4096, Preallocate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	f, err := q.LastOrCreate(10000)
	if err != nil {
		t.Fatal(err)
	}
	if f.FromOffset() != 8192 {
		t.Fatalf("first file starts at %d, want 8192", f.FromOffset())
	}
	f.Append(make([]byte, 4096))
	g, err := q.LastOrCreate(0)
	if err != nil {
		t.Fatal(err)
	}
	g.Append([]byte{1, 2, 3, 4})
	if q.MaxOffset() != 12288+4 {
		t.Fatalf("MaxOffset = %d", q.MaxOffset())
	}
	// Truncate into the first file: the second goes away.
	if err := q.Truncate(8192 + 100); err != nil {
		t.Fatal(err)
	}
	if len(q.Files()) != 1 || q.MaxOffset() != 8292 {
		t.Fatalf("after truncate: %d files, max %d", len(q.Files()), q.MaxOffset())
	}
	if _, err := os.Stat(g.Path()); !os.IsNotExist(err) {
		t.Fatal("truncated file still on disk")
	}
}

func TestQueueDeleteFront(t *testing.T) {
	q, err := OpenQueue(t.TempDir(), QueueOptions{FileSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	fill(t, q, 4)
	held, err := q.Acquire(0)
	if err != nil {
		t.Fatal(err)
	}
	n, err := q.DeleteBelow(8192, 0)
	if err != nil || n != 2 {
		t.Fatalf("DeleteBelow = %d, %v", n, err)
	}
	if q.MinOffset() != 8192 {
		t.Fatalf("MinOffset = %d", q.MinOffset())
	}
	if _, err := os.Stat(held.Path()); err != nil {
		t.Fatal("held file deleted before release")
	}
	held.Release()
	if _, err := os.Stat(held.Path()); !os.IsNotExist(err) {
		t.Fatal("held file kept after release")
	}
	// By time: never the newest file.
	n, err = q.DeleteOlderThan(time.Now().Add(time.Hour), 0)
	if err != nil || n != 1 || len(q.Files()) != 1 {
		t.Fatalf("DeleteOlderThan = %d, %v, %d files left", n, err, len(q.Files()))
	}
}

func TestQueueRejectsGap(t *testing.T) {
	dir := t.TempDir()
	for _, off := range []int64{0, 8192} {
		f, err := Create(nil, dir+"/"+FileName(off), off, 4096)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if _, err := OpenQueue(dir, QueueOptions{FileSize: 4096}); err == nil {
		t.Fatal("a gap between files must fail the open")
	}
}

func TestQueueRemovesUnfinishedCreation(t *testing.T) {
	dir := t.TempDir()
	tmp := dir + "/" + FileName(0) + TempSuffix
	if err := os.WriteFile(tmp, nil, 0o644); err != nil { // a creation cut short: 0 bytes
		t.Fatal(err)
	}
	q, err := OpenQueue(dir, QueueOptions{FileSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if len(q.Files()) != 0 {
		t.Fatal("an unfinished file was loaded")
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatal("the unfinished file was not removed")
	}
	if _, err := q.LastOrCreate(0); err != nil {
		t.Fatal(err)
	}
}

func TestQueueHugePagesAdvice(t *testing.T) {
	for _, huge := range []bool{false, true} {
		dir := t.TempDir()
		q, err := OpenQueue(dir, QueueOptions{FileSize: 4 << 20, Preallocate: true, Warm: true, HugePages: huge, BackgroundNice: 5})
		if err != nil {
			t.Fatal(err)
		}
		fill(t, q, 2) // the second file is the preallocated one
		for _, f := range q.Files() {
			flags, err := MappingFlags(f.Path())
			if errors.Is(err, ErrNotMapped) {
				t.Fatal(err)
			} else if err != nil {
				t.Skip(err)
			}
			if got := slices.Contains(flags, "hg"); got != huge {
				t.Errorf("HugePages %v: %s has %q", huge, f.Path(), flags)
			}
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
