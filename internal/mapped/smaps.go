package mapped

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrNotMapped is returned by MappingFlags for a path this process has not mapped.
var ErrNotMapped = errors.New("mapped: no mapping of the file")

// MappingFlags returns the kernel's VmFlags of this process's mapping of path (from
// /proc/self/smaps: "hg" is MADV_HUGEPAGE, "sq"/"rr" the read-ahead advice), for diagnostics and
// tests of the advice a queue gives its files.
func MappingFlags(path string) ([]string, error) {
	raw, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return nil, fmt.Errorf("mapped: %w", err)
	}
	in := false
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 6 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = fields[len(fields)-1] == path
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return fields[1:], nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNotMapped, path)
}
