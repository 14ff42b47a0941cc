// Package cdc is the change-data-capture engine behind cmd/cdc: it tails the
// source's row binlog and applies every committed change of a mapped table
// to IoTDB, saving its position only at commits whose rows IoTDB has
// acknowledged (docs/delivery.md).
//
// Structure (roles as nouns):
//
//	Engine   sequences the phases (connect -> preflight -> open sink and
//	         compile -> checkpoint -> start position -> snapshot -> stream)
//	         and restarts the stream from the checkpoint after an IoTDB outage
//	handler  binlog.Handler: rows events -> mapped points and deletions in an
//	         ordered pending batch; flushes on size, interval, commit after
//	         DDL, heartbeat and caught-up
//	writer   one goroutine: batch -> sink.Write / sink.Delete in order ->
//	         advance the acknowledged position -> save the checkpoint
//
// The engine opens nothing itself: a Wiring (package wire, for the binary)
// hands it the source, the sink, the mapping compiler and the snapshot, so
// that the wiring of both binaries lives in one place and this package
// never imports the backfill engine. The handler and the writer see only
// what they use (handlerDeps, writerDeps), so they are unit-tested with
// fakes.
//
// Delivery is at least once: after a crash the stream resumes from the last
// saved commit and re-applies what followed; every write is idempotent per
// IoTDB key, so the end state equals the source.
package cdc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/checkpoint"
	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
	"github.com/mysql-iotdb-bridge/bridge/internal/ops"
	"github.com/mysql-iotdb-bridge/bridge/internal/retry"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Sink is what cdc needs of IoTDB; *iotdbsink.Sink is the production one.
type Sink interface {
	// Write writes points; an error is returned only after the sink's own
	// retries (iotdbsink.Retryable tells an outage from a verdict).
	Write(ctx context.Context, points []mapping.Point) (iotdbsink.Result, error)
	// Delete removes points.
	Delete(ctx context.Context, dels []iotdbsink.Deletion) error
	// Precision is the server's timestamp precision.
	Precision() string
}

// Wiring opens what the engine runs on. Package wire implements it for
// cmd/cdc (and the tests use that same implementation).
type Wiring interface {
	// OpenSource opens the SQL pool of the source (schemas, positions,
	// snapshots) and returns it with the source's flavor.
	OpenSource(ctx context.Context) (*sql.DB, string, error)
	// Binlog is the configuration of the binlog connection for a source
	// of the given flavor; the engine sets Tables and CaughtUpWait.
	Binlog(flavor string) binlog.Config
	// OpenSink connects to IoTDB, reporting to m; it learns the server's
	// timestamp precision, which Compile uses from then on.
	OpenSink(ctx context.Context, m iotdbsink.Metrics) (Sink, error)
	// Compile loads the live schema of a mapped table and compiles its
	// mapping for the sink's precision (the configured one, or ms, before
	// OpenSink).
	Compile(ctx context.Context, m *config.Mapping) (*mapping.Mapper, error)
	// CompileAll compiles every mapping, keyed by table; the error lists
	// every mapping that does not compile, each with its file:line.
	CompileAll(ctx context.Context) (map[string]*mapping.Mapper, error)
	// Snapshot copies the named tables into IoTDB with the backfill engine,
	// resumably, keeping its progress in statePath under tag: a state file
	// with another tag (left by a snapshot taken for another stream
	// position) is not resumed but started over. It returns the summary to
	// log, or an error wrapping ErrSnapshotInterrupted when ctx ended
	// (progress saved).
	// progress receives the copy's plan and rows (the snapshot metrics).
	Snapshot(ctx context.Context, tables []string, statePath, tag string, progress backfill.Progress) (summary string, err error)
	// HandOver reads a finished backfill's state (start: backfill): the
	// binlog position it recorded before planning, and the tables it
	// copied. An unfinished or missing backfill is an error saying what to
	// run.
	HandOver(ctx context.Context) (pos binlog.Position, flavor string, tables []string, err error)
	// Close releases the source and the sink.
	Close()
}

// ErrSnapshotInterrupted is wrapped by Wiring.Snapshot's error when it was
// interrupted with its progress saved.
var ErrSnapshotInterrupted = errors.New("snapshot interrupted")

// binlogStream is the binlog stream as the engine uses it; *binlog.Streamer is
// the production one, unit tests replay scripted events.
type binlogStream interface {
	Run(ctx context.Context, from binlog.Position, h binlog.Handler) error
	Waiting() bool
}

