package iotdbtest

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Tree-model aggregate queries (docs/iotdb.md §10.1–§10.3):
//
//	SELECT f(m|*)[, ...] FROM <pattern>[, ...] [WHERE time ...]
//	  [GROUP BY ([t1, t2), interval) | GROUP BY ((t1, t2], interval)]
//	  [LIMIT n] [OFFSET m] [ALIGN BY DEVICE | ALIGN BY TIME]
//	COUNT TIMESERIES [<pattern>] [GROUP BY LEVEL = n]
//	COUNT DEVICES [<pattern>]
//
// f is count, sum, avg, extreme, min_value, max_value, first_value,
// last_value, min_time or max_time; its argument is a series suffix (a
// measurement, or a path under each FROM pattern in ALIGN BY TIME) or *.

// aggQuery is a parsed aggregate statement; run executes it with the store
// lock held.
type aggQuery interface {
	run(s *store, sess *session, o writeOpts) execResult
}

type treeAggItem struct {
	fn     aggFunc
	name   string   // lower-case function name, as printed in column names
	suffix []string // nodes below each FROM pattern; ["*"] for *
}

type treeAggQuery struct {
	items    []treeAggItem
	from     [][]string
	tr       timeRange
	group    *timeBuckets
	byDevice bool
	limit    int64
	offset   int64
}

// timeBuckets is GROUP BY ([start, end), interval) or ((start, end], interval).
type timeBuckets struct {
	start, end int64
	leftOpen   bool
	interval   string // as written; converted at run time (precision)
}

// parseTreeAggregate parses a tree aggregate statement. ok is false when the
// statement is not one (it is left to the older parser).
func parseTreeAggregate(toks []token) (st *stmt, ok bool, err error) {
	if len(toks) >= 2 && toks[0].is("count") && (toks[1].is("timeseries") || toks[1].is("devices")) {
		return parseCountSchema(toks)
	}
	if len(toks) < 3 || !toks[0].is("select") || toks[1].kind != tkWord || toks[2].kind != tkPunct || toks[2].s != "(" {
		return nil, false, nil
	}
	p := &parser{toks: toks, pos: 1}
	q := &treeAggQuery{tr: fullRange(), limit: -1}
	for {
		name := strings.ToLower(p.next().s)
		fn, known := treeAggNames[name]
		if !known {
			return nil, true, fmt.Errorf("iotdbtest emulates only the aggregate functions count, sum, avg, extreme, min_value, max_value, first_value, last_value, min_time and max_time in tree queries, not %s", name)
		}
		p.acceptPunct("(")
		arg, err := p.word()
		if err != nil {
			return nil, true, err
		}
		if !p.acceptPunct(")") {
			return nil, true, fmt.Errorf("iotdbtest accepts only a series suffix or * inside %s(...), near %q", name, p.peek().s)
		}
		item := treeAggItem{fn: fn, name: name}
		if arg == "*" {
			item.suffix = []string{"*"}
		} else {
			nodes, err := splitPath("root."+arg, true)
			if err != nil {
				return nil, true, err
			}
			item.suffix = nodes[1:]
		}
		q.items = append(q.items, item)
		if p.accept("as") {
			return nil, true, fmt.Errorf("aliases are not emulated by iotdbtest in tree aggregate queries")
		}
		if !p.acceptPunct(",") {
			break
		}
		if t := p.peek(); t.kind != tkWord || p.pos+1 >= len(p.toks) || p.toks[p.pos+1].s != "(" {
			return nil, true, fmt.Errorf("iotdbtest does not emulate queries mixing aggregates and raw series (near %q)", t.s)
		}
	}
	if err := p.expect("from"); err != nil {
		return nil, true, err
	}
	for {
		w, err := p.word()
		if err != nil {
			return nil, true, err
		}
		nodes, err := splitPath(w, true)
		if err != nil {
			return nil, true, err
		}
		q.from = append(q.from, nodes)
		if !p.acceptPunct(",") {
			break
		}
	}
	if p.accept("where") {
		w, err := p.parseWhere(false)
		if err != nil {
			return nil, true, err
		}
		if w.hasOr {
			return nil, true, fmt.Errorf("OR is not supported by iotdbtest queries")
		}
		q.tr = w.tr
	}
	if p.accept("group") {
		if err := p.expect("by"); err != nil {
			return nil, true, err
		}
		g, err := p.parseGroupByTime()
		if err != nil {
			return nil, true, err
		}
		q.group = g
	}
	for !p.eof() {
		switch {
		case p.accept("limit"):
			if q.limit, err = p.nonNegative("LIMIT"); err != nil {
				return nil, true, err
			}
		case p.accept("offset"):
			if q.offset, err = p.nonNegative("OFFSET"); err != nil {
				return nil, true, err
			}
		case p.accept("align"):
			if err := p.expect("by"); err != nil {
				return nil, true, err
			}
			switch {
			case p.accept("device"):
				q.byDevice = true
			case p.accept("time"):
			default:
				return nil, true, fmt.Errorf("expected DEVICE or TIME after ALIGN BY")
			}
		default:
			return nil, true, fmt.Errorf("iotdbtest does not emulate %q in tree aggregate queries (supported: WHERE time, GROUP BY ([t1, t2), interval), LIMIT, OFFSET, ALIGN BY DEVICE)", p.peek().s)
		}
	}
	return &stmt{kind: stAggregate, agg: q}, true, nil
}

