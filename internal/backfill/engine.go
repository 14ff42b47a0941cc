package backfill

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/cli"
	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
	"github.com/mysql-iotdb-bridge/bridge/internal/retry"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// ErrInterrupted is returned (wrapped) by Run when its context was canceled:
// in-flight pages were finished and the state saved. Running again resumes.
var ErrInterrupted = errors.New("backfill interrupted")

// Table is one table to copy and the mapper of its rows.
type Table struct {
	Config config.Table
	Mapper RowMapper
}

// Options configure Run and DryRun. DB, Database, Tables and (for Run)
// Writer are required; the zero value of everything else is usable.
type Options struct {
	// DB is the source pool. Its size should be at least Backfill.Readers.
	DB *sql.DB
	// Database is the schema holding the tables.
	Database string
	Tables   []Table
	Writer   PointWriter

	// Backfill sizes the run: Readers, Writers, PageRows, Queue (pages
	// between readers and writers), State (see StatePath for shards) and
	// ShutdownTimeout. Zero fields take the configuration's defaults.
	Backfill config.Backfill
	// Dirty records the rows that are not written and applies the
	// dirty-row policy. Required for Run; DryRun does not record.
	Dirty *dirty.Log
	// Retry is the backoff for failed planning queries and page reads
	// (writes are retried by the Writer). Zero fields take the defaults.
	Retry config.Retry
	// Shard restricts the run to the partitions p with p % Count == Index.
	Shard Shard
	// Restart ignores (and overwrites) an existing state file.
	Restart bool
	// StartOver is what errors about an unusable state file tell the user
	// to do to start over; it defaults to backfill's "run with --restart"
	// (cdc's snapshots say cdc's own remedy).
	StartOver string
	// Progress receives progress; nil discards it.
	Progress Progress
	// Log receives phase and retry messages; the zero value discards them.
	Log zerolog.Logger
	// SaveInterval is the period of state saves while running (default 1s).
	SaveInterval time.Duration
	// StateTag, when set, binds the state file to what it was made for: a
	// saved state with another tag is discarded and the copy starts over
	// (cdc's snapshots use the stream position they were taken for).
	StateTag string
	// SourcePosition, when set, is called once for a new state, before any
	// table is planned; its answer is recorded in the state (State.Source)
	// and the summary. An error is logged and recorded as no position.
	SourcePosition func(ctx context.Context) (pos binlog.Position, flavor string, err error)

	// Test hooks.
	beforeQuery func(table string, part int, after Key) // each page (or stream) query
	pageValues  int                                     // pageMaxValues when 0
}

// pageMaxValues bounds the values of one page (rows × selected columns)
// besides Backfill.PageRows: a page of a wide table holds fewer rows, so
// that the pages queued and in flight (Queue + Readers + Writers of them)
// take about the same memory whatever the width. The default 10,000 rows
// of up to 20 columns are unaffected; 200 columns make pages of 1,000.
const pageMaxValues = 200_000

// pageLimit is the rows of one page of a table selecting ncols columns.
func (o *Options) pageLimit(ncols int) int {
	maxValues := o.pageValues
	if maxValues <= 0 {
		maxValues = pageMaxValues
	}
	return max(1, min(o.Backfill.PageRows, maxValues/max(1, ncols)))
}

func (o *Options) startOver() string {
	if o.StartOver != "" {
		return o.StartOver
	}
	return "run with --restart to start over"
}

func (o *Options) defaults() {
	o.Backfill = o.Backfill.WithDefaults()
	o.Retry = o.Retry.WithDefaults()
	if o.SaveInterval <= 0 {
		o.SaveInterval = time.Second
	}
	if o.Progress == nil {
		o.Progress = NopProgress{}
	}
}

