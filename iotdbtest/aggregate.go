package iotdbtest

import (
	"bytes"
	"fmt"
	"math"
	"strings"
)

// Aggregation core shared by the tree-model (treeagg.go) and table-model
// (tableagg.go) aggregate queries: the functions, which input types each
// accepts, their result types and how they treat NULL (docs/iotdb.md §10).
// Values are fed in time order per series; NULLs are never fed (a NULL is
// no point in the tree model and is skipped by every aggregate but
// count(*) in the table model).

type aggFunc int

const (
	aggCount aggFunc = iota
	aggSum
	aggAvg
	aggExtreme
	aggMinValue // tree min_value, table min
	aggMaxValue // tree max_value, table max
	aggFirst    // tree first_value, table first
	aggLast     // tree last_value, table last
	aggMinTime
	aggMaxTime
	aggCountAll // table count(*): rows, not values
)

// treeAggNames are the tree-model spellings (docs/iotdb.md §10.1).
var treeAggNames = map[string]aggFunc{
	"count": aggCount, "sum": aggSum, "avg": aggAvg, "extreme": aggExtreme,
	"min_value": aggMinValue, "max_value": aggMaxValue, "first_value": aggFirst,
	"last_value": aggLast, "min_time": aggMinTime, "max_time": aggMaxTime,
}

// tableAggNames are the table-model spellings (docs/iotdb.md §10.4).
var tableAggNames = map[string]aggFunc{
	"count": aggCount, "sum": aggSum, "avg": aggAvg, "extreme": aggExtreme,
	"min": aggMinValue, "max": aggMaxValue, "first": aggFirst, "last": aggLast,
}

func isNumericType(t TSDataType) bool {
	return t == INT32 || t == INT64 || t == FLOAT || t == DOUBLE
}

// treeAggCheck is the input-type check of the tree model (docs/iotdb.md
// §10.1): the SUM family and EXTREME take numeric series only; MIN_VALUE and
// MAX_VALUE also STRING, DATE and TIMESTAMP; the others any type.
func treeAggCheck(f aggFunc, t TSDataType) *statusErr {
	switch f {
	case aggSum, aggAvg, aggExtreme:
		if !isNumericType(t) {
			return stErr(codeSemanticError, "Aggregate functions [AVG, SUM, EXTREME, STDDEV, STDDEV_POP, STDDEV_SAMP, VARIANCE, VAR_POP, VAR_SAMP] only support numeric data types [INT32, INT64, FLOAT, DOUBLE]")
		}
	case aggMinValue, aggMaxValue:
		if !isNumericType(t) && t != STRING && t != DATE && t != TIMESTAMP {
			return stErr(codeSemanticError, "Aggregate functions [MIN_VALUE, MAX_VALUE] only support data types [INT32, INT64, FLOAT, DOUBLE, STRING, DATE, TIMESTAMP]")
		}
	}
	return nil
}

// tableAggCheck is the input-type check of the table model (docs/iotdb.md
// §10.4): sum, avg and extreme take numeric input only; the others any type.
func tableAggCheck(f aggFunc, name string, t TSDataType) *statusErr {
	switch f {
	case aggSum, aggAvg, aggExtreme:
		if !isNumericType(t) {
			return stErr(codeSemanticError, "Aggregate functions [%s] only support numeric data types [INT32, INT64, FLOAT, DOUBLE]", strings.ToLower(name))
		}
	}
	return nil
}

// aggResultType is the result type of f over input type t (the same in both
// models): counts and times INT64, sum and avg DOUBLE, the rest the input type.
func aggResultType(f aggFunc, t TSDataType) TSDataType {
	switch f {
	case aggCount, aggCountAll, aggMinTime, aggMaxTime:
		return INT64
	case aggSum, aggAvg:
		return DOUBLE
	}
	return t
}

// valueClass groups the stored Go types: integers (INT32, INT64, DATE,
// TIMESTAMP as int64), floats (FLOAT, DOUBLE as float64), booleans, bytes.
type valueClass int

const (
	classInt valueClass = iota
	classFloat
	classBool
	classBytes
)

func classOf(t TSDataType) valueClass {
	switch t {
	case INT32, INT64, DATE, TIMESTAMP:
		return classInt
	case FLOAT, DOUBLE:
		return classFloat
	case BOOLEAN:
		return classBool
	}
	return classBytes
}

// acc accumulates one aggregate over one group (one series and bucket in
// the tree model, one group in the table model).
type acc struct {
	n   int64
	sum float64
	has bool  // a value is held in i/f/b/bin
	t   int64 // time of the held value (first/last) or the held time (min/max_time)
	i   int64
	f   float64
	b   bool
	bin []byte
}

// feedInt feeds one non-NULL integer-class value at time t.
func (a *acc) feedInt(f aggFunc, t, v int64) { feedNumber(a, f, t, v, &a.i, absGreater) }

// feedFloat feeds one non-NULL FLOAT or DOUBLE value at time t.
func (a *acc) feedFloat(f aggFunc, t int64, v float64) {
	feedNumber(a, f, t, v, &a.f, func(v, cur float64) bool {
		return math.Abs(v) > math.Abs(cur) || (math.Abs(v) == math.Abs(cur) && v > cur)
	})
}

