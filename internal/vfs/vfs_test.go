package vfs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestFaultFSRules(t *testing.T) {
	dir := t.TempDir()
	fs := NewFaultFS(nil)
	fs.Inject(Rule{Op: OpFallocate, Path: "seg", After: 1, Count: 1, Err: unix.ENOSPC})
	fs.Inject(Rule{Op: OpRename, Path: "checkpoint", Err: unix.EIO})
	for i, want := range []error{nil, unix.ENOSPC, nil} {
		f, err := fs.OpenFile(filepath.Join(dir, "seg"), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		err = f.Fallocate(0, 0, 8192)
		f.Close()
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Fatalf("fallocate %d: got %v, want %v", i, err, want)
		}
	}
	// Another path is never matched.
	f, err := fs.OpenFile(filepath.Join(dir, "other"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Fallocate(0, 0, 8192); err != nil {
		t.Fatal(err)
	}
	f.Close()
	err = WriteFileAtomic(fs, filepath.Join(dir, "checkpoint"), []byte("x"), 0o644)
	if !errors.Is(err, unix.EIO) {
		t.Fatalf("atomic write with failing rename: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoint.tmp")); !os.IsNotExist(err) {
		t.Fatalf("temp file left behind: %v", err)
	}
	if got := fs.Calls(OpFallocate); got != 4 {
		t.Fatalf("fallocate calls = %d, want 4", got)
	}
	if got := fs.Failed(); got != 2 {
		t.Fatalf("failed = %d, want 2", got)
	}
	fs.Clear()
	if err := WriteFileAtomic(fs, filepath.Join(dir, "checkpoint"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFaultFSMsync(t *testing.T) {
	fs := NewFaultFS(nil)
	fs.Inject(Rule{Op: OpMsync, Err: unix.EIO})
	f, err := fs.OpenFile(filepath.Join(t.TempDir(), "m"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(8192); err != nil {
		t.Fatal(err)
	}
	data, err := f.Map(8192)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Unmap()
	data[0] = 1
	if err := f.Msync(0, 1); !errors.Is(err, unix.EIO) {
		t.Fatalf("msync: %v", err)
	}
}

// readOr returns the file's content or "<missing>".
func readOr(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, fs FS, path, data string, sync bool) {
	t.Helper()
	f, err := fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPowerLossEntries(t *testing.T) {
	root := t.TempDir()
	path := func(n string) string { return filepath.Join(root, n) }
	if err := os.WriteFile(path("before"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := NewPowerLoss(root)

	if err := MkdirAllSync(fs, path("c/d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(fs, path("c/d/atomic"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A rename without a directory sync: the old name survives, the new does not.
	writeFile(t, fs, path("c/src"), "moved", true)
	if err := fs.SyncDir(path("c")); err != nil {
		t.Fatal(err)
	}
	if err := fs.Rename(path("c/src"), path("c/dst")); err != nil {
		t.Fatal(err)
	}

	writeFile(t, fs, path("synced"), "durable", true)      // file synced, entry synced below
	writeFile(t, fs, path("unsynced-data"), "lost", false) // entry synced, data never
	if err := fs.SyncDir(root); err != nil {
		t.Fatal(err)
	}
	writeFile(t, fs, path("unsynced-entry"), "gone", true)          // data synced, entry never
	writeFile(t, fs, path("before"), "overwritten-unsynced", false) // existing file: old content stays
	if err := fs.Remove(path("synced")); err != nil {               // removal never made durable
		t.Fatal(err)
	}
	if err := fs.MkdirAll(path("a/b"), 0o755); err != nil { // directories never synced
		t.Fatal(err)
	}
	fs.Crash()
	if _, err := fs.OpenFile(path("x"), os.O_RDWR|os.O_CREATE, 0o644); !errors.Is(err, ErrCrashed) {
		t.Fatalf("open after crash: %v", err)
	}
	if err := fs.Restore(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"before":         "old",
		"synced":         "durable",
		"unsynced-data":  "",
		"unsynced-entry": "<missing>",
		"c/d/atomic":     "new",
		"c/src":          "moved",
		"c/dst":          "<missing>",
	} {
		if got := readOr(t, path(name)); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if _, err := os.Stat(path("a")); !os.IsNotExist(err) {
		t.Errorf("unsynced directory a survived: %v", err)
	}

	// The restored tree is the new baseline; a second crash keeps it.
	fs.Crash()
	if err := fs.Restore(); err != nil {
		t.Fatal(err)
	}
	if got := readOr(t, path("c/d/atomic")); got != "new" {
		t.Fatalf("after second restore: %q", got)
	}
}

func TestPowerLossMsync(t *testing.T) {
	root := t.TempDir()
	fs := NewPowerLoss(root)
	name := filepath.Join(root, "seg")
	const size = 4 * 4096
	f, err := fs.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Fallocate(0, 0, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil { // the size is durable
		t.Fatal(err)
	}
	if err := fs.SyncDir(root); err != nil {
		t.Fatal(err)
	}
	data, err := f.Map(size)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = byte(1 + i/4096)
	}
	if err := f.Msync(4096+10, 20); err != nil { // page 1 only
		t.Fatal(err)
	}
	fs.Crash()
	if err := f.Msync(0, size); !errors.Is(err, ErrCrashed) {
		t.Fatalf("msync after crash: %v", err)
	}
	if err := f.Unmap(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := fs.Restore(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	for i := 4096; i < 8192; i++ {
		want[i] = 2
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("restored segment differs: only page 1 was synced")
	}
}

// A file created and fallocated but never fsynced has no durable size.
func TestPowerLossSizeNeedsSync(t *testing.T) {
	root := t.TempDir()
	fs := NewPowerLoss(root)
	name := filepath.Join(root, "f")
	f, err := fs.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Fallocate(0, 0, 8192); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := fs.SyncDir(root); err != nil {
		t.Fatal(err)
	}
	fs.Crash()
	if err := fs.Restore(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != 0 {
		t.Fatalf("size %d survived without fsync", st.Size())
	}
}

// WriteOut: a written-out page is durable only after a later flush (a Sync or Msync of any
// file), with the content it had when written out, and only in a written block (one that
// already held durable data); a page of a fallocated-unwritten or zero-ranged extent is lost.
func TestPowerLossWriteOut(t *testing.T) {
	const size = 4 * 4096
	type step func(t *testing.T, fs *PowerLossFS, f, g File, data []byte)
	// setup: page 0 holds durable 'a's (written), pages 1-3 are fallocated and never written.
	for _, tc := range []struct {
		name string
		run  step
		want func(page int) byte // durable byte of each page after the power loss
	}{
		{"no flush", func(t *testing.T, fs *PowerLossFS, f, g File, data []byte) {
			fill(data, 0, 'b')
			must(t, f.WriteOut(0, 4096))
		}, func(page int) byte { return map[int]byte{0: 'a'}[page] }},
		{"flush by another file", func(t *testing.T, fs *PowerLossFS, f, g File, data []byte) {
			fill(data, 0, 'b')
			fill(data, 1, 'b') // unwritten extent: the flush does not cover it
			must(t, f.WriteOut(0, 2*4096))
			fill(data, 0, 'c') // after the write-out: not durable
			must(t, g.Sync())
		}, func(page int) byte { return map[int]byte{0: 'b'}[page] }},
		{"flush before the write-out", func(t *testing.T, fs *PowerLossFS, f, g File, data []byte) {
			fill(data, 0, 'b')
			must(t, g.Sync())
			must(t, f.WriteOut(0, 4096))
		}, func(page int) byte { return map[int]byte{0: 'a'}[page] }},
		{"own msync makes a page written", func(t *testing.T, fs *PowerLossFS, f, g File, data []byte) {
			fill(data, 1, 'b')
			must(t, f.Msync(4096, 4096))
			fill(data, 1, 'c')
			must(t, f.WriteOut(4096, 4096))
			must(t, g.Sync())
		}, func(page int) byte { return map[int]byte{0: 'a', 1: 'c'}[page] }},
		{"zero range makes a page unwritten", func(t *testing.T, fs *PowerLossFS, f, g File, data []byte) {
			must(t, f.Fallocate(unix.FALLOC_FL_ZERO_RANGE|unix.FALLOC_FL_KEEP_SIZE, 0, 4096))
			fill(data, 0, 'b')
			must(t, f.WriteOut(0, 4096))
			must(t, g.Sync())
		}, func(page int) byte { return map[int]byte{0: 'a'}[page] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			fs := NewPowerLoss(root)
			name := filepath.Join(root, "rows")
			f, err := fs.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
			must(t, err)
			must(t, f.Fallocate(0, 0, size))
			must(t, f.Sync())
			g, err := fs.OpenFile(filepath.Join(root, "log"), os.O_RDWR|os.O_CREATE, 0o644)
			must(t, err)
			must(t, fs.SyncDir(root))
			data, err := f.Map(size)
			must(t, err)
			fill(data, 0, 'a')
			must(t, f.Msync(0, 4096))
			tc.run(t, fs, f, g, data)
			fs.Crash()
			must(t, f.Unmap())
			f.Close()
			g.Close()
			must(t, fs.Restore())
			got, err := os.ReadFile(name)
			must(t, err)
			for page := range size / 4096 {
				if w := tc.want(page); !bytes.Equal(got[page*4096:(page+1)*4096], bytes.Repeat([]byte{w}, 4096)) {
					t.Fatalf("page %d: got %q..., want %q", page, got[page*4096], w)
				}
			}
		})
	}
}

func fill(data []byte, page int, c byte) {
	for i := page * 4096; i < (page+1)*4096; i++ {
		data[i] = c
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
