package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/internal/incremental"
	"github.com/mysql-iotdb-bridge/bridge/internal/ops"
	"github.com/mysql-iotdb-bridge/bridge/internal/process"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// SyncArgs are cmd/sync's flags.
type SyncArgs struct {
	Config    string // configuration file
	Tables    string // comma-separated subset of the mapped tables ("" = all)
	LogLevel  string // --log-level ("" = the config's)
	LogFormat string // json | console | auto | "" (the config's)
	DryRun    bool   // say what the next run would read; write nothing
	Restart   bool   // incremental: forget the tables' marks (copy again); windows and --full: ignore a saved copy state
	Sample    int    // with DryRun: points shown per table

	Once  bool          // one run even when sync.every or sync.cron is set
	Every time.Duration // a run every this long (overrides sync.every / sync.cron)
	Cron  string        // runs at these times (overrides sync.every / sync.cron)

	Full   bool          // copy every row (no cursor), each run
	From   string        // with To: copy the rows whose time lies in [From, To)
	To     string        //
	Window time.Duration // each run copies [fire - Window, fire)

	Listen string // --metrics-listen: replaces sync.listen ("" = the config's, "off" = none)
}

// Sync modes.
const (
	modeIncremental = "incremental"
	modeWindow      = "window"           // --from/--to
	modeRecurring   = "recurring window" // --window
	modeFull        = "full"
)

// syncJob is one cmd/sync process: the checked flags and configuration.
type syncJob struct {
	cfg    *config.Config
	a      SyncArgs
	log    zerolog.Logger
	mode   string
	window incremental.Window // modeWindow
	sched  incremental.Schedule
	first  func(now time.Time) time.Time
	state  string // the state file this process locks
	sink   iotdbsink.Metrics
	mets   *incremental.Metrics
	stdout io.Writer // the summary of a one-shot run
}

// RunSync is cmd/sync: load and check the configuration and the flags (exit
// 2 before any connection), lock the state, then one run, or runs on the
// schedule until ctx ends. It returns the exit code.
func RunSync(ctx context.Context, a SyncArgs, stdout, stderr io.Writer) int {
	cfg, code := loadConfigFlags(a.Config, a.LogLevel, a.LogFormat, stderr, "sync: ")
	if cfg == nil {
		return code
	}
	j := &syncJob{cfg: cfg, a: a, stdout: stdout}
	if err := SyncEndpoint.apply(cfg, a.Listen); err != nil {
		fmt.Fprintf(stderr, "sync: %v\n", err)
		return ExitUsage
	}
	if err := j.check(); err != nil {
		fmt.Fprintf(stderr, "sync: %v\n", err)
		return ExitUsage
	}
	if err := selectTables(cfg, a.Tables); err != nil {
		fmt.Fprintf(stderr, "sync: --tables: %v\n", err)
		return ExitUsage
	}
	if j.mode == modeIncremental {
		var missing []string
		for i, t := range cfg.MySQL.Tables {
			if t.Cursor == nil {
				missing = append(missing, fmt.Sprintf("%s: mysql.tables[%d] (%s)", cfg.PosOf(fmt.Sprintf("mysql.tables[%d]", i)), i, t.Name))
			}
		}
		if len(missing) > 0 {
			fmt.Fprintf(stderr, "sync: incremental runs need a cursor on every table (cursor: {columns: [updated_at]}); these have none:\n  %s\n"+
				"select the tables that have one with --tables, or copy the others with --full or --from/--to\n", strings.Join(missing, "\n  "))
			return ExitUsage
		}
	}
	if !a.DryRun {
		release, code := claimState(cfg, stderr, "sync: ", "sync state",
			stateFile{"sync.state", j.state}, stateFile{"dirty_rows.file", cfg.DirtyRows.File})
		if release == nil {
			return code
		}
		defer release()
	}
	j.log = process.NewLogger(cfg.Log, a.LogFormat, stderr)
	if a.DryRun {
		return j.dryRun(ctx, stdout, stderr)
	}
	if j.sched == nil {
		err := j.run(ctx, time.Now())
		switch {
		case err == nil:
			return ExitOK
		case errors.Is(err, incremental.ErrInterrupted) || errors.Is(err, backfill.ErrInterrupted):
			fmt.Fprintln(stderr, "sync: interrupted, resume by running again")
			return ExitInterrupted
		case ctx.Err() != nil:
			// SIGTERM while connecting or planning: the signal is why it
			// failed, nothing was copied; the same code as mid-run, so a
			// CronJob's podFailurePolicy treats both alike.
			fmt.Fprintf(stderr, "sync: interrupted before the run began (%v); run again\n", err)
			return ExitInterrupted
		default:
			fmt.Fprintln(stderr, "sync failed:", err)
			return ExitFailed
		}
	}
	return j.schedule(ctx, stderr)
}

