// Package buildinfo says which build of mqstore is running: the module version and the VCS
// commit recorded by the Go toolchain, printed by every binary's -version flag.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the module version ("(devel)" for a build from a checkout). It can be set at link
// time: -ldflags "-X github.com/mqstore/mqstore/internal/buildinfo.Version=v1.2.3".
var Version = ""

// Commit returns the VCS revision the binary was built from (with "+dirty" when the tree had
// uncommitted changes), or "unknown".
func Commit() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if rev == "" {
		return "unknown"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return rev + modified
}

// ModuleVersion returns Version, or the main module's version from the build info.
func ModuleVersion() string {
	if Version != "" {
		return Version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}

// String is the one-line answer to -version: "<program> <version> commit <rev> <go version>".
func String(program string) string {
	return fmt.Sprintf("%s %s commit %s %s", program, ModuleVersion(), Commit(), runtime.Version())
}
