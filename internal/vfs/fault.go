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
	OpWriteOut            // File.WriteOut
	numOps
)

var opNames = [...]string{
	OpOpen: "open", OpCreate: "create", OpWrite: "write", OpSync: "sync", OpTruncate: "truncate",
	OpFallocate: "fallocate", OpMap: "map", OpMsync: "msync", OpRemove: "remove", OpRename: "rename",
	OpMkdir: "mkdir", OpSyncDir: "syncdir", OpStatfs: "statfs", OpWriteOut: "writeout",
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
//
// With Then set the rule also fires Then after the matched call ran (with Err nil the call
// itself succeeds): PowerLossFS.Crash as Then loses power right after that step.
type Rule struct {
	Op    Op
	Path  string
	After int
	Count int
	Err   error
	Then  func()
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

// check records a call and returns the function to call after it ran and the injected error
// (nil: run the call).
func (f *FaultFS) check(op Op, path string) (func(), error) {
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
		if r.Err == nil {
			return r.Then, nil
		}
		if r.Then != nil {
			defer r.Then()
		}
		return nil, &os.PathError{Op: op.String(), Path: path, Err: r.Err}
	}
	return nil, nil
}

// do runs call unless a rule fails it, then the rule's Then.
func (f *FaultFS) do(op Op, path string, call func() error) error {
	then, err := f.check(op, path)
	if err != nil {
		return err
	}
	err = call()
	if then != nil {
		then()
	}
	return err
}

func (f *FaultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	op := OpOpen
	if flag&os.O_CREATE != 0 {
		op = OpCreate
	}
	var file File
	err := f.do(op, name, func() (err error) {
		file, err = f.inner.OpenFile(name, flag, perm)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

func (f *FaultFS) Remove(name string) error {
	return f.do(OpRemove, name, func() error { return f.inner.Remove(name) })
}

func (f *FaultFS) RemoveAll(name string) error {
	return f.do(OpRemove, name, func() error { return f.inner.RemoveAll(name) })
}

func (f *FaultFS) Rename(oldname, newname string) error {
	return f.do(OpRename, newname, func() error { return f.inner.Rename(oldname, newname) })
}

func (f *FaultFS) MkdirAll(dir string, perm os.FileMode) error {
	return f.do(OpMkdir, dir, func() error { return f.inner.MkdirAll(dir, perm) })
}

func (f *FaultFS) SyncDir(dir string) error {
	return f.do(OpSyncDir, dir, func() error { return f.inner.SyncDir(dir) })
}

func (f *FaultFS) Statfs(dir string) (Usage, error) {
	var u Usage
	err := f.do(OpStatfs, dir, func() (err error) {
		u, err = f.inner.Statfs(dir)
		return err
	})
	return u, err
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
	var n int
	err := f.fs.do(OpWrite, f.name, func() (err error) {
		n, err = f.File.Write(b)
		return err
	})
	return n, err
}

func (f *faultFile) WriteAt(b []byte, off int64) (int, error) {
	var n int
	err := f.fs.do(OpWrite, f.name, func() (err error) {
		n, err = f.File.WriteAt(b, off)
		return err
	})
	return n, err
}

func (f *faultFile) Sync() error {
	return f.fs.do(OpSync, f.name, func() error { return f.File.Sync() })
}

func (f *faultFile) Truncate(size int64) error {
	return f.fs.do(OpTruncate, f.name, func() error { return f.File.Truncate(size) })
}

func (f *faultFile) Fallocate(mode uint32, offset, length int64) error {
	return f.fs.do(OpFallocate, f.name, func() error { return f.File.Fallocate(mode, offset, length) })
}

func (f *faultFile) Map(size int) ([]byte, error) {
	var data []byte
	err := f.fs.do(OpMap, f.name, func() (err error) {
		data, err = f.File.Map(size)
		return err
	})
	return data, err
}

func (f *faultFile) Msync(offset, length int64) error {
	return f.fs.do(OpMsync, f.name, func() error { return f.File.Msync(offset, length) })
}

func (f *faultFile) WriteOut(offset, length int64) error {
	return f.fs.do(OpWriteOut, f.name, func() error { return f.File.WriteOut(offset, length) })
}