// check reads the mode and the schedule from the flags and the
// configuration.
func (j *syncJob) check() error {
	a, cfg := j.a, j.cfg
	j.mode = modeIncremental
	switch {
	case (a.From == "") != (a.To == ""):
		return errors.New("--from and --to go together: the window is [from, to)")
	case a.From != "" && (a.Full || a.Window > 0):
		return errors.New("--from/--to, --window and --full exclude each other")
	case a.Full && a.Window > 0:
		return errors.New("--window and --full exclude each other")
	case a.Window < 0:
		return errors.New("--window must be positive")
	case a.From != "":
		from, err := incremental.ParseWindowTime(a.From)
		if err != nil {
			return fmt.Errorf("--from: %w", err)
		}
		to, err := incremental.ParseWindowTime(a.To)
		if err != nil {
			return fmt.Errorf("--to: %w", err)
		}
		if !from.Before(to) {
			return fmt.Errorf("--from %s is not before --to %s", a.From, a.To)
		}
		j.mode, j.window = modeWindow, incremental.Window{From: from, To: to}
		j.state = incremental.WindowStatePath(cfg.Sync.State, j.window)
	case a.Window > 0:
		j.mode = modeRecurring
		j.state = incremental.RecurringWindowStatePath(cfg.Sync.State)
	case a.Full:
		j.mode = modeFull
		j.state = incremental.FullStatePath(cfg.Sync.State)
	default:
		j.state = cfg.Sync.State
	}
	every, cron := cfg.Sync.Every, cfg.Sync.Cron
	switch {
	case a.Every < 0:
		return errors.New("--every must be positive")
	case a.Every > 0 && a.Cron != "":
		return errors.New("--every and --cron exclude each other")
	case a.Once && (a.Every > 0 || a.Cron != ""):
		return errors.New("--once excludes --every and --cron")
	case a.Every > 0:
		every, cron = a.Every, ""
	case a.Cron != "":
		every, cron = 0, a.Cron
	}
	if a.Once || a.DryRun || j.mode == modeWindow {
		every, cron = 0, "" // a fixed window is one run: a scheduler hands out the slices
		if j.mode == modeWindow && (a.Every > 0 || a.Cron != "") {
			return errors.New("--from/--to is one run over a fixed window: for a window that moves with a schedule use --window")
		}
	}
	switch {
	case every > 0:
		j.first = func(now time.Time) time.Time { return now }
		j.sched = everyFrom{every}
	case cron != "":
		s, err := config.ParseCron(cron)
		if err != nil {
			return fmt.Errorf("cron %q: %v", cron, err)
		}
		j.sched = s
		j.first = s.Next
	}
	return nil
}

// everyFrom is --every before the first run: the grid is anchored at it.
type everyFrom struct{ d time.Duration }

func (e everyFrom) Next(t time.Time) time.Time { return t.Add(e.d) }

// schedule runs on the schedule until ctx ends, serving /metrics, /healthz
// and /readyz meanwhile.
func (j *syncJob) schedule(ctx context.Context, stderr io.Writer) int {
	j.mets = incremental.NewMetrics(nil)
	j.sink = j.mets.Sink
	if l := j.cfg.Sync.Listen; l != "" {
		srv, err := ops.Start(l, j.mets.Reg.Registry, j.mets.Readiness, j.log.With().Str("component", "sync").Logger())
		if err != nil {
			fmt.Fprintln(stderr, SyncEndpoint.listenError(l, err))
			return ExitFailed
		}
		srv.Status(func(now time.Time) any { return j.mets.Status(now) })
		defer srv.Close()
	}
	now := time.Now()
	first := j.first(now)
	sched := j.sched
	if e, ok := sched.(everyFrom); ok {
		sched = incremental.Every(first, e.d)
	}
	j.log.Info().Str("component", "sync").Str("config", j.cfg.Path).Str("mode", j.mode).Time("first_run", first).
		Int("tables", len(j.cfg.MySQL.Tables)).Str("state", j.state).Msg("sync starting on a schedule")
	if err := incremental.Loop(ctx, sched, first, j.run, j.mets, j.log.With().Str("component", "sync").Logger()); err != nil {
		fmt.Fprintln(stderr, "sync: stopping:", err)
		return ExitFailed
	}
	return ExitOK
}