// Options configure an Engine. Config and Wiring are required.
type Options struct {
	Config *config.Config
	Wiring Wiring
	// Dirty records dirty rows and applies the policy. Optional: a log of
	// Config.DirtyRows, closed by Run.
	Dirty *dirty.Log
	Log   zerolog.Logger
	// Registry receives the metrics. Optional: a new registry.
	Registry *ops.Registry
	// StatusEvery is the period of the status log line. Optional: 10s.
	StatusEvery time.Duration
	// RestartInitial and RestartMax bound the waits between stream
	// restarts after IoTDB failures. Optional: iotdb.retry initial and max.
	RestartInitial, RestartMax time.Duration
	// CaughtUpWait is passed to the binlog streamer. Optional: its default.
	CaughtUpWait time.Duration
}

// Engine runs cdc. Create it with New and call Run once.
type Engine struct {
	opts Options
	cfg  *config.Config
	log  zerolog.Logger

	wiring   Wiring
	db       *sql.DB
	flavor   string
	identity binlog.Identity // of the source server connected to
	sink     Sink
	store    *checkpoint.Store
	streamer *binlog.Streamer // for PositionAt (start: timestamp)
	binlog   binlogStream
	tables   map[string]*tableState
	metrics  *metrics
	dirty    *dirty.Log
	ownDirty bool
	http     *httpServer

	mu        sync.Mutex // guards state and acked
	state     *checkpoint.State
	acked     binlog.Position
	lastSaved binlog.Position

	// running is the streamer, for the reconnect and decoder metrics (read
	// by the HTTP goroutine).
	running atomic.Pointer[binlog.Streamer]

	// purged is set by the preflight when the checkpoint's binlog is no
	// longer on the server (allowed only under on_purged: resnapshot).
	purged bool

	// savedHook, when set (tests), sees every saved position.
	savedHook func(binlog.Position)
}

// New checks opts; it makes no connection.
func New(opts Options) (*Engine, error) {
	if opts.Config == nil {
		return nil, errors.New("cdc: no configuration")
	}
	if opts.Wiring == nil {
		return nil, errors.New("cdc: no wiring")
	}
	cfg := *opts.Config
	cfg.CDC = cfg.CDC.WithDefaults()
	cfg.IoTDB = cfg.IoTDB.WithDefaults()
	if opts.StatusEvery <= 0 {
		opts.StatusEvery = 10 * time.Second
	}
	if opts.RestartInitial <= 0 {
		opts.RestartInitial = cfg.IoTDB.Retry.Initial
	}
	if opts.RestartMax <= 0 {
		opts.RestartMax = cfg.IoTDB.Retry.Max
	}
	if len(cfg.IoTDB.Mappings) == 0 {
		return nil, errors.New("cdc: no mappings")
	}
	e := &Engine{
		opts:   opts,
		cfg:    &cfg,
		log:    opts.Log.With().Str("component", "cdc").Logger(),
		wiring: opts.Wiring,
		store:  &checkpoint.Store{Path: cfg.CDC.Checkpoint.Path},
		dirty:  opts.Dirty,
		tables: map[string]*tableState{},
	}
	if e.dirty == nil {
		e.dirty, e.ownDirty = dirty.New(cfg.DirtyRows), true
	}
	e.metrics = newMetrics(opts.Registry, e.running.Load)
	e.dirty.CountWith(e.metrics.reg.Dirty)
	e.metrics.maxLag = cfg.CDC.ReadyMaxLag
	e.metrics.phase.Store("connecting to the source")
	return e, nil
}

// Stats returns the row counters by table and outcome (the Out* constants).
func (e *Engine) Stats() map[string]map[string]int64 { return e.metrics.stats() }

// Decoded returns the row changes of mapped tables decoded from the binlog
// so far (acknowledged or not), and the running stream's rows events by
// decoder (zero before the stream runs).
func (e *Engine) Decoded() (int64, binlog.DecodeStats) {
	var ds binlog.DecodeStats
	if s := e.running.Load(); s != nil {
		ds = s.DecodeStats()
	}
	return e.metrics.decoded.Load(), ds
}

// MetricsAddr is the address the HTTP endpoint listens on ("" when off).
func (e *Engine) MetricsAddr() string {
	if e.http == nil {
		return ""
	}
	return e.http.addr()
}

