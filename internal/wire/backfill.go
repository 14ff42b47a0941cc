package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/internal/cli"
	"github.com/mysql-iotdb-bridge/bridge/internal/ops"
	"github.com/mysql-iotdb-bridge/bridge/internal/process"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Exit codes of the binaries.
const (
	ExitOK          = 0 // done (backfill), stopped cleanly (cdc), check passed, healthy
	ExitFailed      = 1 // the run failed; the message says where
	ExitUsage       = 2 // the configuration or the command line is wrong: nothing was connected
	ExitInterrupted = 3 // backfill: interrupted after saving its state; run again to resume
)

// BackfillArgs are cmd/backfill's flags.
type BackfillArgs struct {
	Config    string // configuration file
	Tables    string // comma-separated subset of the mapped tables ("" = all)
	DryRun    bool   // plan and map a sample; write nothing, connect to MySQL only
	Restart   bool   // ignore the saved state
	Shard     string // "i/n"
	LogLevel  string // debug | info | warn | error | "" (the config's)
	LogFormat string // auto | json | console | "" (the config's)
	Sample    int    // with DryRun: points shown per table
	Listen    string // --metrics-listen: replaces backfill.listen ("" = the config's, "off" = none)
}

// RunBackfill is cmd/backfill: load and check the configuration (exit 2
// before any connection), open MySQL and IoTDB, compile the mappings, copy
// (or print the dry run), print the summary. It returns the exit code.
func RunBackfill(ctx context.Context, a BackfillArgs, stdout, stderr io.Writer) int {
	cfg, code := loadConfigFlags(a.Config, a.LogLevel, a.LogFormat, stderr, "")
	if cfg == nil {
		return code
	}
	if err := BackfillEndpoint.apply(cfg, a.Listen); err != nil {
		fmt.Fprintln(stderr, "backfill:", err)
		return ExitUsage
	}
	var shard backfill.Shard
	if a.Shard != "" {
		var err error
		if shard, err = backfill.ParseShard(a.Shard); err != nil {
			fmt.Fprintf(stderr, "--shard: %v\n", err)
			return ExitUsage
		}
	}
	if err := selectTables(cfg, a.Tables); err != nil {
		fmt.Fprintf(stderr, "--tables: %v\n", err)
		return ExitUsage
	}
	if !a.DryRun { // a dry run writes no state
		release, code := claimState(cfg, stderr, "backfill: ", "backfill state",
			stateFile{"backfill.state", backfill.StatePath(cfg.Backfill.State, shard)}, stateFile{"dirty_rows.file", cfg.DirtyRows.File})
		if release == nil {
			return code
		}
		defer release()
	}
	// The sink and the engine tag their own log lines with their component.
	log := process.NewLogger(cfg.Log, a.LogFormat, stderr)
	w := New(cfg, log, cfg.Backfill.Readers+2)
	defer w.Close()
	var mets *backfillMetrics
	if addr := cfg.Backfill.Listen; addr != "" && !a.DryRun {
		var err error
		if mets, err = serveBackfill(addr, w, log); err != nil {
			fmt.Fprintln(stderr, BackfillEndpoint.listenError(addr, err))
			return ExitUsage
		}
		defer mets.srv.Close()
	}

	code, err := copyTables(ctx, w, a, shard, mets, stdout, stderr)
	if err != nil {
		if errors.Is(err, backfill.ErrInterrupted) {
			fmt.Fprintln(stderr, "interrupted, resume by running again")
		} else {
			fmt.Fprintln(stderr, "backfill failed:", err)
		}
	}
	return code
}

// backfillMetrics is backfill's HTTP endpoint (backfill.listen): the run's
// progress as metrics and /status, beside the sink's and the dirty rows'.
type backfillMetrics struct {
	reg *ops.Registry
	run *backfill.Metrics
	srv *ops.Server
}

func serveBackfill(addr string, w *Wiring, log zerolog.Logger) (*backfillMetrics, error) {
	m := &backfillMetrics{reg: ops.NewRegistry("backfill")}
	m.run = backfill.NewMetrics(m.reg)
	w.Dirty().CountWith(m.reg.Dirty)
	srv, err := ops.Start(addr, m.reg.Registry, m.run.Readiness, log.With().Str("component", "backfill").Logger())
	if err != nil {
		return nil, err
	}
	srv.Status(func(now time.Time) any { return m.run.Status(now) })
	m.srv = srv
	return m, nil
}

