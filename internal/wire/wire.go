// Package wire is where the parts meet: it turns a loaded configuration
// into the source pool, the IoTDB sink, the compiled mappings and the
// dirty-row log, and hands them to the engines (internal/backfill,
// internal/cdc) as the narrow interfaces those declare. Every binary is its
// flags plus one call into this package (RunBackfill, RunCDC), and the
// tests build their engines here too, so a new binary, a new dependency or
// a new rule that joins two parts (the timestamp precision, say) is added
// in one place. docs/architecture.md has the whole layout.
//
// Neither engine imports the other: cdc's initial snapshot is a backfill
// run that this package performs for it (Wiring.Snapshot).
package wire

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/cdc"
	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
	"github.com/mysql-iotdb-bridge/bridge/internal/source"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Wiring holds the opened parts of one job. Open them in order (source,
// then sink) and Close once. It implements cdc.Wiring.
type Wiring struct {
	cfg *config.Config
	log zerolog.Logger

	poolSize int
	db       *sql.DB
	tlsSeen  bool // mysql.tls: preferred and the server offers TLS: the binlog connection uses it too
	sink     *iotdbsink.Sink
	dirty    *dirty.Log
	probed   string // the server's timestamp precision as a dry run's probe learned it
}

var _ cdc.Wiring = (*Wiring)(nil)

// New returns the wiring of cfg; it opens nothing. poolSize bounds the
// source pool. The dirty-row log of cfg is created here and closed by Close.
func New(cfg *config.Config, log zerolog.Logger, poolSize int) *Wiring {
	return &Wiring{cfg: cfg, log: log, poolSize: poolSize, dirty: dirty.New(cfg.DirtyRows)}
}

// Dirty is the job's dirty-row log.
func (w *Wiring) Dirty() *dirty.Log { return w.dirty }

// OpenSource opens the source pool and resolves the flavor (mysql.flavor,
// or asked of the server when auto).
func (w *Wiring) OpenSource(ctx context.Context) (*sql.DB, string, error) {
	db, err := source.Open(ctx, w.cfg.MySQL, w.poolSize)
	if err != nil {
		return nil, "", err
	}
	w.db = db
	if w.cfg.MySQL.TLS == "preferred" {
		// The SQL connections negotiate TLS when the server offers it; the
		// binlog connection's library cannot, so it follows their answer.
		on, err := source.ServerOffersTLS(ctx, db)
		if err != nil {
			return nil, "", err
		}
		w.tlsSeen = on
		w.log.Debug().Bool("tls", on).Msg("mysql.tls preferred: TLS on the source connections as the server offers")
	}
	flavor, err := resolveFlavor(ctx, db, w.cfg.MySQL.Flavor)
	if err != nil {
		return nil, "", err
	}
	return db, flavor, nil
}

func resolveFlavor(ctx context.Context, db *sql.DB, configured string) (string, error) {
	switch strings.ToLower(configured) {
	case binlog.FlavorMySQL:
		return binlog.FlavorMySQL, nil
	case binlog.FlavorMariaDB:
		return binlog.FlavorMariaDB, nil
	}
	return binlog.DetectFlavor(ctx, db)
}

// Binlog is the binlog connection of the configured source. iotdb.retry is
// the backoff of every transient failure, MySQL's too.
func (w *Wiring) Binlog(flavor string) binlog.Config {
	c := w.cfg.MySQL
	bc := binlog.Config{
		Host: c.Host, Port: c.Port, User: c.User, Password: c.Password,
		ServerID:  c.ServerID,
		Flavor:    flavor,
		Heartbeat: w.cfg.CDC.Heartbeat,
		Log:       w.log,
		// The waits of iotdb.retry; the bound is cdc.give_up_after (by
		// default none: a long-running cdc outlasts its neighbours).
		Reconnect: binlog.Reconnect{Backoff: config.Retry{Initial: w.cfg.IoTDB.Retry.Initial, Max: w.cfg.IoTDB.Retry.Max,
			Elapsed: w.cfg.CDC.GiveUpAfter}},
	}
	// The mode was checked when the configuration loaded: an error here is
	// an unreadable CA file, which the SQL pool reported already.
	if t, err := source.TLSConfig(c); err == nil && t != nil {
		bc.TLS = t
	} else if w.tlsSeen {
		bc.TLS = source.PreferredTLS()
	}
	return bc
}

// OpenSink connects to IoTDB and learns its timestamp precision.
func (w *Wiring) OpenSink(ctx context.Context, m iotdbsink.Metrics) (cdc.Sink, error) {
	if err := w.openSink(ctx, m); err != nil {
		return nil, err
	}
	return w.sink, nil
}

func (w *Wiring) openSink(ctx context.Context, m iotdbsink.Metrics) error {
	s, err := iotdbsink.New(w.cfg.IoTDB, w.log)
	if err != nil {
		return err
	}
	if m != nil {
		s.SetMetrics(m)
	}
	if err := s.Open(ctx); err != nil {
		return fmt.Errorf("connecting to IoTDB %s: %w", strings.Join(w.cfg.IoTDB.Nodes, ","), err)
	}
	w.sink = s
	return nil
}

// Precision is the timestamp precision the mappings are compiled for: the
// server's once the sink is open, else the configured one, else ms.
func (w *Wiring) Precision() string {
	sink := w.probed
	if w.sink != nil {
		sink = w.sink.Precision()
	}
	return precision(sink, w.cfg.IoTDB.Precision)
}

// precision is the one rule for the mappings' timestamp precision: the
// server's when known, else the configured one, else ms.
func precision(server, configured string) string {
	for _, p := range []string{server, configured} {
		if p != "" && p != config.PrecisionAuto {
			return p
		}
	}
	return "ms"
}

// Compile loads the live schema of m's table and compiles m for the
// current precision. Call it after OpenSource.
func (w *Wiring) Compile(ctx context.Context, m *config.Mapping) (*mapping.Mapper, error) {
	if w.db == nil {
		return nil, errors.New("internal: Compile before OpenSource")
	}
	return compile(ctx, w.db, w.cfg, w.Precision(), m)
}

// CompileOffline compiles m against the live schema in db for cfg's
// configured precision (or ms), without a sink: what a dry run uses, and
// what tests use to compute the points a table should produce.
func CompileOffline(ctx context.Context, db *sql.DB, cfg *config.Config, m *config.Mapping) (*mapping.Mapper, error) {
	return compile(ctx, db, cfg, precision("", cfg.IoTDB.Precision), m)
}

func compile(ctx context.Context, db *sql.DB, cfg *config.Config, prec string, m *config.Mapping) (*mapping.Mapper, error) {
	ts, err := mapping.LoadTableSchema(ctx, db, cfg.MySQL.Database, m.Table)
	if err != nil {
		return nil, fmt.Errorf("%s: mapping for table %s: %w", m.Pos, m.Table, err)
	}
	return mapping.Compile(m, ts, mapping.Options{Model: cfg.IoTDB.Model, Precision: prec, Database: cfg.IoTDB.Database})
}

// CompileAll compiles every mapping. All problems are reported together,
// one per line, each naming the mapping's file:line.
func (w *Wiring) CompileAll(ctx context.Context) (map[string]*mapping.Mapper, error) {
	out := make(map[string]*mapping.Mapper, len(w.cfg.IoTDB.Mappings))
	var errs []string
	for i := range w.cfg.IoTDB.Mappings {
		m := &w.cfg.IoTDB.Mappings[i]
		mp, err := w.Compile(ctx, m)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out[m.Table] = mp
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return out, nil
}

// Snapshot copies the named tables with the backfill engine, keeping its
// progress in statePath and recording dirty rows in the job's log (cdc's
// initial snapshot and a table added to its mappings).
func (w *Wiring) Snapshot(ctx context.Context, tables []string, statePath, tag string, progress backfill.Progress) (string, error) {
	var todo []backfill.Table
	for _, name := range tables {
		m, ok := w.cfg.Mapping(name)
		if !ok {
			return "", fmt.Errorf("internal: snapshot of unmapped table %s", name)
		}
		mp, err := w.Compile(ctx, m)
		if err != nil {
			return "", err
		}
		t, ok := w.cfg.Table(name)
		if !ok {
			t = &config.Table{Name: name}
		}
		todo = append(todo, backfill.Table{Config: *t, Mapper: mp})
	}
	opts := w.backfillOptions(todo)
	opts.Backfill.State, opts.StateTag = statePath, tag
	opts.StartOver = "run cdc --reset (it removes the checkpoint and the snapshot state together), then start cdc again to copy the tables anew"
	// Rows, rate and ETA every 10s in the log (component snapshot).
	slog := w.log.With().Str("component", "snapshot").Logger()
	opts.Progress = backfill.Tee(&backfill.LogProgress{Log: slog, Name: "snapshot"}, progress)
	sum, err := backfill.Run(ctx, opts)
	if err == nil {
		sum.Log(slog, "table snapshot done")
	}
	if errors.Is(err, backfill.ErrInterrupted) {
		return sum.Total(), fmt.Errorf("%w: %w", cdc.ErrSnapshotInterrupted, err)
	}
	return sum.Total(), err
}

// HandOver reads the state of a finished backfill (backfill.state of the
// configuration) for cdc's start: backfill.
func (w *Wiring) HandOver(ctx context.Context) (binlog.Position, string, []string, error) {
	path := w.cfg.Backfill.State
	st, found, err := backfill.LoadState(path)
	switch {
	case err != nil:
		return binlog.Position{}, "", nil, err
	case !found:
		return binlog.Position{}, "", nil, fmt.Errorf("start: backfill: no backfill state at %s (backfill.state): run backfill first; "+
			"a sharded backfill keeps one state per shard and cannot be handed over this way", path)
	case st.Source == nil:
		return binlog.Position{}, "", nil, fmt.Errorf("start: backfill: the backfill state %s has no source position "+
			"(the backfill could not read the binlog position, or was written by an older version): use start: initial", path)
	}
	var tables []string
	for name, tp := range st.Tables {
		for i, p := range tp.Progress {
			if !p.Done {
				return binlog.Position{}, "", nil, fmt.Errorf("start: backfill: the backfill in %s has not finished (table %s partition p%d): "+
					"run backfill again until it exits 0, then start cdc", path, name, tp.Plan.Partitions[i].ID)
			}
		}
		tables = append(tables, name)
	}
	slices.Sort(tables)
	return *st.Source, st.SourceFlavor, tables, nil
}

// sourcePosition reads the source's binlog position for backfill's
// hand-over record.
func (w *Wiring) sourcePosition(ctx context.Context) (binlog.Position, string, error) {
	flavor, err := resolveFlavor(ctx, w.db, w.cfg.MySQL.Flavor)
	if err != nil {
		return binlog.Position{}, "", err
	}
	pos, err := binlog.CurrentPosition(ctx, w.db, flavor)
	return pos, flavor, err
}

// backfillOptions are the backfill engine's options for this job: the
// given tables, read from the source pool and written to the open sink.
func (w *Wiring) backfillOptions(tables []backfill.Table) backfill.Options {
	opts := backfill.Options{
		DB:       w.db,
		Database: w.cfg.MySQL.Database,
		Tables:   tables,
		Backfill: w.cfg.Backfill,
		Dirty:    w.dirty,
		Retry:    w.cfg.IoTDB.Retry,
		Log:      w.log,
	}
	if w.sink != nil {
		opts.Writer = w.sink
	}
	return opts
}

// Close closes the sink, the source pool and the dirty-row log.
func (w *Wiring) Close() {
	if w.sink != nil {
		_ = w.sink.Close()
		w.sink = nil
	}
	if w.db != nil {
		_ = w.db.Close()
		w.db = nil
	}
	if err := w.dirty.Close(); err != nil {
		w.log.Error().Err(err).Msg("closing the dirty-rows file")
	}
}

// probeSink is a dry run's look at IoTDB: one session that writes nothing,
// the server's precision (compiles use it from then on), the databases the
// mappings write to, and the user's privileges.
func (w *Wiring) probeSink(ctx context.Context) *iotdbsink.ProbeResult {
	var dbs []string
	for i := range w.cfg.IoTDB.Mappings {
		db := w.cfg.IoTDB.Mappings[i].Database
		if w.cfg.IoTDB.Model == config.ModelTable {
			db = w.cfg.IoTDB.Database
		}
		if db != "" && !slices.Contains(dbs, db) {
			dbs = append(dbs, db)
		}
	}
	p := iotdbsink.Probe(ctx, w.cfg.IoTDB, w.log, dbs)
	w.probed = p.Precision
	return p
}