// Acked returns the last position whose every earlier row IoTDB
// acknowledged (it may not be saved yet).
func (e *Engine) Acked() binlog.Position {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.acked
}

// Run executes the phases and streams until ctx is canceled (then it
// flushes, saves the checkpoint and returns nil) or a fatal error.
func (e *Engine) Run(ctx context.Context) (err error) {
	defer e.closeAll()
	if l := e.cfg.Metrics.Listen; l != "" {
		if e.http, err = startHTTP(l, e.metrics, e.log); err != nil {
			return err
		}
	}
	if err := e.connect(ctx); err != nil {
		return err
	}
	checks, err := e.preflight(ctx)
	if ctx.Err() != nil {
		return ctx.Err() // stopped during the checks: not a failed check
	}
	if err != nil {
		return err
	}
	if failed := failedChecks(checks); failed != "" {
		return fmt.Errorf("cdc: preflight failed:\n%s", failed)
	}
	for _, c := range checks {
		if c.Warning {
			e.log.Warn().Str("check", c.Name).Msg(c.Detail)
		}
	}
	e.metrics.phase.Store("connecting to IoTDB")
	if err := e.openSink(ctx); err != nil {
		return err
	}
	if err := e.compileAll(ctx); err != nil {
		return err
	}
	st, found, err := e.store.Load()
	if err != nil {
		return err
	}
	mode := e.cfg.CDC.Start.Mode
	if found && e.purged {
		// Preflight passed with a purged checkpoint only under
		// on_purged: resnapshot.
		if err := e.startOver("the checkpoint's binlog was purged"); err != nil {
			return err
		}
		st, found, mode = nil, false, config.StartInitial
	}
	for {
		from, err := e.startPosition(ctx, st, found, mode)
		if err != nil {
			return err
		}
		if err := e.snapshots(ctx); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		err = e.stream(ctx, from)
		if !errors.Is(err, binlog.ErrBinlogPurged) || e.cfg.CDC.OnPurged != config.OnPurgedResnapshot {
			return err
		}
		// The server purged the binlog while the stream was away (a long
		// outage): take a new position and snapshot again.
		if err := e.startOver(err.Error()); err != nil {
			return err
		}
		st, found, mode = nil, false, config.StartInitial
	}
}

// startOver discards the cdc state (checkpoint and snapshot state, as
// cdc --reset does) under cdc.on_purged: resnapshot.
func (e *Engine) startOver(why string) error {
	removed, err := Reset(e.cfg)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.state = nil
	e.mu.Unlock()
	e.metrics.resnapshots.Inc()
	e.log.Warn().Str("reason", why).Strs("removed", removed).
		Msg("cdc.on_purged is resnapshot: starting over with a new position and a new snapshot of the mapped tables")
	return nil
}

func (e *Engine) closeAll() {
	e.wiring.Close()
	if err := e.dirty.Sync(); err != nil {
		e.log.Error().Err(err).Msg("syncing the dirty-rows file")
	}
	if e.ownDirty {
		_ = e.dirty.Close()
	}
	if e.http != nil {
		e.http.close()
	}
}

// connect opens the source pool and learns the flavor.
func (e *Engine) connect(ctx context.Context) error {
	db, flavor, err := e.wiring.OpenSource(ctx)
	if err != nil {
		return err
	}
	e.db, e.flavor = db, flavor
	if e.identity, err = binlog.ServerIdentity(ctx, db, flavor); err != nil {
		return err
	}
	bc := e.wiring.Binlog(flavor)
	bc.CaughtUpWait = e.opts.CaughtUpWait
	database := e.cfg.MySQL.Database
	bc.Tables = func(schema, table string) bool {
		// Read-only after startup: DDL replaces mappers, never the set.
		return schema == database && e.tables[table] != nil
	}
	e.streamer = binlog.New(bc)
	e.binlog = e.streamer
	e.running.Store(e.streamer)
	e.log.Info().Str("mysql", e.cfg.MySQL.Addr()).Str("user", e.cfg.MySQL.User).Str("flavor", e.flavor).
		Uint32("server_id", e.cfg.MySQL.ServerID).Stringer("source", e.identity).Msg("connected to the source")
	return nil
}

