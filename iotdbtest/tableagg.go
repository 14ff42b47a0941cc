package iotdbtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Table-model aggregate queries (docs/iotdb.md §10.4, §10.5):
//
//	SELECT item[, ...] FROM t [WHERE cond [AND cond ...]]
//	  [GROUP BY key[, ...]] [ORDER BY sortkey [ASC|DESC] [NULLS FIRST|LAST][, ...]]
//	  [LIMIT n] [OFFSET m]
//
// item is an aggregate (count(*), count, sum, avg, min, max, first, last,
// extreme) over an expression, or a GROUP BY key; [AS] alias allowed. A key
// is a TAG or ATTRIBUTE column, date_bin(interval, time[, origin]) or the
// 1-based position of a select item. Expressions: columns, integer, float
// and string literals, + - * / % on numbers, unary -, cast(e AS type),
// crc32(e) and the byte encodings to_big_endian_32/64 and to_ieee754_32/64.
// cond is time <op> integer or tag/attribute = 'string'.

func parseAggregate(sql string, toks []token, dialect string) (*stmt, bool, error) {
	if dialect == "table" {
		return parseTableAggregate(sql)
	}
	return parseTreeAggregate(toks)
}

// ---- tokens ----

type ttKind int

const (
	ttIdent ttKind = iota // name; quoted names keep quoted=true
	ttNum                 // 12, 1.5, 1d, 1h30m
	ttStr                 // 'text'
	ttSym                 // ( ) , ; . * + - / % = <> != < <= > >=
)

type ttok struct {
	kind   ttKind
	s      string
	quoted bool
}

func tableTokens(sql string) ([]ttok, error) {
	var out []ttok
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(sql) {
					return nil, fmt.Errorf("unterminated %c at %d", c, i)
				}
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(sql[j])
				j++
			}
			if c == '\'' {
				out = append(out, ttok{kind: ttStr, s: b.String()})
			} else {
				out = append(out, ttok{kind: ttIdent, s: b.String(), quoted: true})
			}
			i = j + 1
		case c >= '0' && c <= '9':
			j := i
			for j < len(sql) && (isAlnum(sql[j]) || sql[j] >= 0x80 || (sql[j] == '.' && j+1 < len(sql) && sql[j+1] >= '0' && sql[j+1] <= '9')) {
				j++
			}
			out = append(out, ttok{kind: ttNum, s: sql[i:j]})
			i = j
		case isAlnum(c) || c >= 0x80:
			j := i
			for j < len(sql) && (isAlnum(sql[j]) || sql[j] >= 0x80) {
				j++
			}
			out = append(out, ttok{kind: ttIdent, s: sql[i:j]})
			i = j
		default:
			if i+1 < len(sql) {
				if two := sql[i : i+2]; two == "<=" || two == ">=" || two == "<>" || two == "!=" {
					out = append(out, ttok{kind: ttSym, s: two})
					i += 2
					continue
				}
			}
			if !strings.ContainsRune("(),;.*+-/%=<>", rune(c)) {
				return nil, fmt.Errorf("unexpected %q at %d", c, i)
			}
			out = append(out, ttok{kind: ttSym, s: string(c)})
			i++
		}
	}
	for len(out) > 0 && out[len(out)-1].kind == ttSym && out[len(out)-1].s == ";" {
		out = out[:len(out)-1]
	}
	return out, nil
}

func isAlnum(c byte) bool {
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

type tparser struct {
	toks []ttok
	pos  int
}

func (p *tparser) peek() ttok {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ttok{kind: ttSym}
}

func (p *tparser) next() ttok { t := p.peek(); p.pos++; return t }
func (p *tparser) eof() bool  { return p.pos >= len(p.toks) }

// kw accepts an unquoted keyword.
func (p *tparser) kw(w string) bool {
	if t := p.peek(); t.kind == ttIdent && !t.quoted && strings.EqualFold(t.s, w) {
		p.pos++
		return true
	}
	return false
}

func (p *tparser) sym(s string) bool {
	if t := p.peek(); t.kind == ttSym && t.s == s {
		p.pos++
		return true
	}
	return false
}

func (p *tparser) expectSym(s string) error {
	if !p.sym(s) {
		return fmt.Errorf("expected %s near %q", s, p.peek().s)
	}
	return nil
}

// ---- expressions ----

type texprKind int

const (
	eCol texprKind = iota
	eInt
	eFloat
	eStr
	eNeg
	eBin
	eCast
	eCall // crc32, to_big_endian_32/64, to_ieee754_32/64
	eAgg
	eDateBin
)

type texpr struct {
	kind   texprKind
	name   string // column (lower case), operator, function or cast type
	args   []*texpr
	ival   int64
	fval   float64
	sval   string
	fn     aggFunc // eAgg
	star   bool    // count(*)
	origin int64   // eDateBin
	// bound
	typ TSDataType
	col *tcol // eCol; nil for time
	tag int   // eCol on a TAG: index in table.tags, else -1
}

// text is a canonical spelling, used to match select items with GROUP BY
// and ORDER BY keys.
func (e *texpr) text() string {
	switch e.kind {
	case eCol:
		return e.name
	case eInt:
		return strconv.FormatInt(e.ival, 10)
	case eFloat:
		return strconv.FormatFloat(e.fval, 'g', -1, 64)
	case eStr:
		return "'" + e.sval + "'"
	case eNeg:
		return "-(" + e.args[0].text() + ")"
	case eBin:
		return "(" + e.args[0].text() + e.name + e.args[1].text() + ")"
	case eCast:
		return "cast(" + e.args[0].text() + " as " + e.name + ")"
	case eDateBin:
		return "date_bin(" + strings.ToLower(e.sval) + "," + e.args[0].text() + "," + strconv.FormatInt(e.origin, 10) + ")"
	case eAgg:
		if e.star {
			return e.name + "(*)"
		}
		return e.name + "(" + e.args[0].text() + ")"
	}
	return e.name + "(" + e.args[0].text() + ")"
}

func (p *tparser) expr() (*texpr, error) { return p.binary(p.term, "+", "-") }

func (p *tparser) term() (*texpr, error) { return p.binary(p.unary, "*", "/", "%") }

// binary parses operand (op operand)*, left-associative.
func (p *tparser) binary(operand func() (*texpr, error), ops ...string) (*texpr, error) {
	l, err := operand()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != ttSym || !slices.Contains(ops, t.s) {
			return l, nil
		}
		p.next()
		r, err := operand()
		if err != nil {
			return nil, err
		}
		l = &texpr{kind: eBin, name: t.s, args: []*texpr{l, r}}
	}
}

