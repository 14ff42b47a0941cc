// Package cli is the command line every binary of the bridge shares:
//
//   - --help (and -h) prints a description, the usage lines, every flag in
//     its -- spelling with its default, examples and the exit codes, and
//     exits 0;
//   - --version prints the version and commit the build set (see Info) and
//     exits 0;
//   - for the binaries that read the configuration file: --config, whose
//     default is $BRIDGE_CONFIG when set (else config.yaml), --log-level and
//     --log-format, which override log.level and log.format of the file;
//   - a flag error or an unexpected argument prints one line and a pointer
//     to --help, and exits 2 (the exit code of a wrong command line).
//
// A binary describes itself in a Spec, adds its own flags to Flags() and
// calls Parse:
//
//	c := cli.New(cli.Spec{Name: "sync", Summary: "...", Config: true, Logs: true})
//	fs := c.Flags()
//	fs.BoolVar(&a.DryRun, "dry-run", false, "...")
//	if code, done := c.Parse(os.Args[1:]); done {
//		os.Exit(code)
//	}
//	a.Config, a.LogLevel, a.LogFormat = c.Config(), c.LogLevel(), c.LogFormat()
//
// Go's flag package already accepts both -name and --name; this package only
// chooses the spelling shown to the user (--name) and the help layout.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// ConfigEnv names the environment variable that gives the configuration
// file when --config is not on the command line.
const ConfigEnv = "BRIDGE_CONFIG"

// DefaultConfig is the configuration file without --config or $BRIDGE_CONFIG.
const DefaultConfig = "config.yaml"

// Exit codes of a command line that ends in Parse.
const (
	ExitOK    = 0 // --help, --version
	ExitUsage = 2 // a wrong flag or argument (the binaries' code for "nothing was connected")
)

// LogLevels and LogFormats are the values --log-level and --log-format take.
var (
	LogLevels  = []string{"debug", "info", "warn", "error"}
	LogFormats = []string{"auto", "json", "console"}
)

// Example is one example command line and what it does.
type Example struct {
	Command string // e.g. "backfill --config config.yaml --dry-run"
	What    string // one sentence
}

// Spec describes a binary for its --help.
type Spec struct {
	Name        string    // the binary's name, e.g. "backfill"
	Summary     string    // one line: what it does
	Usage       []string  // synopsis lines after the name, e.g. "--config FILE [--dry-run]"; default "[flags]"
	Description string    // paragraphs (blank lines between them), wrapped when printed
	Examples    []Example // shown after the flags
	ExitCodes   []string  // e.g. "0  every row was written"
	Args        string    // the positional arguments, e.g. "TABLE|PATTERN..."; "" refuses any
	Config      bool      // register --config (default $BRIDGE_CONFIG, else config.yaml)
	Logs        bool      // register --log-level and --log-format
	// Listen names the configuration key of the binary's HTTP endpoint
	// (e.g. "backfill.listen"): --metrics-listen overrides it.
	Listen string
}

// Command is one parsed command line.
type Command struct {
	spec           Spec
	fs             *flag.FlagSet
	stdout, stderr io.Writer
	getenv         func(string) string

	config, logLevel, logFormat string
	listen                      string
	help, version               bool
	args                        []string
}

// New returns the command line of s, its standard flags registered.
func New(s Spec) *Command {
	return newCommand(s, os.Stdout, os.Stderr, os.Getenv)
}