// compileAll loads every mapped table's schema and compiles its mapping.
func (e *Engine) compileAll(ctx context.Context) error {
	mappers, err := e.wiring.CompileAll(ctx)
	if err != nil {
		return fmt.Errorf("cdc: mappings do not compile:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	for i := range e.cfg.IoTDB.Mappings {
		m := &e.cfg.IoTDB.Mappings[i]
		t := e.tables[m.Table]
		if t == nil {
			t = &tableState{name: m.Table, cfg: m}
			e.tables[m.Table] = t
		}
		t.mapper, t.byCols, t.lastCols = mappers[m.Table], nil, nil
	}
	return nil
}

// openSink connects to IoTDB.
func (e *Engine) openSink(ctx context.Context) error {
	s, err := e.wiring.OpenSink(ctx, e.metrics.sink)
	if err != nil {
		return err
	}
	e.sink = s
	return nil
}

// advance moves the acknowledged position; it reports whether it changed.
func (e *Engine) advance(pos binlog.Position) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if pos == e.acked {
		return false
	}
	e.acked = pos
	return true
}

// saveCheckpoint writes the acknowledged position (dirty rows first).
func (e *Engine) saveCheckpoint() error {
	if err := e.dirty.Sync(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == nil {
		return errors.New("cdc: no checkpoint state")
	}
	e.state.Position = e.acked
	return e.saveLocked()
}

// saveState saves the state as it is (startup phases).
func (e *Engine) saveState() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.saveLocked()
}

func (e *Engine) saveLocked() error {
	if err := e.store.Save(e.state); err != nil {
		return err
	}
	e.lastSaved = e.state.Position
	e.metrics.checkpointSaved(e.state.Position, e.state.SavedAt)
	if e.savedHook != nil {
		e.savedHook(e.state.Position)
	}
	e.log.Debug().Stringer("position", e.state.Position).Msg("checkpoint saved")
	return nil
}

func (e *Engine) recordDirty(r dirty.Record) error {
	e.metrics.count(r.Table, OutDirty, 1)
	return e.dirty.Record(r)
}