func (p *tparser) unary() (*texpr, error) {
	if p.sym("-") {
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		if e.kind == eInt {
			e.ival = -e.ival
			return e, nil
		}
		if e.kind == eFloat {
			e.fval = -e.fval
			return e, nil
		}
		return &texpr{kind: eNeg, args: []*texpr{e}}, nil
	}
	return p.primary()
}

func (p *tparser) primary() (*texpr, error) {
	t := p.next()
	switch t.kind {
	case ttNum:
		if v, err := strconv.ParseInt(t.s, 10, 64); err == nil {
			return &texpr{kind: eInt, ival: v}, nil
		}
		if v, err := strconv.ParseFloat(t.s, 64); err == nil {
			return &texpr{kind: eFloat, fval: v}, nil
		}
		return nil, fmt.Errorf("iotdbtest does not emulate the literal %q here", t.s)
	case ttStr:
		return &texpr{kind: eStr, sval: t.s}, nil
	case ttSym:
		if t.s == "(" {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			return e, p.expectSym(")")
		}
		return nil, fmt.Errorf("unexpected %q", t.s)
	}
	name := t.s
	if t.quoted || !p.sym("(") {
		if !t.quoted {
			name = strings.ToLower(name)
		}
		return &texpr{kind: eCol, name: name, tag: -1}, nil
	}
	fname := strings.ToLower(name)
	switch fname {
	case "cast":
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if !p.kw("as") {
			return nil, fmt.Errorf("expected AS in cast")
		}
		tt := p.next()
		typ, ok := typeByName(strings.ToUpper(tt.s))
		if tt.kind != ttIdent || !ok {
			return nil, fmt.Errorf("unknown type %q in cast", tt.s)
		}
		return &texpr{kind: eCast, name: typeName(typ), typ: typ, args: []*texpr{e}}, p.expectSym(")")
	case "date_bin":
		iv := p.next()
		if iv.kind != ttNum {
			return nil, fmt.Errorf("date_bin needs an interval such as 1d first, got %q", iv.s)
		}
		if err := p.expectSym(","); err != nil {
			return nil, err
		}
		src, err := p.expr()
		if err != nil {
			return nil, err
		}
		e := &texpr{kind: eDateBin, sval: iv.s, args: []*texpr{src}}
		if p.sym(",") {
			o, err := p.expr()
			if err != nil {
				return nil, err
			}
			if o.kind != eInt {
				return nil, fmt.Errorf("iotdbtest accepts only an integer timestamp as the origin of date_bin")
			}
			e.origin = o.ival
		}
		return e, p.expectSym(")")
	case "crc32", "to_big_endian_32", "to_big_endian_64", "to_ieee754_32", "to_ieee754_64":
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		return &texpr{kind: eCall, name: fname, args: []*texpr{e}}, p.expectSym(")")
	}
	fn, ok := tableAggNames[fname]
	if !ok {
		return nil, fmt.Errorf("iotdbtest does not emulate the function %s in table queries (it emulates count, sum, avg, min, max, first, last, extreme, date_bin, cast, crc32, to_big_endian_32/64, to_ieee754_32/64)", fname)
	}
	if p.kw("distinct") {
		return nil, fmt.Errorf("iotdbtest does not emulate DISTINCT aggregates")
	}
	if p.sym("*") {
		if fn != aggCount {
			return nil, fmt.Errorf("only COUNT can take *")
		}
		return &texpr{kind: eAgg, name: fname, fn: aggCountAll, star: true}, p.expectSym(")")
	}
	arg, err := p.expr()
	if err != nil {
		return nil, err
	}
	return &texpr{kind: eAgg, name: fname, fn: fn, args: []*texpr{arg}}, p.expectSym(")")
}

