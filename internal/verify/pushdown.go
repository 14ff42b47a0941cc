package verify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// The coarse pass pushed down to MySQL. For a table whose time column SQL
// can express the way the mapping reads it (mapping.SQL), MySQL groups the
// rows by the device columns and the time bucket and computes, per
// measurement, the figures that SQL reproduces exactly from the column:
// the count of non-NULL cells always; for numbers the sum; in the table
// model also the crc32 sums of integers and text, the true
// count of booleans and the time × value residue sums that catch a value
// moved to another time. Verify reads a few hundred bytes per device and
// bucket instead of every row, and MySQL skips the conversion.
//
// What SQL cannot see the way Map does (a dirty row, a collision after
// the precision floor, a NULL from zero_date: null) makes the bucket's
// figures differ from IoTDB's; such a bucket is then drilled into with the
// rows read through the mapping, point by point, and is equal when its
// points are (res.settled). The figures SQL does not compute (first and
// last values and times, min and max, the table model's sum of times)
// are left out of the comparison of these tables (fig.have).

// SQLSource is the MySQL side of the pushed-down pass.
type SQLSource struct {
	DB       *sql.DB
	Database string
	// Readers is how many queries run at once (default 4); a table is cut
	// into the key ranges a backfill with as many readers reads.
	Readers int
}

// pushQuery is one table's pushed-down query and how to read its answer.
type pushQuery struct {
	ti     *tableInfo
	mp     *mapping.Mapper
	shape  *mapping.SQLShape
	sel    string // the SELECT up to WHERE
	group  string // GROUP BY ... ORDER BY NULL
	timeEx string
	source config.Table // the mysql.tables entry: partition and where
	// per field: the aggregates read, in answer order after the keys
	aggs [][]aggKind
	have []figSet
	nCol int
	nKey int // device columns in the answer: 1 when they come joined (shape.DeviceKey)
}

type aggKind uint8

const (
	aCount aggKind = iota
	aSum
	aCRC
	aPair
	aTrues
	aPairF
)

const pairModSQL = "65521"

// pushFields decides the figures of each field and their SQL.
func (q *pushQuery) pushFields(model string) []string {
	var items []string
	tm := "(" + q.timeEx + " MOD " + pairModSQL + ")"
	add := func(fi int, k aggKind, sql string) {
		q.aggs[fi] = append(q.aggs[fi], k)
		items = append(items, sql)
	}
	for fi, mi := range q.ti.fields {
		f := q.shape.Fields[mi-q.tagCount()]
		typ := q.ti.types[fi]
		c := backfill.QuoteIdent(f.Column)
		have := fCount
		add(fi, aCount, "COUNT("+c+")")
		switch f.Value {
		case mapping.SQLNumber:
			// No MIN and MAX: they would add half of MySQL's work per
			// number, and the sum sees every change beyond its rounding
			// bound (taken from IoTDB's min and max, diffFigs).
			have |= fSum
			add(fi, aSum, "SUM("+c+")")
			if model != "table" {
				break
			}
			switch typ {
			case client.INT32, client.INT64:
				crc := intCRC(c, typ)
				have |= fCRC | fPair
				add(fi, aCRC, "SUM("+crc+")")
				add(fi, aPair, "SUM("+tm+" * ("+crc+" MOD "+pairModSQL+"))")
			case client.FLOAT, client.DOUBLE:
				have |= fPairF
				add(fi, aPairF, "SUM("+tm+" * "+c+")")
			}
		case mapping.SQLBool:
			if model == "table" {
				have |= fTrues | fPair
				add(fi, aTrues, "SUM("+c+")")
				add(fi, aPair, "SUM("+tm+" * ("+c+" + 1))")
			}
		case mapping.SQLBytes:
			if model == "table" {
				crc := "CRC32(" + c + ")"
				have |= fCRC | fPair
				add(fi, aCRC, "SUM("+crc+")")
				add(fi, aPair, "SUM("+tm+" * ("+crc+" MOD "+pairModSQL+"))")
			}
		}
		q.have[fi] = have
	}
	return items
}

// tagCount is how many of the schema's measurements are the table
// model's tags (they come first; ti.fields index past them).
func (q *pushQuery) tagCount() int {
	return len(q.mp.Schema().Measurements) - len(q.shape.Fields)
}

