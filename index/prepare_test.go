package index

import (
	"os"
	"testing"
)

// Prepare creates the first file before any put; the first put uses it, and a prepared file that
// was never flushed (a crash right after) opens as an empty index.
func TestPrepare(t *testing.T) {
	dir := t.TempDir()
	opts := Options{HashSlots: 16, MaxEntries: 8, Now: fixedClock()}
	ix := openIndex(t, dir, opts)
	if err := ix.Prepare(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Prepare(); err != nil {
		t.Fatal(err)
	}
	files := ix.Files()
	if len(files) != 1 {
		t.Fatalf("files after Prepare: %d", len(files))
	}
	if err := ix.Put("k", 100, ts0); err != nil {
		t.Fatal(err)
	}
	if got := ix.Files(); len(got) != 1 || got[0].Name != files[0].Name {
		t.Fatalf("the first put made another file: %+v", got)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}

	// A prepared file whose header never reached the disk: zeros.
	dir = t.TempDir()
	ix = openIndex(t, dir, opts)
	if err := ix.Prepare(); err != nil {
		t.Fatal(err)
	}
	name := dir + "/" + ix.Files()[0].Name
	ix.Close()
	if err := os.WriteFile(name, make([]byte, FileSize(opts.HashSlots, opts.MaxEntries)), 0o644); err != nil {
		t.Fatal(err)
	}
	ix = openIndex(t, dir, opts)
	defer ix.Close()
	if got := ix.Files(); len(got) != 1 || got[0].Header.IndexCount != 1 || ix.MaxPhysicalOffset() != 0 {
		t.Fatalf("reopened zero file: %+v", got)
	}
	if err := ix.Put("k", 100, ts0); err != nil {
		t.Fatal(err)
	}
	if ix.MaxPhysicalOffset() != 100 {
		t.Fatalf("MaxPhysicalOffset %d", ix.MaxPhysicalOffset())
	}
}
