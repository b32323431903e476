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