// intCRC is crc32 of an integer's big-endian bytes (4 for INT32, 8 for
// INT64), as IoTDB's crc32(to_big_endian_32/64(x)) computes it. HEX of a
// negative BIGINT is its two's complement.
func intCRC(c string, t client.TSDataType) string {
	if t == client.INT32 {
		return "CRC32(UNHEX(LPAD(HEX(" + c + " & 0xFFFFFFFF), 8, '0')))"
	}
	return "CRC32(UNHEX(LPAD(HEX(" + c + "), 16, '0')))"
}

// newPushQuery builds the query of one table, or says why it has none.
func (v *verifier) newPushQuery(ti *tableInfo, t Table) (*pushQuery, error) {
	shape, err := t.Mapper.SQL()
	if err != nil {
		return nil, err
	}
	q := &pushQuery{ti: ti, mp: t.Mapper, shape: shape, timeEx: shape.Time, source: t.Source,
		aggs: make([][]aggKind, len(ti.fields)), have: make([]figSet, len(ti.fields))}
	if q.tagCount() < 0 {
		return nil, errors.New("the mapping's measurements do not match its schema")
	}
	var items []string
	var keys []string
	exprs := shape.DeviceExprs
	if shape.DeviceKey != "" {
		exprs = []string{shape.DeviceKey}
	}
	q.nKey = len(exprs)
	for i, e := range exprs {
		a := "k" + strconv.Itoa(i)
		items = append(items, e+" AS "+a)
		keys = append(keys, a)
	}
	items = append(items, shape.Bucket(v.win.bucket)+" AS b", "COUNT(*)")
	keys = append(keys, "b")
	items = append(items, q.pushFields(ti.model)...)
	q.nCol = len(items)
	q.sel = "SELECT " + strings.Join(items, ", ") + " FROM " + backfill.QuoteTable(v.opts.Source.Database, t.Mapper.Table())
	q.group = " GROUP BY " + strings.Join(keys, ", ") + " ORDER BY NULL"
	return q, nil
}

// push runs the pushed-down pass of one table into a fresh cell set and
// returns it with the rows MySQL grouped. An error leaves src untouched
// (the caller then reads the table's rows instead).
// pushed is what push read of one table.
type pushed struct {
	cells         map[key]*cell
	rows, refused int64 // rows grouped; rows of devices the mapping refuses
	ranges        int   // key ranges, one query each
}

