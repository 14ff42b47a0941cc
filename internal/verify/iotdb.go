package verify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
)

// The IoTDB side: aggregate queries whenever IoTDB can compute the figure
// (docs/iotdb.md §10), raw reads in exact mode and for the drill-down.

// iotSide is what verify learned from IoTDB about one table.
type iotSide struct {
	cells *cells
	// lean: only the figures MySQL's side compares are asked for
	lean bool
	// typeDiff lists the series (tree: per device; table model: the
	// column, every device) IoTDB holds with another type than the
	// mapping writes: their points are not compared value by value.
	typeDiff map[typeKey]string  // -> the IoTDB type
	spans    map[string][2]int64 // device -> first and last time IoTDB holds (in the window's reach)
	// noTable: the table model's table (or database) does not exist.
	noTable bool
	// missingCol: table-model FIELD columns that do not exist (no points).
	missingCol map[int]bool
	// devices: tree devices of the template, with the field types found.
	devices map[string]map[int]client.TSDataType
}

type typeKey struct {
	dev   string // "" in the table model: the whole column
	field int
}

func newIotSide() *iotSide {
	return &iotSide{cells: newCells(), typeDiff: map[typeKey]string{}, spans: map[string][2]int64{},
		missingCol: map[int]bool{}, devices: map[string]map[int]client.TSDataType{}}
}

