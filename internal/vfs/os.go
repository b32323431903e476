package vfs

import (
	"fmt"
	"os"

	"github.com/edsrzf/mmap-go"
	"golang.org/x/sys/unix"
)

// OS is the real file system.
var OS FS = osFS{}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &osFile{File: f}, nil
}

func (osFS) Remove(name string) error                    { return os.Remove(name) }
func (osFS) RemoveAll(name string) error                 { return os.RemoveAll(name) }
func (osFS) Rename(oldname, newname string) error        { return os.Rename(oldname, newname) }
func (osFS) MkdirAll(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }
func (osFS) ReadDir(dir string) ([]os.DirEntry, error)   { return os.ReadDir(dir) }
func (osFS) ReadFile(name string) ([]byte, error)        { return os.ReadFile(name) }
func (osFS) Stat(name string) (os.FileInfo, error)       { return os.Stat(name) }
func (osFS) Lstat(name string) (os.FileInfo, error)      { return os.Lstat(name) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

func (osFS) Statfs(dir string) (Usage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return Usage{}, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return Usage{Total: int64(st.Blocks) * st.Bsize, Free: int64(st.Bavail) * st.Bsize}, nil
}

type osFile struct {
	*os.File
	data mmap.MMap
}

func (f *osFile) Fallocate(mode uint32, offset, length int64) error {
	for {
		err := unix.Fallocate(int(f.File.Fd()), mode, offset, length)
		if err != unix.EINTR {
			return err
		}
	}
}

func (f *osFile) Map(size int) ([]byte, error) {
	if f.data != nil {
		return nil, fmt.Errorf("vfs: %s is already mapped", f.Name())
	}
	data, err := mmap.MapRegion(f.File, size, mmap.RDWR, 0, 0)
	if err != nil {
		return nil, err
	}
	f.data = data
	return data, nil
}

func (f *osFile) Unmap() error {
	if f.data == nil {
		return nil
	}
	err := f.data.Unmap()
	f.data = nil
	return err
}

// pageMask rounds an offset down to a page boundary, as msync requires.
const pageMask = 4096 - 1

func (f *osFile) Msync(offset, length int64) error {
	if f.data == nil {
		return fmt.Errorf("vfs: msync of %s: not mapped", f.Name())
	}
	start := offset &^ pageMask
	end := min(offset+length, int64(len(f.data)))
	if end <= start {
		return nil
	}
	return unix.Msync(f.data[start:end], unix.MS_SYNC)
}

// syncFileRangeFlags write a range back and wait for it, before and after (see File.WriteOut).
const syncFileRangeFlags = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER

func (f *osFile) WriteOut(offset, length int64) error {
	start := offset &^ pageMask
	end := offset + length
	if end <= start {
		return nil
	}
	for {
		err := unix.SyncFileRange(int(f.File.Fd()), start, end-start, syncFileRangeFlags)
		if err != unix.EINTR {
			if err != nil {
				return fmt.Errorf("sync_file_range %s: %w", f.Name(), err)
			}
			return nil
		}
	}
}
