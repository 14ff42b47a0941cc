package backfill

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/cenkalti/backoff/v4"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Plan is what backfill will read: one TablePlan per configured table.
type Plan struct {
	Shard  Shard        `json:"shard"`
	Tables []*TablePlan `json:"tables"`
}

// TableConfig is the part of config.Table a plan depends on. A state file
// whose TableConfig differs from the current configuration cannot be resumed.
type TableConfig struct {
	Where     string `json:"where"`
	Column    string `json:"column"`
	Count     int    `json:"count"`
	ChunkRows int    `json:"chunk_rows"`
}

func tableConfig(t config.Table) TableConfig {
	return TableConfig{Where: t.Where, Column: t.Partition.Column, Count: t.Partition.Count, ChunkRows: t.Partition.ChunkRows}
}

// KeyColumn is one column of the ordering tuple.
type KeyColumn struct {
	Name  string `json:"name"`
	Kind  Kind   `json:"kind"`
	Scale int    `json:"scale,omitempty"` // DECIMAL scale
	Prec  int    `json:"prec,omitempty"`  // DATETIME fractional digits
}

type keyCol = KeyColumn

// TablePlan is how one table is split.
type TablePlan struct {
	Table  string      `json:"table"`
	Config TableConfig `json:"config"`
	// Column is the partition column ("" when the table is read as one
	// partition without ranges).
	Column string `json:"column,omitempty"`
	// Order is the keyset ordering tuple: the partition column followed by the
	// primary key columns not already in it. Empty when Paged is false.
	Order []KeyColumn `json:"order,omitempty"`
	// Paged is true when partitions are read with keyset paging (the table has
	// a primary key). Otherwise each partition is read by one streaming query
	// and an interrupted partition is read again from its start.
	Paged      bool        `json:"paged"`
	Min        *Value      `json:"min,omitempty"`
	Max        *Value      `json:"max,omitempty"`
	EstRows    int64       `json:"est_rows"`
	Notes      []string    `json:"notes,omitempty"`
	Partitions []Partition `json:"partitions"`
}

// Partition is one key range of a table: (Lo, Hi], or [Lo, Hi] when
// LoInclusive. A nil bound is open. Null selects the rows whose partition
// column is NULL instead.
type Partition struct {
	ID          int    `json:"id"`
	Lo          *Value `json:"lo,omitempty"`
	LoInclusive bool   `json:"lo_inclusive,omitempty"`
	Hi          *Value `json:"hi,omitempty"`
	Null        bool   `json:"null,omitempty"`
	// Est is the planner's row estimate (EXPLAIN), for progress and ETA.
	Est int64 `json:"est"`
}

// String is the range as it appears in messages: "[1, 250]", "(250, 500]".
func (p Partition) String() string {
	if p.Null {
		return "IS NULL"
	}
	lo, hi := "-inf", "+inf"
	if p.Lo != nil {
		lo = p.Lo.String()
	}
	if p.Hi != nil {
		hi = p.Hi.String()
	}
	open := "("
	if p.LoInclusive {
		open = "["
	}
	return open + lo + ", " + hi + "]"
}

// String renders the plan for --dry-run and logs.
func (p *Plan) String() string {
	var b strings.Builder
	if p.Shard.Count > 1 {
		fmt.Fprintf(&b, "shard %d/%d: partition p is read by this process when p %% %d == %d\n", p.Shard.Index, p.Shard.Count, p.Shard.Count, p.Shard.Index)
	}
	for _, t := range p.Tables {
		mode := "keyset paging on (" + orderNames(t.Order) + ")"
		if !t.Paged {
			mode = "streaming scan, no paging: an interrupted partition is read again from its start"
		}
		fmt.Fprintf(&b, "table %s: %d partitions, ~%d rows, %s\n", t.Table, len(t.Partitions), t.EstRows, mode)
		if t.Column != "" && t.Min != nil {
			fmt.Fprintf(&b, "  partition column %s: min %s, max %s (rows above max are left to cdc)\n", t.Column, t.Min, t.Max)
		}
		if t.Config.Where != "" {
			fmt.Fprintf(&b, "  where: %s\n", t.Config.Where)
		}
		for _, n := range t.Notes {
			fmt.Fprintf(&b, "  note: %s\n", n)
		}
		for _, part := range t.Partitions {
			mine := ""
			if !p.Shard.owns(part.ID) {
				mine = " (other shard)"
			}
			fmt.Fprintf(&b, "  p%d %s ~%d rows%s\n", part.ID, part, part.Est, mine)
		}
	}
	return b.String()
}

