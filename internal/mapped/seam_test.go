package mapped

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mqstore/mqstore/internal/vfs"
)

// A created, flushed file survives a power loss with its name, size and flushed bytes; a
// destroyed one stays gone.
func TestCreateAndDestroySurvivePowerLoss(t *testing.T) {
	dir := t.TempDir()
	pl := vfs.NewPowerLoss(dir)
	keep := filepath.Join(dir, FileName(0))
	gone := filepath.Join(dir, FileName(8192))
	f, err := Create(pl, keep, 0, 8192)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Append([]byte("durable")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Append([]byte(" not flushed")); err != nil {
		t.Fatal(err)
	}
	g, err := Create(pl, gone, 8192, 8192)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Destroy(); err != nil {
		t.Fatal(err)
	}
	pl.Crash()
	f.Close()
	if err := pl.Restore(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(keep)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 8192)
	copy(want, "durable")
	if !bytes.Equal(got, want) {
		t.Fatalf("restored file starts %q, want only the flushed bytes", got[:32])
	}
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Fatalf("destroyed file came back: %v", err)
	}
}

// Without space Create fails with ENOSPC and leaves nothing behind.
func TestCreateENOSPC(t *testing.T) {
	dir := t.TempDir()
	fs := vfs.NewFaultFS(nil)
	fs.Inject(vfs.Rule{Op: vfs.OpFallocate, Err: unix.ENOSPC})
	if _, err := Create(fs, filepath.Join(dir, FileName(0)), 0, 8192); !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("create: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}

// WriteOut covers only pages a Flush already made written blocks, and what it wrote out is
// durable only once another file's flush follows it; after ZeroFrom the zeroed page needs a
// Flush again.
func TestWriteOutThenForeignFlush(t *testing.T) {
	dir := t.TempDir()
	pl := vfs.NewPowerLoss(dir)
	f, err := Create(pl, filepath.Join(dir, FileName(0)), 0, 3*pageSize)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Create(pl, filepath.Join(dir, FileName(3*pageSize)), 3*pageSize, pageSize)
	if err != nil {
		t.Fatal(err)
	}
	if !f.writeOut {
		t.Skip("file system blocks are not one page: WriteOut is never used")
	}
	foreignFlush := func() {
		t.Helper()
		if err := other.Append([]byte{1}); err != nil {
			t.Fatal(err)
		}
		if _, err := other.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.Append([]byte("first ")))
	if _, ok, err := f.WriteOut(); ok || err != nil {
		t.Fatalf("write-out of a fresh (unwritten) page: ok %v, %v", ok, err)
	}
	_, err = f.Flush()
	must(err)
	must(f.Append([]byte("second ")))
	pos, ok, err := f.WriteOut()
	if !ok || err != nil || pos != int64(len("first second ")) {
		t.Fatalf("write-out of a written page: %d %v %v", pos, ok, err)
	}
	if f.FlushedPosition() != int64(len("first ")) {
		t.Fatal("WriteOut moved the flushed position")
	}
	foreignFlush()
	f.MarkFlushed(pos)
	must(f.Append([]byte("third ")))
	if _, ok, err := f.WriteOut(); !ok || err != nil {
		t.Fatalf("write-out: %v %v", ok, err)
	}
	// No flush after this write-out: "third " is not durable.
	// Zeroing the tail from the middle of the page makes that page need a Flush again.
	f.SetWrotePosition(3)
	must(f.ZeroFrom(3))
	must(f.Append([]byte("ZZ")))
	if _, ok, _ := f.WriteOut(); ok {
		t.Fatal("write-out of a page ZeroFrom touched")
	}
	pl.Crash()
	f.Close()
	other.Close()
	must(pl.Restore())
	got, err := os.ReadFile(filepath.Join(dir, FileName(0)))
	must(err)
	if want := "firZ"; string(bytes.TrimRight(got[:16], "\x00")) != "fir" {
		t.Fatalf("restored %q, want %q (the zeroed tail is durable, nothing after)", got[:16], want[:3])
	}
}

// The same sequence without the foreign flush loses the written-out bytes.
func TestWriteOutAloneIsNotDurable(t *testing.T) {
	dir := t.TempDir()
	pl := vfs.NewPowerLoss(dir)
	f, err := Create(pl, filepath.Join(dir, FileName(0)), 0, pageSize)
	if err != nil {
		t.Fatal(err)
	}
	if !f.writeOut {
		t.Skip("file system blocks are not one page")
	}
	f.Append([]byte("a"))
	if _, err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Append([]byte("b"))
	if _, ok, err := f.WriteOut(); !ok || err != nil {
		t.Fatalf("write-out: %v %v", ok, err)
	}
	pl.Crash()
	f.Close()
	if err := pl.Restore(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, FileName(0)))
	if got[0] != 'a' || got[1] != 0 {
		t.Fatalf("restored %q: want only the flushed byte", got[:2])
	}
}