func statusOf(err error) int32 {
	var se *iotdbsink.StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// wrongType reports whether IoTDB's type differs from the mapping's, the
// way the sink decides it (any other type is refused on write).
func (s *iotSide) wrongType(dev string, fi int) bool {
	if _, ok := s.typeDiff[typeKey{"", fi}]; ok {
		return true
	}
	_, ok := s.typeDiff[typeKey{dev, fi}]
	return ok
}

// ---- tree model ----

// treeSchema reads the series under the template's pattern (SHOW
// TIMESERIES) and keeps the devices the template can produce: their
// mapped measurements and types, and the type differences.
func (v *verifier) treeSchema(ctx context.Context, ti *tableInfo, s *iotSide) error {
	sql := "SHOW TIMESERIES " + ti.match.pattern()
	var pathCol, typeCol int
	return v.target.Query(ctx, sql, v.queryTimeout, func(qr iotdbsink.QueryResult) error {
		pathCol, typeCol = -1, -1
		for i, c := range qr.Columns {
			switch strings.ToLower(c) {
			case "timeseries":
				pathCol = i
			case "datatype":
				typeCol = i
			}
		}
		if pathCol < 0 || typeCol < 0 {
			return fmt.Errorf("SHOW TIMESERIES answered without Timeseries and DataType columns (%v)", qr.Columns)
		}
		return nil
	}, func(r *iotdbsink.Row) error {
		path, _ := r.Values[pathCol].(string)
		tn, _ := r.Values[typeCol].(string)
		nodes, err := splitNodes(path)
		if err != nil || len(nodes) < 3 {
			return nil
		}
		devNodes := nodes[:len(nodes)-1]
		if !ti.match.match(devNodes) {
			return nil
		}
		fi := ti.fieldOf(nodes[len(nodes)-1])
		if fi < 0 {
			return nil
		}
		dev := joinNodes(devNodes)
		typ, ok := typeByName(tn)
		if !ok {
			return fmt.Errorf("SHOW TIMESERIES: series %s has the unknown type %q", path, tn)
		}
		if s.devices[dev] == nil {
			s.devices[dev] = map[int]client.TSDataType{}
		}
		s.devices[dev][fi] = typ
		if typ != ti.types[fi] {
			s.typeDiff[typeKey{dev, fi}] = tn
		}
		return nil
	})
}

// aggColumn parses an ALIGN BY DEVICE aggregate column name, fn(measurement).
func aggColumn(c string) (fn, meas string, ok bool) {
	i := strings.IndexByte(c, '(')
	if i <= 0 || !strings.HasSuffix(c, ")") {
		return "", "", false
	}
	return strings.ToLower(c[:i]), c[i+1 : len(c)-1], true
}

// treeSpans reads, per device, the first and last time of its mapped
// measurements (one query, no GROUP BY).
func (v *verifier) treeSpans(ctx context.Context, ti *tableInfo, s *iotSide) error {
	var items []string
	for _, n := range ti.names {
		items = append(items, "min_time("+n+")", "max_time("+n+")")
	}
	sql := "SELECT " + strings.Join(items, ", ") + " FROM " + ti.match.pattern() + " ALIGN BY DEVICE"
	var cols []string
	return v.target.Query(ctx, sql, v.queryTimeout, func(qr iotdbsink.QueryResult) error {
		cols = qr.Columns
		return nil
	}, func(r *iotdbsink.Row) error {
		dev, ok := v.treeDevice(ti, r.Values[0])
		if !ok {
			return nil
		}
		lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
		for i := 1; i < len(cols); i++ {
			t, isInt := r.Values[i].(int64)
			if !isInt {
				continue
			}
			fn, _, _ := aggColumn(cols[i])
			if fn == "min_time" && t < lo {
				lo = t
			}
			if fn == "max_time" && t > hi {
				hi = t
			}
		}
		if lo <= hi {
			s.spans[dev] = [2]int64{lo, hi}
		}
		return nil
	})
}

// treeDevice turns the Device column of an ALIGN BY DEVICE answer into
// the mapping's spelling, keeping only devices the template can produce.
func (v *verifier) treeDevice(ti *tableInfo, x any) (string, bool) {
	path, _ := x.(string)
	nodes, err := splitNodes(path)
	if err != nil || !ti.match.match(nodes) {
		return "", false
	}
	return joinNodes(nodes), true
}

// treeFigures runs the coarse aggregates of one table over [lo, hi).
// Measurements with a type difference on some device are queried apart,
// over the devices that hold the mapping's type: an ALIGN BY DEVICE
// column must have one type across devices, and sum refuses text.
func (v *verifier) treeFigures(ctx context.Context, ti *tableInfo, s *iotSide, lo, hi int64) error {
	var clean []int
	conflicted := map[int][]string{}
	for fi := range ti.fields {
		var good []string
		bad := false
		for dev, types := range s.devices {
			if t, ok := types[fi]; ok {
				if t != ti.types[fi] {
					bad = true
				} else {
					good = append(good, dev)
				}
			}
		}
		if bad {
			sort.Strings(good)
			conflicted[fi] = good
		} else {
			clean = append(clean, fi)
		}
	}
	if len(clean) > 0 {
		if err := v.treeAggQuery(ctx, ti, s, clean, ti.match.pattern(), lo, hi); err != nil {
			return err
		}
	}
	for fi, devs := range conflicted {
		for len(devs) > 0 {
			n := min(len(devs), 200)
			if err := v.treeAggQuery(ctx, ti, s, []int{fi}, strings.Join(devs[:n], ", "), lo, hi); err != nil {
				return err
			}
			devs = devs[n:]
		}
	}
	return nil
}

// treeAggItems are the aggregates of one measurement of type t, with the
// figure each fills.
// lean: the source's figures came from MySQL (count and sum only): the
// rest is not asked for, but min and max of numbers (the sum's bound).
func treeAggItems(t client.TSDataType, lean bool) []string {
	items := []string{"count"}
	if !lean {
		items = append(items, "min_time", "max_time", "first_value", "last_value")
	}
	if numeric(t) {
		items = append(items, "sum")
	}
	if ordered(t) && (!lean || numeric(t)) {
		items = append(items, "min_value", "max_value")
	}
	return items
}

func (v *verifier) treeAggQuery(ctx context.Context, ti *tableInfo, s *iotSide, fields []int, from string, lo, hi int64) error {
	var items []string
	for _, fi := range fields {
		for _, fn := range treeAggItems(ti.types[fi], s.lean) {
			items = append(items, fn+"("+ti.names[fi]+")")
		}
	}
	sql := fmt.Sprintf("SELECT %s FROM %s GROUP BY ([%d, %d), %s) ALIGN BY DEVICE",
		strings.Join(items, ", "), from, lo, hi, v.interval())
	type colRef struct {
		fn string
		fi int
	}
	var refs []colRef
	var types []client.TSDataType
	return v.target.Query(ctx, sql, v.queryTimeout, func(qr iotdbsink.QueryResult) error {
		refs, types = refs[:0], types[:0]
		for i, c := range qr.Columns {
			ref := colRef{fi: -1}
			if i > 0 {
				if fn, m, ok := aggColumn(c); ok {
					ref = colRef{fn: fn, fi: ti.fieldOf(m)}
				}
			}
			refs = append(refs, ref)
			t, _ := typeByName(qr.Types[i])
			types = append(types, t)
		}
		return nil
	}, func(r *iotdbsink.Row) error {
		dev, ok := v.treeDevice(ti, r.Values[0])
		if !ok {
			return nil
		}
		k := key{table: ti.idx, dev: dev, bucket: v.win.bucketOf(r.Time)}
		var ce *cell
		for i, ref := range refs {
			if ref.fi < 0 || r.Values[i] == nil || s.wrongType(dev, ref.fi) {
				continue
			}
			if ref.fn == "count" {
				if n, _ := r.Values[i].(int64); n == 0 {
					continue
				}
			}
			if ce == nil {
				ce = s.cells.get(k, len(ti.fields))
			}
			f := &ce.figs[ref.fi]
			if err := fillFig(f, ref.fn, types[i], ti.types[ref.fi], r.Values[i]); err != nil {
				return fmt.Errorf("table %s device %s: %w", ti.name, dev, err)
			}
		}
		return nil
	})
}

// fillFig stores one aggregate answer in f. colType is the answer's type,
// typ the mapping's.
func fillFig(f *fig, fn string, colType, typ client.TSDataType, x any) error {
	asInt := func() int64 {
		switch n := x.(type) {
		case int64:
			return n
		case int32:
			return int64(n)
		}
		return 0
	}
	asFloat := func() float64 {
		switch n := x.(type) {
		case float64:
			return n
		case float32:
			return float64(n)
		case int64:
			return float64(n)
		case int32:
			return float64(n)
		}
		return 0
	}
	value := func() (val, error) { return iotVal(colType, x) }
	var err error
	switch fn {
	case "count":
		f.n, f.have = asInt(), f.have|fCount
	case "min_time":
		f.minT, f.have = asInt(), f.have|fTimes
	case "max_time":
		f.maxT, f.have = asInt(), f.have|fTimes
	case "first_value", "first":
		f.first, err = value()
		f.have |= fFirstLast
	case "last_value", "last":
		f.last, err = value()
		f.have |= fFirstLast
	case "sum":
		f.sum, f.have = asFloat(), f.have|fSum
	case "crc":
		f.crc, f.have = uint64(asFloat()), f.have|fCRC
	case "tsum":
		f.tsum, f.have = int64(asFloat()), f.have|fTimeSum
	case "pair":
		f.pair, f.have = int64(asFloat()), f.have|fPair
	case "trues":
		f.trues, f.have = int64(asFloat()), f.have|fTrues
	case "pairf":
		f.pairf, f.have = asFloat(), f.have|fPairF
	case "min_value", "min":
		f.min, err = value()
		f.have |= fMinMax
	case "max_value", "max":
		f.max, err = value()
		f.have |= fMinMax
	}
	_ = typ
	return err
}

// treeRaw reads the points of one device over [lo, hi) (the measurements
// the device holds with the mapping's type) and calls fn per point.
func (v *verifier) treeRaw(ctx context.Context, ti *tableInfo, s *iotSide, dev string, lo, hi int64, fn func(t int64, fi int, x val)) error {
	var sel []string
	for fi, n := range ti.names {
		if t, ok := s.devices[dev][fi]; ok && t == ti.types[fi] {
			sel = append(sel, n)
		}
	}
	if len(sel) == 0 {
		return nil
	}
	sql := fmt.Sprintf("SELECT %s FROM %s WHERE time >= %d AND time < %d", strings.Join(sel, ", "), dev, lo, hi)
	var fis []int
	return v.target.Query(ctx, sql, v.queryTimeout, func(qr iotdbsink.QueryResult) error {
		fis = fis[:0]
		for _, c := range qr.Columns {
			fi := -1
			if nodes, err := splitNodes(c); err == nil {
				fi = ti.fieldOf(joinNodes(nodes[len(nodes)-1:]))
			}
			fis = append(fis, fi)
		}
		return nil
	}, func(r *iotdbsink.Row) error {
		for i, fi := range fis {
			if fi < 0 || r.Values[i] == nil {
				continue
			}
			x, err := iotVal(ti.types[fi], r.Values[i])
			if err != nil {
				return fmt.Errorf("%s.%s: %w", dev, ti.names[fi], err)
			}
			fn(r.Time, fi, x)
		}
		return nil
	})
}

// ---- table model ----

func (v *verifier) tableName(ti *tableInfo) string {
	return iotdbsink.QuoteIdent(ti.schema.TargetTable)
}

// tableSchema learns the FIELD columns' types from a global first() of
// each (first keeps its input's type): a missing table, or a missing
// column, holds no points.
func (v *verifier) tableSchema(ctx context.Context, ti *tableInfo, s *iotSide) error {
	probe := func(fields []int) error {
		var items []string
		for _, fi := range fields {
			items = append(items, "first("+iotdbsink.QuoteIdent(ti.names[fi])+")")
		}
		sql := "SELECT " + strings.Join(items, ", ") + " FROM " + v.tableName(ti)
		return v.target.Query(ctx, sql, v.queryTimeout, func(qr iotdbsink.QueryResult) error {
			for i, fi := range fields {
				if i < len(qr.Types) && qr.Types[i] != iotdbsink.TypeName(ti.types[fi]) {
					s.typeDiff[typeKey{"", fi}] = qr.Types[i]
				}
			}
			return nil
		}, func(*iotdbsink.Row) error { return nil })
	}
	all := make([]int, len(ti.fields))
	for i := range all {
		all[i] = i
	}
	err := probe(all)
	switch code := statusOf(err); {
	case err == nil:
		return nil
	case code == client.DatabaseNotExist || code == tableNotExist:
		s.noTable = true
		return nil
	case code != client.SemanticError:
		return err
	}
	// some column does not resolve: find which
	for _, fi := range all {
		if err := probe([]int{fi}); err != nil {
			if statusOf(err) != client.SemanticError {
				return err
			}
			s.missingCol[fi] = true
		}
	}
	return nil
}

// tableNotExist is IoTDB's 550 TABLE_NOT_EXISTS.
const tableNotExist = 550

func (v *verifier) tagItems(ti *tableInfo) []string {
	var out []string
	for _, t := range ti.tags {
		out = append(out, iotdbsink.QuoteIdent(t))
	}
	return out
}

func (v *verifier) groupByTags(ti *tableInfo, extra int) string {
	var pos []string
	for i := range len(ti.tags) + extra {
		pos = append(pos, strconv.Itoa(i+1))
	}
	return " GROUP BY " + strings.Join(pos, ", ")
}

// tableDevice is the device key of a table-model answer: the tag values
// joined by "\x00", as mapping.Point.Device.
func tableDevice(vals []any, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(0)
		}
		s, ok := vals[i].(string)
		if !ok {
			s = nullTag
		}
		b.WriteString(s)
	}
	return b.String()
}