func orderNames(cols []KeyColumn) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// Shard selects the partitions one process reads: partition p belongs to
// shard p % Count. The zero value means "all partitions".
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

func (s Shard) owns(id int) bool { return s.Count <= 1 || id%s.Count == s.Index }

// String is "i/n".
func (s Shard) String() string {
	if s.Count <= 1 {
		return "0/1"
	}
	return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count)
}

// ParseShard parses "i/n" (0 <= i < n), as given to --shard.
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want i/n, e.g. 0/4", s)
	}
	a, err1 := strconv.Atoi(i)
	b, err2 := strconv.Atoi(n)
	if err1 != nil || err2 != nil || b < 1 || a < 0 || a >= b {
		return Shard{}, fmt.Errorf("shard %q: want i/n with 0 <= i < n", s)
	}
	return Shard{Index: a, Count: b}, nil
}

// planner builds TablePlans from the live database.
type planner struct {
	db       *sql.DB
	database string
	readers  int
	// maxSplitFactor bounds adaptive splitting: at most factor × the initial
	// count of partitions per table.
	maxSplitFactor int
}

// planTable loads the schema of t and splits it into partitions.
//
// The partition column is the configured one or the first primary key
// column. Integer and DATETIME/TIMESTAMP/DATE columns are split into count
// ranges between MIN and MAX (with the table's where filter); the last range
// ends at MAX: rows inserted above it after planning are cdc's job. Ranges
// are then refined for skew: any range whose EXPLAIN row estimate exceeds
// twice the target rows per range is halved at its key midpoint, recursively
// (see splitSkewed).
func (pl *planner) planTable(ctx context.Context, t config.Table) (*TablePlan, *mapping.TableSchema, error) {
	schema, err := mapping.LoadTableSchema(ctx, pl.db, pl.database, t.Name)
	if err != nil {
		return nil, nil, err
	}
	tp := &TablePlan{Table: t.Name, Config: tableConfig(t)}

	partCol := t.Partition.Column
	if partCol == "" && len(schema.PrimaryKey) > 0 {
		partCol = schema.PrimaryKey[0]
	}
	var pc *mapping.Column
	if partCol != "" {
		c, ok := schema.Column(partCol)
		if !ok {
			return nil, nil, fmt.Errorf("table %s: partition column %q does not exist", t.Name, partCol)
		}
		pc = c
		partCol = c.Name
	}
	if len(schema.PrimaryKey) > 0 {
		tp.Paged = true
		if pc != nil {
			tp.Order = append(tp.Order, keyColumnOf(pc))
		}
		for _, name := range schema.PrimaryKey {
			if pc != nil && strings.EqualFold(name, pc.Name) {
				continue
			}
			c, _ := schema.Column(name)
			tp.Order = append(tp.Order, keyColumnOf(c))
		}
	} else {
		tp.Notes = append(tp.Notes, "no primary key: each partition is one streaming scan in the server's order (no keyset paging, no ORDER BY); resuming reads an unfinished partition again from its start; collisions compare whole mapped rows")
	}

	if pc == nil || !kindOf(pc.DataType, pc.Unsigned).splittable() {
		if pc != nil {
			tp.Notes = append(tp.Notes, fmt.Sprintf("partition column %s (%s) is not an integer or date/time: one partition", pc.Name, pc.DataType))
		} else {
			tp.Notes = append(tp.Notes, "no partition column: one partition")
		}
		est, _, err := pl.explain(ctx, t, "")
		if err != nil {
			return nil, nil, err
		}
		tp.EstRows = est
		tp.Partitions = []Partition{{ID: 0, Est: est}}
		return tp, schema, nil
	}

	tp.Column = pc.Name
	kc := keyColumnOf(pc)
	lo, hi, err := pl.minMax(ctx, t, kc)
	if err != nil {
		return nil, nil, err
	}
	var parts []Partition
	if lo == nil {
		tp.Notes = append(tp.Notes, "no rows matched at planning time")
		parts = []Partition{{}}
	} else {
		tp.Min, tp.Max = lo, hi
		est, _, err := pl.estimate(ctx, t, kc, Partition{Lo: lo, LoInclusive: true, Hi: hi})
		if err != nil {
			return nil, nil, err
		}
		indexed, err := pl.leadsIndex(ctx, t.Name, pc.Name)
		if err != nil {
			return nil, nil, err
		}
		tp.EstRows = est
		count := t.Partition.Count
		target := int64(0)
		switch {
		case count > 0:
		case t.Partition.ChunkRows > 0:
			target = int64(t.Partition.ChunkRows)
			count = int((est + target - 1) / target)
		default:
			count = 4 * max(pl.readers, 1)
		}
		count = max(count, 1)
		parts, err = splitRange(kc, lo, hi, count)
		if err != nil {
			return nil, nil, fmt.Errorf("table %s: %w", t.Name, err)
		}
		if !indexed {
			tp.Notes = append(tp.Notes, fmt.Sprintf("partition column %s has no usable index: every page query scans the table; add an index or choose another partition column", pc.Name))
		} else {
			factor := pl.maxSplitFactor
			if factor <= 0 {
				factor = 8
			}
			parts, err = pl.splitSkewed(ctx, t, kc, parts, &target, count*factor)
			if err != nil {
				return nil, nil, err
			}
			// Sub-range estimates are closer than the one over [MIN, MAX]
			// (InnoDB samples long ranges coarsely).
			tp.EstRows = 0
			for _, p := range parts {
				tp.EstRows += p.Est
			}
			if len(parts) > count {
				tp.Notes = append(tp.Notes, fmt.Sprintf("skewed keys: %d ranges were split into %d (target ~%d rows each)", count, len(parts), target))
			}
		}
	}
	if pc.Nullable {
		parts = append(parts, Partition{Null: true})
		tp.Notes = append(tp.Notes, fmt.Sprintf("%s is nullable: rows with NULL %s form their own partition", pc.Name, pc.Name))
	}
	for i := range parts {
		parts[i].ID = i
	}
	tp.Partitions = parts
	return tp, schema, nil
}

