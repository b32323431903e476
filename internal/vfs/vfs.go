// Package vfs is the file-system seam of the store: every file operation whose failure or loss
// matters for crash safety (create, open, fallocate, truncate, rename, remove, mmap, msync, fsync,
// directory sync, statfs) goes through an FS held in an Options struct, so tests can inject
// ENOSPC, EIO and failed renames, and simulate a power loss that drops every write not yet synced.
//
// OS is the real file system. Tests wrap it (see the fault and power-loss implementations in this
// package). The zero value of an Options field is nil; Default turns nil into OS.
package vfs

import (
	"io"
	"os"
)

// FS is the set of file-system operations the store performs.
type FS interface {
	// OpenFile opens name as os.OpenFile does.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Remove deletes a file or an empty directory. The removal is durable only after SyncDir
	// of the parent.
	Remove(name string) error
	// RemoveAll deletes a tree. Durable only after SyncDir of the parent.
	RemoveAll(name string) error
	// Rename renames a file atomically. The new name is durable only after SyncDir of the
	// parent directory (of both directories when they differ).
	Rename(oldname, newname string) error
	// MkdirAll creates a directory and its parents. New entries are durable only after SyncDir
	// of each parent.
	MkdirAll(dir string, perm os.FileMode) error
	// ReadDir lists a directory, sorted by name.
	ReadDir(dir string) ([]os.DirEntry, error)
	// ReadFile reads a whole file.
	ReadFile(name string) ([]byte, error)
	// Stat and Lstat describe a file.
	Stat(name string) (os.FileInfo, error)
	Lstat(name string) (os.FileInfo, error)
	// SyncDir fsyncs a directory, making the creations, renames and removals of entries in it
	// durable.
	SyncDir(dir string) error
	// Statfs reports the capacity of the file system holding dir.
	Statfs(dir string) (Usage, error)
}

// File is an open file.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Seeker
	io.Closer
	Name() string
	Stat() (os.FileInfo, error)
	// Sync makes the file's written data and size durable (fsync).
	Sync() error
	// Truncate changes the file's size.
	Truncate(size int64) error
	// Fallocate allocates (mode 0) or zeroes (unix.FALLOC_FL_ZERO_RANGE|KEEP_SIZE) a range, as
	// fallocate(2). It returns unix.EOPNOTSUPP where the file system lacks it.
	Fallocate(mode uint32, offset, length int64) error
	// Fd is the file descriptor (for flock and madvise).
	Fd() uintptr
	// Map maps the first size bytes of the file read-write and shared. A file has at most one
	// mapping; Unmap releases it (Close does not).
	Map(size int) ([]byte, error)
	// Unmap releases the mapping made by Map.
	Unmap() error
	// Msync makes the mapped bytes [offset, offset+length) durable (msync MS_SYNC).
	Msync(offset, length int64) error
	// WriteOut writes the dirty pages of [offset, offset+length) back to the device and waits
	// for the writes to complete (sync_file_range WAIT_BEFORE|WRITE|WAIT_AFTER), without a
	// device cache flush and without committing metadata. The bytes are NOT durable when it
	// returns: they become durable at the next Sync or Msync of any file on the same file system
	// (its device cache flush covers every completed write), and only where the write-back
	// needed no metadata change: the pages lie in blocks that already hold durably written data
	// (not fallocated-unwritten extents or holes) inside the file's size. See PowerLossFS.
	WriteOut(offset, length int64) error
}

// Usage is a file system's capacity in bytes.
type Usage struct {
	Total int64
	Free  int64 // available to unprivileged users
}

// Default returns fs, or OS when fs is nil, so a zero Options field means the real file system.
func Default(fs FS) FS {
	if fs == nil {
		return OS
	}
	return fs
}
