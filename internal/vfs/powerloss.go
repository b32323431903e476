package vfs

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrCrashed is returned by every operation of a PowerLossFS after Crash, until Restore.
var ErrCrashed = errors.New("vfs: crashed (simulated power loss)")

// powerLossPage is the granularity of the durable image of a file's content.
const powerLossPage = 4096

// PowerLossFS simulates a power loss of the file system under one root directory. It performs
// every operation on the real file system (OS) and keeps, beside it, the durable image: what a
// machine that lost power would find after a reboot, assuming the file system honours fsync,
// msync and directory fsync and nothing else:
//
//   - a file's content is durable up to its last Sync (the whole file, and its size) or Msync
//     (the synced pages of the mapping, not the size); bytes never synced read as zeros;
//   - a page written out with WriteOut (sync_file_range: written back, no cache flush) is not
//     durable by itself; it becomes durable, with the content it had when written out, at the
//     next Sync or Msync of any file of this FS (the device cache flush of that sync covers every
//     completed write) — but only if the page lies in a *written* block: one that a Sync or Msync
//     of its own file already made durable with data (or that held data when the FS first saw the
//     file). A write-back into a fallocated (unwritten) extent or a hole needs a metadata change
//     (extent conversion, allocation) that only the file's own fsync commits, so such a page is
//     dropped. Fallocate with FALLOC_FL_ZERO_RANGE or PUNCH_HOLE makes the pages it covers
//     unwritten again (ext4 converts zeroed extents to unwritten), and Truncate the pages past the
//     new size. SyncDir counts as no flush;
//   - a directory entry (a creation, a rename's new and old names, a removal) is durable only
//     after SyncDir of the directory holding it;
//   - files and directories that existed before the FS first saw them (created by someone else,
//     or before NewPowerLoss) are durable with the content they had then.
//
// Crash makes every later operation fail with ErrCrashed (Close and Unmap still release their
// resources), so an abandoned store can be closed without persisting anything. Restore, once
// everything is closed, rewrites the tree under root to exactly the durable image and clears the
// crash. Paths outside root pass through to the real file system untracked.
type PowerLossFS struct {
	root string

	// mu guards crashed and the node tree under top.
	mu      sync.Mutex
	crashed bool
	top     *plNode
	// pending are the pages written out since the last flush (a Sync or Msync of any file).
	pending []plPending
}

// plNode is a file or directory as the model knows it.
type plNode struct {
	dir bool
	// live and durable are a directory's current entries and the entries a power loss keeps.
	live, durable map[string]*plNode
	// pages and size are a file's durable content: page index -> 4096 bytes (absent: zeros).
	pages map[int64][]byte
	size  int64
	// baseline: the durable content is the real file's, not yet captured into pages.
	baseline bool
	// written: the pages whose blocks hold durably written data (see WriteOut above).
	written map[int64]bool
}

// plPending is a page written out (WriteOut) that no flush covered yet.
type plPending struct {
	node *plNode
	idx  int64
	data []byte
}

var _ FS = (*PowerLossFS)(nil)

// NewPowerLoss returns a PowerLossFS for the tree under root. Everything already there counts
// as durable.
func NewPowerLoss(root string) *PowerLossFS {
	return &PowerLossFS{root: filepath.Clean(root), top: newDirNode()}
}

func newDirNode() *plNode {
	return &plNode{dir: true, live: map[string]*plNode{}, durable: map[string]*plNode{}}
}

// Crash simulates the power loss: from now on every operation fails with ErrCrashed.
func (p *PowerLossFS) Crash() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.crashed = true
}

// Restore rewrites the tree under root to the durable image (see PowerLossFS) and clears the
// crash; the restored tree then counts as durable. Call it after every file of the tree was closed.
func (p *PowerLossFS) Restore() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.materialize(p.root, p.top); err != nil {
		return err
	}
	entries, err := os.ReadDir(p.root)
	if err != nil {
		return fmt.Errorf("vfs: restore: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(p.root, e.Name())); err != nil {
			return fmt.Errorf("vfs: restore: %w", err)
		}
	}
	if err := writeDurable(p.root, p.top); err != nil {
		return err
	}
	p.top = newDirNode()
	p.pending = nil
	p.crashed = false
	return nil
}