// feedNumber is feedInt and feedFloat; cur is the held value, wins the
// EXTREME comparison. min and max compare with < and > (a NaN never wins).
func feedNumber[T int64 | float64](a *acc, f aggFunc, t int64, v T, cur *T, wins func(v, cur T) bool) {
	switch f {
	case aggSum, aggAvg:
		a.n++
		a.sum += float64(v)
	case aggExtreme:
		a.n++
		if !a.has || wins(v, *cur) {
			*cur, a.has = v, true
		}
	default:
		feedCompared(a, f, t, v, cur, cmpOrdered[T])
	}
}

// absGreater: |v| > |cur|, or equal magnitudes and v positive (EXTREME
// returns the positive one on a tie, docs/iotdb.md §10.1).
func absGreater(v, cur int64) bool {
	av, ac := absU(v), absU(cur)
	return av > ac || (av == ac && v > cur)
}

func absU(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1
	}
	return uint64(v)
}

// feedBool feeds a BOOLEAN: false < true (table-model min and max take any type).
func (a *acc) feedBool(f aggFunc, t int64, v bool) {
	feedCompared(a, f, t, v, &a.b, func(x, y bool) int { return boolInt(x) - boolInt(y) })
}

// feedBytes feeds TEXT, STRING or BLOB; strings compare as unsigned bytes
// (docs/iotdb.md §10.1).
func (a *acc) feedBytes(f aggFunc, t int64, v []byte) {
	feedCompared(a, f, t, v, &a.bin, bytes.Compare)
}

// feedCompared is min, max, first, last and the times for a non-numeric type.
func feedCompared[T any](a *acc, f aggFunc, t int64, v T, cur *T, cmp func(x, y T) int) {
	a.n++
	better := false
	switch f {
	case aggMinValue:
		better = cmp(v, *cur) < 0
	case aggMaxValue:
		better = cmp(v, *cur) > 0
	case aggFirst:
		better = t < a.t
	case aggLast:
		better = t > a.t
	default:
		a.feedTime(f, t)
		return
	}
	if !a.has || better {
		*cur, a.t, a.has = v, t, true
	}
}

func (a *acc) feedTime(f aggFunc, t int64) {
	switch f {
	case aggMinTime:
		if !a.has || t < a.t {
			a.t, a.has = t, true
		}
	case aggMaxTime:
		if !a.has || t > a.t {
			a.t, a.has = t, true
		}
	}
}

// emit appends the result of f (input type in) to v. Only count returns a
// value for an empty group (0); every other aggregate returns NULL
// (docs/iotdb.md §10.1, §10.4).
func (a *acc) emit(v *cellVec, f aggFunc, in TSDataType) {
	switch f {
	case aggCount, aggCountAll:
		v.appendInt(a.n)
		return
	case aggSum:
		if a.n == 0 {
			v.appendNull()
		} else {
			v.appendFloat(a.sum)
		}
		return
	case aggAvg:
		if a.n == 0 {
			v.appendNull()
		} else {
			v.appendFloat(a.sum / float64(a.n))
		}
		return
	case aggMinTime, aggMaxTime:
		if !a.has {
			v.appendNull()
		} else {
			v.appendInt(a.t)
		}
		return
	}
	appendTval(v, tval{null: !a.has, i: a.i, f: a.f, b: a.b, s: a.bin})
}

// cellVec is one typed result column: integers and floats are kept widened
// (int64 / float64) and narrowed again when read, so that a large result
// costs 8 bytes a cell instead of a boxed interface value.
type cellVec struct {
	typ   TSDataType
	null  []bool
	ints  []int64
	flts  []float64
	bools []bool
	bins  [][]byte
}

func newCellVec(t TSDataType, capacity int) *cellVec {
	v := &cellVec{typ: t, null: make([]bool, 0, capacity)}
	switch classOf(t) {
	case classInt:
		v.ints = make([]int64, 0, capacity)
	case classFloat:
		v.flts = make([]float64, 0, capacity)
	case classBool:
		v.bools = make([]bool, 0, capacity)
	default:
		v.bins = make([][]byte, 0, capacity)
	}
	return v
}

func (v *cellVec) appendNull() {
	v.null = append(v.null, true)
	switch classOf(v.typ) {
	case classInt:
		v.ints = append(v.ints, 0)
	case classFloat:
		v.flts = append(v.flts, 0)
	case classBool:
		v.bools = append(v.bools, false)
	default:
		v.bins = append(v.bins, nil)
	}
}

func (v *cellVec) appendInt(x int64)     { v.null = append(v.null, false); v.ints = append(v.ints, x) }
func (v *cellVec) appendFloat(x float64) { v.null = append(v.null, false); v.flts = append(v.flts, x) }
func (v *cellVec) appendBool(x bool)     { v.null = append(v.null, false); v.bools = append(v.bools, x) }
func (v *cellVec) appendBytes(x []byte)  { v.null = append(v.null, false); v.bins = append(v.bins, x) }

func (v *cellVec) len() int { return len(v.null) }

