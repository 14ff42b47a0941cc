package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
	"github.com/mysql-iotdb-bridge/bridge/internal/process"
	"github.com/mysql-iotdb-bridge/bridge/internal/verify"
)

// Exit codes of cmd/verify.
const (
	VerifyEqual     = 0 // IoTDB holds what the mappings say the source holds (after the repair, with --repair)
	VerifyDifferent = 1 // differences found (and, with --repair, some remain)
	VerifyError     = 2 // the comparison could not be made: bad flags or configuration, a connection, a query
)

// VerifyArgs are cmd/verify's flags.
type VerifyArgs struct {
	Config string
	Tables string // comma-separated subset of the mapped tables ("" = all)
	Bucket string // bucket width: 1d, 6h, 15m, ...
	Until  string // compare only points before this time ("" = all)
	Exact  bool
	Repair bool
	// NoPushdown reads every table's rows through the mapping in the
	// coarse pass instead of asking MySQL for its aggregates.
	NoPushdown     bool
	JSON           bool
	Show           int
	MaxDrillPoints int64
	LogLevel       string // debug | info | warn | error | "" (the config's)
	LogFormat      string // auto | json | console | "" (the config's)
	// Now is the clock for --until now-<duration> (tests); zero: time.Now.
	Now func() time.Time

	// wrapTarget, in this package's tests, stands between verify and the
	// sink (an IoTDB that refuses a function, say).
	wrapTarget func(verify.Target) verify.Target
}

// RunVerify is cmd/verify: load and check the configuration and flags
// (exit 2 before any connection), open MySQL and IoTDB, compile the
// mappings, compare, print the report (a table, or JSON with --json) and
// return the exit code.
func RunVerify(ctx context.Context, a VerifyArgs, stdout, stderr io.Writer) int {
	cfg, code := loadConfigFlags(a.Config, a.LogLevel, a.LogFormat, stderr, "verify: ")
	if cfg == nil {
		if code == ExitUsage {
			return VerifyError
		}
		return code
	}
	if err := selectTables(cfg, a.Tables); err != nil {
		fmt.Fprintf(stderr, "verify: --tables: %v\n", err)
		return VerifyError
	}
	bucket, err := ParseBucket(a.Bucket)
	if err != nil {
		fmt.Fprintf(stderr, "verify: --bucket %q: %v\n", a.Bucket, err)
		return VerifyError
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	var until time.Time
	if a.Until != "" {
		if until, err = ParseUntil(a.Until, now()); err != nil {
			fmt.Fprintf(stderr, "verify: --until %q: %v\n", a.Until, err)
			return VerifyError
		}
	}
	if a.Show < 0 || a.MaxDrillPoints < 0 {
		fmt.Fprintln(stderr, "verify: --show and --max-drill-points must not be negative")
		return VerifyError
	}
	log := process.NewLogger(cfg.Log, a.LogFormat, stderr)
	w := New(cfg, log, cfg.Backfill.Readers+2)
	defer w.Close()
	rep, err := verifyTables(ctx, w, a, bucket, until, stderr)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "verify: interrupted:", err)
		} else {
			fmt.Fprintln(stderr, "verify:", err)
		}
		if rep == nil {
			return VerifyError
		}
	}
	if a.JSON {
		if err := rep.WriteJSON(stdout); err != nil {
			fmt.Fprintln(stderr, "verify:", err)
			return VerifyError
		}
	} else {
		rep.WriteText(stdout)
	}
	if err != nil {
		return VerifyError
	}
	if rep.Final().Equal {
		return VerifyEqual
	}
	return VerifyDifferent
}

