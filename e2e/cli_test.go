package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// cliBinaries are the binaries that take the shared command line
// (internal/cli). A new binary is added here when it adopts it.
var cliBinaries = []string{"backfill", "cdc", "discover", "demo", "iotdbtest", "testmariadb", "sync", "verify"}

// The version and commit the test build stamps in, as the Makefile does.
const (
	stampVersion = "v9.8.7-e2e"
	stampCommit  = "e2e0123abcd"
)

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// buildCLI builds cliBinaries with -ldflags -X as the Makefile does.
func buildCLI(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	dir := t.TempDir()
	const pkg = "github.com/mysql-iotdb-bridge/bridge/internal/cli"
	args := []string{"build", "-ldflags", "-X " + pkg + ".version=" + stampVersion + " -X " + pkg + ".commit=" + stampCommit, "-o", dir + string(filepath.Separator)}
	for _, b := range cliBinaries {
		args = append(args, "./cmd/"+b)
	}
	cmd := exec.Command(goTool(), args...)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

type cliRun struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, bin string, env []string, args ...string) cliRun {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	return cliRun{code, stdout.String(), stderr.String()}
}

// TestCommandLines runs every binary as a user would: --version prints the
// version and commit the build stamped in; --help (and -h) exits 0 with a
// description, examples and every flag in its -- spelling; a wrong flag
// exits 2 with one line on stderr; --config defaults to $BRIDGE_CONFIG.
func TestCommandLines(t *testing.T) {
	dir := buildCLI(t)
	flagLine := regexp.MustCompile(`^  (-h, )?--[a-z][a-z0-9-]*( [A-Z_/|.]+)?( {2,}|$)`)
	for _, name := range cliBinaries {
		bin := filepath.Join(dir, name)
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, bin, nil, "--version")
			if want := name + " " + stampVersion + " (commit " + stampCommit + ", go"; r.code != 0 || !strings.HasPrefix(r.stdout, want) {
				t.Errorf("--version: exit %d, %q; want 0 and a line starting %q", r.code, r.stdout, want)
			}
			for _, h := range []string{"--help", "-h"} {
				r = runCLI(t, bin, nil, h)
				if r.code != 0 || r.stderr != "" {
					t.Fatalf("%s: exit %d, stderr %q", h, r.code, r.stderr)
				}
				for _, want := range []string{name + ": ", "\nUsage:\n  " + name + " ", "\nFlags:\n", "\nExamples:\n", "\nExit codes:\n", "  --version "} {
					if !strings.Contains(r.stdout, want) {
						t.Errorf("%s lacks %q:\n%s", h, want, r.stdout)
					}
				}
				flags := 0
				inFlags := false
				for _, line := range strings.Split(r.stdout, "\n") {
					switch {
					case line == "Flags:":
						inFlags = true
					case line == "" || !strings.HasPrefix(line, " "):
						inFlags = false
					case inFlags && strings.HasPrefix(line, "  -"):
						flags++
						if !flagLine.MatchString(line) {
							t.Errorf("%s: flag line %q is not in --name VALUE form", h, line)
						}
					}
				}
				if flags < 3 {
					t.Errorf("%s lists %d flags:\n%s", h, flags, r.stdout)
				}
			}
			r = runCLI(t, bin, nil, "--no-such-flag")
			if want := name + ": unknown flag --no-such-flag (see " + name + " --help)\n"; r.code != 2 || r.stderr != want || r.stdout != "" {
				t.Errorf("a wrong flag: exit %d, stderr %q, stdout %q; want 2 and %q", r.code, r.stderr, r.stdout, want)
			}
		})
	}

	// The configuration from the environment: backfill and cdc read
	// $BRIDGE_CONFIG when --config is not given, and --config wins.
	cfgDir := t.TempDir()
	envCfg := filepath.Join(cfgDir, "from-env.yaml")
	if err := os.WriteFile(envCfg, []byte("mysql:\n  user: bridge\n  databse: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"backfill", "cdc", "discover"} {
		args := []string{}
		if name == "discover" {
			args = append(args, "some_table")
		}
		r := runCLI(t, filepath.Join(dir, name), []string{"BRIDGE_CONFIG=" + envCfg}, args...)
		if r.code != 2 || !strings.Contains(r.stderr, envCfg+":3: mysql.databse: unknown field (did you mean \"database\"?)") {
			t.Errorf("%s with $BRIDGE_CONFIG: exit %d, stderr:\n%s", name, r.code, r.stderr)
		}
		r = runCLI(t, filepath.Join(dir, name), []string{"BRIDGE_CONFIG=" + envCfg}, append([]string{"--config", filepath.Join(cfgDir, "other.yaml")}, args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, filepath.Join(cfgDir, "other.yaml")+": cannot read") {
			t.Errorf("%s --config over $BRIDGE_CONFIG: exit %d, stderr:\n%s", name, r.code, r.stderr)
		}
	}
	// --log-level is checked before the configuration is read.
	r := runCLI(t, filepath.Join(dir, "backfill"), nil, "--log-level", "chatty")
	if r.code != 2 || !strings.Contains(r.stderr, `--log-level "chatty": want one of debug, info, warn, error`) {
		t.Errorf("--log-level chatty: exit %d, %q", r.code, r.stderr)
	}
}

// TestGoRunFromAnyFolder: the stand-ins start with go run from any folder
// of the repository, by import path (what README says to type).
func TestGoRunFromAnyFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	for _, cmdName := range []string{"iotdbtest", "testmariadb"} {
		cmd := exec.Command(goTool(), "run", "github.com/mysql-iotdb-bridge/bridge/cmd/"+cmdName, "--version")
		cmd.Dir = filepath.Join("..", "docs")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), cmdName+" ") {
			t.Errorf("go run .../cmd/%s --version in docs/: %v\n%s", cmdName, err, out)
		}
	}
}