// at returns row i as the Go value encodeTsBlock expects for v.typ, or nil.
func (v *cellVec) at(i int) any {
	if v.null[i] {
		return nil
	}
	switch v.typ {
	case INT32, DATE:
		return int32(v.ints[i])
	case INT64, TIMESTAMP:
		return v.ints[i]
	case FLOAT:
		return float32(v.flts[i])
	case DOUBLE:
		return v.flts[i]
	case BOOLEAN:
		return v.bools[i]
	}
	return v.bins[i]
}

// size is the encoded size of row i in a TsBlock (docs/iotdb.md §5.3).
func (v *cellVec) size(i int) int {
	if v.null[i] {
		return 0
	}
	switch classOf(v.typ) {
	case classBytes:
		return 4 + len(v.bins[i])
	case classBool:
		return 0
	}
	if v.typ == INT32 || v.typ == DATE || v.typ == FLOAT {
		return 4
	}
	return 8
}

// vecResult is a computed result (aggregates, counts): typed columns, an
// optional time column and an optional row order (perm) applied on read.
type vecResult struct {
	n     int
	times []int64 // nil: every time is 0 (the client ignores it)
	cols  []*cellVec
	perm  []int32 // nil: natural order
}

func (r *vecResult) row(i int) int {
	if r.perm != nil {
		return int(r.perm[i])
	}
	return i
}

func (r *vecResult) numRows() int {
	if r.perm != nil {
		return len(r.perm)
	}
	return r.n
}

func (r *vecResult) timeAt(i int) int64 {
	if r.times == nil {
		return 0
	}
	return r.times[r.row(i)]
}

func (r *vecResult) cellAt(c, i int) any { return r.cols[c].at(r.row(i)) }

func (r *vecResult) cellSize(c, i int) int { return r.cols[c].size(r.row(i)) }

// limitRows applies OFFSET m LIMIT n (n < 0: no limit) to the row order.
func (r *vecResult) limitRows(offset, limit int64) {
	if offset <= 0 && limit < 0 {
		return
	}
	if r.perm == nil {
		r.perm = make([]int32, r.n)
		for i := range r.perm {
			r.perm[i] = int32(i)
		}
	}
	if offset > 0 {
		r.perm = r.perm[min(int64(len(r.perm)), offset):]
	}
	if limit >= 0 && int64(len(r.perm)) > limit {
		r.perm = r.perm[:limit]
	}
}

// maxResultCells bounds what one aggregate query may materialise, so that a
// mistaken bucket width cannot exhaust memory (a real server would stream).
const maxResultCells = 50_000_000

func tooLarge(rows, cols int) *statusErr {
	if rows > 0 && cols > 0 && rows > maxResultCells/cols {
		return stErr(codeExecuteError, "iotdbtest: this aggregate query would produce %d rows of %d columns, more than the double materialises (%d cells); use wider buckets or a narrower time range", rows, cols, maxResultCells)
	}
	return nil
}

// parseDuration parses an IoTDB duration literal such as 1d, 12h, 1h30m,
// 500ms (units w, d, h, m, s, ms, us/µs, ns; case-insensitive) into the
// server's timestamp precision. Natural months and years (mo, y) are not
// fixed lengths and are not emulated (docs/iotdb.md §10.2).
func parseDuration(s, precision string) (int64, error) {
	var unitNs int64
	switch precision {
	case "us":
		unitNs = 1_000
	case "ns":
		unitNs = 1
	default:
		unitNs = 1_000_000
	}
	low := strings.ToLower(s)
	var totalNs int64
	i := 0
	if low == "" {
		return 0, fmt.Errorf("empty duration")
	}
	for i < len(low) {
		j := i
		for j < len(low) && low[j] >= '0' && low[j] <= '9' {
			j++
		}
		if j == i {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		var n int64
		for _, c := range low[i:j] {
			n = n*10 + int64(c-'0')
			if n > 1e15 {
				return 0, fmt.Errorf("duration %q is too large", s)
			}
		}
		k := j
		for k < len(low) && !(low[k] >= '0' && low[k] <= '9') {
			k++
		}
		var u int64
		switch low[j:k] {
		case "w":
			u = 7 * 86_400_000_000_000
		case "d":
			u = 86_400_000_000_000
		case "h":
			u = 3_600_000_000_000
		case "m":
			u = 60_000_000_000
		case "s":
			u = 1_000_000_000
		case "ms":
			u = 1_000_000
		case "us", "µs":
			u = 1_000
		case "ns":
			u = 1
		case "mo", "y":
			return 0, fmt.Errorf("natural months and years (%q) are not emulated by iotdbtest", s)
		default:
			return 0, fmt.Errorf("bad duration unit in %q", s)
		}
		if n > math.MaxInt64/u || totalNs > math.MaxInt64-n*u {
			return 0, fmt.Errorf("duration %q is too large", s)
		}
		totalNs += n * u
		i = k
	}
	if totalNs%unitNs != 0 {
		return 0, fmt.Errorf("duration %q is finer than the timestamp precision %s", s, precision)
	}
	return totalNs / unitNs, nil
}