// ---- statement ----

type tselItem struct {
	e     *texpr
	alias string
}

type tsortKey struct {
	e          *texpr
	ordinal    int // 1-based select position, 0: by expression
	desc       bool
	nullsFirst bool
}

type tableAggQuery struct {
	items   []tselItem
	table   string
	pred    tablePred
	groupBy []*texpr
	groupOr []int // GROUP BY by select position (1-based), parallel to groupBy (0 = expression)
	order   []tsortKey
	limit   int64
	offset  int64
}

func hasAgg(e *texpr) bool {
	if e.kind == eAgg {
		return true
	}
	for _, a := range e.args {
		if hasAgg(a) {
			return true
		}
	}
	return false
}

// parseTableAggregate parses a table-model SELECT; ok is false when it is
// not an aggregate query (plain SELECTs go to the older parser).
func parseTableAggregate(sql string) (*stmt, bool, error) {
	toks, err := tableTokens(sql)
	if err != nil || len(toks) == 0 || !(toks[0].kind == ttIdent && strings.EqualFold(toks[0].s, "select")) {
		return nil, false, nil
	}
	q, err := parseTableSelect(toks)
	if err != nil {
		// claim the statement only if it looks like an aggregate query
		for i := 1; i+1 < len(toks); i++ {
			if toks[i].kind == ttIdent && strings.EqualFold(toks[i].s, "from") {
				break
			}
			if toks[i].kind == ttIdent && !toks[i].quoted && toks[i+1].kind == ttSym && toks[i+1].s == "(" {
				return nil, true, err
			}
		}
		return nil, false, nil
	}
	agg := len(q.groupBy) > 0
	for _, it := range q.items {
		agg = agg || hasAgg(it.e)
	}
	if !agg {
		return nil, false, nil
	}
	return &stmt{kind: stAggregate, agg: q}, true, nil
}

func parseTableSelect(toks []ttok) (*tableAggQuery, error) {
	p := &tparser{toks: toks, pos: 1}
	q := &tableAggQuery{limit: -1, pred: tablePred{lo: math.MinInt64, hi: math.MaxInt64, eq: map[string]string{}}}
	for {
		if p.peek().kind == ttSym && p.peek().s == "*" {
			return nil, fmt.Errorf("SELECT * is not an aggregate query")
		}
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		it := tselItem{e: e}
		if p.kw("as") || (p.peek().kind == ttIdent && !isClauseWord(p.peek())) {
			a := p.next()
			if a.kind != ttIdent {
				return nil, fmt.Errorf("expected an alias after AS")
			}
			it.alias = a.s
			if !a.quoted {
				it.alias = strings.ToLower(a.s)
			}
		}
		q.items = append(q.items, it)
		if !p.sym(",") {
			break
		}
	}
	if !p.kw("from") {
		return nil, fmt.Errorf("expected FROM near %q", p.peek().s)
	}
	name := p.next()
	if name.kind != ttIdent {
		return nil, fmt.Errorf("expected a table name")
	}
	q.table = name.s
	if p.sym(".") {
		t2 := p.next()
		q.table = name.s + "." + t2.s
	}
	if p.kw("where") {
		if err := p.where(&q.pred); err != nil {
			return nil, err
		}
	}
	if p.kw("group") {
		if !p.kw("by") {
			return nil, fmt.Errorf("expected BY after GROUP")
		}
		for {
			if t := p.peek(); t.kind == ttNum {
				n, err := strconv.Atoi(t.s)
				if err != nil {
					return nil, fmt.Errorf("bad GROUP BY position %q", t.s)
				}
				p.next()
				q.groupBy, q.groupOr = append(q.groupBy, nil), append(q.groupOr, n)
			} else {
				e, err := p.expr()
				if err != nil {
					return nil, err
				}
				q.groupBy, q.groupOr = append(q.groupBy, e), append(q.groupOr, 0)
			}
			if !p.sym(",") {
				break
			}
		}
	}
	if p.kw("having") {
		return nil, fmt.Errorf("iotdbtest does not emulate HAVING")
	}
	if p.kw("order") {
		if !p.kw("by") {
			return nil, fmt.Errorf("expected BY after ORDER")
		}
		for {
			var k tsortKey
			if t := p.peek(); t.kind == ttNum && !strings.ContainsAny(t.s, ".") {
				n, err := strconv.Atoi(t.s)
				if err != nil {
					return nil, fmt.Errorf("bad ORDER BY position %q", t.s)
				}
				p.next()
				k.ordinal = n
			} else {
				e, err := p.expr()
				if err != nil {
					return nil, err
				}
				k.e = e
			}
			if p.kw("desc") {
				k.desc = true
			} else {
				p.kw("asc")
			}
			if p.kw("nulls") {
				switch {
				case p.kw("first"):
					k.nullsFirst = true
				case p.kw("last"):
				default:
					return nil, fmt.Errorf("expected FIRST or LAST after NULLS")
				}
			}
			q.order = append(q.order, k)
			if !p.sym(",") {
				break
			}
		}
	}
	for !p.eof() {
		var err error
		switch {
		case p.kw("limit"):
			q.limit, err = p.count("LIMIT")
		case p.kw("offset"):
			q.offset, err = p.count("OFFSET")
		default:
			return nil, fmt.Errorf("unexpected %q", p.peek().s)
		}
		if err != nil {
			return nil, err
		}
	}
	return q, nil
}

