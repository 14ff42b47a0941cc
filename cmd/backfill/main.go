// Command backfill copies the history of the mapped MySQL tables into IoTDB
// once: a bounded, partitioned, parallel scan that resumes where it stopped,
// prints a summary and exits.
//
// Exit codes: 0 every row was written or skipped by the dirty-row policy;
// 1 the run failed (the message says where); 2 the configuration or the
// command line is wrong (nothing was connected); 3 interrupted by SIGINT or
// SIGTERM after saving its state (run again to resume).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/internal/bridge"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 3
)

type flags struct {
	config    string
	tables    string
	dryRun    bool
	restart   bool
	shard     string
	logFormat string
	sample    int
}

func main() {
	bridge.TuneGC(192 << 20)
	var f flags
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	fs.StringVar(&f.config, "config", "config.yaml", "configuration file")
	fs.StringVar(&f.tables, "tables", "", "comma-separated subset of the mapped tables (default: all)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the plan and the first mapped points of each table; write nothing")
	fs.BoolVar(&f.restart, "restart", false, "ignore the saved state and copy everything again")
	fs.StringVar(&f.shard, "shard", "", "i/n: copy only partitions p with p % n == i (run n processes, i = 0..n-1)")
	fs.StringVar(&f.logFormat, "log-format", "", "json | console (default: log.format from the config)")
	fs.IntVar(&f.sample, "sample", 5, "with --dry-run: mapped points shown per table")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(exitUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProfile := bridge.StartProfile()
	code := run(ctx, f, os.Stdout, os.Stderr)
	stopProfile()
	os.Exit(code)
}

func run(ctx context.Context, f flags, stdout, stderr io.Writer) int {
	cfg, err := config.Load(f.config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if f.logFormat != "" && f.logFormat != "json" && f.logFormat != "console" {
		fmt.Fprintf(stderr, "--log-format %q: want json or console\n", f.logFormat)
		return exitUsage
	}
	var shard backfill.Shard
	if f.shard != "" {
		if shard, err = backfill.ParseShard(f.shard); err != nil {
			fmt.Fprintf(stderr, "--shard: %v\n", err)
			return exitUsage
		}
	}
	if err := selectTables(cfg, f.tables); err != nil {
		fmt.Fprintf(stderr, "--tables: %v\n", err)
		return exitUsage
	}
	// The sink and the engine tag their own log lines with their component:
	// they get the untagged logger (a second "component" key would repeat
	// the JSON key).
	log := bridge.NewLogger(cfg.Log, f.logFormat, stderr)

	code, err := copyTables(ctx, cfg, f, shard, log, stdout, stderr)
	if err != nil {
		if errors.Is(err, backfill.ErrInterrupted) {
			fmt.Fprintln(stderr, "interrupted, resume by running again")
		} else {
			fmt.Fprintln(stderr, "backfill failed:", err)
		}
	}
	return code
}

func copyTables(ctx context.Context, cfg *config.Config, f flags, shard backfill.Shard, log zerolog.Logger, stdout, stderr io.Writer) (int, error) {
	db, err := bridge.OpenMySQL(ctx, cfg.MySQL, cfg.Backfill.Readers+2)
	if err != nil {
		return exitFailed, err
	}
	defer db.Close()

	// The mapping scales timestamps to the IoTDB server's precision. A dry
	// run does not connect to IoTDB: it uses the configured precision, or ms.
	precision := cfg.IoTDB.Precision
	var sink *iotdbsink.Sink
	if !f.dryRun {
		sink, err = iotdbsink.New(cfg.IoTDB, log)
		if err != nil {
			return exitFailed, err
		}
		if err := sink.Open(ctx); err != nil {
			return exitFailed, fmt.Errorf("connecting to IoTDB %s: %w", strings.Join(cfg.IoTDB.Nodes, ","), err)
		}
		defer sink.Close()
		precision = sink.Precision()
	} else if precision == "" || precision == "auto" {
		precision = "ms"
	}

	mappers, err := bridge.CompileMappers(ctx, db, cfg, precision)
	if err != nil {
		return exitFailed, err
	}
	opts := backfill.Options{
		DB:       db,
		Database: cfg.MySQL.Database,
		Backfill: cfg.Backfill,
		Dirty:    cfg.DirtyRows,
		Retry:    cfg.IoTDB.Retry,
		Shard:    shard,
		Restart:  f.restart,
		Log:      log,
	}
	for _, t := range cfg.MySQL.Tables {
		opts.Tables = append(opts.Tables, backfill.Table{Config: t, Mapper: bridge.BackfillMapper{Mapper: mappers[t.Name]}})
	}

	if f.dryRun {
		return dryRun(ctx, opts, f.sample, precision, stdout)
	}

	opts.Writer = bridge.BackfillWriter{Sink: sink}
	if fd, ok := stderr.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(fd.Fd())) {
		opts.Progress = backfill.NewTerminalProgress(stderr)
	} else {
		opts.Progress = &backfill.LogProgress{Log: log.With().Str("component", "backfill").Logger()}
	}
	log.Info().Str("component", "backfill").Str("config", cfg.Path).Int("tables", len(opts.Tables)).Str("shard", shard.String()).
		Str("mysql", cfg.MySQL.Addr()).Strs("iotdb", cfg.IoTDB.Nodes).Str("precision", precision).Msg("backfill starting")
	sum, err := backfill.Run(ctx, opts)
	fmt.Fprintln(stdout, sum.String())
	switch {
	case err == nil:
		return exitOK, nil
	case errors.Is(err, backfill.ErrInterrupted):
		return exitInterrupted, err
	default:
		return exitFailed, err
	}
}

func dryRun(ctx context.Context, opts backfill.Options, k int, precision string, stdout io.Writer) (int, error) {
	plan, points, dirty, err := backfill.DryRun(ctx, opts, k)
	if err != nil {
		return exitFailed, err
	}
	fmt.Fprintln(stdout, "dry run: nothing is written")
	fmt.Fprintln(stdout, plan.String())
	fmt.Fprintf(stdout, "first mapped points (timestamps in %s):\n", precision)
	for _, p := range points {
		fmt.Fprintf(stdout, "  %s\n", formatPoint(p))
	}
	for _, d := range dirty {
		fmt.Fprintf(stdout, "  dirty: %s %s column %s = %s: %s\n", d.Table, d.Key, d.Column, d.Value, d.Reason)
	}
	return exitOK, nil
}

func formatPoint(p mapping.Point) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s @%d", p.Device, p.Time)
	for i, m := range p.Schema.Measurements {
		v := p.Values[i]
		if v == nil {
			fmt.Fprintf(&b, " %s=NULL", m)
			continue
		}
		fmt.Fprintf(&b, " %s=%v(%s)", m, v, mapping.TypeName(p.Schema.Types[i]))
	}
	return b.String()
}

// selectTables narrows cfg to the named tables (and their mappings).
func selectTables(cfg *config.Config, list string) error {
	if list == "" {
		return nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	var tables []config.Table
	for _, t := range cfg.MySQL.Tables {
		if want[t.Name] {
			tables = append(tables, t)
			delete(want, t.Name)
		}
	}
	if len(want) > 0 {
		var missing []string
		for n := range want {
			missing = append(missing, n)
		}
		return fmt.Errorf("not in mysql.tables of %s: %s", cfg.Path, strings.Join(missing, ", "))
	}
	var mappings []config.Mapping
	for _, m := range cfg.IoTDB.Mappings {
		for _, t := range tables {
			if m.Table == t.Name {
				mappings = append(mappings, m)
			}
		}
	}
	cfg.MySQL.Tables, cfg.IoTDB.Mappings = tables, mappings
	return nil
}