func (p *parser) nonNegative(what string) (int64, error) {
	w, err := p.word()
	if err != nil {
		return 0, err
	}
	n, err := parseInt64(w)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad %s %q", what, w)
	}
	return n, nil
}

// parseGroupByTime parses ([t1, t2), interval[, step]) or ((t1, t2], interval[, step]).
// The tokenizer keeps brackets inside words: "[0", "100]".
func (p *parser) parseGroupByTime() (*timeBuckets, error) {
	if p.peek().is("level") || p.peek().is("tags") || p.peek().is("variation") || p.peek().is("condition") || p.peek().is("session") || p.peek().is("count") {
		return nil, fmt.Errorf("iotdbtest emulates only GROUP BY time windows, not GROUP BY %s", strings.ToUpper(p.peek().s))
	}
	if !p.acceptPunct("(") {
		return nil, fmt.Errorf("expected ( after GROUP BY")
	}
	g := &timeBuckets{}
	first := ""
	if p.acceptPunct("(") {
		g.leftOpen = true
		w, err := p.word()
		if err != nil {
			return nil, err
		}
		first = w
	} else {
		w, err := p.word()
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(w, "[") {
			return nil, fmt.Errorf("expected [t1, t2) or (t1, t2] in GROUP BY, got %q", w)
		}
		first = strings.TrimPrefix(w, "[")
		if first == "" {
			if first, err = p.word(); err != nil {
				return nil, err
			}
		}
	}
	var err error
	if g.start, err = groupTime(first); err != nil {
		return nil, err
	}
	if !p.acceptPunct(",") {
		return nil, fmt.Errorf("expected , in the GROUP BY time range")
	}
	second, err := p.word()
	if err != nil {
		return nil, err
	}
	if g.leftOpen {
		if !strings.HasSuffix(second, "]") {
			if w := p.peek(); w.kind == tkWord && w.s == "]" {
				p.next()
			} else {
				return nil, fmt.Errorf("expected ] after the end of a left-open GROUP BY range")
			}
		}
		second = strings.TrimSuffix(second, "]")
	} else if !p.acceptPunct(")") {
		return nil, fmt.Errorf("expected ) after the end of a GROUP BY range")
	}
	if g.end, err = groupTime(second); err != nil {
		return nil, err
	}
	if !p.acceptPunct(",") {
		return nil, fmt.Errorf("expected , and an interval in GROUP BY")
	}
	if g.interval, err = p.word(); err != nil {
		return nil, err
	}
	if p.acceptPunct(",") {
		step, err := p.word()
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(step, g.interval) {
			return nil, fmt.Errorf("sliding steps different from the interval are not emulated by iotdbtest")
		}
	}
	if !p.acceptPunct(")") {
		return nil, fmt.Errorf("expected ) to close GROUP BY")
	}
	return g, nil
}

func groupTime(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("iotdbtest accepts only integer timestamps in GROUP BY, got %q", s)
	}
	return v, nil
}

// window is one output row's time window: data in [lo, hi] counts; t is the
// value of the Time column.
type window struct{ lo, hi, t int64 }

