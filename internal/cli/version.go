package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set by the build (the Makefile's build target):
//
//	-ldflags "-X github.com/mysql-iotdb-bridge/bridge/internal/cli.version=v1.2.0
//	          -X github.com/mysql-iotdb-bridge/bridge/internal/cli.commit=0123abcd
//	          -X github.com/mysql-iotdb-bridge/bridge/internal/cli.date=2025-01-31T10:00:00Z"
//
// Without them the version is "dev" and the commit comes from the VCS
// stamp Go writes into binaries built inside a git checkout.
var (
	version string
	commit  string
	date    string
)

// Build is what a binary knows about how it was built.
type Build struct {
	Version  string // release version, "dev" when the build did not set one
	Commit   string // source commit ("" when unknown)
	Modified bool   // built from a working tree with uncommitted changes (VCS stamp only)
	Date     string // commit or build time, RFC 3339 ("" when unknown)
	Go       string // Go version, e.g. go1.25.0
	Platform string // GOOS/GOARCH
}

// Info returns the build information of the running binary: the values the
// build set with -ldflags -X, else runtime/debug's VCS stamp, else "dev".
func Info() Build {
	return info(version, commit, date, readBuildInfo)
}

func readBuildInfo() (*debug.BuildInfo, bool) { return debug.ReadBuildInfo() }

func info(v, c, d string, read func() (*debug.BuildInfo, bool)) Build {
	b := Build{Version: v, Commit: c, Date: d, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := read(); ok {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version // go install module@version
		}
		if b.Commit == "" {
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					b.Commit = s.Value
				case "vcs.modified":
					b.Modified = s.Value == "true"
				case "vcs.time":
					if b.Date == "" {
						b.Date = s.Value
					}
				}
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if len(b.Commit) > 12 && !strings.ContainsAny(b.Commit, "-.") {
		b.Commit = b.Commit[:12]
	}
	return b
}

// String is the one line --version prints after the binary's name:
// "v1.2.0 (commit 0123abcd, 2025-01-31T10:00:00Z, go1.25.0 linux/amd64)".
func (b Build) String() string {
	var parts []string
	if b.Commit != "" {
		c := "commit " + b.Commit
		if b.Modified {
			c += " with local changes"
		}
		parts = append(parts, c)
	}
	if b.Date != "" {
		parts = append(parts, b.Date)
	}
	parts = append(parts, b.Go+" "+b.Platform)
	return fmt.Sprintf("%s (%s)", b.Version, strings.Join(parts, ", "))
}