func (o *Options) validate(needWriter bool) error {
	if o.DB == nil {
		return errors.New("backfill: no database")
	}
	if o.Database == "" {
		return errors.New("backfill: no database name")
	}
	if len(o.Tables) == 0 {
		return errors.New("backfill: no tables")
	}
	if needWriter && o.Writer == nil {
		return errors.New("backfill: no writer")
	}
	if needWriter && o.Dirty == nil {
		return errors.New("backfill: no dirty-row log")
	}
	if o.Shard.Count > 1 && (o.Shard.Index < 0 || o.Shard.Index >= o.Shard.Count) {
		return fmt.Errorf("backfill: bad shard %d/%d", o.Shard.Index, o.Shard.Count)
	}
	seen := map[string]bool{}
	for _, t := range o.Tables {
		if t.Mapper == nil {
			return fmt.Errorf("backfill: table %s has no mapper", t.Config.Name)
		}
		if len(t.Mapper.Columns()) == 0 {
			return fmt.Errorf("backfill: table %s: mapper needs no columns", t.Config.Name)
		}
		if seen[t.Config.Name] {
			return fmt.Errorf("backfill: table %s listed twice", t.Config.Name)
		}
		seen[t.Config.Name] = true
	}
	return nil
}

// Summary is the outcome of Run.
type Summary struct {
	Tables    []TableSummary
	Duration  time.Duration
	StatePath string
	DirtyFile string // "" when no dirty row was recorded
	// Source is the binlog position recorded before planning (nil: none).
	Source *binlog.Position
}

// TableSummary is the outcome for one table (this shard's partitions).
type TableSummary struct {
	Table string
	// Partitions of this shard; Done counts the finished ones (all runs),
	// Skipped the ones already finished when this run started.
	Partitions, Done, Skipped int
	RowsRead                  int64
	PointsWritten             int64
	DirtyRows                 int64
	// EmptyRows counts rows whose mapped measurements were all NULL:
	// nothing to write (IoTDB creates no point for a NULL), not dirty.
	EmptyRows     int64
	DirtyByReason map[string]int64
	// Collisions counts rows that mapped to a (device, time) another row of
	// this run already produced (IoTDB keeps only the last).
	Collisions int64
	Duration   time.Duration
	RowsPerSec float64
}

// String renders the summary printed at exit: one line per table, a total
// line, and the source position line when there is one.
func (s Summary) String() string {
	var b strings.Builder
	for _, t := range s.Tables {
		b.WriteString(t.String())
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "total %s; state %s", s.Duration.Round(time.Millisecond), s.StatePath)
	if s.DirtyFile != "" {
		fmt.Fprintf(&b, "; dirty rows in %s", s.DirtyFile)
	}
	if s.Source != nil {
		fmt.Fprintf(&b, "\nsource binlog position before the copy: %s (cdc with start: backfill streams from here)", s.Source)
	}
	return b.String()
}