// windows returns the GROUP BY windows (docs/iotdb.md §10.2): consecutive
// intervals from the range start, the last one cut at the range end;
// left-closed windows show their start time, left-open ones their end time.
func (g *timeBuckets) windows(precision string) ([]window, *statusErr) {
	iv, err := parseDuration(g.interval, precision)
	if err != nil {
		code := codeSemanticError
		if strings.Contains(err.Error(), "not emulated") {
			code = codeSQLParseError
		}
		return nil, stErr(code, "%s", err.Error())
	}
	if iv <= 0 {
		return nil, stErr(codeSemanticError, "The second parameter time interval should be a positive integer.")
	}
	if g.start >= g.end {
		return nil, stErr(codeSemanticError, "Start time should be smaller than endTime in GroupBy")
	}
	n := (uint64(g.end-g.start) + uint64(iv) - 1) / uint64(iv)
	if n > maxResultCells {
		return nil, stErr(codeExecuteError, "iotdbtest: GROUP BY would produce %d windows, more than the double materialises", n)
	}
	out := make([]window, 0, n)
	for s := g.start; s < g.end; {
		e := g.end
		if iv < g.end-s {
			e = s + iv
		}
		if g.leftOpen {
			out = append(out, window{lo: s + 1, hi: e, t: e})
		} else {
			out = append(out, window{lo: s, hi: e - 1, t: s})
		}
		if e == g.end {
			break
		}
		s = e
	}
	return out, nil
}

// treeCol is one output column of an ALIGN BY DEVICE query, or one
// (aggregate, series) column of an ALIGN BY TIME query.
type treeCol struct {
	item int
	meas string  // ALIGN BY DEVICE: the measurement
	sr   *series // ALIGN BY TIME: the series
	typ  TSDataType
}

func (q *treeAggQuery) run(s *store, sess *session, o writeOpts) execResult {
	if sess.dialect == "table" {
		return fail(codeSemanticError, "tree aggregate syntax in a table-model session")
	}
	wins := []window{{lo: q.tr.lo, hi: q.tr.hi}}
	if q.group != nil {
		w, e := q.group.windows(o.precision)
		if e != nil {
			return execResult{st: e}
		}
		wins = w
	}
	// the WHERE time filter narrows every window
	for i := range wins {
		wins[i].lo, wins[i].hi = max(wins[i].lo, q.tr.lo), min(wins[i].hi, q.tr.hi)
	}
	if q.byDevice {
		return q.runByDevice(s, wins)
	}
	return q.runByTime(s, wins)
}

// eachDevice calls fn once for every device under one of the FROM patterns
// (the store's path index narrows the candidates: index.go).
func (q *treeAggQuery) eachDevice(s *store, fn func(*device)) {
	seen := map[*device]bool{}
	for _, pat := range q.from {
		s.devicesMatching(pat, func(d *device) {
			if !seen[d] {
				seen[d] = true
				fn(d)
			}
		})
	}
}

func (q *treeAggQuery) runByDevice(s *store, wins []window) execResult {
	for _, it := range q.items {
		if len(it.suffix) != 1 {
			return fail(codeSemanticError, "ALIGN BY DEVICE: the paths in the SELECT clause can only be measurements or *, not %s", strings.Join(it.suffix, "."))
		}
	}
	// devices with at least one selected series; the columns: literal
	// measurements in SELECT order, * expanded to every matched measurement
	// sorted by name (docs/iotdb.md §10.3)
	var devs []*device
	starMeas := map[string]bool{}
	q.eachDevice(s, func(d *device) {
		hit := false
		for _, it := range q.items {
			if it.suffix[0] == "*" {
				if len(d.order) > 0 {
					hit = true
					for _, sr := range d.order {
						starMeas[sr.name] = true
					}
				}
			} else if d.series[it.suffix[0]] != nil {
				hit = true
			}
		}
		if hit {
			devs = append(devs, d)
		}
	})
	if len(devs) == 0 {
		return execResult{rs: &resultSet{ignoreTime: true}}
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].path < devs[j].path })
	stars := make([]string, 0, len(starMeas))
	for m := range starMeas {
		stars = append(stars, m)
	}
	sort.Strings(stars)
	var cols []treeCol
	for i, it := range q.items {
		if it.suffix[0] == "*" {
			for _, m := range stars {
				cols = append(cols, treeCol{item: i, meas: m})
			}
		} else {
			cols = append(cols, treeCol{item: i, meas: it.suffix[0]})
		}
	}
	// type checks and the column types, equal across devices
	for ci := range cols {
		c := &cols[ci]
		it := q.items[c.item]
		set := false
		for _, d := range devs {
			sr := d.series[c.meas]
			if sr == nil {
				continue
			}
			if e := treeAggCheck(it.fn, sr.dtype); e != nil {
				return execResult{st: e}
			}
			rt := aggResultType(it.fn, sr.dtype)
			if set && rt != c.typ {
				return fail(codeSemanticError, "ALIGN BY DEVICE: the data types of the same measurement column should be the same across devices.")
			}
			c.typ, set = rt, true
		}
	}
	rows := len(devs) * len(wins)
	if e := tooLarge(rows, len(cols)+1); e != nil {
		return execResult{st: e}
	}
	res := &vecResult{n: rows}
	if q.group != nil {
		res.times = make([]int64, 0, rows)
	}
	devCol := newCellVec(TEXT, rows)
	res.cols = append(res.cols, devCol)
	vecs := make([]*cellVec, len(cols))
	for ci, c := range cols {
		vecs[ci] = newCellVec(c.typ, rows)
		res.cols = append(res.cols, vecs[ci])
	}
	for _, d := range devs {
		name := []byte(d.path)
		for _, w := range wins {
			devCol.appendBytes(name)
			if res.times != nil {
				res.times = append(res.times, w.t)
			}
			for ci, c := range cols {
				sr := d.series[c.meas]
				if sr == nil {
					vecs[ci].appendNull() // a measurement the device does not have
					continue
				}
				var a acc
				aggregateSeries(sr, q.items[c.item].fn, w.lo, w.hi, &a)
				a.emit(vecs[ci], q.items[c.item].fn, sr.dtype)
			}
		}
	}
	res.limitRows(q.offset, q.limit)
	rs := &resultSet{ignoreTime: q.group == nil, src: res, names: []string{"Device"}, types: []TSDataType{TEXT}}
	for _, c := range cols {
		rs.names = append(rs.names, q.items[c.item].name+"("+c.meas+")")
		rs.types = append(rs.types, c.typ)
	}
	return execResult{rs: rs}
}