func isClauseWord(t ttok) bool {
	if t.quoted {
		return false
	}
	switch strings.ToLower(t.s) {
	case "from", "where", "group", "order", "limit", "offset", "having", "fill":
		return true
	}
	return false
}

func (p *tparser) count(what string) (int64, error) {
	t := p.next()
	n, err := strconv.ParseInt(t.s, 10, 64)
	if t.kind != ttNum || err != nil || n < 0 {
		return 0, fmt.Errorf("bad %s %q", what, t.s)
	}
	return n, nil
}

// where parses "time <op> N" and "column = 'value'" joined by AND.
func (p *tparser) where(pred *tablePred) error {
	tr := timeRange{pred.lo, pred.hi}
	for {
		lhs := p.next()
		if lhs.kind != ttIdent {
			return fmt.Errorf("expected a column in WHERE, got %q", lhs.s)
		}
		op := p.next()
		if op.kind != ttSym || (op.s != "=" && op.s != "<" && op.s != "<=" && op.s != ">" && op.s != ">=") {
			return fmt.Errorf("iotdbtest emulates only time comparisons and column = 'value' in WHERE, near %q", op.s)
		}
		name := lhs.s
		if !lhs.quoted {
			name = strings.ToLower(name)
		}
		if name == "time" {
			neg := p.sym("-")
			v := p.next()
			n, err := strconv.ParseInt(v.s, 10, 64)
			if v.kind != ttNum || err != nil {
				return fmt.Errorf("time must be compared with an integer literal, got %q", v.s)
			}
			if neg {
				n = -n
			}
			if err := tr.apply(op.s, n); err != nil {
				return err
			}
		} else {
			v := p.next()
			if op.s != "=" || v.kind != ttStr {
				return fmt.Errorf("iotdbtest emulates only %s = 'value' on columns other than time", name)
			}
			if old, dup := pred.eq[name]; dup && old != v.s {
				tr = timeRange{1, 0} // contradictory: nothing matches
			}
			pred.eq[name] = v.s
		}
		if p.kw("and") {
			continue
		}
		if p.kw("or") {
			return fmt.Errorf("OR is not supported by iotdbtest queries")
		}
		pred.lo, pred.hi = tr.lo, tr.hi
		return nil
	}
}

// ---- binding ----

// bind resolves columns and types of e against t (docs/iotdb.md §10.4).
func bindExpr(e *texpr, t *table, precision string) *statusErr {
	for _, a := range e.args {
		if st := bindExpr(a, t, precision); st != nil {
			return st
		}
	}
	switch e.kind {
	case eCol:
		if e.name == "time" {
			e.typ = TIMESTAMP
			return nil
		}
		c := t.colIdx[e.name]
		if c == nil {
			return stErr(codeSemanticError, "Column '%s' cannot be resolved", e.name)
		}
		e.col, e.typ = c, c.typ
		for k, tg := range t.tags {
			if tg == c {
				e.tag = k
			}
		}
	case eInt:
		e.typ = INT64
	case eFloat:
		e.typ = DOUBLE
	case eStr:
		e.typ = STRING
	case eNeg:
		if !isNumericType(e.args[0].typ) {
			return stErr(codeSQLParseError, "iotdbtest does not emulate unary minus on %s", typeName(e.args[0].typ))
		}
		e.typ = e.args[0].typ
	case eBin:
		l, r := e.args[0].typ, e.args[1].typ
		if !isNumericType(l) || !isNumericType(r) {
			return stErr(codeSQLParseError, "iotdbtest emulates arithmetic on INT32, INT64, FLOAT and DOUBLE only, not %s %s %s (cast a TIMESTAMP to INT64 first)", typeName(l), e.name, typeName(r))
		}
		switch {
		case l == DOUBLE || r == DOUBLE:
			e.typ = DOUBLE
		case l == FLOAT || r == FLOAT:
			e.typ = FLOAT
		case l == INT64 || r == INT64:
			e.typ = INT64
		default:
			e.typ = INT32
		}
	case eCast:
		if !castEmulated(e.args[0].typ, e.typ) {
			return stErr(codeSQLParseError, "iotdbtest does not emulate cast from %s to %s", typeName(e.args[0].typ), typeName(e.typ))
		}
	case eCall:
		a := e.args[0].typ
		want := map[string]TSDataType{"to_big_endian_32": INT32, "to_big_endian_64": INT64, "to_ieee754_32": FLOAT, "to_ieee754_64": DOUBLE}
		if e.name == "crc32" {
			if a != TEXT && a != STRING && a != BLOB {
				return stErr(codeSemanticError, "Scalar function crc32 only accepts one argument and it must be TEXT, STRING or BLOB data type.")
			}
			e.typ = INT64
		} else {
			if a != want[e.name] {
				return stErr(codeSemanticError, "Scalar function %s only accepts one argument and it must be %s data type.", e.name, typeName(want[e.name]))
			}
			e.typ = BLOB
		}
	case eDateBin:
		if e.args[0].typ != TIMESTAMP {
			return stErr(codeSemanticError, "Scalar function date_bin only accepts two or three arguments and the second and third must be TimeStamp data type.")
		}
		iv, err := parseDuration(e.sval, precision)
		if err != nil {
			return stErr(codeSemanticError, "%s", err.Error())
		}
		e.ival, e.typ = iv, TIMESTAMP
	case eAgg:
		if e.star {
			e.typ = INT64
			return nil
		}
		in := e.args[0].typ
		if st := tableAggCheck(e.fn, e.name, in); st != nil {
			return st
		}
		e.typ = aggResultType(e.fn, in)
	}
	return nil
}

