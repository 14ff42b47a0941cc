// Package incremental is cmd/sync's engine: it copies the rows of the
// mapped tables whose cursor (an updated_at, a sequence id) moved past the
// saved high-water mark, with nothing but SELECT: no binlog, no replication
// grants, a replica is enough.
//
// A table's first run copies it whole with the backfill engine, after
// recording the newest cursor values, which become its marks. Every later
// run reads, per cursor column (lane), the rows between the mark minus the
// lookback and the newest value read when the run started, in (cursor,
// primary key) order with keyset pages, so rows sharing a cursor value are
// neither skipped nor read twice at page boundaries and the run ends. The
// position of the last row IoTDB acknowledged is saved as the run goes, the
// new mark only when the lane's run has finished. docs/delivery.md §8 says
// what this can and cannot see.
package incremental

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/internal/cli"
	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
	"github.com/mysql-iotdb-bridge/bridge/internal/retry"
	"github.com/mysql-iotdb-bridge/bridge/internal/source"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// ErrInterrupted is returned (wrapped) by Run when its context ended: the
// writes in flight were finished (within sync.shutdown_timeout) and the
// state saved; running again resumes.
var ErrInterrupted = errors.New("sync interrupted")

// ErrDefinitionChanged is returned (wrapped) when the saved state belongs
// to another cursor definition: the message lists the differences.
var ErrDefinitionChanged = errors.New("the cursor definition changed")

// RowMapper is what the engine needs of a mapping (*mapping.Mapper).
type RowMapper interface {
	backfill.RowMapper
	backfill.SelectLister
}

// Table is one table to sync.
type Table struct {
	Config config.Table
	Cursor *Cursor
	Mapper RowMapper
}

// CopyFunc copies tables with the backfill engine, its progress in the
// backfill state statePath tagged tag (a leftover with another tag is
// started over). package wire provides it.
type CopyFunc func(ctx context.Context, tables []backfill.Table, statePath, tag string) (backfill.Summary, error)

// Options configure Run. DB, Database, Tables, Writer, Dirty and Copy are
// required.
type Options struct {
	DB       *sql.DB
	Database string
	Tables   []Table
	Writer   backfill.PointWriter
	Dirty    *dirty.Log
	Copy     CopyFunc
	// Sync gives the state path, the page size and the shutdown timeout.
	Sync config.Sync
	// Retry is the backoff of failed reads (the Writer retries writes).
	Retry config.Retry
	// Restart forgets the saved state of the tables of this run: they are
	// copied again and followed from the new marks.
	Restart bool
	Log     zerolog.Logger
	// Now is the clock of the lag (time.Now by default).
	Now func() time.Time
	// SaveInterval is the period of state saves while pages are
	// acknowledged (default 1s); a lane's end is saved at once.
	SaveInterval time.Duration

	beforePage func(table string, lane int, after backfill.Key) // test hook: before each page query
}

// Summary is the outcome of Run.
type Summary struct {
	Tables    []TableSummary
	Duration  time.Duration
	StatePath string
	DirtyFile string // "" when no dirty row was recorded
}

// TableSummary is the outcome for one table.
type TableSummary struct {
	Table         string
	Copied        bool  // the first copy ran (or resumed) in this run
	CopyRows      int64 // rows read by the first copy
	RowsRead      int64 // rows read by the incremental lanes (the lookback's re-reads included)
	PointsWritten int64
	DirtyRows     int64
	Resumed       bool // a lane continued a run that an earlier process left unfinished
	// Newest is the newest cursor value the run read as its upper bound
	// ("" when the table had none), NewestAt its time (zero for integer
	// sequences) and Lag = the end of the run - NewestAt.
	Newest   string
	NewestAt time.Time
	Lag      time.Duration
	Duration time.Duration
}

