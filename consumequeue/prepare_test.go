package consumequeue

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mqstore/mqstore/internal/mapped"
)

// Table.Prepare makes every queue's directory and first file; the queues read empty, stay empty
// across a reopen, and take their first unit at any offset (pre-filled as for a new queue).
func TestTablePrepare(t *testing.T) {
	root := t.TempDir()
	opts := Options{UnitsPerFile: 100}
	tab, err := OpenTable(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Prepare("T", 3); err != nil {
		t.Fatal(err)
	}
	if err := tab.Prepare("T", 3); err != nil { // again: nothing to do
		t.Fatal(err)
	}
	if err := tab.Prepare("a/b", 1); err == nil {
		t.Fatal("Prepare of an invalid topic succeeded")
	}
	if err := tab.Prepare("T", -1); err == nil {
		t.Fatal("Prepare of -1 queues succeeded")
	}
	for id := range 3 {
		path := filepath.Join(root, "T", strconv.Itoa(id), mapped.FileName(0))
		if st, err := os.Stat(path); err != nil || st.Size() != 100*UnitSize {
			t.Fatalf("queue %d file: %v", id, err)
		}
		q := tab.Get("T", int32(id))
		if q == nil || q.MinOffset() != 0 || q.MaxOffset() != 0 || q.MaxPhysicalOffset() != 0 {
			t.Fatalf("queue %d: %v", id, q)
		}
	}
	if err := tab.Close(); err != nil {
		t.Fatal(err)
	}

	tab, err = OpenTable(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if tab.Len() != 3 {
		t.Fatalf("reopened: %d queues", tab.Len())
	}
	q0, q1 := tab.Get("T", 0), tab.Get("T", 1)
	if q0.MaxOffset() != 0 || q1.MaxOffset() != 0 {
		t.Fatalf("reopened offsets %d %d", q0.MaxOffset(), q1.MaxOffset())
	}
	u := Unit{CommitLogOffset: 1000, Size: 100, TagsCode: 7}
	if err := q0.Put(0, u); err != nil {
		t.Fatal(err)
	}
	if got, ok := q0.Get(0); !ok || got != u {
		t.Fatalf("unit 0: %+v %v", got, ok)
	}
	// A first unit beyond 0 is pre-filled in the prepared file; beyond the file, the file goes.
	if err := q1.Put(5, u); err != nil {
		t.Fatal(err)
	}
	if q1.MinOffset() != 5 || q1.MaxOffset() != 6 {
		t.Fatalf("queue 1 offsets [%d, %d)", q1.MinOffset(), q1.MaxOffset())
	}
	q2 := tab.Get("T", 2)
	if err := q2.Put(250, u); err != nil {
		t.Fatal(err)
	}
	if q2.MinOffset() != 250 || q2.MaxOffset() != 251 {
		t.Fatalf("queue 2 offsets [%d, %d)", q2.MinOffset(), q2.MaxOffset())
	}
	if _, err := os.Stat(filepath.Join(root, "T", "2", mapped.FileName(0))); !os.IsNotExist(err) {
		t.Fatalf("queue 2's prepared file below its first unit is still there: %v", err)
	}
}