func verifyTables(ctx context.Context, w *Wiring, a VerifyArgs, bucket time.Duration, until time.Time, stderr io.Writer) (*verify.Report, error) {
	cfg := w.cfg
	db, _, err := w.OpenSource(ctx)
	if err != nil {
		return nil, err
	}
	if err := w.openSink(ctx, nil); err != nil {
		return nil, err
	}
	mappers, err := w.CompileAll(ctx)
	if err != nil {
		return nil, err
	}
	prec := w.Precision()
	unit := map[string]time.Duration{"ms": time.Millisecond, "us": time.Microsecond, "ns": time.Nanosecond}[prec]
	if bucket%unit != 0 {
		return nil, fmt.Errorf("--bucket %s is not a whole number of %s (the server's timestamp precision)", verify.FormatBucket(bucket), prec)
	}
	untilUnits := int64(math.MaxInt64)
	if !until.IsZero() {
		// Points before until: t < until holds for t < ceil(until) in units.
		ns := until.UnixNano()
		untilUnits = ns / int64(unit)
		if ns%int64(unit) > 0 {
			untilUnits++
		}
	}
	dir, err := os.MkdirTemp("", "bridge-verify-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	sc := &verifyScanner{w: w, dir: dir, tables: map[string]backfill.Table{}}
	var tables []verify.Table
	for _, t := range cfg.MySQL.Tables {
		mp := mappers[t.Name]
		m, _ := cfg.Mapping(t.Name)
		if mp == nil || m == nil {
			continue
		}
		sc.tables[t.Name] = backfill.Table{Config: t, Mapper: mp}
		tables = append(tables, verify.Table{Mapper: mp, Mapping: m, Source: t})
	}
	terminal := false
	if fd, ok := stderr.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(fd.Fd())) {
		terminal = true
	}
	var target verify.Target = w.sink
	if a.wrapTarget != nil {
		target = a.wrapTarget(target)
	}
	opts := verify.Options{
		Tables: tables, Scanner: sc, Target: target,
		Precision: prec, Bucket: int64(bucket / unit), Until: untilUnits,
		Exact: a.Exact, Repair: a.Repair, Show: a.Show, MaxDrillPoints: a.MaxDrillPoints,
		Source: &verify.SQLSource{DB: db, Database: cfg.MySQL.Database, Readers: cfg.Backfill.Readers},
		Log:    w.log,
		Progress: func(phase string) backfill.Progress {
			if terminal {
				return backfill.NewTerminalProgress(stderr)
			}
			return &backfill.LogProgress{Log: w.log.With().Str("component", "verify").Str("phase", phase).Logger()}
		},
	}
	w.log.Info().Str("component", "verify").Str("config", cfg.Path).Int("tables", len(tables)).Str("mode", map[bool]string{false: "coarse", true: "exact"}[a.Exact]).
		Bool("repair", a.Repair).Str("bucket", verify.FormatBucket(bucket)).Str("precision", prec).Msg("verify starting")
	if a.NoPushdown {
		opts.Source = nil
	}
	return verify.Run(ctx, opts)
}

// verifyScanner runs the backfill engine over the job's tables with a
// PointWriter of verify's instead of the sink: the same plan, pages,
// readers and mapping as a backfill, with a throwaway state (every scan
// starts over) and a throwaway dirty-rows file (a dirty row is expected
// absent from IoTDB; the job's own file is not touched).
type verifyScanner struct {
	w      *Wiring
	dir    string
	tables map[string]backfill.Table
	n      int
}

func (s *verifyScanner) Scan(ctx context.Context, names []string, pw backfill.PointWriter, p backfill.Progress) (backfill.Summary, error) {
	var todo []backfill.Table
	for _, n := range names {
		t, ok := s.tables[n]
		if !ok {
			return backfill.Summary{}, fmt.Errorf("internal: verify scan of unmapped table %s", n)
		}
		todo = append(todo, t)
	}
	s.n++
	dl := dirty.New(config.DirtyRows{Policy: config.DirtySkip, File: filepath.Join(s.dir, fmt.Sprintf("dirty-%d.jsonl", s.n)), Max: -1})
	defer dl.Close()
	opts := s.w.backfillOptions(todo)
	opts.Writer, opts.Dirty, opts.Progress = pw, dl, p
	opts.Backfill.State = filepath.Join(s.dir, fmt.Sprintf("scan-%d.state.json", s.n))
	opts.Restart = true
	opts.StartOver = "run verify again"
	sum, err := backfill.Run(ctx, opts)
	if errors.Is(err, backfill.ErrInterrupted) {
		return sum, fmt.Errorf("source scan interrupted: %w", ctx.Err())
	}
	return sum, err
}

// ParseBucket reads a bucket width: Go durations (6h, 15m, 500ms) and
// whole days (1d, 7d).
func ParseBucket(s string) (time.Duration, error) {
	if s == "" {
		return 24 * time.Hour, nil
	}
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseInt(n, 10, 64)
		if err != nil || days <= 0 || days > 100_000 {
			return 0, errors.New("want a whole number of days (1d), or a duration such as 6h or 15m")
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, errors.New("want a duration such as 1d, 6h, 15m or 500ms")
		}
	}
	if d < time.Millisecond {
		return 0, errors.New("a bucket is at least 1ms")
	}
	return d, nil
}

// ParseUntil reads --until: an RFC 3339 time (2024-05-01T00:00:00Z), a UTC
// date or date-time (2024-05-01, 2024-05-01 12:00:00), now, or
// now-<duration> (now-10m).
func ParseUntil(s string, now time.Time) (time.Time, error) {
	if s == "now" {
		return now, nil
	}
	if rest, ok := strings.CutPrefix(s, "now-"); ok {
		if rest == "" {
			return time.Time{}, errors.New("now-<duration>: the duration is missing (now-10m)")
		}
		d, err := ParseBucket(rest)
		if err != nil {
			return time.Time{}, fmt.Errorf("now-<duration>: %v", err)
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("want an RFC 3339 time (2024-05-01T00:00:00Z), a UTC date-time (2024-05-01 12:00:00), now or now-<duration>")
}