// PlanTable splits one table into key ranges as a backfill does (the
// configured partition column and count, skew splits, EXPLAIN estimates,
// a range for NULL keys) for a reader of its own: verify's push-down runs
// one aggregate query per range (Condition).
func PlanTable(ctx context.Context, db *sql.DB, database string, readers int, t config.Table) (*TablePlan, error) {
	pl := &planner{db: db, database: database, readers: readers}
	tp, _, err := pl.planTable(ctx, t)
	return tp, err
}

// Condition is the WHERE condition selecting the rows of partition p (its
// key range and the table's where filter), with its arguments.
func (tp *TablePlan) Condition(p Partition) (string, []any) {
	rc, args := tp.rangeSQL(p, true)
	return andAll(rc, whereSQL(tp.Config.Where)), args
}

// rangeSQL is the key range of partition p (without its lower bound when a
// keyset cursor replaces it) and its arguments.
func (tp *TablePlan) rangeSQL(p Partition, withLo bool) (string, []any) {
	if tp.Column == "" {
		return "", nil
	}
	col := quoteIdent(tp.Column)
	if p.Null {
		return col + " IS NULL", nil
	}
	var conds []string
	var args []any
	if withLo && p.Lo != nil {
		op := " > ?"
		if p.LoInclusive {
			op = " >= ?"
		}
		conds = append(conds, col+op)
		args = append(args, p.Lo.arg())
	}
	if p.Hi != nil {
		conds = append(conds, col+" <= ?")
		args = append(args, p.Hi.arg())
	}
	return strings.Join(conds, " AND "), args
}

func keyColumnOf(c *mapping.Column) KeyColumn {
	return KeyColumn{Name: c.Name, Kind: kindOf(c.DataType, c.Unsigned), Scale: c.Scale, Prec: c.DatetimePrecision}
}

// whereSQL is the table's filter, parenthesised so it cannot change the
// meaning of the conditions it is ANDed with.
func whereSQL(where string) string {
	if strings.TrimSpace(where) == "" {
		return ""
	}
	return "(" + where + ")"
}