func copyTables(ctx context.Context, w *Wiring, a BackfillArgs, shard backfill.Shard, mets *backfillMetrics, stdout, stderr io.Writer) (int, error) {
	cfg, log := w.cfg, w.log
	if _, _, err := w.OpenSource(ctx); err != nil {
		return setupFailed(ctx, err)
	}
	// A dry run opens one IoTDB session that writes nothing, to say whether
	// the run could write; it compiles for the precision it learns there.
	var probe *iotdbsink.ProbeResult
	var sinkMetrics iotdbsink.Metrics
	if mets != nil {
		sinkMetrics = mets.reg.Sink
	}
	if a.DryRun {
		probe = w.probeSink(ctx)
	} else if err := w.openSink(ctx, sinkMetrics); err != nil {
		return setupFailed(ctx, err)
	}
	mappers, err := w.CompileAll(ctx)
	if err != nil {
		return setupFailed(ctx, err)
	}
	var tables []backfill.Table
	for _, t := range cfg.MySQL.Tables {
		if mp := mappers[t.Name]; mp != nil {
			tables = append(tables, backfill.Table{Config: t, Mapper: mp})
		}
	}
	opts := w.backfillOptions(tables)
	opts.Shard, opts.Restart = shard, a.Restart
	opts.SourcePosition = w.sourcePosition
	if a.DryRun {
		return dryRun(ctx, opts, a.Sample, w.Precision(), probe, stdout)
	}
	if process.IsTerminal(stderr) {
		opts.Progress = backfill.NewTerminalProgress(stderr)
	} else {
		opts.Progress = &backfill.LogProgress{Log: log.With().Str("component", "backfill").Logger()}
	}
	if mets != nil {
		opts.Progress = backfill.Tee(opts.Progress, mets.run)
	}
	log.Info().Str("component", "backfill").Str("version", cli.Info().Version).Str("config", cfg.Path).Int("tables", len(opts.Tables)).Str("shard", shard.String()).
		Str("mysql", cfg.MySQL.Addr()).Strs("iotdb", cfg.IoTDB.Nodes).Str("precision", w.Precision()).Msg("backfill starting")
	sum, err := backfill.Run(ctx, opts)
	msg := "table copied"
	if err != nil {
		msg = "table not finished"
	}
	sum.Log(log.With().Str("component", "backfill").Logger(), msg)
	fmt.Fprintln(stdout, sum.String())
	switch {
	case err == nil:
		return ExitOK, nil
	case errors.Is(err, backfill.ErrInterrupted):
		return ExitInterrupted, err
	default:
		return ExitFailed, err
	}
}

func dryRun(ctx context.Context, opts backfill.Options, k int, precision string, probe *iotdbsink.ProbeResult, stdout io.Writer) (int, error) {
	plan, points, dirtyRows, err := backfill.DryRun(ctx, opts, k)
	if err != nil {
		return ExitFailed, err
	}
	fmt.Fprintln(stdout, "dry run: nothing is written")
	for _, line := range probe.Lines() {
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintln(stdout, plan.String())
	fmt.Fprintf(stdout, "first mapped points (timestamps in %s):\n", precision)
	for _, p := range points {
		fmt.Fprintf(stdout, "  %s\n", formatPoint(p))
	}
	for _, d := range dirtyRows {
		fmt.Fprintf(stdout, "  dirty: %s %s column %s = %v: %s\n", d.Table, d.Key, d.Column, d.Value, d.Reason)
	}
	if !probe.CanWrite() {
		return ExitFailed, errors.New("dry run: IoTDB could not take this run's writes (see above)")
	}
	return ExitOK, nil
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
		return fmt.Errorf("no mapping in %s for: %s", cfg.Path, strings.Join(missing, ", "))
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

// loadConfig loads the configuration and checks --log-format; on failure
// it prints the error (prefixed by prefix) and returns nil and ExitUsage.
func loadConfig(path, logFormat string, stderr io.Writer, prefix string) (*config.Config, int) {
	return loadConfigFlags(path, "", logFormat, stderr, prefix)
}

// loadConfigFlags is loadConfig with --log-level too. Both flags, when
// given, replace log.level and log.format of the loaded configuration, so
// that process.NewLogger(cfg.Log, ...) sees the command line's choice.
func loadConfigFlags(path, logLevel, logFormat string, stderr io.Writer, prefix string) (*config.Config, int) {
	return loadWith(config.Load, path, logLevel, logFormat, stderr, prefix)
}

func loadWith(load func(string) (*config.Config, error), path, logLevel, logFormat string, stderr io.Writer, prefix string) (*config.Config, int) {
	if logFormat != "" && !slices.Contains(cli.LogFormats, logFormat) {
		fmt.Fprintf(stderr, "%s--log-format %q: want one of %s\n", prefix, logFormat, strings.Join(cli.LogFormats, ", "))
		return nil, ExitUsage
	}
	if logLevel != "" && !slices.Contains(cli.LogLevels, logLevel) {
		fmt.Fprintf(stderr, "%s--log-level %q: want one of %s\n", prefix, logLevel, strings.Join(cli.LogLevels, ", "))
		return nil, ExitUsage
	}
	cfg, err := load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, ExitUsage
	}
	if logLevel != "" {
		cfg.Log.Level = logLevel
	}
	if logFormat != "" {
		cfg.Log.Format = logFormat
	}
	return cfg, ExitOK
}
