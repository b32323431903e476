package commitlog

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mqstore/mqstore/internal/vfs"
	"github.com/mqstore/mqstore/message"
)

// TestFlushErrorIsSticky: after one failed msync the flushed offset never moves again, even when
// later msyncs would succeed; every append (sync, async, batch) is refused with ErrFlush naming
// the first error, and waiters in AsyncFlush mode see it too.
func TestFlushErrorIsSticky(t *testing.T) {
	for _, mode := range []FlushMode{SyncFlush, AsyncFlush} {
		t.Run(mode.String(), func(t *testing.T) {
			fs := vfs.NewFaultFS(nil)
			c, err := Open(t.TempDir(), Options{SegmentSize: 64 << 10, MaxMessageSize: 16 << 10, FlushMode: mode, FS: fs})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				if _, err := c.Append(testMessage("T", 0, i, 100)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := c.Flush(); err != nil {
				t.Fatal(err)
			}
			flushed := c.FlushedOffset()
			fs.Inject(vfs.Rule{Op: vfs.OpMsync, Count: 1, Err: unix.EIO})
			res, err := c.Append(testMessage("T", 0, 5, 100))
			if mode == SyncFlush && (!errors.Is(err, ErrFlush) || !errors.Is(err, unix.EIO)) {
				t.Fatalf("append whose sync failed: %v", err)
			}
			if mode == AsyncFlush {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Flush(); !errors.Is(err, ErrFlush) || !errors.Is(err, unix.EIO) {
					t.Fatalf("flush: %v", err)
				}
			}
			if res.End() <= flushed {
				t.Fatalf("the failing record ends at %d, inside the flushed %d", res.End(), flushed)
			}
			if err := c.Err(); !errors.Is(err, ErrFlush) || !errors.Is(err, unix.EIO) {
				t.Fatalf("Err: %v", err)
			}
			msyncs := fs.Calls(vfs.OpMsync)
			if _, err := c.Append(testMessage("T", 0, 6, 100)); !errors.Is(err, ErrFlush) {
				t.Fatalf("append after the failure: %v", err)
			}
			if _, err := c.AppendBatch([]*message.Message{testMessage("T", 0, 7, 100)}); !errors.Is(err, ErrFlush) {
				t.Fatalf("batch after the failure: %v", err)
			}
			if err := c.AppendAsync(testMessage("T", 0, 8, 100), func(AppendResult, error) { t.Error("called back") }); !errors.Is(err, ErrFlush) {
				t.Fatalf("async append after the failure: %v", err)
			}
			if err := c.WaitFlushed(res.End()); !errors.Is(err, unix.EIO) {
				t.Fatalf("wait after the failure: %v", err)
			}
			if got := c.FlushedOffset(); got != flushed {
				t.Fatalf("flushed offset moved from %d to %d", flushed, got)
			}
			if got := fs.Calls(vfs.OpMsync); got != msyncs {
				t.Fatalf("%d msyncs after the failure; a later success would prove nothing", got-msyncs)
			}
			if err := c.Close(); !errors.Is(err, unix.EIO) {
				t.Fatalf("Close: %v", err)
			}
		})
	}
}
