// Package cdc is the change-data-capture engine behind cmd/cdc: it tails the
// source's row binlog and applies every committed change of a mapped table
// to IoTDB, saving its position only at commits whose rows IoTDB has
// acknowledged (DESIGN.md sections 2 and 6).
//
// Structure (gh-ost style roles):
//
//	Engine   sequences the phases (config -> connect -> preflight -> compile ->
//	         open sink -> checkpoint -> start position -> snapshot -> stream)
//	         and restarts the stream from the checkpoint after an IoTDB outage
//	handler  binlog.Handler: rows events -> mapped points and deletions in an
//	         ordered pending batch; flushes on size, interval, commit after
//	         DDL, heartbeat and caught-up
//	writer   one goroutine: batch -> sink.Write / sink.Delete in order ->
//	         advance the acknowledged position -> save the checkpoint
//
// Delivery is at least once: after a crash the stream resumes from the last
// saved commit and re-applies what followed; every write is idempotent per
// IoTDB key, so the end state equals the source.
package cdc

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/bridge"
	"github.com/mysql-iotdb-bridge/bridge/internal/checkpoint"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Options configure an Engine. Config is required.
type Options struct {
	Config *config.Config
	Log    zerolog.Logger
	// Registry receives the metrics. Optional: a new registry.
	Registry *prometheus.Registry
	// ShutdownTimeout bounds the final flush after ctx is canceled.
	// Optional: defaults to 30s.
	ShutdownTimeout time.Duration
	// StatusEvery is the period of the status log line. Optional: 10s.
	StatusEvery time.Duration
	// RestartBackoff bounds the waits between stream restarts after IoTDB
	// failures. Optional: iotdb.retry initial and max.
	RestartInitial, RestartMax time.Duration
	// CaughtUpWait is passed to the binlog streamer. Optional: its default.
	CaughtUpWait time.Duration
}

// Engine runs cdc. Create it with New and call Run once.
type Engine struct {
	opts Options
	cfg  *config.Config
	log  zerolog.Logger

	db       *sql.DB
	binTLS   *tls.Config
	flavor   string
	sink     *iotdbsink.Sink
	store    *checkpoint.Store
	streamer *binlog.Streamer
	tables   map[string]*tableState
	metrics  *metrics
	dirty    *dirtyLog
	http     *httpServer

	batchRows     int
	batchInterval time.Duration

	mu        sync.Mutex // guards state and acked
	state     *checkpoint.State
	acked     binlog.Position
	lastSaved binlog.Position

	// running is the streamer, for the reconnect and decoder metrics (read
	// by the HTTP goroutine).
	running atomic.Pointer[binlog.Streamer]

	// savedHook, when set (tests), sees every saved position.
	savedHook func(binlog.Position)
}

// New checks opts; it makes no connection.
func New(opts Options) (*Engine, error) {
	if opts.Config == nil {
		return nil, errors.New("cdc: no configuration")
	}
	cfg := opts.Config
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 30 * time.Second
	}
	if opts.StatusEvery <= 0 {
		opts.StatusEvery = 10 * time.Second
	}
	if opts.RestartInitial <= 0 {
		opts.RestartInitial = max(cfg.IoTDB.Retry.Initial, 100*time.Millisecond)
	}
	if opts.RestartMax <= 0 {
		opts.RestartMax = max(cfg.IoTDB.Retry.Max, time.Second)
	}
	if len(cfg.IoTDB.Mappings) == 0 {
		return nil, errors.New("cdc: no mappings")
	}
	e := &Engine{
		opts:          opts,
		cfg:           cfg,
		log:           opts.Log.With().Str("component", "cdc").Logger(),
		store:         &checkpoint.Store{Path: checkpointPath(cfg)},
		dirty:         newDirtyLog(cfg.DirtyRows),
		batchRows:     cfg.IoTDB.Batch.Rows,
		batchInterval: cfg.IoTDB.Batch.Interval,
		tables:        map[string]*tableState{},
	}
	if e.batchRows <= 0 {
		e.batchRows = 10000
	}
	if e.batchInterval <= 0 {
		e.batchInterval = 200 * time.Millisecond
	}
	e.metrics = newMetrics(opts.Registry, e.running.Load)
	return e, nil
}