func (v *verifier) push(ctx context.Context, q *pushQuery) (pushed, error) {
	readers := v.opts.Source.Readers
	if readers <= 0 {
		readers = 4
	}
	// The key ranges a backfill of this table would read, each one query.
	plan, err := backfill.PlanTable(ctx, v.opts.Source.DB, v.opts.Source.Database, readers, q.source)
	if err != nil {
		return pushed{}, err
	}
	var prog backfill.Progress
	if v.opts.Progress != nil {
		prog = v.opts.Progress("mysql")
		prog.Start(&backfill.Plan{Tables: []*backfill.TablePlan{plan}}, plan.EstRows)
		if pp, ok := prog.(backfill.PartitionProgress); ok {
			pp.Partitions(len(plan.Partitions))
		}
		defer prog.Finish()
	}
	var (
		mu            sync.Mutex
		out           = map[key]*cell{}
		rows, refused int64
	)
	// run reads one key range into its own cells, then merges them.
	run := func(ctx context.Context, p backfill.Partition, sqlText string, a []any) error {
		local := map[key]*cell{}
		var n, bad, points int64
		err := v.pushRange(ctx, q, sqlText, a, func(vals []any, b, count int64, figs []fig) {
			n += count
			dev, err := q.mp.DeviceOf(vals)
			if err != nil {
				bad += count // rows Map refuses (dirty): absent from IoTDB
				return
			}
			for fi := range figs {
				points += figs[fi].n
			}
			k := key{table: q.ti.idx, dev: dev, bucket: b}
			if ce := local[k]; ce != nil {
				for fi := range figs {
					ce.figs[fi].merge(&figs[fi])
				}
			} else {
				local[k] = &cell{figs: figs}
			}
		})
		if err != nil {
			return err
		}
		if prog != nil {
			prog.Add(q.ti.name, n, points)
			if pp, ok := prog.(backfill.PartitionProgress); ok {
				pp.PartitionDone(q.ti.name, p.Est, n)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		rows += n
		refused += bad
		for k, ce := range local {
			if o := out[k]; o != nil {
				for fi := range ce.figs {
					o.figs[fi].merge(&ce.figs[fi])
				}
			} else {
				out[k] = ce
			}
		}
		return nil
	}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		slots    = make(chan struct{}, readers)
	)
	for _, p := range plan.Partitions {
		cond, a := plan.Condition(p)
		if v.win.until != math.MaxInt64 {
			cond += " AND " + q.timeEx + " < ?"
			a = append(a, v.win.until)
		}
		sqlText := q.sel + " WHERE " + cond + q.group
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			if gctx.Err() != nil {
				return
			}
			if err := run(gctx, p, sqlText, a); err != nil {
				errOnce.Do(func() { firstErr = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return pushed{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return pushed{}, err
	}
	return pushed{cells: out, rows: rows, refused: refused, ranges: len(plan.Partitions)}, nil
}

// pushRange runs one range's query and hands each group to fn.
func (v *verifier) pushRange(ctx context.Context, q *pushQuery, sqlText string, args []any,
	fn func(vals []any, bucket, count int64, figs []fig)) error {
	// A prepared statement: the answer comes in the binary protocol, so a
	// FLOAT's MIN arrives as the float32 it is, not as rounded text.
	stmt, err := v.opts.Source.DB.PrepareContext(ctx, sqlText)
	if err != nil {
		return err
	}
	defer stmt.Close()
	rs, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rs.Close()
	nk := q.nKey
	dest := make([]any, q.nCol)
	ptrs := make([]any, q.nCol)
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return err
		}
		vals := make([]any, len(q.shape.DeviceColumns))
		if q.shape.DeviceKey != "" {
			// the text columns joined by 0x00; NULL when one is NULL
			if b, ok := dest[0].([]byte); ok {
				parts := strings.Split(string(b), "\x00")
				if len(parts) == len(vals) {
					for i, p := range parts {
						vals[i] = []byte(p)
					}
				}
			}
		} else {
			for i := range nk {
				if b, ok := dest[i].([]byte); ok {
					dest[i] = append([]byte(nil), b...)
				}
				vals[i] = dest[i]
			}
		}
		b, ok1 := asInt64(dest[nk])
		count, ok2 := asInt64(dest[nk+1])
		if !ok1 || !ok2 {
			continue // a NULL time: dirty rows, absent from IoTDB
		}
		figs := make([]fig, len(q.ti.fields))
		col := nk + 2
		for fi := range q.ti.fields {
			f := &figs[fi]
			f.have = q.have[fi]
			for _, k := range q.aggs[fi] {
				if err := f.setAgg(k, dest[col]); err != nil {
					return fmt.Errorf("table %s, measurement %s: %w", q.ti.name, q.ti.names[fi], err)
				}
				col++
			}
		}
		fn(vals, b, count, figs)
	}
	return rs.Err()
}

// setAgg stores one SQL aggregate in f. NULL is nothing (no non-NULL
// cell in the group).
func (f *fig) setAgg(k aggKind, x any) error {
	if x == nil {
		return nil
	}
	switch k {
	case aCount:
		n, ok := asInt64(x)
		if !ok {
			return fmt.Errorf("count %T", x)
		}
		f.n = n
	case aSum, aPairF:
		s, err := asFloat(x)
		if err != nil {
			return err
		}
		if k == aSum {
			f.sum = s
		} else {
			f.pairf = s
		}
	case aCRC, aPair, aTrues:
		n, ok := asInt64(x)
		if !ok {
			s, err := asFloat(x)
			if err != nil || s != math.Trunc(s) {
				return fmt.Errorf("integer sum %v", x)
			}
			n = int64(s)
		}
		switch k {
		case aCRC:
			f.crc = uint64(n)
		case aPair:
			f.pair = n
		default:
			f.trues = n
		}
	}
	return nil
}

func asInt64(x any) (int64, bool) {
	switch n := x.(type) {
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case uint64:
		return int64(n), n <= math.MaxInt64
	case []byte:
		i, err := strconv.ParseInt(string(n), 10, 64)
		return i, err == nil
	case float64:
		return int64(n), n == math.Trunc(n)
	}
	return 0, false
}

// asFloat reads a SQL number.
func asFloat(x any) (float64, error) {
	switch n := x.(type) {
	case float64:
		return n, nil
	case float32:
		return float64(n), nil
	case int64:
		return float64(n), nil
	case []byte:
		return strconv.ParseFloat(string(n), 64)
	}
	return 0, fmt.Errorf("number %T", x)
}

// merge adds the SQL figures of o (another key range's rows of the same
// device and bucket) to f.
func (f *fig) merge(o *fig) {
	if o.n == 0 {
		return
	}
	if f.n == 0 {
		*f = *o
		return
	}
	f.n += o.n
	f.sum += o.sum
	f.crc += o.crc
	f.pair += o.pair
	f.pairf += o.pairf
	f.trues += o.trues
}