func newCommand(s Spec, stdout, stderr io.Writer, getenv func(string) string) *Command {
	c := &Command{spec: s, stdout: stdout, stderr: stderr, getenv: getenv}
	c.fs = flag.NewFlagSet(s.Name, flag.ContinueOnError)
	c.fs.SetOutput(io.Discard) // Parse prints its own messages
	c.fs.BoolVar(&c.help, "help", false, "print this help and exit")
	c.fs.BoolVar(&c.help, "h", false, "print this help and exit")
	c.fs.BoolVar(&c.version, "version", false, "print the version and commit of this binary and exit")
	if s.Config {
		def := DefaultConfig
		if v := getenv(ConfigEnv); v != "" {
			def = v
		}
		c.fs.StringVar(&c.config, "config", def, "the configuration `FILE` (default: $"+ConfigEnv+" when set, else "+DefaultConfig+")")
	}
	if s.Logs {
		c.fs.StringVar(&c.logLevel, "log-level", "", "log level: `LEVEL` is one of "+strings.Join(LogLevels, ", ")+" (default: log.level of the configuration, info)")
		c.fs.StringVar(&c.logFormat, "log-format", "", "log format: `FORMAT` is auto (console on a terminal, JSON lines otherwise), json or console (default: log.format of the configuration, auto)")
	}
	if s.Listen != "" {
		c.fs.StringVar(&c.listen, "metrics-listen", "", "serve /metrics, /healthz, /readyz and /status on `ADDR` (host:port; :port for every interface), or "+ListenOff+" for none (default: "+s.Listen+" of the configuration)")
	}
	return c
}

// Flags is the flag set; add the binary's own flags to it before Parse.
func (c *Command) Flags() *flag.FlagSet { return c.fs }

// Config is the configuration file: --config, else $BRIDGE_CONFIG, else config.yaml.
func (c *Command) Config() string { return c.config }

// LogLevel is --log-level ("" when not given).
func (c *Command) LogLevel() string { return c.logLevel }

// LogFormat is --log-format ("" when not given).
func (c *Command) LogFormat() string { return c.logFormat }

// ListenOff is the --metrics-listen value that serves nothing.
const ListenOff = "off"

// Listen is --metrics-listen ("" when not given, ListenOff for none).
func (c *Command) Listen() string { return c.listen }

// Args are the positional arguments (only when Spec.Args allows them).
func (c *Command) Args() []string { return c.args }

// Parse parses args (os.Args[1:]). done is true when the process should
// exit now with code: after --help or --version (0), or after a wrong
// command line (2, with one line on stderr). --log-level and --log-format
// are checked here too.
func (c *Command) Parse(args []string) (code int, done bool) {
	err := c.parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp): // -help=... forms the flag package catches itself
		c.PrintHelp(c.stdout)
		return ExitOK, true
	case err != nil:
		msg := strings.Replace(err.Error(), " flag -", " flag --", 1) // invalid value "x" for flag -n
		return c.usageError("%s", strings.Replace(msg, "flag provided but not defined: -", "unknown flag --", 1))
	case c.help:
		c.PrintHelp(c.stdout)
		return ExitOK, true
	case c.version:
		fmt.Fprintf(c.stdout, "%s %s\n", c.spec.Name, Info())
		return ExitOK, true
	case c.spec.Args == "" && len(c.args) > 0:
		return c.usageError("unexpected arguments %q", c.args)
	case c.logLevel != "" && !contains(LogLevels, c.logLevel):
		return c.usageError("--log-level %q: want one of %s", c.logLevel, strings.Join(LogLevels, ", "))
	case c.logFormat != "" && !contains(LogFormats, c.logFormat):
		return c.usageError("--log-format %q: want one of %s", c.logFormat, strings.Join(LogFormats, ", "))
	}
	return ExitOK, false
}

// parse parses flags and arguments in any order (discover t1 --force t2);
// everything after "--" is an argument.
func (c *Command) parse(args []string) error {
	for {
		if err := c.fs.Parse(args); err != nil {
			return err
		}
		rest := c.fs.Args()
		if len(rest) == 0 {
			return nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			c.args = append(c.args, rest...)
			return nil
		}
		c.args = append(c.args, rest[0])
		args = rest[1:]
	}
}