// materialize adopts every real entry under dir and captures the content of baseline files, so
// the model alone describes the durable image.
func (p *PowerLossFS) materialize(real string, n *plNode) error {
	if !n.dir {
		if n.baseline {
			return capture(real, n)
		}
		return nil
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("vfs: %w", err)
	}
	for _, e := range entries {
		child := p.childLocked(real, n, e.Name())
		if child == nil {
			continue
		}
		if err := p.materialize(filepath.Join(real, e.Name()), child); err != nil {
			return err
		}
	}
	return nil
}

// writeDurable writes the durable entries of directory n into real.
func writeDurable(real string, n *plNode) error {
	for name, child := range n.durable {
		path := filepath.Join(real, name)
		if child.dir {
			if err := os.Mkdir(path, 0o755); err != nil {
				return fmt.Errorf("vfs: restore: %w", err)
			}
			if err := writeDurable(path, child); err != nil {
				return err
			}
			continue
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return fmt.Errorf("vfs: restore: %w", err)
		}
		err = f.Truncate(child.size)
		for idx, page := range child.pages {
			off := idx * powerLossPage
			if err != nil || off >= child.size {
				continue
			}
			_, err = f.WriteAt(page[:min(int64(len(page)), child.size-off)], off)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("vfs: restore %s: %w", path, err)
		}
	}
	return nil
}

// capture makes the real file's current content the durable content of n.
func capture(real string, n *plNode) error {
	data, err := os.ReadFile(real)
	if err != nil {
		return fmt.Errorf("vfs: capture %s: %w", real, err)
	}
	captureData(data, n)
	return nil
}

// captureData makes data the durable content of n.
func captureData(data []byte, n *plNode) {
	n.pages = map[int64][]byte{}
	if n.written == nil {
		n.written = map[int64]bool{}
	}
	n.size = int64(len(data))
	for off := 0; off < len(data); off += powerLossPage {
		storePage(n, int64(off/powerLossPage), data[off:min(len(data), off+powerLossPage)])
	}
	n.baseline = false
}

// storePage records one page of durable content (all-zero pages are left out), synced by its
// own file (or promoted from a write-out into a written page): a page with data is written.
func storePage(n *plNode, idx int64, b []byte) {
	for _, c := range b {
		if c != 0 {
			n.pages[idx] = append(make([]byte, 0, powerLossPage), b...)
			if n.written == nil {
				n.written = map[int64]bool{}
			}
			n.written[idx] = true
			return
		}
	}
	delete(n.pages, idx)
}

// flushLocked is a device cache flush: the pages written out before it become durable where
// their blocks are written, and are dropped otherwise (see PowerLossFS).
func (p *PowerLossFS) flushLocked() {
	for _, pp := range p.pending {
		if pp.node.written[pp.idx] {
			storePage(pp.node, pp.idx, pp.data)
		}
	}
	p.pending = nil
}

// childLocked returns the live entry name of directory n (at real), adopting a real entry the
// model does not know as durable. It returns nil when there is no such entry.
func (p *PowerLossFS) childLocked(real string, n *plNode, name string) *plNode {
	if c, ok := n.live[name]; ok {
		return c
	}
	st, err := os.Lstat(filepath.Join(real, name))
	if err != nil {
		return nil
	}
	c := &plNode{baseline: !st.IsDir()}
	if st.IsDir() {
		c = newDirNode()
	}
	n.live[name] = c
	n.durable[name] = c
	return c
}

// rel splits name into its components below root; ok is false outside root.
func (p *PowerLossFS) rel(name string) ([]string, bool) {
	name = filepath.Clean(name)
	if name == p.root {
		return nil, true
	}
	rest, found := strings.CutPrefix(name, p.root+string(filepath.Separator))
	if !found {
		return nil, false
	}
	return strings.Split(rest, string(filepath.Separator)), true
}

// lookupLocked returns the node of name, or nil when it does not exist (or is outside root).
func (p *PowerLossFS) lookupLocked(name string) *plNode {
	parts, ok := p.rel(name)
	if !ok {
		return nil
	}
	n, real := p.top, p.root
	for _, part := range parts {
		if !n.dir {
			return nil
		}
		if n = p.childLocked(real, n, part); n == nil {
			return nil
		}
		real = filepath.Join(real, part)
	}
	return n
}

// parentLocked returns the directory node holding name and name's base, or nil.
func (p *PowerLossFS) parentLocked(name string) (*plNode, string) {
	name = filepath.Clean(name)
	if _, ok := p.rel(name); !ok || name == p.root {
		return nil, ""
	}
	d := p.lookupLocked(filepath.Dir(name))
	if d == nil || !d.dir {
		return nil, ""
	}
	return d, filepath.Base(name)
}

