package commitlog

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// segmentVmFlags returns the VmFlags of the mapping of path in /proc/self/smaps.
func segmentVmFlags(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	in := false
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 6 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = fields[len(fields)-1] == path
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return fields[1:]
		}
	}
	t.Fatalf("no mapping of %s", path)
	return nil
}

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
			flags := segmentVmFlags(t, c.queue.Last().Path())
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
