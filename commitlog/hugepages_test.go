package commitlog

import (
	"errors"
	"slices"
	"testing"

	"github.com/mqstore/mqstore/internal/mapped"
)

// TestHugePagesByFlushMode: segments are mapped with MADV_HUGEPAGE under AsyncFlush only (a
// group-commit msync would write back whole 2 MiB folios), and NoHugePages turns it off.
func TestHugePagesByFlushMode(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want bool
	}{
		{"async", Options{FlushMode: AsyncFlush}, true},
		{"async-no-huge-pages", Options{FlushMode: AsyncFlush, NoHugePages: true}, false},
		{"sync", Options{FlushMode: SyncFlush}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.SegmentSize = 4 << 20
			c, err := Open(t.TempDir(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Append(benchMessage(100)); err != nil {
				t.Fatal(err)
			}
			flags, err := mapped.MappingFlags(c.queue.Last().Path())
			if errors.Is(err, mapped.ErrNotMapped) {
				t.Fatal(err)
			} else if err != nil {
				t.Skip(err)
			}
			if got := slices.Contains(flags, "hg"); got != tc.want {
				t.Fatalf("VmFlags %v: huge pages %v, want %v", flags, got, tc.want)
			}
		})
	}
}

func TestBackgroundNiceValidate(t *testing.T) {
	if err := (Options{BackgroundNice: 20}).Validate(); err == nil {
		t.Fatal("BackgroundNice 20 accepted")
	}
	for _, n := range []int{-1, 0, 19} {
		if err := (Options{BackgroundNice: n}).Validate(); err != nil {
			t.Fatalf("BackgroundNice %d: %v", n, err)
		}
	}
}