func (v *verifier) tableSpans(ctx context.Context, ti *tableInfo, s *iotSide) error {
	if s.noTable {
		return nil
	}
	sql := "SELECT " + strings.Join(append(v.tagItems(ti), "min(time)", "max(time)"), ", ") + " FROM " + v.tableName(ti) + v.groupByTags(ti, 0)
	n := len(ti.tags)
	return v.target.Query(ctx, sql, v.queryTimeout, nil, func(r *iotdbsink.Row) error {
		lo, ok1 := r.Values[n].(int64)
		hi, ok2 := r.Values[n+1].(int64)
		if ok1 && ok2 {
			s.spans[tableDevice(r.Values, n)] = [2]int64{lo, hi}
		}
		return nil
	})
}

// tableAggItems are the aggregates of one FIELD of type t, as SQL over the
// quoted column c, with the figure each fills (docs/iotdb.md §10.4,
// §10.5). The sum of times reads the field too (+ f*0, NULL when f is
// NULL), so that it counts the times at which this field has a value, not
// every row: a row whose fields are all NULL is no data (backfill writes
// none, cdc may) and no difference. noHash leaves out what needs crc32
// and the byte encodings (IoTDB before 2.0.10).
// lean: as in treeAggItems (no first, last or sum of times).
func tableAggItems(c string, t client.TSDataType, bucket int64, noHash, lean bool) (items, fns []string) {
	add := func(sql, fn string) { items, fns = append(items, sql), append(fns, fn) }
	add("count("+c+")", "count")
	if !lean {
		add("first("+c+")", "first")
		add("last("+c+")", "last")
	}
	if numeric(t) {
		add("sum("+c+")", "sum")
	}
	if ordered(t) && (!lean || numeric(t)) {
		add("min("+c+")", "min")
		add("max("+c+")", "max")
	}
	tm := fmt.Sprintf("(cast(time AS INT64) %% %d)", pairMod)
	crc := map[client.TSDataType]string{
		client.INT32: "crc32(to_big_endian_32(" + c + "))", client.INT64: "crc32(to_big_endian_64(" + c + "))",
		client.TIMESTAMP: "crc32(to_big_endian_64(cast(" + c + " AS INT64)))",
		client.FLOAT:     "crc32(to_ieee754_32(" + c + "))", client.DOUBLE: "crc32(to_ieee754_64(" + c + "))",
		client.TEXT: "crc32(" + c + ")", client.STRING: "crc32(" + c + ")", client.BLOB: "crc32(" + c + ")",
	}[t]
	if crc != "" && !noHash {
		add("sum("+crc+")", "crc")
		add(fmt.Sprintf("sum(%s * (%s %% %d))", tm, crc, pairMod), "pair")
	}
	if t == client.FLOAT || t == client.DOUBLE {
		add(fmt.Sprintf("sum(%s * cast(%s AS DOUBLE))", tm, c), "pairf")
	}
	if t == client.BOOLEAN {
		add("sum(cast("+c+" AS INT64))", "trues")
		add(fmt.Sprintf("sum(%s * (cast(%s AS INT64) + 1))", tm, c), "pair")
	}
	zero := ""
	switch classOf(t) {
	case cInt, cBool:
		zero = "cast(" + c + " AS INT64) * 0"
	case cFloat:
		zero = "cast(" + c + " AS DOUBLE) * 0"
	case cBytes:
		if !noHash {
			zero = "crc32(" + c + ") * 0"
		}
	}
	if zero != "" && !lean {
		add(fmt.Sprintf("sum(cast(time AS INT64) %% %d + %s)", bucket, zero), "tsum")
	}
	return
}