// castEmulated lists the casts the double implements exactly (docs/iotdb.md
// §10.5); others, e.g. FLOAT to STRING (Java number formatting), are not.
func castEmulated(from, to TSDataType) bool {
	if from == to {
		return true
	}
	ints := func(t TSDataType) bool { return t == INT32 || t == INT64 || t == TIMESTAMP || t == DATE }
	switch {
	case ints(from) && (to == INT32 || to == INT64 || to == FLOAT || to == DOUBLE):
		return true
	case (from == INT32 || from == INT64) && to == TIMESTAMP:
		return true
	case (from == FLOAT || from == DOUBLE) && (to == FLOAT || to == DOUBLE):
		return true
	case (from == INT32 || from == INT64) && (to == STRING || to == TEXT):
		return true
	case from == BOOLEAN && (to == INT32 || to == INT64):
		return true
	case (from == STRING || from == TEXT || from == BLOB) && (to == STRING || to == TEXT || to == BLOB):
		return true
	}
	return false
}

// fieldsOf collects the FIELD columns e reads.
func fieldsOf(e *texpr, out map[string]bool) {
	if e.kind == eCol && e.col != nil && e.col.cat == catField {
		out[e.name] = true
	}
	for _, a := range e.args {
		fieldsOf(a, out)
	}
}

// ---- evaluation ----

type tval struct {
	null bool
	i    int64
	f    float64
	b    bool
	s    []byte
}

type rowCtx struct {
	d  *tdevice
	tm int64
	fv tval // the value of the one FIELD the expression reads
}

func evalExpr(e *texpr, r *rowCtx) (tval, *statusErr) {
	switch e.kind {
	case eCol:
		switch {
		case e.col == nil:
			return tval{i: r.tm}, nil
		case e.tag >= 0:
			if v := r.d.tags[e.tag]; v != nil {
				return tval{s: []byte(*v)}, nil
			}
			return tval{null: true}, nil
		case e.col.cat == catAttribute:
			if v, ok := r.d.attrs[e.name]; ok {
				return tval{s: []byte(v)}, nil
			}
			return tval{null: true}, nil
		}
		return r.fv, nil
	case eInt:
		return tval{i: e.ival}, nil
	case eFloat:
		return tval{f: e.fval}, nil
	case eStr:
		return tval{s: []byte(e.sval)}, nil
	}
	args := make([]tval, len(e.args))
	for k, a := range e.args {
		v, st := evalExpr(a, r)
		if st != nil {
			return tval{}, st
		}
		if v.null {
			return tval{null: true}, nil // every emulated function returns NULL on NULL input
		}
		args[k] = v
	}
	switch e.kind {
	case eNeg:
		return tval{i: -args[0].i, f: -args[0].f}, nil
	case eBin:
		return arith(e, args[0], args[1])
	case eCast:
		return castValue(e.args[0].typ, e.typ, args[0]), nil
	case eCall:
		v := args[0]
		switch e.name {
		case "to_big_endian_32":
			return tval{s: binary.BigEndian.AppendUint32(nil, uint32(int32(v.i)))}, nil
		case "to_big_endian_64":
			return tval{s: binary.BigEndian.AppendUint64(nil, uint64(v.i))}, nil
		case "to_ieee754_32":
			return tval{s: binary.BigEndian.AppendUint32(nil, math.Float32bits(float32(v.f)))}, nil
		case "to_ieee754_64":
			return tval{s: binary.BigEndian.AppendUint64(nil, math.Float64bits(v.f))}, nil
		}
		return tval{i: int64(crc32.ChecksumIEEE(v.s))}, nil
	case eDateBin:
		return tval{i: dateBin(args[0].i, e.ival, e.origin)}, nil
	}
	return tval{}, stErr(codeInternalError, "iotdbtest: cannot evaluate %s", e.text())
}