func (q *treeAggQuery) runByTime(s *store, wins []window) execResult {
	var cols []treeCol
	var nodes []string
	for i, it := range q.items {
		fulls := make([][]string, len(q.from))
		for k, pat := range q.from {
			fulls[k] = append(slices.Clip(pat), it.suffix...)
		}
		seen := map[*series]bool{}
		var matched []*series
		for _, full := range fulls {
			s.seriesCandidates(full, func(d *device) {
				for _, sr := range d.order {
					if seen[sr] {
						continue
					}
					nodes = append(append(nodes[:0], d.nodes...), sr.name)
					if matchPattern(full, nodes) {
						seen[sr] = true
						matched = append(matched, sr)
					}
				}
			})
		}
		sort.Slice(matched, func(a, b int) bool { return matched[a].path < matched[b].path })
		for _, sr := range matched {
			if e := treeAggCheck(it.fn, sr.dtype); e != nil {
				return execResult{st: e}
			}
			cols = append(cols, treeCol{item: i, sr: sr, typ: aggResultType(it.fn, sr.dtype)})
		}
	}
	if len(cols) == 0 {
		return execResult{rs: &resultSet{ignoreTime: true}}
	}
	if e := tooLarge(len(wins), len(cols)); e != nil {
		return execResult{st: e}
	}
	res := &vecResult{n: len(wins)}
	if q.group != nil {
		res.times = make([]int64, len(wins))
		for i, w := range wins {
			res.times[i] = w.t
		}
	}
	rs := &resultSet{ignoreTime: q.group == nil, src: res}
	for _, c := range cols {
		fn := q.items[c.item].fn
		v := newCellVec(c.typ, len(wins))
		for _, w := range wins {
			var a acc
			aggregateSeries(c.sr, fn, w.lo, w.hi, &a)
			a.emit(v, fn, c.sr.dtype)
		}
		res.cols = append(res.cols, v)
		rs.names = append(rs.names, q.items[c.item].name+"("+c.sr.path+")")
		rs.types = append(rs.types, c.typ)
	}
	res.limitRows(q.offset, q.limit)
	return execResult{rs: rs}
}

// aggregateSeries feeds the points of sr with lo <= t <= hi into a, reading
// the series' own sorted slices (no copy).
func aggregateSeries(sr *series, f aggFunc, lo, hi int64, a *acc) {
	if lo > hi {
		return
	}
	switch d := sr.data.(type) {
	case *pointsOf[int32]:
		d.merge()
		feedRange(a, f, d.t, d.v, lo, hi, func(a *acc, t int64, v int32) { a.feedInt(f, t, int64(v)) })
	case *pointsOf[int64]:
		d.merge()
		feedRange(a, f, d.t, d.v, lo, hi, func(a *acc, t int64, v int64) { a.feedInt(f, t, v) })
	case *pointsOf[float32]:
		d.merge()
		feedRange(a, f, d.t, d.v, lo, hi, func(a *acc, t int64, v float32) { a.feedFloat(f, t, float64(v)) })
	case *pointsOf[float64]:
		d.merge()
		feedRange(a, f, d.t, d.v, lo, hi, func(a *acc, t int64, v float64) { a.feedFloat(f, t, v) })
	case *pointsOf[bool]:
		d.merge()
		feedRange(a, f, d.t, d.v, lo, hi, func(a *acc, t int64, v bool) { a.feedBool(f, t, v) })
	case *pointsOf[[]byte]:
		d.merge()
		feedRange(a, f, d.t, d.v, lo, hi, func(a *acc, t int64, v []byte) { a.feedBytes(f, t, v) })
	}
}