func (c *Command) usageError(format string, args ...any) (int, bool) {
	fmt.Fprintf(c.stderr, "%s: %s (see %s --help)\n", c.spec.Name, fmt.Sprintf(format, args...), c.spec.Name)
	return ExitUsage, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// helpWidth is the width the help text is wrapped to.
const helpWidth = 100

// PrintHelp writes the --help text to w.
func (c *Command) PrintHelp(w io.Writer) {
	s := c.spec
	fmt.Fprintf(w, "%s: %s\n\nUsage:\n", s.Name, s.Summary)
	usage := s.Usage
	if len(usage) == 0 {
		u := "[flags]"
		if s.Args != "" {
			u += " " + s.Args
		}
		usage = []string{u}
	}
	for _, u := range usage {
		fmt.Fprintf(w, "  %s %s\n", s.Name, u)
	}
	if s.Description != "" {
		for _, para := range strings.Split(strings.TrimSpace(s.Description), "\n\n") {
			fmt.Fprintln(w)
			for _, line := range Wrap(strings.Join(strings.Fields(para), " "), helpWidth) {
				fmt.Fprintln(w, line)
			}
		}
	}
	fmt.Fprintln(w, "\nFlags:")
	c.printFlags(w)
	if len(s.Examples) > 0 {
		fmt.Fprintln(w, "\nExamples:")
		for _, e := range s.Examples {
			fmt.Fprintf(w, "  %s\n", e.Command)
			for _, line := range Wrap(e.What, helpWidth-6) {
				fmt.Fprintf(w, "      %s\n", line)
			}
		}
	}
	if len(s.ExitCodes) > 0 {
		fmt.Fprintln(w, "\nExit codes:")
		for _, e := range s.ExitCodes {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

// printFlags lists every flag as "--name VALUE", its text and its default;
// -h is shown with --help, the standard flags last.
func (c *Command) printFlags(w io.Writer) {
	standard := map[string]int{"config": 1, "log-level": 2, "log-format": 3, "help": 4, "version": 5}
	var fl []*flag.Flag
	c.fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "h" {
			fl = append(fl, f)
		}
	})
	sort.SliceStable(fl, func(i, j int) bool {
		a, b := standard[fl[i].Name], standard[fl[j].Name]
		if a != b {
			return a < b
		}
		return fl[i].Name < fl[j].Name
	})
	type row struct{ name, text string }
	rows := make([]row, 0, len(fl))
	width := 0
	for _, f := range fl {
		value, text := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if f.Name == "help" {
			name = "-h, --help"
		}
		if value != "" {
			name += " " + strings.ToUpper(value)
		}
		if def := f.DefValue; def != "" && def != "false" && def != "0" && def != "0s" && !strings.Contains(text, "(default") {
			text += fmt.Sprintf(" (default %s)", def)
		}
		rows = append(rows, row{name, text})
		width = max(width, len(name))
	}
	width = min(width, 28)
	for _, r := range rows {
		lines := Wrap(r.text, helpWidth-width-6)
		if len(r.name) > width {
			fmt.Fprintf(w, "  %s\n", r.name)
			for _, l := range lines {
				fmt.Fprintf(w, "  %-*s    %s\n", width, "", l)
			}
			continue
		}
		for i, l := range lines {
			name := ""
			if i == 0 {
				name = r.name
			}
			fmt.Fprintf(w, "  %-*s    %s\n", width, name, l)
		}
	}
}

// Wrap breaks s into lines of at most width characters at spaces (a
// longer word is a line of its own).
func Wrap(s string, width int) []string {
	var lines []string
	var cur strings.Builder
	for _, word := range strings.Fields(s) {
		if cur.Len() > 0 && cur.Len()+1+len(word) > width {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(word)
	}
	if cur.Len() > 0 || len(lines) == 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

// Count renders n and a noun with the right number: "1 dirty row",
// "2 dirty rows", "0 dirty rows". noun is the singular; nouns ending in s,
// x, ch or sh take "es".
func Count(n int64, noun string) string {
	if n == 1 || n == -1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %s", n, Plural(noun))
}

// Plural is the plural of a singular noun (regular English forms only).
func Plural(noun string) string {
	for _, end := range []string{"s", "x", "ch", "sh"} {
		if strings.HasSuffix(noun, end) {
			return noun + "es"
		}
	}
	return noun + "s"
}
