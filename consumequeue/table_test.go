package consumequeue

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mqstore/mqstore/internal/mapped"
)

type tableQueue struct {
	topic   string
	queueID int32
	n       int64
}

func TestTableLoadAndOperations(t *testing.T) {
	root := t.TempDir()
	tb, err := OpenTable(root, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Len() != 0 || tb.MaxPhysicalOffset() != 0 || tb.Get("A", 0) != nil {
		t.Fatal("new table is not empty")
	}
	queues := []tableQueue{{"A", 0, 10}, {"A", 1, 150}, {"A", 7, 0}, {"%RETRY%g", 0, 5}, {"B", 2, 250}}
	for _, tq := range queues {
		q, err := tb.GetOrCreate(tq.topic, tq.queueID)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := tb.GetOrCreate(tq.topic, tq.queueID); again != q || tb.Get(tq.topic, tq.queueID) != q {
			t.Fatal("GetOrCreate/Get returned another queue")
		}
		putRange(t, q, 0, tq.n)
	}
	if want := unitFor(249).End(); tb.MaxPhysicalOffset() != want {
		t.Fatalf("MaxPhysicalOffset = %d, want %d", tb.MaxPhysicalOffset(), want)
	}
	if _, err := tb.GetOrCreate("a/b", 0); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("GetOrCreate(a/b) = %v", err)
	}
	if err := tb.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tb.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := tb.GetOrCreate("A", 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("GetOrCreate after Close = %v", err)
	}
	if tb.Get("A", 0) != nil {
		t.Fatal("Get after Close")
	}

	// Junk the loader must ignore, and a torn tail it must recover.
	for _, dir := range []string{"A/notanumber", "A/01", "A/-1", "C"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "stray-file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	zeroFrom(t, filepath.Join(root, "B", "2", mapped.FileName(2*testUnitsPerFile*UnitSize)), 40*UnitSize)

	tb, err = OpenTable(root, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	var got []tableQueue
	tb.Range(func(q *ConsumeQueue) bool {
		got = append(got, tableQueue{q.Topic(), q.QueueID(), q.MaxOffset()})
		return true
	})
	want := []tableQueue{{"%RETRY%g", 0, 5}, {"A", 0, 10}, {"A", 1, 150}, {"A", 7, 0}, {"B", 2, 240}}
	if len(got) != len(want) {
		t.Fatalf("Range = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Range = %v, want %v", got, want)
		}
	}
	if tb.Len() != len(want) {
		t.Fatalf("Len = %d", tb.Len())
	}
	stops := 0
	tb.Range(func(*ConsumeQueue) bool { stops++; return false })
	if stops != 1 {
		t.Fatal("Range did not stop")
	}
	if want := unitFor(239).End(); tb.MaxPhysicalOffset() != want {
		t.Fatalf("MaxPhysicalOffset after recovery = %d, want %d", tb.MaxPhysicalOffset(), want)
	}
	checkUnits(t, tb.Get("A", 1), 0, 150)

	// Crash recovery: drop units past a commitlog end, then retention.
	if err := tb.TruncateAbove(unitFor(120).CommitLogOffset); err != nil {
		t.Fatal(err)
	}
	if tb.Get("A", 1).MaxOffset() != 120 || tb.Get("B", 2).MaxOffset() != 120 || tb.Get("A", 0).MaxOffset() != 10 {
		t.Fatal("TruncateAbove did not reach every queue")
	}
	deleted, err := tb.SetMinPhysicalOffsetCount(unitFor(110).CommitLogOffset)
	if err != nil || deleted != 2 { // A-1 and B-2 each lose their first file
		t.Fatalf("SetMinPhysicalOffset deleted %d, %v", deleted, err)
	}
	if tb.Get("A", 1).MinOffset() != 110 || tb.Get("A", 0).MinOffset() != 10 {
		t.Fatalf("min offsets %d %d", tb.Get("A", 1).MinOffset(), tb.Get("A", 0).MinOffset())
	}
	if err := tb.SetMinPhysicalOffset(0); err != nil {
		t.Fatal(err)
	}

	// Delete a topic.
	a0 := tb.Get("A", 0)
	if err := tb.Delete("A"); err != nil {
		t.Fatal(err)
	}
	if tb.Get("A", 0) != nil || tb.Get("A", 1) != nil || tb.Len() != 2 {
		t.Fatal("Delete left queues")
	}
	if err := a0.Put(10, unitFor(10)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put on a deleted queue = %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "A")); !os.IsNotExist(err) {
		t.Fatalf("topic directory after Delete: %v", err)
	}
	if err := tb.Delete(".."); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("Delete(..) = %v", err)
	}
	// A deleted topic can be created again, from offset 0.
	q, err := tb.GetOrCreate("A", 0)
	if err != nil || q.MaxOffset() != 0 {
		t.Fatalf("recreated: %v, max %d", err, q.MaxOffset())
	}
}

func TestTableOpenErrors(t *testing.T) {
	if _, err := OpenTable(t.TempDir(), Options{UnitsPerFile: -3}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("bad options: %v", err)
	}
	// A queue whose files have another size makes the whole open fail (and close what it opened).
	root := t.TempDir()
	tb, err := OpenTable(root, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"A", "B"} {
		q, err := tb.GetOrCreate(topic, 0)
		if err != nil {
			t.Fatal(err)
		}
		putRange(t, q, 0, 3)
	}
	tb.Close()
	if _, err := OpenTable(root, Options{UnitsPerFile: 10}); !errors.Is(err, mapped.ErrBadSize) {
		t.Fatalf("other file size: %v", err)
	}
}

func TestTableConcurrentGetOrCreate(t *testing.T) {
	tb, err := OpenTable(t.TempDir(), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	const goroutines = 8
	got := make([][]*ConsumeQueue, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := int32(0); id < 16; id++ {
				q, err := tb.GetOrCreate("T", id)
				if err != nil {
					t.Error(err)
					return
				}
				got[g] = append(got[g], q)
				_ = tb.Get("T", (id+5)%16)
			}
		}()
	}
	wg.Wait()
	for g := 1; g < goroutines; g++ {
		for i := range got[0] {
			if got[g][i] != got[0][i] {
				t.Fatalf("goroutine %d got another queue for id %d", g, i)
			}
		}
	}
	if tb.Len() != 16 {
		t.Fatalf("Len = %d", tb.Len())
	}
}