func checkpointPath(cfg *config.Config) string {
	if cfg.CDC.Checkpoint.Path != "" {
		return cfg.CDC.Checkpoint.Path
	}
	return "cdc.checkpoint.json"
}

// Stats returns the row counters by table and outcome (the Out* constants).
func (e *Engine) Stats() map[string]map[string]int64 { return e.metrics.stats() }

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
	if err := e.compileAll(ctx); err != nil {
		return err
	}
	if err := e.openSink(ctx); err != nil {
		return err
	}
	st, found, err := e.store.Load()
	if err != nil {
		return err
	}
	from, err := e.startPosition(ctx, st, found)
	if err != nil {
		return err
	}
	if err := e.snapshots(ctx); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	return e.stream(ctx, from)
}

func (e *Engine) closeAll() {
	if e.sink != nil {
		_ = e.sink.Close()
	}
	if e.db != nil {
		_ = e.db.Close()
	}
	if err := e.dirty.close(); err != nil {
		e.log.Error().Err(err).Msg("closing the dirty-rows file")
	}
	if e.http != nil {
		e.http.close()
	}
}

// connect opens the source pool and learns the flavor.
func (e *Engine) connect(ctx context.Context) error {
	db, t, err := openSource(ctx, e.cfg.MySQL, max(e.cfg.Backfill.Readers, 4)+4)
	if err != nil {
		return err
	}
	e.db = db
	e.binTLS = t
	if e.flavor, err = resolveFlavor(ctx, db, e.cfg.MySQL.Flavor); err != nil {
		return err
	}
	e.streamer = binlog.New(e.binlogConfig())
	e.running.Store(e.streamer)
	e.log.Info().Str("mysql", e.cfg.MySQL.Addr()).Str("user", e.cfg.MySQL.User).Str("flavor", e.flavor).
		Uint32("server_id", e.cfg.MySQL.ServerID).Msg("connected to the source")
	return nil
}

func (e *Engine) binlogConfig() binlog.Config {
	c := e.cfg.MySQL
	bc := binlog.Config{
		Host: c.Host, Port: c.Port, User: c.User, Password: c.Password,
		ServerID:     c.ServerID,
		Flavor:       e.flavor,
		Heartbeat:    e.cfg.CDC.Heartbeat,
		Log:          e.opts.Log,
		CaughtUpWait: e.opts.CaughtUpWait,
		Tables: func(schema, table string) bool {
			// Read-only after startup: DDL replaces mappers, never the set.
			return schema == c.Database && e.tables[table] != nil
		},
		// iotdb.retry is the backoff of every transient failure, MySQL's too.
		Retry: binlog.Retry{Initial: e.cfg.IoTDB.Retry.Initial, Max: e.cfg.IoTDB.Retry.Max, GiveUpAfter: e.cfg.IoTDB.Retry.Elapsed},
	}
	if e.binTLS != nil {
		bc.TLS = e.binTLS.Clone()
	}
	return bc
}

func (e *Engine) mapOptions() mapping.Options {
	prec := ""
	if e.sink != nil {
		prec = e.sink.Precision()
	}
	if prec == "" || prec == config.PrecisionAuto {
		prec = e.cfg.IoTDB.Precision
	}
	if prec == "" || prec == config.PrecisionAuto {
		prec = "ms"
	}
	return bridge.MapperOptions(e.cfg, prec)
}

