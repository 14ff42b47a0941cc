package backfill

import (
	"context"
	"fmt"
	"strings"

	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// DryRun plans every table (nothing is saved, nothing is written) and maps
// the first k rows of each table in key order. Rows the mapper rejects are
// returned as dirty records instead of points. cmd/backfill --dry-run prints
// the plan (Plan.String) and the points.
func DryRun(ctx context.Context, opts Options, k int) (*Plan, []mapping.Point, []dirty.Record, error) {
	opts.defaults()
	if err := opts.validate(false); err != nil {
		return nil, nil, nil, err
	}
	pl := &planner{db: opts.DB, database: opts.Database, readers: opts.Backfill.Readers}
	plan := &Plan{Shard: opts.Shard}
	var points []mapping.Point
	var dirtyRows []dirty.Record
	for _, t := range opts.Tables {
		tp, _, err := pl.planTable(ctx, t.Config)
		if err != nil {
			return nil, nil, nil, err
		}
		plan.Tables = append(plan.Tables, tp)
		if k <= 0 {
			continue
		}
		tr, err := newTableRun(t.Config.Name, tp, t.Mapper)
		if err != nil {
			return nil, nil, nil, err
		}
		q := "SELECT " + tr.selectList() + " FROM " + quoteTable(opts.Database, tr.name) + " WHERE " + andAll(whereSQL(tp.Config.Where))
		if len(tp.Order) > 0 {
			names := make([]string, len(tp.Order))
			for i, c := range tp.Order {
				names[i] = quoteIdent(c.Name)
			}
			q += " ORDER BY " + strings.Join(names, ", ")
		}
		q += " LIMIT ?"
		st, err := opts.DB.PrepareContext(ctx, q)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("table %s: preparing sample query: %w", tr.name, err)
		}
		mem, err := readRows(ctx, st, []any{int64(k)}, len(tr.exprs), k)
		st.Close()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("table %s: reading sample rows: %w", tr.name, err)
		}
		for _, row := range mem.rows {
			p, err := tr.mapper.Map(row[:tr.nMap])
			if err != nil {
				dirtyRows = append(dirtyRows, tr.mappingRecord(row, err))
				continue
			}
			points = append(points, p)
		}
	}
	return plan, points, dirtyRows, nil
}
