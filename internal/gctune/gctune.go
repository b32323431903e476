// Package gctune sets the Go garbage collector for a dedicated server process: mqstore's broker
// and mqbench (which embeds one). A broker's live heap is small (tens of MB: tables, pools,
// in-flight requests; the messages live in mapped files) while it allocates a few hundred bytes
// per message, so with Go's default GOGC=100 it collects ten times a second under load and the
// collector takes 15–20 % of its CPU. Apply raises GOGC to DefaultPercent and bounds the growth
// that allows with a soft memory limit of a quarter of the memory available (the machine's, or
// the process's cgroup limit when lower), so a broker whose live heap does grow large collects as often as it
// must to stay under the limit. An operator's GOGC (any value, "off" too) leaves both settings
// to the Go runtime, as for any Go program; an operator's GOMEMLIMIT alone keeps GOGC at
// DefaultPercent under that limit.
package gctune

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultPercent is the GOGC value Apply sets when the environment has none.
const DefaultPercent = 400

// Settings is what Apply did: Percent is -1 and LimitBytes 0 for a setting left to the
// environment (or, for the limit, when the memory available is unknown).
type Settings struct {
	Percent    int
	LimitBytes int64
}

// Apply sets the collector (see the package comment) unless the environment sets it, and
// returns what it set.
func Apply() Settings {
	s := Choose(os.LookupEnv, availableMemory())
	if s.Percent >= 0 {
		debug.SetGCPercent(s.Percent)
	}
	if s.LimitBytes > 0 {
		debug.SetMemoryLimit(s.LimitBytes)
	}
	return s
}

// Choose is Apply's decision: lookup reads the environment, memory is the bytes available to the
// process (0 when unknown).
func Choose(lookup func(string) (string, bool), memory int64) Settings {
	s := Settings{Percent: -1}
	if _, set := lookup("GOGC"); !set {
		s.Percent = DefaultPercent
		if _, set := lookup("GOMEMLIMIT"); !set && memory > 0 {
			s.LimitBytes = memory / 4
		}
	}
	return s
}

// availableMemory is the machine's physical memory, or the memory limit of the process's cgroup
// when that is lower; 0 when neither can be read.
func availableMemory() int64 {
	var si unix.Sysinfo_t
	var total int64
	if unix.Sysinfo(&si) == nil {
		total = int64(si.Totalram) * int64(si.Unit)
	}
	if limit := cgroupMemoryLimit("/"); limit > 0 && (total == 0 || limit < total) {
		total = limit
	}
	return total
}

// cgroupMemoryLimit is the lowest memory limit of the process's cgroup and its ancestors (v2
// memory.max, v1 memory.limit_in_bytes), read under root ("/" but for tests); 0 when there is
// none. A limit set on an enclosing slice binds the process as much as its own.
func cgroupMemoryLimit(root string) int64 {
	b, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return 0
	}
	var lowest int64
	consider := func(dir, file string) {
		for {
			if v := readLimit(filepath.Join(dir, file)); v > 0 && (lowest == 0 || v < lowest) {
				lowest = v
			}
			parent := filepath.Dir(dir)
			if parent == dir || !strings.HasPrefix(parent, filepath.Join(root, "sys/fs/cgroup")) {
				return
			}
			dir = parent
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "": // cgroup v2
			consider(filepath.Join(root, "sys/fs/cgroup", parts[2]), "memory.max")
		case slices.Contains(strings.Split(parts[1], ","), "memory"): // cgroup v1
			consider(filepath.Join(root, "sys/fs/cgroup/memory", parts[2]), "memory.limit_in_bytes")
		}
	}
	return lowest
}

// readLimit reads a cgroup memory limit file: 0 for "max", v1's "no limit" (a page-rounded
// MaxInt64) or a file that cannot be read.
func readLimit(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || v <= 0 || v >= math.MaxInt64/2 {
		return 0
	}
	return v
}