// compileAll loads every mapped table's schema and compiles its mapping.
func (e *Engine) compileAll(ctx context.Context) error {
	var errs []string
	for i := range e.cfg.IoTDB.Mappings {
		m := &e.cfg.IoTDB.Mappings[i]
		ts, mp, err := compileTable(ctx, e, m)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		t := e.tables[m.Table]
		if t == nil {
			t = &tableState{name: m.Table, cfg: m}
			if src, ok := e.cfg.Table(m.Table); ok {
				t.src = *src
			} else {
				t.src = config.Table{Name: m.Table}
			}
			e.tables[m.Table] = t
		}
		t.schema, t.mapper, t.byCols, t.lastCols = ts, mp, nil, nil
	}
	if len(errs) > 0 {
		return fmt.Errorf("cdc: mappings do not compile:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

// openSink connects to IoTDB and recompiles the mappers when the server's
// precision differs from the one they were compiled for.
func (e *Engine) openSink(ctx context.Context) error {
	before := e.mapOptions().Precision
	s, err := iotdbsink.New(e.cfg.IoTDB, e.opts.Log)
	if err != nil {
		return err
	}
	s.SetMetrics(sinkMetrics{e.metrics})
	if err := s.Open(ctx); err != nil {
		return fmt.Errorf("connecting to IoTDB %s: %w", strings.Join(e.cfg.IoTDB.Nodes, ","), err)
	}
	e.sink = s
	if e.mapOptions().Precision != before {
		return e.compileAll(ctx)
	}
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
	if err := e.dirty.sync(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == nil {
		return errors.New("cdc: no checkpoint state")
	}
	e.state.Position = e.acked
	if err := e.store.Save(e.state); err != nil {
		return err
	}
	e.lastSaved = e.acked
	e.metrics.checkpointSaved(e.acked, e.state.SavedAt)
	if e.savedHook != nil {
		e.savedHook(e.acked)
	}
	e.log.Debug().Stringer("position", e.acked).Msg("checkpoint saved")
	return nil
}

// saveState saves the state as it is (startup phases).
func (e *Engine) saveState() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.store.Save(e.state); err != nil {
		return err
	}
	e.lastSaved = e.state.Position
	e.metrics.checkpointSaved(e.state.Position, e.state.SavedAt)
	if e.savedHook != nil {
		e.savedHook(e.state.Position)
	}
	return nil
}

func (e *Engine) recordDirty(r DirtyRecord) error {
	e.metrics.count(r.Table, OutDirty, 1)
	e.metrics.dirty.WithLabelValues(r.Table, r.Reason).Inc()
	return e.dirty.record(r)
}

// stream runs the binlog stream from `from` until ctx ends or a fatal error.
// An IoTDB outage the sink gave up on restarts the stream from the last
// acknowledged position, with backoff, forever: acknowledged data is never
// dropped and nothing after it is skipped.
func (e *Engine) stream(ctx context.Context, from binlog.Position) error {
	e.mu.Lock()
	e.acked = from
	e.mu.Unlock()
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = e.opts.RestartInitial
	bo.MaxInterval = e.opts.RestartMax
	bo.MaxElapsedTime = 0
	bo.Reset()

	statusCtx, stopStatus := context.WithCancel(ctx)
	defer stopStatus()
	go e.statusLoop(statusCtx)

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
		if e.Acked() != start {
			bo.Reset()
		}
		wait := bo.NextBackOff()
		e.metrics.restarts.Inc()
		e.log.Warn().Err(err).Stringer("from", e.Acked()).Dur("wait", wait).
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
	w := newWriter(e, ch)
	go w.run(wctx, cancelStream)
	h := newHandler(e, ch, w.free, w.done)

	e.log.Info().Stringer("from", from).Msg("streaming")
	e.metrics.running.Store(true)
	e.metrics.streaming.Set(1)
	runErr := e.streamer.Run(sctx, from, h)
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
	timer := time.AfterFunc(e.opts.ShutdownTimeout, cancelWriter)
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
		return unwrapFatal(runErr)
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

func unwrapFatal(err error) error {
	var fe *fatalError
	if errors.As(err, &fe) {
		return fe.err
	}
	return err
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
			ev := e.log.Info().Float64("rows_per_sec", rate).Stringer("checkpoint", pos)
			if !at.IsZero() {
				ev = ev.Time("checkpoint_saved", at)
			}
			if e.metrics.lagKnown.Load() {
				ev = ev.Float64("lag_seconds", float64(e.metrics.lagMillis.Load())/1000)
			}
			ev.Msg("status")
		}
	}
}