// String is the table's summary line, e.g. "readings: 1000 rows read,
// 990 points written, 2 dirty rows skipped (null_time 2), 8 rows without
// values, 0 collisions, 8/8 partitions done (0 from earlier runs), 1.2s,
// 833 rows/s".
func (t TableSummary) String() string {
	dirtyRows := cli.Count(t.DirtyRows, "dirty row") + " skipped"
	if len(t.DirtyByReason) > 0 {
		reasons := make([]string, 0, len(t.DirtyByReason))
		for r := range t.DirtyByReason {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for i, r := range reasons {
			reasons[i] = fmt.Sprintf("%s %d", r, t.DirtyByReason[r])
		}
		dirtyRows += " (" + strings.Join(reasons, ", ") + ")"
	}
	return fmt.Sprintf("%s: %s read, %s written, %s, %s without values, %s, %d/%d partitions done (%d from earlier runs), %s, %.0f rows/s",
		t.Table, cli.Count(t.RowsRead, "row"), cli.Count(t.PointsWritten, "point"), dirtyRows, cli.Count(t.EmptyRows, "row"),
		cli.Count(t.Collisions, "collision"), t.Done, t.Partitions, t.Skipped, t.Duration.Round(time.Millisecond), t.RowsPerSec)
}

// Total is the whole run in one line: "2 tables: 1000 rows read, 990
// points written, 2 dirty rows skipped, 8 rows without values, in 3.2s".
func (s Summary) Total() string {
	var rows, points, dirtyRows, empty int64
	for _, t := range s.Tables {
		rows, points, dirtyRows, empty = rows+t.RowsRead, points+t.PointsWritten, dirtyRows+t.DirtyRows, empty+t.EmptyRows
	}
	return fmt.Sprintf("%s: %s read, %s written, %s skipped, %s without values, in %s", cli.Count(int64(len(s.Tables)), "table"),
		cli.Count(rows, "row"), cli.Count(points, "point"), cli.Count(dirtyRows, "dirty row"), cli.Count(empty, "row"), s.Duration.Round(time.Millisecond))
}

// Log writes one line per table to log (msg, e.g. "table copied"), with
// the counts as fields and durations in seconds.
func (s Summary) Log(log zerolog.Logger, msg string) {
	for _, t := range s.Tables {
		ev := log.Info().Str("table", t.Table).Int64("rows_read", t.RowsRead).Int64("points_written", t.PointsWritten).
			Int64("dirty_rows", t.DirtyRows).Int64("rows_without_values", t.EmptyRows).Int64("collisions", t.Collisions).
			Int("partitions_done", t.Done).Int("partitions", t.Partitions).
			Dur("duration_s", t.Duration.Round(time.Millisecond)).Float64("rows_per_s", math.Round(t.RowsPerSec))
		if len(t.DirtyByReason) > 0 {
			d := zerolog.Dict()
			for r, n := range t.DirtyByReason {
				d = d.Int64(r, n)
			}
			ev = ev.Dict("dirty_by_reason", d)
		}
		ev.Msg(msg)
	}
}

type engine struct {
	opts      Options
	log       zerolog.Logger
	statePath string
	dirty     *dirty.Log

	mu         sync.Mutex // guards st progress, partRun ack fields, tableRun.dirtyBy/times
	st         *State
	stateDirty bool
	saveMu     sync.Mutex

	tables   []*tableRun
	errOnce  sync.Once
	fatalErr error
	fatal    atomic.Bool
	cancel   context.CancelFunc
}

type tableRun struct {
	name   string
	plan   *TablePlan
	ts     *TableProgress
	mapper RowMapper
	nMap   int // leading columns of a row that Map receives
	// appendKey appends mapper.KeyString(row) to dst, or for a table
	// without a primary key the whole mapped row (appendRowKey).
	appendKey func(dst []byte, row []any) []byte
	exprs     []string // SELECT list: the mapper's columns, then plan.Order

	rowsRead, points, dirty atomic.Int64
	empty                   atomic.Int64 // rows whose measurements are all NULL: nothing to write
	coll                    *collisions
	dirtyBy                 map[string]int64 // engine.mu
	first, last             time.Time        // engine.mu
	skippedParts            int
}

func newTableRun(name string, plan *TablePlan, m RowMapper) (*tableRun, error) {
	mc := m.Columns()
	tr := &tableRun{name: name, plan: plan, mapper: m, nMap: len(mc),
		coll: newCollisions(0), dirtyBy: map[string]int64{}}
	if !plan.Paged {
		// No primary key, so no key string: a row is identified by all
		// its mapped values (see appendRowKey).
		tr.appendKey = appendRowKey
	} else if ka, ok := m.(keyAppender); ok {
		tr.appendKey = ka.AppendKey
	} else {
		tr.appendKey = func(dst []byte, row []any) []byte { return append(dst, m.KeyString(row)...) }
	}
	if sl, ok := m.(SelectLister); ok {
		tr.exprs = append(tr.exprs, sl.SelectList()...)
		if len(tr.exprs) != len(mc) {
			return nil, fmt.Errorf("table %s: mapper has %d columns but %d select expressions", name, len(mc), len(tr.exprs))
		}
	} else {
		for _, c := range mc {
			tr.exprs = append(tr.exprs, quoteIdent(c))
		}
	}
	// The key columns follow, selected raw: the reader keeps them for its
	// cursor and never hands them to Map.
	for _, k := range plan.Order {
		tr.exprs = append(tr.exprs, quoteIdent(k.Name))
	}
	return tr, nil
}

type partRun struct {
	t   *tableRun
	idx int
	p   Partition
	est int64 // the rows Progress.Start counted for this partition
	// ack state, engine.mu
	nextAck int
	pending map[int]*ackInfo
	rows    int64 // rows acknowledged by this run
}

type ackInfo struct {
	rows  int
	last  Key
	final bool
}

type page struct {
	part  *partRun
	seq   int
	rows  [][]any
	mem   *pageMem // backing memory of rows, recycled after the write
	last  Key
	final bool
}

// Run copies the configured tables: load state, plan new tables, scan and
// write, save. It returns nil only when every row of this shard's
// partitions was written or skipped by the dirty-row policy. When ctx is
// canceled it stops reading, finishes the pages already read, saves the
// state and returns an error wrapping ErrInterrupted.
func Run(ctx context.Context, opts Options) (Summary, error) {
	opts.defaults()
	start := time.Now()
	if err := opts.validate(true); err != nil {
		return Summary{}, err
	}
	e := &engine{opts: opts, log: opts.Log.With().Str("component", "backfill").Logger()}
	e.statePath = StatePath(opts.Backfill.State, opts.Shard)
	e.dirty = opts.Dirty
	sum := Summary{StatePath: e.statePath}

	// Phase 1: state.
	if err := e.loadState(ctx); err != nil {
		return sum, err
	}
	// Phase 2: plan tables the state does not know yet, check the others.
	if err := e.planTables(ctx); err != nil {
		return sum, err
	}
	if err := e.save(); err != nil {
		return sum, err
	}
	// Phase 3: scan and write.
	runErr := e.run(ctx)
	// Phase 4: final save, whatever happened.
	if err := e.save(); err != nil && runErr == nil {
		runErr = err
	}
	if err := e.dirty.Sync(); err != nil && runErr == nil {
		runErr = err
	}
	opts.Progress.Finish()
	sum = e.summary(start)
	if runErr == nil && ctx.Err() != nil {
		runErr = fmt.Errorf("%w: state saved to %s; resume by running again", ErrInterrupted, e.statePath)
	}
	if runErr == nil {
		for _, t := range e.tables {
			for i, p := range t.plan.Partitions {
				if opts.Shard.owns(p.ID) && !t.ts.Progress[i].Done {
					runErr = fmt.Errorf("backfill: table %s partition p%d %s did not finish", t.name, p.ID, p)
				}
			}
		}
	}
	return sum, runErr
}

func (e *engine) loadState(ctx context.Context) error {
	if e.opts.Restart {
		e.st = newState()
		e.log.Info().Str("state", e.statePath).Msg("restart: ignoring any previous state")
	} else {
		st, ok, err := loadState(e.statePath, e.opts.startOver())
		if err != nil {
			return err
		}
		if ok && e.opts.StateTag != "" && st.Tag != e.opts.StateTag {
			e.log.Warn().Str("state", e.statePath).Str("state_tag", st.Tag).Str("want", e.opts.StateTag).
				Msg("the saved state belongs to another run (another stream position): starting the copy over")
			st, ok = newState(), false
		}
		e.st = st
		if ok {
			if st.Shard.Count > 1 || e.opts.Shard.Count > 1 {
				if st.Shard.String() != e.opts.Shard.String() {
					return fmt.Errorf("backfill state %s was written by shard %s, this is shard %s: %s", e.statePath, st.Shard, e.opts.Shard, e.opts.startOver())
				}
			}
			e.log.Info().Str("state", e.statePath).Msg("resuming from saved state")
		}
	}
	e.st.Shard = e.opts.Shard
	e.st.Tag = e.opts.StateTag
	if len(e.st.Tables) == 0 && e.st.Source == nil && e.opts.SourcePosition != nil {
		pos, flavor, err := e.opts.SourcePosition(ctx)
		if err != nil {
			e.log.Warn().Err(err).Msg("could not read the source's binlog position: cdc cannot start from this backfill (start: backfill)")
		} else {
			e.st.Source, e.st.SourceFlavor = &pos, flavor
			e.log.Info().Stringer("source_position", pos).Msg("source binlog position recorded before planning")
		}
	}
	return nil
}

func (e *engine) planTables(ctx context.Context) error {
	pl := &planner{db: e.opts.DB, database: e.opts.Database, readers: e.opts.Backfill.Readers}
	for _, t := range e.opts.Tables {
		name := t.Config.Name
		ts := e.st.Tables[name]
		if ts != nil {
			if got, want := ts.Plan.Config, tableConfig(t.Config); got != want {
				return fmt.Errorf("table %s: the partitioning changed since backfill state %s was written (was %+v, now %+v): %s", name, e.statePath, got, want, e.opts.startOver())
			}
		} else {
			var tp *TablePlan
			op := func() error {
				var err error
				tp, _, err = pl.planTable(ctx, t.Config)
				return permanentUnlessTransient(err)
			}
			notify := func(err error, d time.Duration) {
				e.log.Warn().Err(err).Str("table", name).Dur("retry_in_s", d.Round(time.Millisecond)).Msg("planning failed, retrying")
			}
			if err := backoff.RetryNotify(op, e.newBackoff(ctx), notify); err != nil {
				return err
			}
			ts = &TableProgress{Plan: tp, Progress: make([]PartProgress, len(tp.Partitions))}
			e.st.Tables[name] = ts
			e.log.Info().Str("table", name).Int("partitions", len(tp.Partitions)).Int64("est_rows", tp.EstRows).Strs("notes", tp.Notes).Msg("planned")
		}
		tr, err := newTableRun(name, ts.Plan, t.Mapper)
		if err != nil {
			return err
		}
		tr.ts = ts
		e.tables = append(e.tables, tr)
	}
	e.stateDirty = true
	return nil
}

// plan returns the plan of the tables of this run.
func (e *engine) plan() *Plan {
	p := &Plan{Shard: e.opts.Shard}
	for _, t := range e.tables {
		p.Tables = append(p.Tables, t.plan)
	}
	return p
}

func (e *engine) run(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	e.cancel = cancel

	var work []*partRun
	var remaining int64
	for _, t := range e.tables {
		for i, p := range t.plan.Partitions {
			if !e.opts.Shard.owns(p.ID) {
				continue
			}
			if t.ts.Progress[i].Done {
				t.skippedParts++
				continue
			}
			// What an earlier run acknowledged is not read again.
			est := max(0, p.Est-t.ts.Progress[i].Rows)
			work = append(work, &partRun{t: t, idx: i, p: p, est: est, pending: map[int]*ackInfo{}})
			remaining += est
		}
	}
	e.opts.Progress.Start(e.plan(), remaining)
	if pp, ok := e.opts.Progress.(PartitionProgress); ok {
		pp.Partitions(len(work))
	}
	e.log.Info().Int("partitions", len(work)).Int64("est_rows", remaining).Msg("scanning")

	queue := make(chan *partRun, len(work))
	for _, w := range work {
		queue <- w
	}
	close(queue)
	pages := make(chan *page, e.opts.Backfill.Queue)

	saverDone := make(chan struct{})
	stopSaver := make(chan struct{})
	go e.saver(stopSaver, saverDone)

	var readers sync.WaitGroup
	for range e.opts.Backfill.Readers {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for pr := range queue {
				if ctx.Err() != nil {
					return
				}
				if err := e.readPartition(ctx, pr, pages); err != nil {
					if ctx.Err() != nil && !e.fatal.Load() {
						return // interrupted: not an error of the partition
					}
					e.fail(err)
					return
				}
			}
		}()
	}
	// Writes outlive an interrupt so that the pages already read are
	// finished, but only for Backfill.ShutdownTimeout: then wctx ends too,
	// and what is not acknowledged by then is read again by the next run.
	wctx, cancelWrites := context.WithCancel(context.WithoutCancel(parent))
	boundDone := make(chan struct{})
	go func() {
		defer close(boundDone)
		select {
		case <-parent.Done():
			t := time.NewTimer(e.opts.Backfill.ShutdownTimeout)
			defer t.Stop()
			select {
			case <-t.C:
				e.log.Warn().Dur("shutdown_timeout_s", e.opts.Backfill.ShutdownTimeout).
					Msg("writes still in flight at the shutdown timeout are abandoned; the next run reads them again")
				cancelWrites()
			case <-wctx.Done():
			}
		case <-wctx.Done():
		}
	}()
	defer func() { cancelWrites(); <-boundDone }()
	var writers sync.WaitGroup
	for range e.opts.Backfill.Writers {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for pg := range pages {
				if e.fatal.Load() || wctx.Err() != nil {
					releasePage(pg)
					continue // drain: nothing more is acknowledged
				}
				if err := e.writePage(wctx, pg); err != nil {
					if parent.Err() != nil && !dirty.IsStop(err) {
						continue // interrupted: the page stays unacknowledged
					}
					e.fail(err)
				}
			}
		}()
	}
	readers.Wait()
	close(pages)
	writers.Wait()
	close(stopSaver)
	<-saverDone
	if e.fatal.Load() {
		return e.fatalErr
	}
	return nil
}

