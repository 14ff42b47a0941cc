package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/atomicfile"
	"github.com/mysql-iotdb-bridge/bridge/internal/cli"
	"github.com/mysql-iotdb-bridge/bridge/internal/discover"
	"github.com/mysql-iotdb-bridge/bridge/internal/process"
)

// DiscoverArgs are cmd/discover's flags and arguments.
type DiscoverArgs struct {
	Config     string   // configuration file (loaded with LoadForDiscovery: no mapping needed yet)
	Tables     []string // table names and patterns (* or %)
	Out        string   // folder to write to; default iotdb.mappings_dir
	Force      bool     // overwrite existing files
	Stdout     bool     // print the mappings instead of writing files
	SampleRows int      // rows sampled per table
	LogLevel   string
	LogFormat  string
}

// draftSuffix ends the name of a mapping that cannot load as written: the
// loader reads only *.yaml and *.yml, so a draft never breaks the
// configuration.
const draftSuffix = ".yaml.draft"

// RunDiscover is cmd/discover: load the configuration (no mapping needed
// yet; exit 2 before any connection), resolve the tables, write one mapping
// file per table into the mappings folder, and check that what it wrote
// loads and compiles against the live tables. It returns the exit code.
func RunDiscover(ctx context.Context, a DiscoverArgs, stdout, stderr io.Writer) int {
	cfg, code := loadWith(config.LoadForDiscovery, a.Config, a.LogLevel, a.LogFormat, stderr, "discover: ")
	if cfg == nil {
		return code
	}
	if len(a.Tables) == 0 {
		fmt.Fprintln(stderr, "discover: name at least one table, or a pattern such as 'sensor_*' (see discover --help)")
		return ExitUsage
	}
	out := a.Out
	if out == "" && !a.Stdout {
		if cfg.IoTDB.MappingsDir == "" {
			fmt.Fprintf(stderr, "discover: %s: iotdb.mappings_dir is not set: set it (e.g. mappings_dir: mappings, next to the configuration) "+
				"or give --out FOLDER or --stdout\n", cfg.PosOf("iotdb"))
			return ExitUsage
		}
		out = cfg.IoTDB.MappingsDir
		if !filepath.IsAbs(out) {
			out = filepath.Join(filepath.Dir(cfg.Path), out)
		}
	}
	log := process.NewLogger(cfg.Log, "", stderr)
	w := New(cfg, log, 2)
	defer w.Close()
	db, _, err := w.OpenSource(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "discover:", err)
		return ExitFailed
	}
	tables, err := discover.Tables(ctx, db, cfg.MySQL.Database, a.Tables)
	if err != nil {
		fmt.Fprintln(stderr, "discover:", err)
		return ExitFailed
	}
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			fmt.Fprintln(stderr, "discover:", err)
			return ExitFailed
		}
	}
	o := discover.Options{DB: db, Schema: cfg.MySQL.Database, Model: cfg.IoTDB.Model, Database: cfg.IoTDB.Database,
		SampleRows: a.SampleRows, Generator: "discover " + cli.Info().Version}
	var written []string // tables whose mapping was written as .yaml
	failed := false
	for _, table := range tables {
		if m, ok := cfg.Mapping(table); ok {
			fmt.Fprintf(stdout, "%s: already mapped at %s:%d: kept\n", table, m.Pos.File, m.Pos.Line)
			continue
		}
		m, err := discover.Generate(ctx, o, table)
		if err != nil {
			fmt.Fprintf(stderr, "discover: %s: %v\n", table, err)
			failed = true
			continue
		}
		if a.Stdout {
			fmt.Fprintf(stdout, "# --- %s\n%s", table, m.YAML)
			printWarnings(stderr, table, m.Warnings)
			continue
		}
		name := fileName(table) + ".yaml"
		if !m.Usable {
			name = fileName(table) + draftSuffix
		}
		path := filepath.Join(out, name)
		if _, err := os.Stat(path); err == nil && !a.Force {
			fmt.Fprintf(stdout, "%s: %s exists: kept (--force overwrites it)\n", table, path)
			continue
		}
		if err := atomicfile.Write(path, m.YAML); err != nil {
			fmt.Fprintf(stderr, "discover: %s: %v\n", table, err)
			failed = true
			continue
		}
		if m.Usable {
			fmt.Fprintf(stdout, "%s: wrote %s\n", table, path)
			written = append(written, table)
		} else {
			fmt.Fprintf(stdout, "%s: wrote the draft %s: it is not loaded until it is fixed (see its warnings) and renamed to .yaml\n", table, path)
		}
		printWarnings(stdout, table, m.Warnings)
	}
	if len(written) > 0 {
		if err := checkGenerated(ctx, w, cfg, out, written); err != nil {
			fmt.Fprintf(stderr, "discover: the written mappings do not load or compile: %v\n", err)
			return ExitFailed
		}
		fmt.Fprintf(stdout, "checked: the written %s against the live tables; next: backfill --config %s --dry-run\n",
			plural(len(written), "mapping loads and compiles", "mappings load and compile"), cfg.Path)
	}
	if failed {
		return ExitFailed
	}
	return ExitOK
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func printWarnings(w io.Writer, table string, warnings []string) {
	for _, x := range warnings {
		fmt.Fprintf(w, "  warning: %s\n", x)
	}
}

// fileName is a table's name made safe as a file name.
func fileName(table string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ':' {
			return '_'
		}
		return r
	}, table)
}

// checkGenerated loads the mappings folder as the bridge will (through a
// configuration that has only the connection facts of cfg and that folder)
// and compiles each written table's mapping against its live schema.
func checkGenerated(ctx context.Context, w *Wiring, cfg *config.Config, dir string, tables []string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("mysql: {user: check, database: %q}\niotdb: {nodes: [\"127.0.0.1:1\"], model: %q, database: %q, timestamp_precision: %q, mappings_dir: %q}\n",
		cfg.MySQL.Database, cfg.IoTDB.Model, cfg.IoTDB.Database, cfg.IoTDB.Precision, abs)
	check, err := config.Parse([]byte(text), filepath.Join(abs, "check.yaml"))
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range tables {
		m, ok := check.Mapping(t)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: no mapping in %s", t, dir))
			continue
		}
		if _, err := CompileOffline(ctx, w.db, check, m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
