package incremental

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// DryRun says what the next run would do, writing nothing: per table its
// cursor, whether each cursor column has an index (without one every run
// scans the table), the saved marks, the range each lane would read and
// MySQL's plan for it, and the first k rows of that read mapped to points
// (rows the mapping refuses are returned as dirty records). It reads the
// state file without locking it.
func DryRun(ctx context.Context, opts Options, k int) (string, []mapping.Point, []dirty.Record, error) {
	opts.defaults()
	st, found, err := LoadState(opts.Sync.State)
	if err != nil {
		return "", nil, nil, err
	}
	var b strings.Builder
	var points []mapping.Point
	var dirtyRows []dirty.Record
	e := &engine{opts: opts, log: opts.Log, path: opts.Sync.State, st: st, wctx: ctx}
	for _, t := range opts.Tables {
		c := t.Cursor
		name := t.Config.Name
		fmt.Fprintf(&b, "table %s: cursor %s, lookback %s, tie-break on the primary key (%s)\n", name,
			strings.Join(c.Def.Columns, ", "), c.LookbackString(), strings.Join(c.Def.Key, ", "))
		indexed := make([]bool, len(c.Lanes))
		for i, l := range c.Lanes {
			var err error
			if indexed[i], err = LeadsIndex(ctx, opts.DB, opts.Database, name, l.Column.Name); err != nil {
				return "", nil, nil, err
			}
			if !indexed[i] {
				fmt.Fprintf(&b, "  WARNING: cursor column %s leads no index: every run scans the whole table to find its rows (a full scan); add an index on %s\n",
					l.Column.Name, l.Column.Name)
			}
			if i > 0 {
				fmt.Fprintf(&b, "  lane %d: rows whose %s NULL, by %s\n", i+1, isNullList(c.Def.Columns[:i]), l.Column.Name)
			}
		}
		if c.Nullable {
			fmt.Fprintf(&b, "  note: a row whose cursor columns are all NULL is invisible to incremental runs; the first copy %s (cursor.nulls: %s)\n",
				map[bool]string{true: "records it as a dirty row", false: "copies it"}[c.Nulls == "dirty"], c.Nulls)
		}
		ts := st.Tables[name]
		switch {
		case ts != nil && len(DiffDefinitions(ts.Cursor, c.Def)) > 0:
			fmt.Fprintf(&b, "  ERROR: the state %s was written for another cursor definition:\n    %s\n  the run would refuse to start (--restart copies the table again)\n",
				opts.Sync.State, strings.Join(DiffDefinitions(ts.Cursor, c.Def), "\n    "))
			continue
		case ts == nil || ts.Phase == PhaseInitial:
			if !found || ts == nil {
				fmt.Fprintf(&b, "  no state yet: the next run copies the table whole (backfill engine), then follows the cursor from the newest values it read first\n")
			} else {
				fmt.Fprintf(&b, "  the first copy has not finished: the next run resumes it\n")
			}
		}
		for i, l := range c.Lanes {
			run := &LaneRun{}
			var mark *backfill.Value
			if ts != nil && ts.Phase == PhaseIncremental {
				mark = ts.Lanes[i].Mark
				if ts.Lanes[i].Run != nil {
					run = ts.Lanes[i].Run
				}
			}
			if run.Hi.Kind == "" {
				hi, err := e.upperBound(ctx, t, i)
				if err != nil {
					return "", nil, nil, err
				}
				if hi == nil {
					fmt.Fprintf(&b, "  lane %s: no values yet\n", l.Column.Name)
					continue
				}
				run.Hi = *hi
				if mark != nil {
					lo, err := c.Lookback(l, *mark)
					if err != nil {
						return "", nil, nil, err
					}
					run.Lo = &lo
				}
			}
			from := "its first value"
			if run.After != nil {
				from = "after " + run.After.String() + " (resuming)"
			} else if run.Lo != nil {
				from = run.Lo.String() + " (mark " + mark.String() + " - lookback)"
			}
			fmt.Fprintf(&b, "  lane %s: reads from %s up to %s\n", l.Column.Name, from, run.Hi)
			q, args := laneQuery(opts.Database, t, i, run, opts.Sync.PageRows)
			plan, full, err := explain(ctx, opts.DB, q, args)
			if err != nil {
				return "", nil, nil, err
			}
			fmt.Fprintf(&b, "    MySQL plan: %s\n", plan)
			if full && indexed[i] {
				fmt.Fprintf(&b, "    note: MySQL plans a full table scan for this read although %s has an index (it does so when the range holds much of a small table)\n", l.Column.Name)
			}
			if k <= 0 || i > 0 {
				continue
			}
			q, args = laneQuery(opts.Database, t, i, run, k)
			rows, err := e.readPage(ctx, name, q, args, len(t.Mapper.Columns())+1+len(c.Key))
			if err != nil {
				return "", nil, nil, err
			}
			n := len(t.Mapper.Columns())
			for _, row := range rows {
				p, err := t.Mapper.Map(row[:n])
				if err != nil {
					var de *mapping.DirtyError
					rec := dirty.Record{Table: name, Key: t.Mapper.KeyString(row[:n]), Reason: err.Error()}
					if errors.As(err, &de) {
						rec = dirty.FromMapping(name, de)
					}
					dirtyRows = append(dirtyRows, rec)
					continue
				}
				points = append(points, p)
			}
		}
	}
	return b.String(), points, dirtyRows, nil
}

func isNullList(cols []string) string {
	if len(cols) == 1 {
		return cols[0] + " is"
	}
	return strings.Join(cols, ", ") + " are"
}

// explain renders MySQL's plan of q (type, key, rows of each table) and
// whether it reads the whole table (type ALL).
func explain(ctx context.Context, db *sql.DB, q string, args []any) (string, bool, error) {
	rows, err := db.QueryContext(ctx, "EXPLAIN "+q, args...)
	if err != nil {
		return "", false, fmt.Errorf("EXPLAIN %s: %w", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", false, err
	}
	var parts []string
	full := false
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", false, err
		}
		var p []string
		for i, c := range cols {
			switch strings.ToLower(c) {
			case "type", "key", "rows", "extra":
				if vals[i].Valid && vals[i].String != "" {
					p = append(p, strings.ToLower(c)+"="+vals[i].String)
				}
				if strings.EqualFold(c, "type") && strings.EqualFold(vals[i].String, "ALL") {
					full = true
				}
			}
		}
		parts = append(parts, strings.Join(p, " "))
	}
	return strings.Join(parts, "; "), full, rows.Err()
}