// dateBin rounds t down to the start of its interval counted from origin
// (docs/iotdb.md §10.5); an interval of 0 returns t itself.
func dateBin(t, interval, origin int64) int64 {
	if interval <= 0 {
		return t
	}
	d := t - origin
	n := d / interval
	if d%interval != 0 && d < 0 {
		n--
	}
	return origin + n*interval
}

func arith(e *texpr, l, r tval) (tval, *statusErr) {
	lt, rt := e.args[0].typ, e.args[1].typ
	if e.typ == DOUBLE || e.typ == FLOAT {
		a, b := asFloat(lt, l), asFloat(rt, r)
		v := arithOp(e.name, a, b, math.Mod)
		if e.typ == FLOAT {
			v = float64(float32(v))
		}
		return tval{f: v}, nil
	}
	a, b := l.i, r.i
	if (e.name == "/" || e.name == "%") && b == 0 {
		return tval{}, stErr(codeSemanticError, "Division by zero")
	}
	// integer division truncates and % takes the sign of the dividend, like Java
	v := arithOp(e.name, a, b, func(x, y int64) int64 { return x % y })
	if e.typ == INT32 {
		v = int64(int32(v))
	}
	return tval{i: v}, nil
}

func arithOp[T int64 | float64](op string, a, b T, mod func(T, T) T) T {
	switch op {
	case "+":
		return a + b
	case "-":
		return a - b
	case "*":
		return a * b
	case "%":
		return mod(a, b)
	}
	return a / b
}

func asFloat(t TSDataType, v tval) float64 {
	if classOf(t) == classInt {
		return float64(v.i)
	}
	return v.f
}

func castValue(from, to TSDataType, v tval) tval {
	switch {
	case from == to:
		return v
	case from == BOOLEAN:
		if v.b {
			return tval{i: 1}
		}
		return tval{i: 0}
	case classOf(from) == classInt && (to == INT32):
		return tval{i: int64(int32(v.i))}
	case classOf(from) == classInt && (to == INT64 || to == TIMESTAMP):
		return v
	case classOf(from) == classInt && (to == FLOAT || to == DOUBLE):
		f := float64(v.i)
		if to == FLOAT {
			f = float64(float32(v.i))
		}
		return tval{f: f}
	case classOf(from) == classFloat && to == FLOAT:
		return tval{f: float64(float32(v.f))}
	case classOf(from) == classFloat && to == DOUBLE:
		return v
	case classOf(from) == classInt:
		return tval{s: []byte(strconv.FormatInt(v.i, 10))}
	}
	return v // bytes to bytes
}

func feedVal(a *acc, f aggFunc, typ TSDataType, t int64, v tval) {
	switch classOf(typ) {
	case classInt:
		a.feedInt(f, t, v.i)
	case classFloat:
		a.feedFloat(f, t, v.f)
	case classBool:
		a.feedBool(f, t, v.b)
	default:
		a.feedBytes(f, t, v.s)
	}
}

// forEachPoint calls fn for the points of fs with lo <= t <= hi, in time order.
func forEachPoint(fs seriesStore, lo, hi int64, fn func(t int64, v tval)) {
	switch d := fs.(type) {
	case *pointsOf[int32]:
		visitRange(d, lo, hi, func(t int64, v int32) { fn(t, tval{i: int64(v)}) })
	case *pointsOf[int64]:
		visitRange(d, lo, hi, func(t int64, v int64) { fn(t, tval{i: v}) })
	case *pointsOf[float32]:
		visitRange(d, lo, hi, func(t int64, v float32) { fn(t, tval{f: float64(v)}) })
	case *pointsOf[float64]:
		visitRange(d, lo, hi, func(t int64, v float64) { fn(t, tval{f: v}) })
	case *pointsOf[bool]:
		visitRange(d, lo, hi, func(t int64, v bool) { fn(t, tval{b: v}) })
	case *pointsOf[[]byte]:
		visitRange(d, lo, hi, func(t int64, v []byte) { fn(t, tval{s: v}) })
	}
}

func visitRange[T any](d *pointsOf[T], lo, hi int64, fn func(int64, T)) {
	d.merge()
	i, _ := slices.BinarySearch(d.t, lo)
	for ; i < len(d.t) && d.t[i] <= hi; i++ {
		fn(d.t[i], d.v[i])
	}
}

// ---- execution ----

type tgroup struct {
	keys []tval
	accs []acc
}

