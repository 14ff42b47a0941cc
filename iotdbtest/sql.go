package iotdbtest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A deliberately small SQL front end: only the statement forms listed in
// docs/iotdb.md §5.4 (and README.md). Anything else is answered with 700.

type tokKind int

const (
	tkWord tokKind = iota // identifiers, paths (with backquotes), numbers, *, **
	tkString
	tkOp    // = != <> < <= > >=
	tkPunct // ( ) , ;
)

type token struct {
	kind tokKind
	s    string
}

func (t token) is(word string) bool { return t.kind == tkWord && strings.EqualFold(t.s, word) }

func tokenize(sql string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == ',' || c == ';':
			toks = append(toks, token{tkPunct, string(c)})
			i++
		case c == '=' || c == '<' || c == '>' || c == '!':
			j := i + 1
			if j < len(sql) && (sql[j] == '=' || (c == '<' && sql[j] == '>')) {
				j++
			}
			op := sql[i:j]
			if op == "!" {
				return nil, fmt.Errorf("unexpected '!' at %d", i)
			}
			toks = append(toks, token{tkOp, op})
			i = j
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(sql) {
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				b.WriteByte(sql[j])
				j++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			if c == '"' { // double quotes: identifier in the table dialect
				toks = append(toks, token{tkWord, b.String()})
			} else {
				toks = append(toks, token{tkString, b.String()})
			}
			i = j
		default:
			j := i
			for j < len(sql) {
				d := sql[j]
				if d == '`' {
					j++
					for j < len(sql) {
						if sql[j] == '`' {
							if j+1 < len(sql) && sql[j+1] == '`' {
								j += 2
								continue
							}
							break
						}
						j++
					}
					if j >= len(sql) {
						return nil, fmt.Errorf("unclosed backquote at %d", i)
					}
					j++
					continue
				}
				if strings.IndexByte(" \t\r\n(),;=<>!'\"", d) >= 0 {
					break
				}
				j++
			}
			toks = append(toks, token{tkWord, sql[i:j]})
			i = j
		}
	}
	for len(toks) > 0 && toks[len(toks)-1].kind == tkPunct && toks[len(toks)-1].s == ";" {
		toks = toks[:len(toks)-1]
	}
	return toks, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{kind: tkPunct, s: ""}
}

func (p *parser) next() token { t := p.peek(); p.pos++; return t }
func (p *parser) eof() bool   { return p.pos >= len(p.toks) }

