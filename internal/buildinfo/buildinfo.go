// Package buildinfo says which build of talkrelay is running: --version on
// both binaries and the worker's talkrelay_build_info metric.
package buildinfo

import (
	"runtime/debug"
)

// version is set by the Makefile: -ldflags "-X .../buildinfo.version=...".
var version string

// Version returns the version the Makefile stamped (git describe), else the
// module version or VCS revision Go recorded, else "devel".
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "devel"
	}
	return "devel-" + rev + dirty
}

// String is the line --version prints: the binary's name, its version and
// the Go release that built it.
func String(name string) string {
	bi, ok := debug.ReadBuildInfo()
	goVersion := "unknown Go"
	if ok {
		goVersion = bi.GoVersion
	}
	return name + " " + Version() + " (" + goVersion + ")"
}