// String renders the summary printed at exit.
func (s Summary) String() string {
	var b strings.Builder
	for _, t := range s.Tables {
		fmt.Fprintf(&b, "%s: ", t.Table)
		if t.Copied {
			fmt.Fprintf(&b, "first copy %d rows, then ", t.CopyRows)
		}
		fmt.Fprintf(&b, "%s read, %s written, %s skipped", cli.Count(t.RowsRead, "row"), cli.Count(t.PointsWritten, "point"), cli.Count(t.DirtyRows, "dirty row"))
		if t.Resumed {
			b.WriteString(", resumed")
		}
		switch {
		case t.Newest == "":
			b.WriteString(", no cursor values yet")
		case t.NewestAt.IsZero():
			fmt.Fprintf(&b, ", newest cursor %s", t.Newest)
		default:
			fmt.Fprintf(&b, ", newest cursor %s (%s behind now)", t.Newest, t.Lag.Round(time.Millisecond))
		}
		fmt.Fprintf(&b, ", %s\n", t.Duration.Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "total %s; state %s", s.Duration.Round(time.Millisecond), s.StatePath)
	if s.DirtyFile != "" {
		fmt.Fprintf(&b, "; dirty rows in %s", s.DirtyFile)
	}
	return b.String()
}

func (o *Options) defaults() {
	o.Sync = o.Sync.WithDefaults()
	o.Retry = o.Retry.WithDefaults()
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SaveInterval <= 0 {
		o.SaveInterval = time.Second
	}
}

func (o *Options) validate() error {
	switch {
	case o.DB == nil:
		return errors.New("incremental: no database")
	case o.Database == "":
		return errors.New("incremental: no database name")
	case len(o.Tables) == 0:
		return errors.New("incremental: no tables")
	case o.Writer == nil:
		return errors.New("incremental: no writer")
	case o.Dirty == nil:
		return errors.New("incremental: no dirty-row log")
	case o.Copy == nil:
		return errors.New("incremental: no copy function")
	}
	for _, t := range o.Tables {
		if t.Cursor == nil || t.Mapper == nil {
			return fmt.Errorf("incremental: table %s has no cursor or mapper", t.Config.Name)
		}
	}
	return nil
}

type engine struct {
	opts Options
	log  zerolog.Logger
	path string

	mu        sync.Mutex // st and stateDirty
	st        *State
	stateDirt bool
	lastSave  time.Time

	wctx context.Context // writes: outlive an interrupt by the shutdown timeout
}

// Run syncs every table once: the first copy where a table has no state,
// then the lanes past their marks. It returns nil only when every table
// finished; on an interrupt the state is saved and the error wraps
// ErrInterrupted.
func Run(ctx context.Context, opts Options) (Summary, error) {
	opts.defaults()
	start := time.Now()
	sum := Summary{StatePath: opts.Sync.State}
	if err := opts.validate(); err != nil {
		return sum, err
	}
	e := &engine{opts: opts, log: opts.Log.With().Str("component", "sync").Logger(), path: opts.Sync.State}
	st, found, err := LoadState(e.path)
	if err != nil {
		return sum, err
	}
	e.st = st
	if found {
		e.log.Debug().Str("state", e.path).Msg("sync state loaded")
	}
	if opts.Restart {
		for _, t := range opts.Tables {
			if _, ok := e.st.Tables[t.Config.Name]; ok {
				e.log.Info().Str("table", t.Config.Name).Msg("restart: forgetting the table's marks; it is copied again")
			}
			delete(e.st.Tables, t.Config.Name)
			if err := removeCopyState(CopyStatePath(e.path, t.Config.Name)); err != nil {
				return sum, err
			}
		}
		e.stateDirt = true
	}
	for _, t := range opts.Tables {
		ts := e.st.Tables[t.Config.Name]
		if ts == nil {
			continue
		}
		if diff := DiffDefinitions(ts.Cursor, t.Cursor.Def); len(diff) > 0 {
			return sum, fmt.Errorf("table %s: %w since sync state %s was written:\n  %s\nits marks do not hold for the new definition: "+
				"restore the old one, or run with --restart (with --tables %s for this table only) to copy the table again and follow the new cursor",
				t.Config.Name, ErrDefinitionChanged, e.path, strings.Join(diff, "\n  "), t.Config.Name)
		}
	}

	wctx, cancelWrites := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWrites()
	stopBound := context.AfterFunc(ctx, func() {
		time.AfterFunc(opts.Sync.ShutdownTimeout, cancelWrites)
	})
	defer stopBound()
	e.wctx = wctx

	var runErr error
	for _, t := range opts.Tables {
		ts, err := e.syncTable(ctx, t)
		sum.Tables = append(sum.Tables, ts)
		if err != nil {
			runErr = err
			break
		}
	}
	if err := e.save(true); err != nil && runErr == nil {
		runErr = err
	}
	sum.Duration = time.Since(start)
	if opts.Dirty.Used() {
		sum.DirtyFile = opts.Dirty.Path()
	}
	if ctx.Err() != nil && (runErr == nil || errors.Is(runErr, context.Canceled) || errors.Is(runErr, backfill.ErrInterrupted)) {
		runErr = fmt.Errorf("%w: state saved to %s; resume by running again", ErrInterrupted, e.path)
	}
	return sum, runErr
}

// syncTable runs one table: its first copy when it has none yet, then its
// lanes.
func (e *engine) syncTable(ctx context.Context, t Table) (TableSummary, error) {
	start := time.Now()
	name := t.Config.Name
	sum := TableSummary{Table: name}
	defer func() { sum.Duration = time.Since(start) }()

	e.mu.Lock()
	ts := e.st.Tables[name]
	e.mu.Unlock()
	if ts == nil {
		// The marks of the first copy are read before it starts: every row
		// at or below them exists now and is read by the copy; changes after
		// now get newer values and are read by the lanes.
		ts = &TableState{Cursor: t.Cursor.Def, Phase: PhaseInitial}
		for i := range t.Cursor.Lanes {
			hi, err := e.upperBound(ctx, t, i)
			if err != nil {
				return sum, err
			}
			ts.Initial = append(ts.Initial, hi)
			ts.Lanes = append(ts.Lanes, LaneState{Column: t.Cursor.Def.Columns[i]})
		}
		e.mu.Lock()
		e.st.Tables[name] = ts
		e.stateDirt = true
		e.mu.Unlock()
		if err := e.save(true); err != nil {
			return sum, err
		}
	}
	if ts.Phase == PhaseInitial {
		sum.Copied = true
		if err := e.firstCopy(ctx, t, ts, &sum); err != nil {
			return sum, err
		}
	}
	var newest *backfill.Value
	var newestLane Lane
	for i := range t.Cursor.Lanes {
		hi, err := e.runLane(ctx, t, ts, i, &sum)
		if err != nil {
			return sum, err
		}
		if hi != nil && (newest == nil || compare(*hi, *newest) > 0) {
			newest, newestLane = hi, t.Cursor.Lanes[i]
		}
	}
	e.mu.Lock()
	ts.SyncedAt = time.Now().UTC()
	e.stateDirt = true
	e.mu.Unlock()
	if newest != nil {
		sum.Newest = newest.String()
		if at, err := newestLane.Instant(*newest); err == nil {
			sum.NewestAt = at
			sum.Lag = e.opts.Now().Sub(at)
			if ahead := -sum.Lag; ahead > time.Minute {
				e.log.Warn().Str("table", name).Str("newest_cursor", sum.Newest).Dur("ahead_of_now_s", ahead.Round(time.Second)).
					Msg("the newest cursor value is in the future: the mark moves there, and rows written later with current cursor values below mark - lookback are missed; check cursor.zone or the data")
			}
		}
	}
	return sum, nil
}

// firstCopy copies the table whole with the backfill engine, then sets the
// marks read before it started.
func (e *engine) firstCopy(ctx context.Context, t Table, ts *TableState, sum *TableSummary) error {
	name := t.Config.Name
	var tag strings.Builder
	tag.WriteString("sync first copy, marks")
	for i, v := range ts.Initial {
		fmt.Fprintf(&tag, " %s=", ts.Lanes[i].Column)
		if v != nil {
			tag.WriteString(v.String())
		} else {
			tag.WriteString("none")
		}
	}
	var m backfill.RowMapper = t.Mapper
	if t.Cursor.Nulls == config.CursorNullsDirty && t.Cursor.Nullable {
		var err error
		if m, err = newNullCursorMapper(name, t.Mapper, t.Cursor.Def.Columns); err != nil {
			return err
		}
	}
	path := CopyStatePath(e.path, name)
	e.log.Info().Str("table", name).Str("copy_state", path).Str("marks", tag.String()).Msg("first copy of the table (backfill engine)")
	bs, err := e.opts.Copy(ctx, []backfill.Table{{Config: t.Config, Mapper: m}}, path, tag.String())
	for _, x := range bs.Tables {
		sum.CopyRows += x.RowsRead
		sum.PointsWritten += x.PointsWritten
		sum.DirtyRows += x.DirtyRows
	}
	if err != nil {
		return fmt.Errorf("table %s: first copy: %w", name, err)
	}
	e.mu.Lock()
	for i := range ts.Lanes {
		ts.Lanes[i].Mark = ts.Initial[i]
	}
	ts.Initial, ts.Phase = nil, PhaseIncremental
	e.stateDirt = true
	e.mu.Unlock()
	if err := e.save(true); err != nil {
		return err
	}
	if err := removeCopyState(path); err != nil {
		e.log.Warn().Err(err).Str("copy_state", path).Msg("removing the finished first copy's state")
	}
	return nil
}

// upperBound is the newest value of lane i: MAX of its column over the
// whole table (nil when none). MAX of an indexed column costs one index
// lookup. It ignores the row filter and the other lanes, so it may be
// above the lane's own newest row, never below it.
func (e *engine) upperBound(ctx context.Context, t Table, i int) (*backfill.Value, error) {
	l := t.Cursor.Lanes[i]
	expr := "MAX(" + backfill.QuoteIdent(l.Column.Name) + ")"
	if l.Column.Kind == backfill.KindTime || l.Column.Kind == backfill.KindDate {
		expr = "CAST(" + expr + " AS CHAR)"
	}
	q := "SELECT " + expr + " FROM " + backfill.QuoteTable(e.opts.Database, t.Config.Name)
	var v any
	op := func() error {
		return permanentUnlessTransient(e.opts.DB.QueryRowContext(ctx, q).Scan(&v))
	}
	if err := backoff.RetryNotify(op, backoff.WithContext(retry.New(e.opts.Retry), ctx), e.retryNote(t.Config.Name, "reading the newest cursor value")); err != nil {
		return nil, fmt.Errorf("table %s: %s: %w", t.Config.Name, q, err)
	}
	if v == nil {
		return nil, nil
	}
	val, err := backfill.ValueOf(l.Column.Kind, v)
	if err != nil {
		return nil, fmt.Errorf("table %s: newest value of cursor %s: %w", t.Config.Name, l.Column.Name, err)
	}
	return &val, nil
}

func (e *engine) retryNote(table, what string) backoff.Notify {
	return func(err error, d time.Duration) {
		e.log.Warn().Err(err).Str("table", table).Dur("retry_in_s", d).Msg(what + " failed, retrying")
	}
}

// permanentUnlessTransient marks a MySQL error that retrying cannot help
// as permanent for the backoff loop.
func permanentUnlessTransient(err error) error {
	if err == nil || source.Transient(err) {
		return err
	}
	return backoff.Permanent(err)
}

// save writes the state when it changed: at once when now, else at most
// every SaveInterval. The dirty-rows file is synced first, so a saved
// position never gets ahead of the rows it skipped.
func (e *engine) save(now bool) error {
	e.mu.Lock()
	if !e.stateDirt || (!now && time.Since(e.lastSave) < e.opts.SaveInterval) {
		e.mu.Unlock()
		return nil
	}
	snap := e.st.clone()
	e.stateDirt = false
	e.lastSave = time.Now()
	e.mu.Unlock()
	if err := e.opts.Dirty.Sync(); err != nil {
		return err
	}
	if err := SaveState(e.path, snap); err != nil {
		e.mu.Lock()
		e.stateDirt = true
		e.mu.Unlock()
		return err
	}
	return nil
}

// compare orders two cursor values of one kind: date/time texts in the
// stored form (fractions without trailing zeros) order as text, integers
// numerically.
func compare(a, b backfill.Value) int {
	switch a.Kind {
	case backfill.KindInt, backfill.KindUint:
		x, ok1 := new(big.Int).SetString(a.Text, 10)
		y, ok2 := new(big.Int).SetString(b.Text, 10)
		if ok1 && ok2 {
			return x.Cmp(y)
		}
	}
	return strings.Compare(a.Text, b.Text)
}

// nullCursorMapper is the first copy's mapper under cursor.nulls: dirty: a
// row whose cursor columns are all NULL is a dirty row (reason
// dirty.ReasonCursorNull), since no incremental run can ever follow it. It
// reads the cursor columns after the mapping's own.
type nullCursorMapper struct {
	table  string
	m      RowMapper
	n      int   // the mapping's columns
	cursor []int // indexes of the cursor columns in the row
	names  string
	cols   []string
	sel    []string
}

func newNullCursorMapper(table string, m RowMapper, cursorCols []string) (*nullCursorMapper, error) {
	w := &nullCursorMapper{table: table, m: m, n: len(m.Columns()), names: strings.Join(cursorCols, ", ")}
	w.cols = append(w.cols, m.Columns()...)
	w.sel = append(w.sel, m.SelectList()...)
	if len(w.sel) != len(w.cols) {
		return nil, fmt.Errorf("table %s: mapper has %d columns but %d select expressions", table, len(w.cols), len(w.sel))
	}
	for _, c := range cursorCols {
		idx := -1
		for i, mc := range m.Columns() {
			if strings.EqualFold(mc, c) {
				idx = i
			}
		}
		if idx < 0 {
			idx = len(w.cols)
			w.cols = append(w.cols, c)
			w.sel = append(w.sel, backfill.QuoteIdent(c))
		}
		w.cursor = append(w.cursor, idx)
	}
	return w, nil
}

func (w *nullCursorMapper) Columns() []string    { return w.cols }
func (w *nullCursorMapper) SelectList() []string { return w.sel }

func (w *nullCursorMapper) KeyString(row []any) string { return w.m.KeyString(row[:w.n]) }

func (w *nullCursorMapper) Map(row []any) (mapping.Point, error) {
	null := true
	for _, i := range w.cursor {
		null = null && row[i] == nil
	}
	if null {
		return mapping.Point{}, &mapping.DirtyError{Table: w.table, Key: w.m.KeyString(row[:w.n]), Column: w.names, Value: "NULL",
			Reason: dirty.ReasonCursorNull,
			Detail: "every cursor column is NULL, so incremental runs can never see this row or its changes (cursor.nulls: copy writes such rows once)"}
	}
	return w.m.Map(row[:w.n])
}
