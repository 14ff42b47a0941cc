package incremental

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cenkalti/backoff/v4"

	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
	"github.com/mysql-iotdb-bridge/bridge/internal/retry"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// laneQuery is the page query of lane i of t and its arguments: the rows
// of the lane (the columns before it NULL) between run.Lo (or strictly
// after run.After) and run.Hi, in (cursor, primary key) order. The SELECT
// list is the mapping's, then the cursor value, then the primary key.
func laneQuery(database string, t Table, i int, run *LaneRun, limit int) (string, []any) {
	c := t.Cursor
	l := c.Lanes[i]
	col := backfill.QuoteIdent(l.Column.Name)
	sel := append([]string(nil), t.Mapper.SelectList()...)
	sel = append(sel, l.selectExpr())
	order := append([]backfill.KeyColumn{l.Column}, c.Key...)
	names := make([]string, len(order))
	for j, k := range order {
		names[j] = backfill.QuoteIdent(k.Name)
		if j > 0 {
			sel = append(sel, names[j])
		}
	}
	var conds []string
	var args []any
	for _, prev := range c.Lanes[:i] {
		conds = append(conds, backfill.QuoteIdent(prev.Column.Name)+" IS NULL")
	}
	if run.After != nil {
		conds = append(conds, backfill.KeysetAfter(order))
		args = append(args, backfill.KeysetArgs(run.After)...)
	} else if run.Lo != nil {
		conds = append(conds, col+" >= ?")
		args = append(args, run.Lo.Arg())
	}
	conds = append(conds, col+" <= ?")
	args = append(args, run.Hi.Arg())
	if w := strings.TrimSpace(t.Config.Where); w != "" {
		conds = append(conds, "("+w+")")
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + backfill.QuoteTable(database, t.Config.Name) +
		" WHERE " + strings.Join(conds, " AND ") + " ORDER BY " + strings.Join(names, ", ") + " LIMIT ?"
	return q, append(args, int64(limit))
}

// runLane runs lane i of t: a new run from the mark minus the lookback up
// to the lane's newest value, or the unfinished run of an earlier process.
// It returns the run's upper bound (nil when the lane has no values).
func (e *engine) runLane(ctx context.Context, t Table, ts *TableState, i int, sum *TableSummary) (*backfill.Value, error) {
	name := t.Config.Name
	l := t.Cursor.Lanes[i]
	e.mu.Lock()
	ls := &ts.Lanes[i]
	run := ls.Run
	mark := ls.Mark
	e.mu.Unlock()
	if run != nil {
		sum.Resumed = true
		e.log.Info().Str("table", name).Str("lane", l.Column.Name).Stringer("hi", run.Hi).Str("after", keyText(run.After)).
			Int64("rows_done", run.Rows).Msg("resuming the run an earlier process left unfinished")
	} else {
		hi, err := e.upperBound(ctx, t, i)
		if err != nil {
			return nil, err
		}
		if hi == nil {
			return mark, nil // no values (yet): nothing to read
		}
		run = &LaneRun{Hi: *hi}
		if mark != nil {
			lo, err := t.Cursor.Lookback(l, *mark)
			if err != nil {
				return nil, fmt.Errorf("table %s: lane %s: %w", name, l.Column.Name, err)
			}
			run.Lo = &lo
		}
		e.mu.Lock()
		ls.Run = run
		e.stateDirt = true
		e.mu.Unlock()
	}
	mp := t.Mapper
	nMap := len(mp.Columns())
	limit := e.opts.Sync.PageRows
	order := append([]backfill.KeyColumn{l.Column}, t.Cursor.Key...)
	for {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if e.opts.beforePage != nil {
			e.opts.beforePage(name, i, run.After)
		}
		q, args := laneQuery(e.opts.Database, t, i, run, limit)
		rows, err := e.readPage(ctx, name, q, args, nMap+len(order))
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("table %s: lane %s: reading after %s: %w", name, l.Column.Name, keyText(run.After), err)
		}
		if len(rows) == 0 {
			break
		}
		last := rows[len(rows)-1][nMap:]
		key := make(backfill.Key, len(order))
		for j, k := range order {
			v, err := backfill.ValueOf(k.Kind, last[j])
			if err != nil {
				return nil, fmt.Errorf("table %s: lane %s: key column %s: %w", name, l.Column.Name, k.Name, err)
			}
			key[j] = v
		}
		points, dirtyRows, err := e.writeRows(t, rows, nMap)
		sum.RowsRead += int64(len(rows))
		sum.PointsWritten += points
		sum.DirtyRows += dirtyRows
		if err != nil {
			return nil, fmt.Errorf("table %s: lane %s: rows after %s up to %s: %w", name, l.Column.Name, keyText(run.After), key, err)
		}
		// Acknowledged: every row up to key is in IoTDB (or a dirty row).
		e.mu.Lock()
		run.After = key
		run.Rows += int64(len(rows))
		e.stateDirt = true
		e.mu.Unlock()
		if err := e.save(false); err != nil {
			e.log.Warn().Err(err).Msg("saving sync state")
		}
		if len(rows) < limit {
			break
		}
	}
	e.mu.Lock()
	hi := run.Hi
	if ls.Mark == nil || compare(hi, *ls.Mark) > 0 {
		ls.Mark = &hi
	}
	ls.Run = nil
	e.stateDirt = true
	e.mu.Unlock()
	if err := e.save(true); err != nil {
		return nil, err
	}
	return &hi, nil
}

