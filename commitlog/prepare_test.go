package commitlog

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mqstore/mqstore/internal/mapped"
)

// Prepare gives an empty log its first segment before any append; the log stays empty (and
// reopens empty) until the first append, which goes into that segment at offset 0.
func TestPrepare(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 64 << 10, MaxMessageSize: 16 << 10}
	c := openLog(t, dir, opts)
	if c.Segments() != 0 {
		t.Fatalf("a fresh log has %d segments before Prepare", c.Segments())
	}
	if err := c.Prepare(); err != nil {
		t.Fatal(err)
	}
	if err := c.Prepare(); err != nil {
		t.Fatal(err)
	}
	if c.Segments() != 1 || c.MaxOffset() != 0 || c.MinOffset() != 0 {
		t.Fatalf("after Prepare: %d segments, [%d, %d)", c.Segments(), c.MinOffset(), c.MaxOffset())
	}
	if _, err := os.Stat(filepath.Join(dir, mapped.FileName(0))); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Prepare(); err == nil {
		t.Fatal("Prepare after Close succeeded")
	}

	c = openLog(t, dir, opts)
	if c.MaxOffset() != 0 || c.Segments() != 1 {
		t.Fatalf("reopened: %d segments, max %d", c.Segments(), c.MaxOffset())
	}
	res, err := c.Append(testMessage("T", 0, 0, 100))
	if err != nil || res.PhysicalOffset != 0 || res.QueueOffset != 0 {
		t.Fatalf("first append: %+v %v", res, err)
	}
}