func (q *tableAggQuery) run(s *store, sess *session, o writeOpts) execResult {
	if sess.dialect != "table" {
		return fail(codeSemanticError, "table aggregate syntax in a tree-model session")
	}
	t, _, e := s.tableRef(q.table, sess)
	if e != nil {
		return execResult{st: e}
	}
	prec := o.precision
	for col := range q.pred.eq {
		switch tc := t.colIdx[col]; {
		case tc == nil:
			return fail(codeSemanticError, "Column '%s' cannot be resolved", col)
		case tc.cat == catField:
			return fail(codeSQLParseError, "iotdbtest emulates = 'value' on TAG and ATTRIBUTE columns only, not %s", col)
		}
	}
	for _, it := range q.items {
		if st := bindExpr(it.e, t, prec); st != nil {
			return execResult{st: st}
		}
		if it.e.kind != eAgg && hasAgg(it.e) {
			return fail(codeSQLParseError, "iotdbtest does not emulate expressions over aggregates (%s)", it.e.text())
		}
		if it.e.kind == eAgg && !it.e.star && hasAgg(it.e.args[0]) {
			return fail(codeSemanticError, "Cannot nest aggregations inside aggregation '%s'", it.e.name)
		}
	}
	// GROUP BY keys: TAG or ATTRIBUTE columns and date_bin over time
	keys := make([]*texpr, len(q.groupBy))
	for k, g := range q.groupBy {
		if g == nil {
			n := q.groupOr[k]
			if n < 1 || n > len(q.items) {
				return fail(codeSemanticError, "GROUP BY position %d is not in select list", n)
			}
			g = q.items[n-1].e
			if hasAgg(g) {
				return fail(codeSemanticError, "GROUP BY position %d is an aggregate", n)
			}
		} else if st := bindExpr(g, t, prec); st != nil {
			return execResult{st: st}
		}
		switch {
		case g.kind == eCol && g.col != nil && g.col.cat != catField:
		case g.kind == eDateBin:
		default:
			return fail(codeSQLParseError, "iotdbtest emulates GROUP BY on TAG and ATTRIBUTE columns and date_bin(interval, time) only, not %s", g.text())
		}
		keys[k] = g
	}
	keyText := map[string]int{}
	timeKey := -1 // the date_bin key, if any
	for k, g := range keys {
		keyText[g.text()] = k
		if g.kind == eDateBin {
			if timeKey >= 0 {
				return fail(codeSQLParseError, "iotdbtest emulates at most one date_bin key in GROUP BY")
			}
			timeKey = k
		}
	}
	// select items: aggregates or GROUP BY keys
	itemKey := make([]int, len(q.items))
	for i, it := range q.items {
		itemKey[i] = -1
		if it.e.kind == eAgg {
			continue
		}
		k, ok := keyText[it.e.text()]
		if !ok {
			return fail(codeSemanticError, "'%s' must be an aggregate expression or appear in GROUP BY clause", it.e.text())
		}
		itemKey[i] = k
	}
	// the FIELD each aggregate reads (at most one)
	aggField := make([]string, len(q.items))
	for i, it := range q.items {
		if it.e.kind != eAgg || it.e.star {
			continue
		}
		fs := map[string]bool{}
		fieldsOf(it.e.args[0], fs)
		if len(fs) > 1 {
			return fail(codeSQLParseError, "iotdbtest emulates aggregates over expressions of at most one FIELD column")
		}
		for f := range fs {
			aggField[i] = f
		}
	}
	var groups []*tgroup
	index := map[string]int{}
	newGroup := func(kv []tval) int {
		groups = append(groups, &tgroup{keys: kv, accs: make([]acc, len(q.items))})
		return len(groups) - 1
	}
	if len(keys) == 0 {
		index[""] = newGroup(nil) // a global aggregate has exactly one row, even over no rows
	}
	var kb []byte
	devs := t.sortedDevices()
	for _, d := range devs {
		if !q.pred.deviceMatches(t, d) {
			continue
		}
		d.rows.merge()
		lo, _ := slices.BinarySearch(d.rows.t, q.pred.lo)
		hi := lo
		for hi < len(d.rows.t) && d.rows.t[hi] <= q.pred.hi {
			hi++
		}
		if lo == hi {
			continue
		}
		cache := map[int64]int{} // the group of each time-key value, per device
		var st *statusErr
		groupOf := func(tm int64) int {
			probe := int64(0)
			if timeKey >= 0 {
				probe = dateBin(tm, keys[timeKey].ival, keys[timeKey].origin)
			}
			if g, ok := cache[probe]; ok {
				return g
			}
			r := &rowCtx{d: d, tm: tm}
			kv := make([]tval, len(keys))
			kb = kb[:0]
			for k, g := range keys {
				v, e := evalExpr(g, r)
				if e != nil && st == nil {
					st = e
				}
				kv[k] = v
				kb = appendKey(kb, g.typ, v)
			}
			gi, ok := index[string(kb)]
			if !ok {
				gi = newGroup(kv)
				index[string(kb)] = gi
			}
			cache[probe] = gi
			return gi
		}
		rowTimes := d.rows.t[lo:hi]
		for _, tm := range rowTimes {
			g := groupOf(tm)
			for i, it := range q.items {
				if it.e.kind == eAgg && it.e.star {
					groups[g].accs[i].n++ // count(*) counts rows
				}
			}
		}
		for i, it := range q.items {
			if it.e.kind != eAgg || it.e.star {
				continue
			}
			arg := it.e.args[0]
			feed := func(tm int64, fv tval) {
				v, e := evalExpr(arg, &rowCtx{d: d, tm: tm, fv: fv})
				if e != nil {
					if st == nil {
						st = e
					}
					return
				}
				if !v.null {
					feedVal(&groups[groupOf(tm)].accs[i], it.e.fn, arg.typ, tm, v)
				}
			}
			if f := aggField[i]; f != "" {
				if fs := d.fields[f]; fs != nil {
					forEachPoint(fs, q.pred.lo, q.pred.hi, feed)
				}
			} else {
				for _, tm := range rowTimes {
					feed(tm, tval{})
				}
			}
		}
		if st != nil {
			return execResult{st: st}
		}
	}
	if e := tooLarge(len(groups), len(q.items)); e != nil {
		return execResult{st: e}
	}
	res := &vecResult{n: len(groups)}
	rs := &resultSet{ignoreTime: true, src: res}
	for i, it := range q.items {
		v := newCellVec(it.e.typ, len(groups))
		for _, g := range groups {
			if k := itemKey[i]; k >= 0 {
				appendTval(v, g.keys[k])
			} else {
				in := INT64
				if !it.e.star {
					in = it.e.args[0].typ
				}
				g.accs[i].emit(v, it.e.fn, in)
			}
		}
		res.cols = append(res.cols, v)
		name := it.alias
		if name == "" {
			if it.e.kind == eCol {
				name = it.e.name
			} else {
				name = "_col" + strconv.Itoa(i)
			}
		}
		rs.names = append(rs.names, name)
		rs.types = append(rs.types, it.e.typ)
	}
	if st := q.sortRows(res, rs, itemKey); st != nil {
		return execResult{st: st}
	}
	res.limitRows(q.offset, q.limit)
	return execResult{rs: rs}
}