func (p *PowerLossFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.crashed {
		return nil, ErrCrashed
	}
	parent, base := p.parentLocked(name)
	var n *plNode
	if parent != nil {
		n = p.childLocked(filepath.Dir(filepath.Clean(name)), parent, base)
		if n != nil && n.baseline {
			if err := capture(name, n); err != nil {
				return nil, err
			}
		}
	}
	f, err := OS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	if parent != nil && n == nil {
		n = &plNode{pages: map[int64][]byte{}, written: map[int64]bool{}}
		parent.live[base] = n
	}
	return &plFile{File: f, fs: p, node: n}, nil
}

func (p *PowerLossFS) Remove(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.crashed {
		return ErrCrashed
	}
	parent, base := p.parentLocked(name)
	if parent != nil {
		if n := p.childLocked(filepath.Dir(filepath.Clean(name)), parent, base); n != nil {
			if err := p.materialize(name, n); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(name); err != nil {
		return err
	}
	if parent != nil {
		delete(parent.live, base)
	}
	return nil
}

func (p *PowerLossFS) RemoveAll(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.crashed {
		return ErrCrashed
	}
	parent, base := p.parentLocked(name)
	if parent != nil {
		if n := p.childLocked(filepath.Dir(filepath.Clean(name)), parent, base); n != nil {
			if err := p.materialize(name, n); err != nil {
				return err
			}
		}
	}
	if err := os.RemoveAll(name); err != nil {
		return err
	}
	if parent != nil {
		delete(parent.live, base)
	}
	return nil
}

func (p *PowerLossFS) Rename(oldname, newname string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.crashed {
		return ErrCrashed
	}
	oldParent, oldBase := p.parentLocked(oldname)
	newParent, newBase := p.parentLocked(newname)
	var n *plNode
	if oldParent != nil {
		if n = p.childLocked(filepath.Dir(filepath.Clean(oldname)), oldParent, oldBase); n != nil {
			if err := p.materialize(oldname, n); err != nil {
				return err
			}
		}
	}
	if newParent != nil {
		if old := p.childLocked(filepath.Dir(filepath.Clean(newname)), newParent, newBase); old != nil {
			if err := p.materialize(newname, old); err != nil {
				return err
			}
		}
	}
	if err := os.Rename(oldname, newname); err != nil {
		return err
	}
	if oldParent != nil {
		delete(oldParent.live, oldBase)
	}
	if newParent != nil {
		if n == nil {
			// Moved in from outside the root: whatever it holds is new.
			n = p.childLocked(filepath.Dir(filepath.Clean(newname)), newParent, newBase)
			delete(newParent.durable, newBase)
		}
		newParent.live[newBase] = n
	}
	return nil
}

func (p *PowerLossFS) MkdirAll(dir string, perm os.FileMode) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.crashed {
		return ErrCrashed
	}
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, ok := p.rel(d); !ok || d == p.root || p.lookupLocked(d) != nil {
			break
		}
		missing = append(missing, d)
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if parent := p.lookupLocked(filepath.Dir(missing[i])); parent != nil && parent.dir {
			parent.live[filepath.Base(missing[i])] = newDirNode()
		}
	}
	return nil
}

func (p *PowerLossFS) SyncDir(dir string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.crashed {
		return ErrCrashed
	}
	if err := OS.SyncDir(dir); err != nil {
		return err
	}
	n := p.lookupLocked(dir)
	if n == nil || !n.dir {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p.childLocked(dir, n, e.Name())
	}
	n.durable = maps.Clone(n.live)
	return nil
}

func (p *PowerLossFS) check() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.crashed {
		return ErrCrashed
	}
	return nil
}

func (p *PowerLossFS) Statfs(dir string) (Usage, error) {
	if err := p.check(); err != nil {
		return Usage{}, err
	}
	return OS.Statfs(dir)
}

func (p *PowerLossFS) ReadDir(dir string) ([]os.DirEntry, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	return OS.ReadDir(dir)
}

func (p *PowerLossFS) ReadFile(name string) ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	return OS.ReadFile(name)
}

func (p *PowerLossFS) Stat(name string) (os.FileInfo, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	return OS.Stat(name)
}

func (p *PowerLossFS) Lstat(name string) (os.FileInfo, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	return OS.Lstat(name)
}

// plFile is a file of a PowerLossFS. node is nil for a file outside the root.
type plFile struct {
	File
	fs   *PowerLossFS
	node *plNode
	data []byte // the mapping, for Msync
}