// tableFigures runs the coarse aggregates of one table over [lo, hi). An
// IoTDB older than 2.0.10 has no crc32 and no byte encodings: the query
// is refused (701) and asked again without them, once for the run.
func (v *verifier) tableFigures(ctx context.Context, ti *tableInfo, s *iotSide, lo, hi int64) error {
	err := v.tableFiguresOnce(ctx, ti, s, lo, hi)
	if code := statusOf(err); !v.noHash && (code == client.SemanticError || code == sqlParseError) {
		v.noHash = true
		v.log.Warn().Err(err).Msg("IoTDB refused crc32 or to_ieee754/to_big_endian (before 2.0.10?): the table model's value fingerprints are left out; coarse mode then sees less (--exact sees all)")
		return v.tableFiguresOnce(ctx, ti, s, lo, hi)
	}
	return err
}

// sqlParseError is IoTDB's 700 SQL_PARSE_ERROR.
const sqlParseError = 700

func (v *verifier) tableFiguresOnce(ctx context.Context, ti *tableInfo, s *iotSide, lo, hi int64) error {
	if s.noTable {
		return nil
	}
	items := append(v.tagItems(ti), "date_bin("+v.interval()+", time)")
	nt := len(ti.tags)
	type colRef struct {
		fn string
		fi int
	}
	var refs []colRef
	for fi, name := range ti.names {
		if s.missingCol[fi] || s.wrongType("", fi) {
			continue
		}
		its, fns := tableAggItems(iotdbsink.QuoteIdent(name), ti.types[fi], v.win.bucket, v.noHash, s.lean)
		items = append(items, its...)
		for _, fn := range fns {
			refs = append(refs, colRef{fn: fn, fi: fi})
		}
	}
	if len(refs) == 0 {
		return nil
	}
	sql := fmt.Sprintf("SELECT %s FROM %s WHERE time >= %d AND time < %d%s", strings.Join(items, ", "), v.tableName(ti), lo, hi, v.groupByTags(ti, 1))
	var types []client.TSDataType
	return v.target.Query(ctx, sql, v.queryTimeout, func(qr iotdbsink.QueryResult) error {
		types = types[:0]
		for _, tn := range qr.Types {
			t, _ := typeByName(tn)
			types = append(types, t)
		}
		if len(types) != nt+1+len(refs) {
			return fmt.Errorf("table %s: IoTDB answered %d columns to %d aggregates", ti.name, len(types), nt+1+len(refs))
		}
		return nil
	}, func(r *iotdbsink.Row) error {
		b, ok := r.Values[nt].(int64)
		if !ok {
			return nil
		}
		any := false
		for i, ref := range refs {
			if n, _ := r.Values[nt+1+i].(int64); ref.fn == "count" && n > 0 {
				any = true
			}
		}
		if !any {
			return nil // no field has a value: no data
		}
		ce := s.cells.get(key{table: ti.idx, dev: tableDevice(r.Values, nt), bucket: v.win.bucketOf(b)}, len(ti.fields))
		for i, ref := range refs {
			x := r.Values[nt+1+i]
			f := &ce.figs[ref.fi]
			if x == nil {
				if ref.fn == "count" {
					f.have |= fCount
				}
				continue
			}
			if err := fillFig(f, ref.fn, types[nt+1+i], ti.types[ref.fi], x); err != nil {
				return fmt.Errorf("table %s: %w", ti.name, err)
			}
		}
		return nil
	})
}

