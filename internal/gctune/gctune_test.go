package gctune

import (
	"os"
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