// fail records the first fatal error and stops the readers.
func (e *engine) fail(err error) {
	e.errOnce.Do(func() {
		e.fatalErr = err
		e.fatal.Store(true)
		e.log.Error().Err(err).Msg("backfill stopping")
		e.cancel()
	})
}

// saver saves the state at most once per SaveInterval while it changes.
// Partition completions save at once (see ack).
func (e *engine) saver(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(e.opts.SaveInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := e.save(); err != nil {
				e.log.Warn().Err(err).Msg("saving backfill state")
			}
		}
	}
}

// save writes the state if it changed. The dirty-rows file is synced first:
// a saved state never claims rows whose dirty records could be lost.
func (e *engine) save() error {
	e.saveMu.Lock()
	defer e.saveMu.Unlock()
	e.mu.Lock()
	if !e.stateDirty {
		e.mu.Unlock()
		return nil
	}
	e.st.Updated = time.Now().UTC()
	snap := e.st.clone()
	e.stateDirty = false
	e.mu.Unlock()
	if err := e.dirty.Sync(); err != nil {
		return err
	}
	if err := SaveState(e.statePath, snap); err != nil {
		e.mu.Lock()
		e.stateDirty = true
		e.mu.Unlock()
		return err
	}
	return nil
}

// ack records that pg was written. A partition's progress advances over the
// contiguous prefix of acknowledged pages only, so Last never passes a page
// still being written by another writer.
func (e *engine) ack(pg *page) {
	pr := pg.part
	e.mu.Lock()
	pr.pending[pg.seq] = &ackInfo{rows: len(pg.rows), last: pg.last, final: pg.final}
	done := false
	for {
		a, ok := pr.pending[pr.nextAck]
		if !ok {
			break
		}
		delete(pr.pending, pr.nextAck)
		pr.nextAck++
		prog := &pr.t.ts.Progress[pr.idx]
		prog.Rows += int64(a.rows)
		pr.rows += int64(a.rows)
		if a.last != nil {
			prog.Last = a.last
		}
		if a.final {
			prog.Done = true
			done = true
		}
	}
	now := time.Now()
	pr.t.last = now
	e.stateDirty = true
	e.mu.Unlock()
	if done {
		if pp, ok := e.opts.Progress.(PartitionProgress); ok {
			pp.PartitionDone(pr.t.name, pr.est, pr.rows)
		}
		e.log.Debug().Str("table", pr.t.name).Int("partition", pr.p.ID).Int64("rows", pr.rows).Int64("rows_estimated", pr.est).Msg("partition done")
		if err := e.save(); err != nil {
			e.log.Warn().Err(err).Msg("saving backfill state")
		}
	}
}

