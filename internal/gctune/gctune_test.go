package gctune

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestChoose(t *testing.T) {
	const gib = int64(1) << 30
	tests := []struct {
		name   string
		vars   map[string]string
		memory int64
		want   Settings
	}{
		{"defaults", nil, 8 * gib, Settings{Percent: DefaultPercent, LimitBytes: 2 * gib}},
		{"memory unknown: no limit", nil, 0, Settings{Percent: DefaultPercent}},
		{"GOGC set: nothing", map[string]string{"GOGC": "100"}, 8 * gib, Settings{Percent: -1}},
		{"GOGC=off set: nothing", map[string]string{"GOGC": "off"}, 8 * gib, Settings{Percent: -1}},
		{"GOMEMLIMIT set: GOGC only", map[string]string{"GOMEMLIMIT": "1GiB"}, 8 * gib, Settings{Percent: DefaultPercent}},
	}
	for _, tt := range tests {
		if got := Choose(env(tt.vars), tt.memory); got != tt.want {
			t.Errorf("%s: Choose = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestApply: Apply sets the runtime's GOGC (read back through SetGCPercent) when the test's
// environment has none, and leaves it alone when GOGC is set.
func TestApply(t *testing.T) {
	prevPercent := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(prevPercent); debug.SetMemoryLimit(prevLimit) })

	t.Setenv("GOGC", "")
	if s := Apply(); s.Percent != -1 {
		t.Fatalf("GOGC set: Apply = %+v", s)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC set: GOGC changed to %d", got)
	}
}

func TestApplyDefault(t *testing.T) {
	lookupReal := os.LookupEnv
	if _, set := lookupReal("GOGC"); set {
		t.Skip("GOGC is set in this test's environment")
	}
	prevPercent := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(prevPercent); debug.SetMemoryLimit(prevLimit) })
	s := Apply()
	if s.Percent != DefaultPercent {
		t.Fatalf("Apply = %+v", s)
	}
	if got := debug.SetGCPercent(100); got != DefaultPercent {
		t.Fatalf("GOGC after Apply: %d, want %d", got, DefaultPercent)
	}
	if s.LimitBytes <= 0 {
		t.Fatalf("no memory limit from this machine's memory: %+v", s)
	}
	if got := debug.SetMemoryLimit(-1); got != s.LimitBytes {
		t.Fatalf("memory limit after Apply: %d, want %d", got, s.LimitBytes)
	}
}

// TestCgroupMemoryLimit: the limit comes from the process's own cgroup (named in
// /proc/self/cgroup), or an ancestor's when lower, for v2 and v1; "max" and v1's no-limit value
// are no limit.
func TestCgroupMemoryLimit(t *testing.T) {
	write := func(root, path, content string) {
		t.Helper()
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"v2 own", map[string]string{
			"proc/self/cgroup": "0::/system.slice/mqstore.service\n",
			"sys/fs/cgroup/system.slice/mqstore.service/memory.max": "2147483648\n",
			"sys/fs/cgroup/system.slice/memory.max":                 "max\n",
		}, 2 << 30},
		{"v2 ancestor lower", map[string]string{
			"proc/self/cgroup": "0::/system.slice/mqstore.service\n",
			"sys/fs/cgroup/system.slice/mqstore.service/memory.max": "max\n",
			"sys/fs/cgroup/system.slice/memory.max":                 "1073741824\n",
		}, 1 << 30},
		{"v1", map[string]string{
			"proc/self/cgroup": "9:cpu,cpuacct:/x\n4:memory:/docker/abc\n",
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "536870912\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes":            "9223372036854771712\n",
		}, 512 << 20},
		{"no limit", map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "max\n",
		}, 0},
		{"no cgroup file", map[string]string{}, 0},
	}
	for _, tt := range tests {
		root := t.TempDir()
		for path, content := range tt.files {
			write(root, path, content)
		}
		if got := cgroupMemoryLimit(root); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