// tableRaw reads the rows of one table over [lo, hi), of one device when
// dev is not "" (else of all), and calls fn per non-NULL field value.
func (v *verifier) tableRaw(ctx context.Context, ti *tableInfo, s *iotSide, dev string, lo, hi int64, fn func(dev string, t int64, fi int, x val)) error {
	if s.noTable {
		return nil
	}
	sel := append(v.tagItems(ti), "time")
	var fis []int
	for fi, name := range ti.names {
		if s.missingCol[fi] || s.wrongType("", fi) {
			continue
		}
		sel = append(sel, iotdbsink.QuoteIdent(name))
		fis = append(fis, fi)
	}
	if len(fis) == 0 {
		return nil
	}
	where := fmt.Sprintf("time >= %d AND time < %d", lo, hi)
	if dev != "" {
		for i, val := range strings.Split(dev, "\x00") {
			if val == nullTag {
				return nil // a NULL tag cannot be selected by equality
			}
			where += " AND " + iotdbsink.QuoteIdent(ti.tags[i]) + " = " + iotdbsink.QuoteString(val)
		}
	}
	sql := "SELECT " + strings.Join(sel, ", ") + " FROM " + v.tableName(ti) + " WHERE " + where
	nt := len(ti.tags)
	return v.target.Query(ctx, sql, v.queryTimeout, nil, func(r *iotdbsink.Row) error {
		t, ok := r.Values[nt].(int64)
		if !ok {
			return nil
		}
		d := tableDevice(r.Values, nt)
		for i, fi := range fis {
			x := r.Values[nt+1+i]
			if x == nil {
				continue
			}
			xv, err := iotVal(ti.types[fi], x)
			if err != nil {
				return fmt.Errorf("table %s column %s: %w", ti.name, ti.names[fi], err)
			}
			fn(d, t, fi, xv)
		}
		return nil
	})
}

// interval is the bucket as an IoTDB duration literal in server units.
func (v *verifier) interval() string { return strconv.FormatInt(v.win.bucket, 10) + v.precision }