func (e *engine) newBackoff(ctx context.Context) backoff.BackOff {
	return backoff.WithContext(retry.New(e.opts.Retry), ctx)
}

// writePage maps the rows of pg, records dirty rows, writes the points and
// acknowledges the page. ctx is the writers' context: an interrupt does not
// cancel it at once (see run), so a page being written when the user
// presses Ctrl-C is finished within the shutdown timeout.
func (e *engine) writePage(ctx context.Context, pg *page) error {
	t := pg.part.t
	e.mu.Lock()
	if t.first.IsZero() {
		t.first = time.Now()
	}
	e.mu.Unlock()
	sc := getWriteScratch(len(pg.rows))
	defer putWriteScratch(sc)
	points, rowOf := sc.points, sc.rowOf
	am, _ := t.mapper.(arenaMapper)
	for i, row := range pg.rows {
		var p mapping.Point
		var err error
		if am != nil {
			p, err = am.MapArena(row[:t.nMap], make([]any, len(am.Schema().Measurements)), &sc.arena)
		} else {
			p, err = t.mapper.Map(row[:t.nMap])
		}
		if err != nil {
			if err := e.dirtyRow(t, row, t.mappingRecord(row, err)); err != nil {
				return err
			}
			continue
		}
		if !p.HasValues() {
			// Every measurement NULL: IoTDB stores nothing for it, so it
			// is neither written nor dirty.
			t.empty.Add(1)
			continue
		}
		points = append(points, p)
		rowOf = append(rowOf, i)
	}
	sc.points, sc.rowOf = points, rowOf
	written := int64(len(points))
	if len(points) > 0 {
		res, err := e.opts.Writer.Write(ctx, points)
		if err != nil {
			return fmt.Errorf("table %s partition p%d %s: writing %d points (keys up to %s): %w", t.name, pg.part.p.ID, pg.part.p, len(points), pg.last, err)
		}
		for i := range res.Rejected {
			if rj := &res.Rejected[i]; rj.Systemic {
				// Every row of the series would be refused: no dirty rows, stop
				// with the page unacknowledged (the state keeps what was).
				return fmt.Errorf("partition p%d %s (keys up to %s): %w", pg.part.p.ID, pg.part.p, pg.last, rj.Err(t.name))
			}
		}
		var rejected []bool
		if len(res.Rejected) > 0 {
			rejected = make([]bool, len(points))
		}
		for _, rj := range res.Rejected {
			for _, pi := range rj.Points {
				if pi < 0 || pi >= len(points) || rejected[pi] {
					continue
				}
				rejected[pi] = true
				written--
				if err := e.dirtyRow(t, pg.rows[rowOf[pi]], dirty.Rejected(t.name, "", rj.Device, rj.Code, rj.Message)); err != nil {
					return err
				}
			}
		}
		hs := sc.hashes[:0]
		key := sc.key
		for i := range points {
			if rejected != nil && rejected[i] {
				continue
			}
			p := &points[i]
			key = t.appendKey(key[:0], pg.rows[rowOf[i]][:t.nMap])
			hs = append(hs, t.coll.hash(p.Device, p.Time, key))
		}
		sc.hashes, sc.key = hs, key
		t.coll.observeHashes(hs)
	}
	t.points.Add(written)
	e.opts.Progress.Add(t.name, int64(len(pg.rows)), written)
	e.ack(pg)
	releasePage(pg)
	return nil
}