// run is one run: connect, compile the mappings (a schema change is seen
// at the next run), copy or sync, log the run's line.
func (j *syncJob) run(ctx context.Context, fire time.Time) error {
	start := time.Now()
	log := j.log.With().Str("component", "sync").Logger()
	if j.sched == nil {
		log.Info().Str("config", j.cfg.Path).Str("mode", j.mode).Int("tables", len(j.cfg.MySQL.Tables)).Str("state", j.state).
			Str("mysql", j.cfg.MySQL.Addr()).Strs("iotdb", j.cfg.IoTDB.Nodes).Msg("sync starting")
	} else {
		log.Info().Str("mode", j.mode).Time("fire", fire).Msg("sync run starting")
	}
	tables, err := j.runOnce(ctx, fire)
	if j.mets != nil {
		j.mets.Tables(tables)
	}
	incremental.LogRun(log, j.mode, fire, time.Since(start), tables, err)
	return err
}

func (j *syncJob) runOnce(ctx context.Context, fire time.Time) ([]incremental.TableSummary, error) {
	cfg := j.cfg
	w := New(cfg, j.log, cfg.Backfill.Readers+2)
	defer w.Close()
	if j.mets != nil {
		w.Dirty().CountWith(j.mets.Reg.Dirty)
	}
	if _, _, err := w.OpenSource(ctx); err != nil {
		return nil, err
	}
	if err := w.openSink(ctx, j.sink); err != nil {
		return nil, err
	}
	mappers, err := w.CompileAll(ctx)
	if err != nil {
		return nil, &incremental.FatalError{Err: err}
	}
	if j.mode == modeIncremental {
		tables, err := j.incrementalTables(ctx, w, mappers)
		if err != nil {
			return nil, err
		}
		sum, err := incremental.Run(ctx, incremental.Options{
			DB: w.db, Database: cfg.MySQL.Database, Tables: tables, Writer: w.sink, Dirty: w.dirty,
			Copy: w.copier("run sync with --restart --tables TABLE to copy the table again"),
			Sync: cfg.Sync, Retry: cfg.IoTDB.Retry, Restart: j.a.Restart, Log: j.log,
		})
		if j.sched == nil {
			fmt.Fprintln(j.stdout, sum.String())
		}
		return sum.Tables, err
	}
	return j.copyRun(ctx, w, mappers, fire)
}

// incrementalTables compiles the cursors against the live tables.
func (j *syncJob) incrementalTables(ctx context.Context, w *Wiring, mappers map[string]*mapping.Mapper) ([]incremental.Table, error) {
	cfg := j.cfg
	var out []incremental.Table
	var errs []string
	for i, t := range cfg.MySQL.Tables {
		mp := mappers[t.Name]
		if mp == nil {
			continue
		}
		schema, err := mapping.LoadTableSchema(ctx, w.db, cfg.MySQL.Database, t.Name)
		if err != nil {
			return nil, err
		}
		p := fmt.Sprintf("mysql.tables[%d].cursor", i)
		cu, err := incremental.NewCursor(t, schema, cfg.Sync.Lookback, fmt.Sprintf("%s: %s", cfg.PosOf(p), p))
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if cu.Nullable {
			j.log.Debug().Str("table", t.Name).Strs("cursor", cu.Def.Columns).
				Msg("every cursor column is nullable: rows with all of them NULL are invisible to incremental runs")
		}
		out = append(out, incremental.Table{Config: t, Cursor: cu, Mapper: mp})
	}
	if len(errs) > 0 {
		return nil, &incremental.FatalError{Err: errors.New(strings.Join(errs, "\n"))}
	}
	return out, nil
}