func (p *parser) accept(word string) bool {
	if p.peek().is(word) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) acceptPunct(s string) bool {
	if t := p.peek(); t.kind == tkPunct && t.s == s {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(word string) error {
	if !p.accept(word) {
		return fmt.Errorf("expected %s near %q", strings.ToUpper(word), p.peek().s)
	}
	return nil
}

// ifNotExists accepts an optional IF NOT EXISTS.
func (p *parser) ifNotExists() (bool, error) {
	if !p.accept("if") {
		return false, nil
	}
	if err := p.expect("not"); err != nil {
		return false, err
	}
	return true, p.expect("exists")
}

func (p *parser) word() (string, error) {
	t := p.next()
	if t.kind != tkWord {
		return "", fmt.Errorf("expected a name near %q", t.s)
	}
	return t.s, nil
}

// timeRange accumulates "time op N" predicates into an inclusive range.
type timeRange struct{ lo, hi int64 }

func fullRange() timeRange { return timeRange{math.MinInt64, math.MaxInt64} }

func (r *timeRange) apply(op string, v int64) error {
	switch op {
	case "=":
		r.lo, r.hi = max(r.lo, v), min(r.hi, v)
	case ">":
		if v == math.MaxInt64 {
			r.lo, r.hi = 1, 0
		} else {
			r.lo = max(r.lo, v+1)
		}
	case ">=":
		r.lo = max(r.lo, v)
	case "<":
		if v == math.MinInt64 {
			r.lo, r.hi = 1, 0
		} else {
			r.hi = min(r.hi, v-1)
		}
	case "<=":
		r.hi = min(r.hi, v)
	default:
		return fmt.Errorf("unsupported time operator %s", op)
	}
	return nil
}

// parseInt64 parses an integer literal (optionally signed).
func parseInt64(s string) (int64, error) {
	return strconv.ParseInt(s, 10, 64)
}

// whereClause parses "cond AND cond ..." where cond is `time op N` or
// `name = 'str'` (the latter only if allowEq). OR is reported separately so
// that callers can answer the documented error (docs/iotdb.md §5.1).
type whereClause struct {
	tr    timeRange
	eq    map[string]string
	hasOr bool
}

func (p *parser) parseWhere(allowEq bool) (*whereClause, error) {
	w := &whereClause{tr: fullRange(), eq: map[string]string{}}
	for {
		lhs, err := p.word()
		if err != nil {
			return nil, err
		}
		opTok := p.next()
		if opTok.kind != tkOp {
			return nil, fmt.Errorf("expected a comparison after %s", lhs)
		}
		rhs := p.next()
		if strings.EqualFold(lhs, "time") || strings.EqualFold(lhs, "timestamp") {
			if rhs.kind != tkWord {
				return nil, fmt.Errorf("time must be compared with an integer literal")
			}
			v, err := parseInt64(rhs.s)
			if err != nil {
				return nil, fmt.Errorf("time must be compared with an integer literal, got %q", rhs.s)
			}
			if err := w.tr.apply(opTok.s, v); err != nil {
				return nil, err
			}
		} else {
			if !allowEq || opTok.s != "=" || rhs.kind != tkString {
				return nil, fmt.Errorf("unsupported predicate on %s (only time comparisons and tag = 'value')", lhs)
			}
			w.eq[strings.ToLower(lhs)] = rhs.s
		}
		if p.accept("and") {
			continue
		}
		if p.accept("or") {
			w.hasOr = true
			continue
		}
		return w, nil
	}
}

// statement kinds
type stmtKind int

const (
	stCreateDB stmtKind = iota
	stCreateTS
	stCreateAlignedTS
	stDelete
	stUse
	stShowDatabases
	stShowDevices
	stShowTimeseries
	stShowTables
	stSelect
	stCreateTable
	stAggregate // aggregate queries and COUNT TIMESERIES/DEVICES (treeagg.go, tableagg.go)
	stTemplate  // device template statements (template.go)
)

type colDef struct {
	name     string
	typ      TSDataType
	cat      int8
	encoding string
	comp     string
	typSet   bool
}

type stmt struct {
	kind        stmtKind
	ifNotExists bool
	name        string   // database / table / device path / pattern
	paths       []string // DELETE FROM paths; SELECT measurements (nil = *)
	cols        []colDef
	where       *whereClause
	orderDesc   bool
	limit       int64
	offset      int64
	agg         aggQuery  // stAggregate
	tmpl        *tmplStmt // stTemplate
}

func (s *stmt) isQuery() bool {
	if s.kind == stTemplate {
		return s.tmpl.isQuery()
	}
	switch s.kind {
	case stShowDatabases, stShowDevices, stShowTimeseries, stShowTables, stSelect, stAggregate:
		return true
	}
	return false
}

// parseSQL parses one statement for the given dialect ("tree" or "table").
func parseSQL(sql, dialect string) (*stmt, error) {
	toks, err := tokenize(sql)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty statement")
	}
	if st, ok, err := parseAggregate(sql, toks, dialect); ok {
		return st, err
	}
	if st, ok, err := parseTemplate(toks, dialect); ok {
		return st, err
	}
	p := &parser{toks: toks}
	var st *stmt
	switch {
	case p.accept("create"):
		st, err = p.parseCreate(dialect)
	case p.accept("delete"):
		st, err = p.parseDelete(dialect)
	case p.accept("use"):
		var n string
		n, err = p.word()
		st = &stmt{kind: stUse, name: n}
	case p.accept("show"):
		st, err = p.parseShow()
	case p.accept("select"):
		st, err = p.parseSelect()
	default:
		return nil, fmt.Errorf("unsupported statement")
	}
	if err != nil {
		return nil, err
	}
	if !p.eof() {
		return nil, fmt.Errorf("unexpected %q", p.peek().s)
	}
	return st, nil
}

func (p *parser) parseCreate(dialect string) (*stmt, error) {
	switch {
	case p.accept("database"), p.accept("schema"):
		st := &stmt{kind: stCreateDB}
		ine, err := p.ifNotExists()
		if err != nil {
			return nil, err
		}
		st.ifNotExists = ine
		n, err := p.word()
		st.name = n
		for !p.eof() { // ignore WITH (...) properties
			p.next()
		}
		return st, err
	case p.accept("storage"):
		if err := p.expect("group"); err != nil {
			return nil, err
		}
		n, err := p.word()
		return &stmt{kind: stCreateDB, name: n}, err
	case p.accept("timeseries"):
		path, err := p.word()
		if err != nil {
			return nil, err
		}
		cd, err := p.parseTSAttrs()
		if err != nil {
			return nil, err
		}
		return &stmt{kind: stCreateTS, name: path, cols: []colDef{cd}}, nil
	case p.accept("aligned"):
		if err := p.expect("timeseries"); err != nil {
			return nil, err
		}
		dev, err := p.word()
		if err != nil {
			return nil, err
		}
		if !p.acceptPunct("(") {
			return nil, fmt.Errorf("expected ( after %s", dev)
		}
		st := &stmt{kind: stCreateAlignedTS, name: dev}
		for {
			m, err := p.word()
			if err != nil {
				return nil, err
			}
			cd, err := p.parseTSAttrs()
			if err != nil {
				return nil, err
			}
			cd.name = m
			st.cols = append(st.cols, cd)
			if p.acceptPunct(",") {
				continue
			}
			if p.acceptPunct(")") {
				return st, nil
			}
			return nil, fmt.Errorf("expected , or ) near %q", p.peek().s)
		}
	case p.accept("table"):
		if dialect != "table" {
			return nil, fmt.Errorf("CREATE TABLE is a table-model statement")
		}
		st := &stmt{kind: stCreateTable}
		ine, err := p.ifNotExists()
		if err != nil {
			return nil, err
		}
		st.ifNotExists = ine
		n, err := p.word()
		if err != nil {
			return nil, err
		}
		st.name = n
		if !p.acceptPunct("(") {
			return nil, fmt.Errorf("expected ( after table name")
		}
		for {
			cn, err := p.word()
			if err != nil {
				return nil, err
			}
			tn, err := p.word()
			if err != nil {
				return nil, err
			}
			typ, ok := typeByName(strings.ToUpper(tn))
			if !ok {
				return nil, fmt.Errorf("unknown data type %s", tn)
			}
			cd := colDef{name: strings.ToLower(cn), typ: typ, cat: catField}
			switch {
			case p.accept("tag"):
				cd.cat = catTag
			case p.accept("attribute"):
				cd.cat = catAttribute
			case p.accept("field"):
			case p.accept("time"):
				cd.cat = -1
			}
			st.cols = append(st.cols, cd)
			if p.acceptPunct(",") {
				continue
			}
			if p.acceptPunct(")") {
				break
			}
			return nil, fmt.Errorf("expected , or ) near %q", p.peek().s)
		}
		for !p.eof() { // ignore WITH (TTL=...) etc.
			p.next()
		}
		return st, nil
	}
	return nil, fmt.Errorf("unsupported CREATE statement")
}

// parseTSAttrs parses "WITH DATATYPE=T, ENCODING=E, COMPRESSOR=C" or the
// short form "T [ENCODING=E] [COMPRESSOR=C]".
func (p *parser) parseTSAttrs() (colDef, error) {
	var cd colDef
	p.accept("with")
	for {
		t := p.peek()
		if t.kind != tkWord {
			break
		}
		key := strings.ToUpper(t.s)
		if typ, ok := typeByName(key); ok && !cd.typSet && !p.isAssign(1) {
			p.next()
			cd.typ, cd.typSet = typ, true
			continue
		}
		if !p.isAssign(1) {
			break
		}
		p.next()
		p.next() // =
		v, err := p.word()
		if err != nil {
			return cd, err
		}
		switch key {
		case "DATATYPE":
			typ, ok := typeByName(strings.ToUpper(v))
			if !ok {
				return cd, fmt.Errorf("unknown data type %s", v)
			}
			cd.typ, cd.typSet = typ, true
		case "ENCODING":
			cd.encoding = v
		case "COMPRESSOR", "COMPRESSION":
			cd.comp = v
		}
		if t := p.peek(); t.kind == tkPunct && t.s == "," && p.isAssign(2) {
			p.next() // a comma between attributes, not between columns
		}
	}
	if !cd.typSet {
		return cd, fmt.Errorf("missing DATATYPE")
	}
	return cd, nil
}

func (p *parser) isAssign(k int) bool {
	return p.pos+k < len(p.toks) && p.toks[p.pos+k].kind == tkOp && p.toks[p.pos+k].s == "="
}

func (p *parser) parseDelete(dialect string) (*stmt, error) {
	if p.accept("timeseries") || p.accept("database") || p.accept("devices") {
		return nil, fmt.Errorf("unsupported DELETE form")
	}
	if err := p.expect("from"); err != nil {
		return nil, err
	}
	st := &stmt{kind: stDelete}
	for {
		w, err := p.word()
		if err != nil {
			return nil, err
		}
		st.paths = append(st.paths, w)
		if !p.acceptPunct(",") {
			break
		}
	}
	if p.accept("where") {
		w, err := p.parseWhere(dialect == "table")
		if err != nil {
			return nil, err
		}
		st.where = w
	}
	return st, nil
}

// showUnder is SHOW DEVICES|TIMESERIES [path pattern], root.** by default.
func (p *parser) showUnder(kind stmtKind) (*stmt, error) {
	st := &stmt{kind: kind, name: "root.**"}
	if !p.eof() {
		n, err := p.word()
		if err != nil {
			return nil, err
		}
		st.name = n
	}
	return st, nil
}

func (p *parser) parseShow() (*stmt, error) {
	switch {
	case p.accept("databases"), p.accept("storage"):
		p.accept("group")
		st := &stmt{kind: stShowDatabases}
		if !p.eof() {
			st.name, _ = p.word()
		}
		return st, nil
	case p.accept("devices"):
		return p.showUnder(stShowDevices)
	case p.accept("timeseries"):
		return p.showUnder(stShowTimeseries)
	case p.accept("tables"):
		st := &stmt{kind: stShowTables}
		if p.accept("from") || p.accept("in") {
			n, err := p.word()
			if err != nil {
				return nil, err
			}
			st.name = n
		}
		return st, nil
	}
	return nil, fmt.Errorf("unsupported SHOW statement")
}

func (p *parser) parseSelect() (*stmt, error) {
	st := &stmt{kind: stSelect, limit: -1} // aggregates (COUNT included) are parsed in treeagg.go / tableagg.go
	for {
		w, err := p.word()
		if err != nil {
			return nil, err
		}
		if w == "*" {
			st.paths = nil
			st.cols = append(st.cols, colDef{name: "*"})
		} else {
			st.paths = append(st.paths, w)
		}
		if !p.acceptPunct(",") {
			break
		}
	}
	if len(st.cols) > 0 {
		st.paths = nil
	}
	if err := p.expect("from"); err != nil {
		return nil, err
	}
	n, err := p.word()
	if err != nil {
		return nil, err
	}
	st.name = n
	if p.accept("where") {
		w, err := p.parseWhere(true)
		if err != nil {
			return nil, err
		}
		if w.hasOr {
			return nil, fmt.Errorf("OR is not supported by iotdbtest queries")
		}
		st.where = w
	}
	if p.accept("order") {
		if err := p.expect("by"); err != nil {
			return nil, err
		}
		if !p.accept("time") {
			return nil, fmt.Errorf("only ORDER BY time is supported")
		}
		if p.accept("desc") {
			st.orderDesc = true
		} else {
			p.accept("asc")
		}
	}
	if p.accept("limit") {
		w, err := p.word()
		if err != nil {
			return nil, err
		}
		if st.limit, err = parseInt64(w); err != nil || st.limit < 0 {
			return nil, fmt.Errorf("bad LIMIT %q", w)
		}
	}
	if p.accept("offset") {
		w, err := p.word()
		if err != nil {
			return nil, err
		}
		if st.offset, err = parseInt64(w); err != nil || st.offset < 0 {
			return nil, fmt.Errorf("bad OFFSET %q", w)
		}
	}
	return st, nil
}
