package vfs

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

// Op names a file-system operation that a FaultFS can fail.
type Op int

// The operations a Rule can match.
const (
	OpOpen      Op = iota // OpenFile of an existing file (no O_CREATE)
	OpCreate              // OpenFile with O_CREATE
	OpWrite               // File.Write and File.WriteAt
	OpSync                // File.Sync
	OpTruncate            // File.Truncate
	OpFallocate           // File.Fallocate
	OpMap                 // File.Map
	OpMsync               // File.Msync
	OpRemove              // FS.Remove and FS.RemoveAll
	OpRename              // FS.Rename (matched against the new name)
	OpMkdir               // FS.MkdirAll
	OpSyncDir             // FS.SyncDir
	OpStatfs              // FS.Statfs
	numOps
)

var opNames = [...]string{
	OpOpen: "open", OpCreate: "create", OpWrite: "write", OpSync: "sync", OpTruncate: "truncate",
	OpFallocate: "fallocate", OpMap: "map", OpMsync: "msync", OpRemove: "remove", OpRename: "rename",
	OpMkdir: "mkdir", OpSyncDir: "syncdir", OpStatfs: "statfs",
}

func (o Op) String() string {
	if o >= 0 && o < numOps {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Rule says which calls a FaultFS fails: calls of Op on a path containing Path (empty: any
// path), after the first After matching calls succeeded, Count times (0: every later call), with
// Err wrapped in an *os.PathError as the real file system reports errors.
type Rule struct {
	Op    Op
	Path  string
	After int
	Count int
	Err   error
}

// FaultFS wraps another FS and fails the calls its rules match. Safe for concurrent use.
type FaultFS struct {
	inner FS

	// mu guards rules and calls.
	mu    sync.Mutex
	rules []*faultRule
	calls [numOps]int
}

type faultRule struct {
	Rule
	seen   int // matching calls so far
	failed int // calls failed so far
}

var _ FS = (*FaultFS)(nil)

// NewFaultFS returns a FaultFS over inner (nil: OS) with no rules.
func NewFaultFS(inner FS) *FaultFS { return &FaultFS{inner: Default(inner)} }

// Inject adds a rule.
func (f *FaultFS) Inject(r Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &faultRule{Rule: r})
}

// Clear removes every rule.
func (f *FaultFS) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// Calls returns how many calls of op were made (failed ones included).
func (f *FaultFS) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Failed returns how many calls the rules failed so far.
func (f *FaultFS) Failed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.rules {
		n += r.failed
	}
	return n
}

// check records a call and returns the injected error for it, or nil.
func (f *FaultFS) check(op Op, path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	for _, r := range f.rules {
		if r.Op != op || !strings.Contains(path, r.Path) {
			continue
		}
		r.seen++
		if r.seen <= r.After || (r.Count > 0 && r.failed >= r.Count) {
			continue
		}
		r.failed++
		return &os.PathError{Op: op.String(), Path: path, Err: r.Err}
	}
	return nil
}

func (f *FaultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	op := OpOpen
	if flag&os.O_CREATE != 0 {
		op = OpCreate
	}
	if err := f.check(op, name); err != nil {
		return nil, err
	}
	file, err := f.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

func (f *FaultFS) Remove(name string) error {
	if err := f.check(OpRemove, name); err != nil {
		return err
	}
	return f.inner.Remove(name)
}

func (f *FaultFS) RemoveAll(name string) error {
	if err := f.check(OpRemove, name); err != nil {
		return err
	}
	return f.inner.RemoveAll(name)
}

func (f *FaultFS) Rename(oldname, newname string) error {
	if err := f.check(OpRename, newname); err != nil {
		return err
	}
	return f.inner.Rename(oldname, newname)
}

func (f *FaultFS) MkdirAll(dir string, perm os.FileMode) error {
	if err := f.check(OpMkdir, dir); err != nil {
		return err
	}
	return f.inner.MkdirAll(dir, perm)
}

func (f *FaultFS) SyncDir(dir string) error {
	if err := f.check(OpSyncDir, dir); err != nil {
		return err
	}
	return f.inner.SyncDir(dir)
}

func (f *FaultFS) Statfs(dir string) (Usage, error) {
	if err := f.check(OpStatfs, dir); err != nil {
		return Usage{}, err
	}
	return f.inner.Statfs(dir)
}

func (f *FaultFS) ReadDir(dir string) ([]os.DirEntry, error) { return f.inner.ReadDir(dir) }
func (f *FaultFS) ReadFile(name string) ([]byte, error)      { return f.inner.ReadFile(name) }
func (f *FaultFS) Stat(name string) (os.FileInfo, error)     { return f.inner.Stat(name) }
func (f *FaultFS) Lstat(name string) (os.FileInfo, error)    { return f.inner.Lstat(name) }

type faultFile struct {
	File
	fs   *FaultFS
	name string
}

func (f *faultFile) Write(b []byte) (int, error) {
	if err := f.fs.check(OpWrite, f.name); err != nil {
		return 0, err
	}
	return f.File.Write(b)
}

func (f *faultFile) WriteAt(b []byte, off int64) (int, error) {
	if err := f.fs.check(OpWrite, f.name); err != nil {
		return 0, err
	}
	return f.File.WriteAt(b, off)
}

func (f *faultFile) Sync() error {
	if err := f.fs.check(OpSync, f.name); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	if err := f.fs.check(OpTruncate, f.name); err != nil {
		return err
	}
	return f.File.Truncate(size)
}

func (f *faultFile) Fallocate(mode uint32, offset, length int64) error {
	if err := f.fs.check(OpFallocate, f.name); err != nil {
		return err
	}
	return f.File.Fallocate(mode, offset, length)
}

func (f *faultFile) Map(size int) ([]byte, error) {
	if err := f.fs.check(OpMap, f.name); err != nil {
		return nil, err
	}
	return f.File.Map(size)
}

func (f *faultFile) Msync(offset, length int64) error {
	if err := f.fs.check(OpMsync, f.name); err != nil {
		return err
	}
	return f.File.Msync(offset, length)
}