// copyRun is a window or full copy with the backfill engine.
func (j *syncJob) copyRun(ctx context.Context, w *Wiring, mappers map[string]*mapping.Mapper, fire time.Time) ([]incremental.TableSummary, error) {
	cfg := j.cfg
	win, tag := j.window, "sync full copy"
	switch j.mode {
	case modeRecurring:
		end := fire.Truncate(time.Second)
		win = incremental.Window{From: end.Add(-j.a.Window), To: end}
	case modeFull:
		win = incremental.Window{}
	}
	if j.mode != modeFull {
		tag = "sync window " + win.String()
	}
	var tables []backfill.Table
	for _, t := range cfg.MySQL.Tables {
		mp := mappers[t.Name]
		if mp == nil {
			continue
		}
		if j.mode != modeFull {
			m, _ := cfg.Mapping(t.Name)
			schema, err := mapping.LoadTableSchema(ctx, w.db, cfg.MySQL.Database, t.Name)
			if err != nil {
				return nil, err
			}
			cond, col, err := incremental.WindowFilter(m, schema, win)
			if err != nil {
				return nil, &incremental.FatalError{Err: err}
			}
			if t.Where != "" {
				cond = "(" + t.Where + ") AND " + cond
			}
			t.Where = cond
			// Split the window on the time column when an index serves it.
			if t.Partition.Column == "" {
				if ok, err := incremental.LeadsIndex(ctx, w.db, cfg.MySQL.Database, t.Name, col); err != nil {
					return nil, err
				} else if ok {
					t.Partition.Column = col
				}
			}
		}
		tables = append(tables, backfill.Table{Config: t, Mapper: mp})
	}
	opts := w.backfillOptions(tables)
	opts.Backfill.State, opts.StateTag, opts.Restart = j.state, tag, j.a.Restart
	opts.StartOver = "run it again with --restart"
	opts.Progress = &backfill.LogProgress{Name: "sync", Log: j.log.With().Str("component", "sync").Logger()}
	j.log.Info().Str("component", "sync").Str("mode", j.mode).Str("window", win.String()).Str("copy_state", j.state).Msg("copying")
	sum, err := backfill.Run(ctx, opts)
	if j.sched == nil {
		fmt.Fprintln(j.stdout, sum.String())
	}
	if errors.Is(err, backfill.ErrInterrupted) {
		err = fmt.Errorf("%w: %w", incremental.ErrInterrupted, err)
	}
	var out []incremental.TableSummary
	for _, t := range sum.Tables {
		out = append(out, incremental.TableSummary{Table: t.Table, Copied: true, CopyRows: t.RowsRead, PointsWritten: t.PointsWritten,
			DirtyRows: t.DirtyRows, Duration: t.Duration})
	}
	if err == nil {
		if rerr := incremental.RemoveCopyState(j.state); rerr != nil {
			j.log.Warn().Err(rerr).Str("copy_state", j.state).Msg("removing the finished copy's state")
		}
	}
	return out, err
}

// copier is the first copy of incremental tables: a backfill run with its
// own state file, recording dirty rows in the job's log.
func (w *Wiring) copier(startOver string) incremental.CopyFunc {
	return func(ctx context.Context, tables []backfill.Table, statePath, tag string) (backfill.Summary, error) {
		opts := w.backfillOptions(tables)
		opts.Backfill.State, opts.StateTag = statePath, tag
		opts.StartOver = startOver
		opts.Progress = &backfill.LogProgress{Name: "sync", Log: w.log.With().Str("component", "sync").Logger()}
		return backfill.Run(ctx, opts)
	}
}

// dryRun prints what the next run would read, connecting to MySQL only.
func (j *syncJob) dryRun(ctx context.Context, stdout, stderr io.Writer) int {
	cfg := j.cfg
	w := New(cfg, j.log, 4)
	defer w.Close()
	fail := func(err error) int {
		fmt.Fprintln(stderr, "sync: dry run failed:", err)
		return ExitFailed
	}
	if _, _, err := w.OpenSource(ctx); err != nil {
		return fail(err)
	}
	mappers, err := w.CompileAll(ctx)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintln(stdout, "dry run: nothing is written")
	if j.mode != modeIncremental {
		fmt.Fprintf(stdout, "mode %s: the rows are read with the backfill engine (see backfill --dry-run for its plan); state %s\n", j.mode, j.state)
		return ExitOK
	}
	tables, err := j.incrementalTables(ctx, w, mappers)
	if err != nil {
		return fail(err)
	}
	report, points, dirtyRows, err := incremental.DryRun(ctx, incremental.Options{DB: w.db, Database: cfg.MySQL.Database, Tables: tables,
		Sync: cfg.Sync, Retry: cfg.IoTDB.Retry, Log: j.log}, j.a.Sample)
	if err != nil {
		return fail(err)
	}
	fmt.Fprint(stdout, report)
	if len(points) > 0 {
		fmt.Fprintf(stdout, "first mapped points of the next read (timestamps in %s):\n", w.Precision())
	}
	for _, p := range points {
		fmt.Fprintf(stdout, "  %s\n", formatPoint(p))
	}
	for _, d := range dirtyRows {
		fmt.Fprintf(stdout, "  dirty: %s %s column %s = %v: %s\n", d.Table, d.Key, d.Column, d.Value, d.Reason)
	}
	return ExitOK
}