// stream runs the binlog stream from `from` until ctx ends or a fatal error.
// An IoTDB outage the sink gave up on restarts the stream from the last
// acknowledged position, with backoff, forever: acknowledged data is never
// dropped and nothing after it is skipped.
func (e *Engine) stream(ctx context.Context, from binlog.Position) error {
	e.mu.Lock()
	e.acked = from
	e.mu.Unlock()
	// Restarts never give up unless cdc.give_up_after bounds them, counted
	// without a batch acknowledged.
	loop := retry.NewLoop(config.Retry{Initial: e.opts.RestartInitial, Max: e.opts.RestartMax, Elapsed: e.cfg.CDC.GiveUpAfter}, 0)

	statusCtx, stopStatus := context.WithCancel(ctx)
	statusDone := make(chan struct{})
	go func() {
		defer close(statusDone)
		e.statusLoop(statusCtx)
	}()
	defer func() { stopStatus(); <-statusDone }()

	for {
		start := e.Acked()
		err := e.streamOnce(ctx, start)
		if err == nil {
			return nil
		}
		var sf *sinkFailure
		if !errors.As(err, &sf) {
			return err
		}
		wait, giveUp := loop.Failed(e.Acked() != start)
		if giveUp {
			return fmt.Errorf("cdc: IoTDB has failed for %s without a batch acknowledged (cdc.give_up_after %s); the checkpoint stays at %s: %w",
				loop.FailingFor().Round(time.Second), e.cfg.CDC.GiveUpAfter, e.Acked(), err)
		}
		e.metrics.restarts.Inc()
		e.metrics.failed(err)
		e.log.Warn().Err(err).Stringer("from", e.Acked()).Dur("wait_s", wait.Round(time.Millisecond)).
			Msg("IoTDB write failed after retries; restarting the stream from the last acknowledged commit")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// streamOnce runs one streamer with one writer. It returns nil after a
// graceful stop (ctx canceled: pending work flushed and checkpointed), a
// *sinkFailure when the writer failed transiently, or the fatal error.
func (e *Engine) streamOnce(ctx context.Context, from binlog.Position) error {
	sctx, cancelStream := context.WithCancel(ctx)
	defer cancelStream()
	// The writer outlives ctx so the final flush can finish; it is bounded
	// by ShutdownTimeout after ctx ends.
	wctx, cancelWriter := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWriter()

	ch := make(chan *batch)
	w := newWriter(e.writerDeps(), ch)
	go w.run(wctx, cancelStream)
	h := newHandler(e.handlerDeps(), ch, w.free, w.done)

	e.log.Info().Stringer("from", from).Msg("streaming")
	e.metrics.running.Store(true)
	e.metrics.streaming.Set(1)
	runErr := e.binlog.Run(sctx, from, h)
	e.metrics.running.Store(false)
	e.metrics.streaming.Set(0)

	// The stream was canceled but not by our caller: the writer failed and
	// is stopping.
	if ctx.Err() == nil && sctx.Err() != nil {
		<-w.done
	}
	// The writer failed (w.done closes early only then): it stopped
	// reading; what is pending is dropped and will be streamed again from
	// the acknowledged position.
	select {
	case <-w.done:
		close(ch)
		if w.err != nil {
			return w.err
		}
		return &sinkFailure{errWriterStopped}
	default:
	}

	stopping := ctx.Err() != nil
	// Flush what is pending (complete transactions and possibly part of
	// one: harmless, the checkpoint stays at its last commit), then let the
	// writer drain and save.
	timer := time.AfterFunc(e.cfg.CDC.ShutdownTimeout, cancelWriter)
	defer timer.Stop()
	ferr := h.flush(wctx)
	close(ch)
	<-w.done
	if !stopping {
		if errors.Is(runErr, binlog.ErrBinlogPurged) {
			return fmt.Errorf("cdc: %w", runErr)
		}
		if runErr == nil {
			runErr = errors.New("binlog stream ended")
		}
		return runErr
	}
	if ferr != nil {
		return fmt.Errorf("cdc: final flush: %w", ferr)
	}
	if w.err != nil {
		var sf *sinkFailure
		if errors.As(w.err, &sf) {
			return fmt.Errorf("cdc: stopped with unwritten rows (they will be streamed again from %s): %w", e.Acked(), w.err)
		}
		return w.err
	}
	e.log.Info().Stringer("checkpoint", e.lastSavedPos()).Msg("stopped: flushed and checkpointed")
	return nil
}

// handlerDeps is what the handler uses of the engine.
func (e *Engine) handlerDeps() handlerDeps {
	return handlerDeps{
		database: e.cfg.MySQL.Database, tables: e.tables,
		batchRows: e.cfg.IoTDB.Batch.Rows, batchInterval: e.cfg.IoTDB.Batch.Interval,
		metrics: e.metrics, dirty: e.recordDirty, compile: e.wiring.Compile,
		retry: e.cfg.IoTDB.Retry, giveUpAfter: e.cfg.CDC.GiveUpAfter,
		waiting: e.binlog.Waiting, log: e.log,
	}
}

// writerDeps is what the writer uses of the engine.
func (e *Engine) writerDeps() writerDeps {
	return writerDeps{
		sink: e.sink, metrics: e.metrics, dirty: e.recordDirty,
		ack: e.advance, save: e.saveCheckpoint, interval: e.cfg.CDC.Checkpoint.Interval,
	}
}

func (e *Engine) lastSavedPos() binlog.Position {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastSaved
}

// statusLoop logs rows/s, lag and the checkpoint every StatusEvery.
func (e *Engine) statusLoop(ctx context.Context) {
	t := time.NewTicker(e.opts.StatusEvery)
	defer t.Stop()
	last, lastAt := e.metrics.written.Load(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := e.metrics.written.Load()
			rate := float64(n-last) / now.Sub(lastAt).Seconds()
			last, lastAt = n, now
			pos, at := e.metrics.lastCheckpoint()
			ev := e.log.Info().Float64("rows_per_s", math.Round(rate)).Stringer("checkpoint", pos)
			if !at.IsZero() {
				ev = ev.Time("checkpoint_saved", at)
			}
			if e.metrics.lagKnown.Load() {
				ev = ev.Dur("lag_s", e.metrics.lagSrc.lag(now).Round(time.Millisecond))
			}
			// Which decoder read the mapped tables' rows events: "go_mysql"
			// above 0 means a column type the own (faster) decoder leaves.
			rows, ds := e.Decoded()
			ev = ev.Int64("rows_decoded", rows).Int64("events_own_decoder", ds.Fast).Int64("events_go_mysql", ds.GoMySQL)
			ev.Msg("status")
		}
	}
}