func keyText(k backfill.Key) string {
	if k == nil {
		return "(start)"
	}
	return k.String()
}

// readPage runs a page query (a prepared statement: the binary protocol,
// as backfill reads) and returns its rows, retrying transient errors.
func (e *engine) readPage(ctx context.Context, table, q string, args []any, ncols int) ([][]any, error) {
	var out [][]any
	op := func() error {
		out = out[:0]
		rows, err := e.opts.DB.QueryContext(ctx, q, args...)
		if err != nil {
			return permanentUnlessTransient(err)
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return permanentUnlessTransient(err)
		}
		if len(cols) != ncols {
			return backoff.Permanent(fmt.Errorf("page query returned %d columns, want %d", len(cols), ncols))
		}
		for rows.Next() {
			row := make([]any, ncols)
			ptrs := make([]any, ncols)
			for j := range row {
				ptrs[j] = &row[j]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return permanentUnlessTransient(err)
			}
			out = append(out, row)
		}
		return permanentUnlessTransient(rows.Err())
	}
	err := backoff.RetryNotify(op, backoff.WithContext(retry.New(e.opts.Retry), ctx), e.retryNote(table, "page read"))
	return out, err
}

// writeRows maps rows (their first nMap values), records the rows the
// mapping refuses, writes the points and records those IoTDB refuses for
// good. A refusal of the series or database stops the run (nothing of the
// page is acknowledged).
func (e *engine) writeRows(t Table, rows [][]any, nMap int) (points, dirtyRows int64, err error) {
	mp := t.Mapper
	name := t.Config.Name
	pts := make([]mapping.Point, 0, len(rows))
	rowOf := make([]int, 0, len(rows))
	record := func(row []any, rec dirty.Record) error {
		if rec.Key == "" {
			rec.Key = mp.KeyString(row[:nMap])
		}
		dirtyRows++
		return e.opts.Dirty.Record(rec)
	}
	// Device paths go into one arena for the page (mapping.Arena): no
	// string per row.
	var arena mapping.Arena
	am, _ := mp.(interface {
		MapArena(row, values []any, a *mapping.Arena) (mapping.Point, error)
		Schema() *mapping.Schema
	})
	for i, row := range rows {
		var p mapping.Point
		var err error
		if am != nil {
			p, err = am.MapArena(row[:nMap], make([]any, len(am.Schema().Measurements)), &arena)
		} else {
			p, err = mp.Map(row[:nMap])
		}
		if err != nil {
			var de *mapping.DirtyError
			rec := dirty.Record{Table: name, Reason: err.Error()}
			if errors.As(err, &de) {
				rec = dirty.FromMapping(name, de)
			}
			if err := record(row, rec); err != nil {
				return 0, dirtyRows, err
			}
			continue
		}
		if !p.HasValues() {
			continue // every measurement NULL: nothing to store (as backfill and cdc)
		}
		pts = append(pts, p)
		rowOf = append(rowOf, i)
	}
	if len(pts) == 0 {
		return 0, dirtyRows, nil
	}
	res, err := e.opts.Writer.Write(e.wctx, pts)
	if err != nil {
		return 0, dirtyRows, fmt.Errorf("writing %d points: %w", len(pts), err)
	}
	for i := range res.Rejected {
		if rj := &res.Rejected[i]; rj.Systemic {
			return 0, dirtyRows, rj.Err(name)
		}
	}
	points = int64(len(pts))
	seen := map[int]bool{}
	for _, rj := range res.Rejected {
		for _, pi := range rj.Points {
			if pi < 0 || pi >= len(pts) || seen[pi] {
				continue
			}
			seen[pi] = true
			points--
			if err := record(rows[rowOf[pi]], dirty.Rejected(name, "", rj.Device, rj.Code, rj.Message)); err != nil {
				return points, dirtyRows, err
			}
		}
	}
	return points, dirtyRows, nil
}