func (f *plFile) Read(b []byte) (int, error) {
	if err := f.fs.check(); err != nil {
		return 0, err
	}
	return f.File.Read(b)
}

func (f *plFile) ReadAt(b []byte, off int64) (int, error) {
	if err := f.fs.check(); err != nil {
		return 0, err
	}
	return f.File.ReadAt(b, off)
}

func (f *plFile) Write(b []byte) (int, error) {
	if err := f.fs.check(); err != nil {
		return 0, err
	}
	return f.File.Write(b)
}

func (f *plFile) WriteAt(b []byte, off int64) (int, error) {
	if err := f.fs.check(); err != nil {
		return 0, err
	}
	return f.File.WriteAt(b, off)
}

func (f *plFile) Seek(offset int64, whence int) (int64, error) {
	if err := f.fs.check(); err != nil {
		return 0, err
	}
	return f.File.Seek(offset, whence)
}

func (f *plFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.crashed {
		return ErrCrashed
	}
	if err := f.File.Truncate(size); err != nil {
		return err
	}
	if f.node != nil {
		// The blocks past the new size are freed: a later write there allocates again.
		for idx := range f.node.written {
			if idx*powerLossPage+powerLossPage > size {
				delete(f.node.written, idx)
			}
		}
	}
	return nil
}

func (f *plFile) Fallocate(mode uint32, offset, length int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.crashed {
		return ErrCrashed
	}
	err := f.File.Fallocate(mode, offset, length)
	if f.node != nil && mode&(unix.FALLOC_FL_ZERO_RANGE|unix.FALLOC_FL_PUNCH_HOLE) != 0 {
		// ext4 zeroes a range by converting its whole blocks to unwritten extents (a hole for
		// PUNCH_HOLE): a page inside it is no longer written. Also when the file system refused
		// (tmpfs): the model stays the conservative ext4 one wherever the test runs.
		first := (offset + powerLossPage - 1) / powerLossPage
		for idx := first; (idx+1)*powerLossPage <= offset+length; idx++ {
			delete(f.node.written, idx)
		}
	}
	return err
}

func (f *plFile) Map(size int) ([]byte, error) {
	if err := f.fs.check(); err != nil {
		return nil, err
	}
	data, err := f.File.Map(size)
	if err == nil {
		f.data = data
	}
	return data, err
}

func (f *plFile) Unmap() error {
	f.data = nil
	return f.File.Unmap()
}

func (f *plFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.crashed {
		return ErrCrashed
	}
	if err := f.File.Sync(); err != nil {
		return err
	}
	f.fs.flushLocked()
	if f.node == nil {
		return nil
	}
	// The whole file is durable now (fsync covers data and size). Read through the open file
	// (reopened by its descriptor, readable whatever its flags): its name may have changed since
	// it was opened (a rename into place).
	data, err := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", f.File.Fd()))
	if err != nil {
		return fmt.Errorf("vfs: capture %s: %w", f.Name(), err)
	}
	captureData(data, f.node)
	return nil
}

func (f *plFile) Msync(offset, length int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.crashed {
		return ErrCrashed
	}
	if err := f.File.Msync(offset, length); err != nil {
		return err
	}
	f.fs.flushLocked()
	if f.node == nil || f.data == nil {
		return nil
	}
	end := min(offset+length, int64(len(f.data)))
	for start := offset &^ (powerLossPage - 1); start < end; start += powerLossPage {
		storePage(f.node, start/powerLossPage, f.data[start:min(start+powerLossPage, int64(len(f.data)))])
	}
	return nil
}

func (f *plFile) WriteOut(offset, length int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.crashed {
		return ErrCrashed
	}
	if err := f.File.WriteOut(offset, length); err != nil {
		return err
	}
	if f.node == nil || f.data == nil {
		return nil
	}
	end := min(offset+length, int64(len(f.data)))
	for start := offset &^ (powerLossPage - 1); start < end; start += powerLossPage {
		idx := start / powerLossPage
		page := append([]byte(nil), f.data[start:min(start+powerLossPage, int64(len(f.data)))]...)
		replaced := false
		for i := range f.fs.pending {
			if pp := &f.fs.pending[i]; pp.node == f.node && pp.idx == idx {
				pp.data, replaced = page, true
				break
			}
		}
		if !replaced {
			f.fs.pending = append(f.fs.pending, plPending{node: f.node, idx: idx, data: page})
		}
	}
	return nil
}
