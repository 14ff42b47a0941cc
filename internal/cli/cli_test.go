package cli

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

var testSpec = Spec{
	Name:        "tool",
	Summary:     "does a thing",
	Description: "First paragraph,\nwrapped by hand.\n\nSecond paragraph.",
	Examples:    []Example{{Command: "tool --config c.yaml --dry-run", What: "looks first"}},
	ExitCodes:   []string{"0  done", "2  a wrong command line"},
	Args:        "TABLE...",
	Config:      true,
	Logs:        true,
}

func newTest(t *testing.T, env map[string]string) (*Command, *bytes.Buffer, *bytes.Buffer, *bool) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	c := newCommand(testSpec, &stdout, &stderr, func(k string) string { return env[k] })
	dry := c.Flags().Bool("dry-run", false, "look, do not touch")
	c.Flags().Int("sample", 5, "points shown")
	return c, &stdout, &stderr, dry
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "-help"} {
		c, stdout, stderr, _ := newTest(t, nil)
		code, done := c.Parse([]string{"--dry-run", arg})
		if code != ExitOK || !done || stderr.Len() != 0 {
			t.Fatalf("%s: code %d done %v stderr %q", arg, code, done, stderr)
		}
		out := stdout.String()
		for _, want := range []string{
			"tool: does a thing\n",
			"Usage:\n  tool [flags] TABLE...\n",
			"First paragraph, wrapped by hand.\n\nSecond paragraph.\n",
			"  --dry-run ", "look, do not touch",
			"  --sample INT ", "points shown (default 5)",
			"  --config FILE ", "$BRIDGE_CONFIG",
			"  --log-level LEVEL ", "  --log-format FORMAT ",
			"  -h, --help ", "  --version ",
			"Examples:\n  tool --config c.yaml --dry-run\n      looks first\n",
			"Exit codes:\n  0  done\n  2  a wrong command line\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: help lacks %q:\n%s", arg, want, out)
			}
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "-") && !strings.HasPrefix(strings.TrimSpace(line), "--") &&
				!strings.HasPrefix(strings.TrimSpace(line), "-h, --help") {
				t.Errorf("%s: a flag in single-dash spelling: %q", arg, line)
			}
		}
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	c, _, _, _ := newTest(t, nil)
	if _, done := c.Parse(nil); done || c.Config() != "config.yaml" {
		t.Errorf("no flag, no env: %q", c.Config())
	}
	c, _, _, _ = newTest(t, map[string]string{ConfigEnv: "/etc/bridge.yaml"})
	if _, done := c.Parse(nil); done || c.Config() != "/etc/bridge.yaml" {
		t.Errorf("$BRIDGE_CONFIG: %q", c.Config())
	}
	c, _, _, _ = newTest(t, map[string]string{ConfigEnv: "/etc/bridge.yaml"})
	if _, done := c.Parse([]string{"--config", "mine.yaml"}); done || c.Config() != "mine.yaml" {
		t.Errorf("--config wins over the environment: %q", c.Config())
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string
	}{
		"unknown flag": {[]string{"--nope"}, "tool: unknown flag --nope (see tool --help)\n"},
		"bad value":    {[]string{"--sample", "many"}, `tool: invalid value "many" for flag --sample: parse error (see tool --help)` + "\n"},
		"log level":    {[]string{"--log-level", "loud"}, `tool: --log-level "loud": want one of debug, info, warn, error (see tool --help)` + "\n"},
		"log format":   {[]string{"--log-format", "xml"}, `tool: --log-format "xml": want one of auto, json, console (see tool --help)` + "\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, stdout, stderr, _ := newTest(t, nil)
			code, done := c.Parse(tc.args)
			if code != ExitUsage || !done || stderr.String() != tc.want || stdout.Len() != 0 {
				t.Errorf("code %d done %v stderr %q, want 2 and %q", code, done, stderr, tc.want)
			}
		})
	}
	// A binary without arguments refuses them.
	var stderr bytes.Buffer
	s := testSpec
	s.Args = ""
	c := newCommand(s, &bytes.Buffer{}, &stderr, func(string) string { return "" })
	if code, done := c.Parse([]string{"extra"}); code != ExitUsage || !done || !strings.Contains(stderr.String(), `unexpected arguments ["extra"]`) {
		t.Errorf("extra argument: code %d done %v %q", code, done, stderr.String())
	}
}

func TestArgumentsAmongFlags(t *testing.T) {
	c, _, _, dry := newTest(t, nil)
	if _, done := c.Parse([]string{"t1", "--dry-run", "t2", "--log-level", "debug", "--", "--t3"}); done {
		t.Fatal("stopped")
	}
	if got := strings.Join(c.Args(), " "); got != "t1 t2 --t3" || !*dry || c.LogLevel() != "debug" {
		t.Errorf("args %q dry %v level %q", got, *dry, c.LogLevel())
	}
}

func TestVersion(t *testing.T) {
	stamp := func(settings ...debug.BuildSetting) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings}, true
		}
	}
	vcs := stamp(debug.BuildSetting{Key: "vcs.revision", Value: "0123456789abcdef0123"},
		debug.BuildSetting{Key: "vcs.modified", Value: "true"}, debug.BuildSetting{Key: "vcs.time", Value: "2025-01-02T03:04:05Z"})

	b := info("v1.2.3", "abc1234", "2025-02-01T00:00:00Z", vcs)
	if b.Version != "v1.2.3" || b.Commit != "abc1234" || b.Modified || b.Date != "2025-02-01T00:00:00Z" {
		t.Errorf("ldflags must win over the VCS stamp: %+v", b)
	}
	if s := b.String(); !strings.HasPrefix(s, "v1.2.3 (commit abc1234, 2025-02-01T00:00:00Z, go") {
		t.Errorf("String %q", s)
	}
	b = info("", "", "", vcs)
	if b.Version != "dev" || b.Commit != "0123456789ab" || !b.Modified || b.Date != "2025-01-02T03:04:05Z" {
		t.Errorf("VCS fallback: %+v", b)
	}
	if s := b.String(); !strings.Contains(s, "commit 0123456789ab with local changes") {
		t.Errorf("String %q", s)
	}
	b = info("", "", "", func() (*debug.BuildInfo, bool) { return &debug.BuildInfo{Main: debug.Module{Version: "v0.9.0"}}, true })
	if b.Version != "v0.9.0" {
		t.Errorf("go install module@v0.9.0: %+v", b)
	}
	if b = info("", "", "", func() (*debug.BuildInfo, bool) { return nil, false }); b.Version != "dev" || b.Commit != "" {
		t.Errorf("nothing known: %+v", b)
	}

	c, stdout, _, _ := newTest(t, nil)
	if code, done := c.Parse([]string{"--version"}); code != ExitOK || !done || !strings.HasPrefix(stdout.String(), "tool ") {
		t.Errorf("--version: %d %v %q", code, done, stdout)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0 dirty rows", 1: "1 dirty row", 2: "2 dirty rows"} {
		if got := Count(n, "dirty row"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
	if got := Count(3, "batch"); got != "3 batches" {
		t.Errorf("%q", got)
	}
}