// keyAppender is optionally implemented by a RowMapper (mapping.Mapper, and
// adapters embedding it): AppendKey appends KeyString(row) to dst, so that
// collision counting hashes the key without building a string per point.
type keyAppender interface {
	AppendKey(dst []byte, row []any) []byte
}

// arenaMapper is optionally implemented by a RowMapper (mapping.Mapper):
// MapArena renders the device path into an arena of the writer instead of
// a string per row (see mapping.Arena).
type arenaMapper interface {
	MapArena(row, values []any, a *mapping.Arena) (mapping.Point, error)
	Schema() *mapping.Schema
}

// writeScratch is the reusable working memory of writePage.
type writeScratch struct {
	points []mapping.Point
	rowOf  []int
	hashes []pointHash
	key    []byte
	arena  mapping.Arena // device paths of the points (blocks are never rewritten)
}

var writeScratchPool sync.Pool // *writeScratch

func getWriteScratch(n int) *writeScratch {
	sc, _ := writeScratchPool.Get().(*writeScratch)
	if sc == nil {
		sc = &writeScratch{}
	}
	if cap(sc.points) < n {
		sc.points = make([]mapping.Point, 0, n)
		sc.rowOf = make([]int, 0, n)
		sc.hashes = make([]pointHash, 0, n)
	}
	sc.points, sc.rowOf, sc.hashes = sc.points[:0], sc.rowOf[:0], sc.hashes[:0]
	return sc
}