func andAll(conds ...string) string {
	var out []string
	for _, c := range conds {
		if c != "" {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return "1=1"
	}
	return strings.Join(out, " AND ")
}

func (pl *planner) minMax(ctx context.Context, t config.Table, kc KeyColumn) (*Value, *Value, error) {
	col := quoteIdent(kc.Name)
	q := "SELECT MIN(" + col + "), MAX(" + col + ") FROM " + quoteTable(pl.database, t.Name) + " WHERE " + andAll(whereSQL(t.Where))
	var lo, hi any
	if err := pl.db.QueryRowContext(ctx, q).Scan(&lo, &hi); err != nil {
		return nil, nil, fmt.Errorf("table %s: reading MIN/MAX of %s: %w", t.Name, kc.Name, err)
	}
	if lo == nil || hi == nil {
		return nil, nil, nil
	}
	a, err := valueOf(kc.Kind, lo)
	if err != nil {
		return nil, nil, fmt.Errorf("table %s: MIN(%s): %w", t.Name, kc.Name, err)
	}
	b, err := valueOf(kc.Kind, hi)
	if err != nil {
		return nil, nil, fmt.Errorf("table %s: MAX(%s): %w", t.Name, kc.Name, err)
	}
	return &a, &b, nil
}

// splitRange cuts [lo, hi] into at most n ranges of equal key span: the
// first includes lo, the others exclude their lower bound, the last ends at
// hi.
func splitRange(kc KeyColumn, lo, hi *Value, n int) ([]Partition, error) {
	a, err := ordinal(*lo)
	if err != nil {
		return nil, err
	}
	b, err := ordinal(*hi)
	if err != nil {
		return nil, err
	}
	span := new(big.Int).Sub(b, a)
	parts := []Partition{}
	prevLo, prevIncl := lo, true
	prevOrd := new(big.Int).Set(a)
	for i := 1; i < n; i++ {
		// a + span*i/n
		m := new(big.Int).Mul(span, big.NewInt(int64(i)))
		m.Quo(m, big.NewInt(int64(n)))
		m.Add(m, a)
		bv := fromOrdinal(kc.Kind, m, kc.Prec)
		bo, err := ordinal(bv)
		if err != nil {
			return nil, err
		}
		// Skip boundaries that do not advance (span < n, or truncation to the
		// column's precision).
		if bo.Cmp(prevOrd) < 0 || (bo.Cmp(prevOrd) == 0 && !(prevIncl && len(parts) == 0)) || bo.Cmp(b) >= 0 {
			continue
		}
		parts = append(parts, Partition{Lo: prevLo, LoInclusive: prevIncl, Hi: &bv})
		prevLo, prevIncl, prevOrd = &bv, false, bo
	}
	parts = append(parts, Partition{Lo: prevLo, LoInclusive: prevIncl, Hi: hi})
	return parts, nil
}

// midpoint returns a value strictly inside p (above Lo, below Hi), or false
// when the range is too narrow to split.
func midpoint(kc KeyColumn, p Partition) (Value, bool) {
	a, err1 := ordinal(*p.Lo)
	b, err2 := ordinal(*p.Hi)
	if err1 != nil || err2 != nil {
		return Value{}, false
	}
	m := new(big.Int).Add(a, b)
	m.Rsh(m, 1) // floor((a+b)/2), also for negative sums
	mv := fromOrdinal(kc.Kind, m, kc.Prec)
	mo, err := ordinal(mv)
	if err != nil {
		return Value{}, false
	}
	if mo.Cmp(b) >= 0 || mo.Cmp(a) < 0 || (mo.Cmp(a) == 0 && !p.LoInclusive) {
		return Value{}, false
	}
	return mv, true
}

// splitSkewed halves every range whose estimated size exceeds twice target,
// recursively, until each range is small enough, cannot be split further
// (one key value), or the table has maxParts ranges. Estimates come from
// EXPLAIN (InnoDB index dives: cheap, no table scan), so a table with 90% of
// its rows in 1% of the key space ends up with small ranges over the dense
// region instead of one giant partition.
func (pl *planner) splitSkewed(ctx context.Context, t config.Table, kc KeyColumn, parts []Partition, target *int64, maxParts int) ([]Partition, error) {
	for i := range parts {
		var err error
		if parts[i].Est, _, err = pl.estimate(ctx, t, kc, parts[i]); err != nil {
			return nil, err
		}
	}
	if *target == 0 {
		// The target comes from the per-range estimates, not from one
		// estimate over [MIN, MAX]: InnoDB samples a long range coarsely
		// (often about half the table), which would make every range look
		// oversized.
		var sum int64
		for _, p := range parts {
			sum += p.Est
		}
		*target = max(sum/int64(len(parts)), 1)
	}
	limit := 2 * *target
	total := len(parts)
	var out []Partition
	var visit func(p Partition) error
	visit = func(p Partition) error {
		if p.Est > limit && total < maxParts {
			if mv, ok := midpoint(kc, p); ok {
				left := Partition{Lo: p.Lo, LoInclusive: p.LoInclusive, Hi: &mv}
				right := Partition{Lo: &mv, Hi: p.Hi}
				var err error
				if left.Est, _, err = pl.estimate(ctx, t, kc, left); err != nil {
					return err
				}
				if right.Est, _, err = pl.estimate(ctx, t, kc, right); err != nil {
					return err
				}
				total++
				if err := visit(left); err != nil {
					return err
				}
				return visit(right)
			}
		}
		out = append(out, p)
		return nil
	}
	for _, p := range parts {
		if err := visit(p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// rangeLiteral is the condition selecting p with literal bounds, for EXPLAIN.
func rangeLiteral(kc KeyColumn, p Partition) string {
	col := quoteIdent(kc.Name)
	var conds []string
	if p.Null {
		return col + " IS NULL"
	}
	if p.Lo != nil {
		op := " > "
		if p.LoInclusive {
			op = " >= "
		}
		conds = append(conds, col+op+p.Lo.literal())
	}
	if p.Hi != nil {
		conds = append(conds, col+" <= "+p.Hi.literal())
	}
	return andAll(conds...)
}

func (pl *planner) estimate(ctx context.Context, t config.Table, kc KeyColumn, p Partition) (int64, bool, error) {
	return pl.explain(ctx, t, rangeLiteral(kc, p))
}

// explain returns EXPLAIN's row estimate for the range condition cond and
// whether an index serves it.
//
// Errors name the table and the query. Running the query and reading its
// rows keep the source's classification (source.Transient: a lost
// connection is retried); an answer that cannot be read (a value that does
// not scan, a rows column that is not a number) is the same on every try,
// so it is permanent at once instead of being retried for
// iotdb.retry.give_up_after.
func (pl *planner) explain(ctx context.Context, t config.Table, cond string) (int64, bool, error) {
	q := "EXPLAIN SELECT 1 FROM " + quoteTable(pl.database, t.Name) + " WHERE " + andAll(cond)
	wrap := func(err error) error {
		return fmt.Errorf("table %s: estimating rows (%s): %w", t.Name, q, err)
	}
	bad := func(format string, args ...any) error {
		return backoff.Permanent(fmt.Errorf("table %s: estimating rows (%s): cannot read the answer: %s", t.Name, q, fmt.Sprintf(format, args...)))
	}
	rows, err := pl.db.QueryContext(ctx, q)
	if err != nil {
		return 0, false, wrap(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, false, wrap(err)
	}
	var est int64
	indexed := false
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return 0, false, bad("%v", err)
		}
		n, idx, err := explainRow(cols, vals)
		if err != nil {
			return 0, false, bad("%v", err)
		}
		est += n
		indexed = indexed || idx
	}
	if err := rows.Err(); err != nil {
		return 0, false, wrap(err)
	}
	return est, indexed, nil
}

// explainRow reads one row of an EXPLAIN answer: its row estimate (NULL is
// 0: "Impossible WHERE", "Select tables optimized away") and whether it
// uses an index. A rows value that is not a non-negative integer is an
// error.
func explainRow(cols []string, vals []sql.NullString) (int64, bool, error) {
	var est int64
	indexed := false
	for i, c := range cols {
		switch strings.ToLower(c) {
		case "rows":
			if !vals[i].Valid {
				continue
			}
			n, err := strconv.ParseInt(strings.TrimSpace(vals[i].String), 10, 64)
			if err != nil || n < 0 {
				return 0, false, fmt.Errorf("column %s = %q is not a row count", c, vals[i].String)
			}
			est += n
		case "key":
			indexed = indexed || vals[i].Valid
		case "extra":
			// "Impossible WHERE ..." / "Select tables optimized away": no rows.
			if strings.Contains(vals[i].String, "Impossible") {
				indexed = true
			}
		}
	}
	return est, indexed, nil
}

// leadsIndex reports whether column is the first column of an index of
// table (so range conditions on it are index ranges). EXPLAIN cannot tell: a
// range over the whole table is planned as a full scan.
func (pl *planner) leadsIndex(ctx context.Context, table, column string) (bool, error) {
	var n int
	err := pl.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ? AND SEQ_IN_INDEX = 1`, pl.database, table, column).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("table %s: reading indexes: %w", table, err)
	}
	return n > 0, nil
}