// feedRange feeds ts/vs[i:j] for the window; count, first, last and the
// time aggregates need at most two points.
func feedRange[T any](a *acc, f aggFunc, ts []int64, vs []T, lo, hi int64, feed func(*acc, int64, T)) {
	i, _ := slices.BinarySearch(ts, lo)
	j := len(ts)
	if hi < math.MaxInt64 {
		j, _ = slices.BinarySearch(ts, hi+1)
	}
	if i >= j {
		return
	}
	switch f {
	case aggCount:
		a.n += int64(j - i)
	case aggFirst, aggMinTime:
		feed(a, ts[i], vs[i])
	case aggLast, aggMaxTime:
		feed(a, ts[j-1], vs[j-1])
	default:
		for k := i; k < j; k++ {
			feed(a, ts[k], vs[k])
		}
	}
}

// countSchema is COUNT TIMESERIES / COUNT DEVICES (docs/iotdb.md §10.3).
type countSchema struct {
	devices bool
	pattern []string
	level   int // -1: no GROUP BY LEVEL
}

func parseCountSchema(toks []token) (*stmt, bool, error) {
	p := &parser{toks: toks, pos: 1}
	q := &countSchema{level: -1, pattern: []string{"root", "**"}}
	q.devices = p.next().is("devices")
	if t := p.peek(); t.kind == tkWord && !t.is("group") && !t.is("where") {
		nodes, err := splitPath(t.s, true)
		if err != nil {
			return nil, true, err
		}
		q.pattern = nodes
		p.next()
	}
	if !q.devices && p.accept("group") {
		if err := p.expect("by"); err != nil {
			return nil, true, err
		}
		if err := p.expect("level"); err != nil {
			return nil, true, err
		}
		if t := p.next(); t.kind != tkOp || t.s != "=" {
			return nil, true, fmt.Errorf("expected = after LEVEL")
		}
		lv, err := p.nonNegative("LEVEL")
		if err != nil {
			return nil, true, err
		}
		q.level = int(lv)
	}
	if !p.eof() {
		return nil, true, fmt.Errorf("iotdbtest does not emulate %q in COUNT TIMESERIES / COUNT DEVICES", p.peek().s)
	}
	return &stmt{kind: stAggregate, agg: q}, true, nil
}

func (q *countSchema) run(s *store, sess *session, o writeOpts) execResult {
	if sess.dialect == "table" {
		return fail(codeSemanticError, "COUNT TIMESERIES / COUNT DEVICES are tree-model statements")
	}
	rs := &resultSet{ignoreTime: true}
	if q.devices {
		var n int64
		s.devicesMatching(q.pattern, func(*device) { n++ })
		rs.names, rs.types = []string{"count(devices)"}, []TSDataType{INT64}
		rs.times, rs.cols = []int64{0}, [][]any{{n}}
		return execResult{rs: rs}
	}
	var total int64
	levels := map[string]int64{}
	var nodes []string
	s.seriesCandidates(q.pattern, func(d *device) {
		for _, sr := range d.order {
			nodes = append(append(nodes[:0], d.nodes...), sr.name)
			if !matchPattern(q.pattern, nodes) {
				continue
			}
			total++
			if q.level >= 0 && len(nodes) > q.level {
				levels[strings.Join(nodes[:q.level+1], ".")]++
			}
		}
	})
	if q.level < 0 {
		rs.names, rs.types = []string{"count(timeseries)"}, []TSDataType{INT64}
		rs.times, rs.cols = []int64{0}, [][]any{{total}}
		return execResult{rs: rs}
	}
	keys := make([]string, 0, len(levels))
	for k := range levels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rs.names, rs.types = []string{"Column", "count(timeseries)"}, []TSDataType{TEXT, INT64}
	rs.cols = make([][]any, 2)
	for _, k := range keys {
		rs.times = append(rs.times, 0)
		rs.cols[0] = append(rs.cols[0], k)
		rs.cols[1] = append(rs.cols[1], levels[k])
	}
	return execResult{rs: rs}
}