// putWriteScratch drops the references to the page's points (the writer
// is done with them) and pools the memory.
func putWriteScratch(sc *writeScratch) {
	clear(sc.points[:cap(sc.points)])
	writeScratchPool.Put(sc)
}

// mappingRecord is the dirty record of a row the mapper refused: a
// *mapping.DirtyError names the column, value and reason; any other error
// becomes the reason.
func (t *tableRun) mappingRecord(row []any, err error) dirty.Record {
	var de *mapping.DirtyError
	if errors.As(err, &de) {
		return t.withKey(row, dirty.FromMapping(t.name, de))
	}
	return t.withKey(row, dirty.Record{Table: t.name, Reason: err.Error()})
}

// withKey fills in the row's key when the record has none.
func (t *tableRun) withKey(row []any, rec dirty.Record) dirty.Record {
	if rec.Key == "" {
		rec.Key = t.mapper.KeyString(row[:t.nMap])
	}
	return rec
}

// dirtyRow records a row that will not be written and applies the policy.
func (e *engine) dirtyRow(t *tableRun, row []any, rec dirty.Record) error {
	rec = t.withKey(row, rec)
	t.dirty.Add(1)
	e.mu.Lock()
	t.dirtyBy[rec.Reason]++
	e.mu.Unlock()
	return e.dirty.Record(rec)
}

func (e *engine) summary(start time.Time) Summary {
	s := Summary{Duration: time.Since(start), StatePath: e.statePath, Source: e.st.Source}
	if e.dirty.Used() {
		s.DirtyFile = e.dirty.Path()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range e.tables {
		ts := TableSummary{Table: t.name, Skipped: t.skippedParts, RowsRead: t.rowsRead.Load(), PointsWritten: t.points.Load(),
			DirtyRows: t.dirty.Load(), EmptyRows: t.empty.Load(), Collisions: t.coll.total(), DirtyByReason: map[string]int64{}}
		for r, n := range t.dirtyBy {
			ts.DirtyByReason[r] = n
		}
		for i, p := range t.plan.Partitions {
			if !e.opts.Shard.owns(p.ID) {
				continue
			}
			ts.Partitions++
			if t.ts.Progress[i].Done {
				ts.Done++
			}
		}
		if !t.first.IsZero() && t.last.After(t.first) {
			ts.Duration = t.last.Sub(t.first)
			ts.RowsPerSec = float64(ts.RowsRead) / ts.Duration.Seconds()
		}
		s.Tables = append(s.Tables, ts)
	}
	return s
}