func appendKey(b []byte, t TSDataType, v tval) []byte {
	if v.null {
		return append(b, 0)
	}
	b = append(b, 1)
	switch classOf(t) {
	case classBytes:
		b = binary.BigEndian.AppendUint32(b, uint32(len(v.s)))
		return append(b, v.s...)
	case classFloat:
		return binary.BigEndian.AppendUint64(b, math.Float64bits(v.f))
	case classBool:
		if v.b {
			return append(b, 1)
		}
		return append(b, 0)
	}
	return binary.BigEndian.AppendUint64(b, uint64(v.i))
}

func appendTval(v *cellVec, x tval) {
	if x.null {
		v.appendNull()
		return
	}
	switch classOf(v.typ) {
	case classInt:
		v.appendInt(x.i)
	case classFloat:
		v.appendFloat(x.f)
	case classBool:
		v.appendBool(x.b)
	default:
		v.appendBytes(x.s)
	}
}

// sortRows orders the rows by ORDER BY (ASC NULLS LAST by default,
// docs/iotdb.md §10.4) or, without ORDER BY, by the GROUP BY keys (an
// unordered result; the double makes it deterministic).
func (q *tableAggQuery) sortRows(res *vecResult, rs *resultSet, itemKey []int) *statusErr {
	type sk struct {
		col        int
		desc       bool
		nullsFirst bool
	}
	var ks []sk
	if len(q.order) == 0 {
		for k := range q.groupBy {
			for i, ik := range itemKey {
				if ik == k {
					ks = append(ks, sk{col: i})
					break
				}
			}
		}
	}
	for _, o := range q.order {
		col := -1
		if o.ordinal > 0 {
			if o.ordinal > len(q.items) {
				return stErr(codeSemanticError, "ORDER BY position %d is not in select list", o.ordinal)
			}
			col = o.ordinal - 1
		} else {
			txt := o.e.text()
			for i, it := range q.items {
				if (o.e.kind == eCol && (o.e.name == it.alias || (it.alias == "" && rs.names[i] == o.e.name))) || it.e.text() == txt {
					col = i
					break
				}
			}
		}
		if col < 0 {
			return stErr(codeSQLParseError, "iotdbtest emulates ORDER BY on select items (by name, alias, position or the same expression) only")
		}
		ks = append(ks, sk{col: col, desc: o.desc, nullsFirst: o.nullsFirst})
	}
	if len(ks) == 0 {
		return nil
	}
	res.perm = make([]int32, res.n)
	for i := range res.perm {
		res.perm[i] = int32(i)
	}
	sort.SliceStable(res.perm, func(a, b int) bool {
		ra, rb := int(res.perm[a]), int(res.perm[b])
		for _, k := range ks {
			v := res.cols[k.col]
			na, nb := v.null[ra], v.null[rb]
			switch {
			case na && nb:
				continue
			case na:
				return k.nullsFirst
			case nb:
				return !k.nullsFirst
			}
			c := compareCell(v, ra, rb)
			if c == 0 {
				continue
			}
			if k.desc {
				return c > 0
			}
			return c < 0
		}
		return false
	})
	return nil
}

func compareCell(v *cellVec, a, b int) int {
	switch classOf(v.typ) {
	case classInt:
		return cmpOrdered(v.ints[a], v.ints[b])
	case classFloat:
		return cmpOrdered(v.flts[a], v.flts[b])
	case classBool:
		return cmpOrdered(boolInt(v.bools[a]), boolInt(v.bools[b]))
	}
	return bytes.Compare(v.bins[a], v.bins[b])
}

func cmpOrdered[T int64 | float64 | int](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
