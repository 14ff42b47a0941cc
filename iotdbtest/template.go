package iotdbtest

import (
	"fmt"
	"sort"
	"strings"
)

// Device templates of the tree model (docs/iotdb.md §3.6).
//
// A template is a named list of typed measurements, aligned or not. It is
// set on a path (SET DEVICE TEMPLATE t TO root.sg), and every device at that
// path or below it that is written to afterwards activates it: the device
// gets every measurement of the template as a series, with the template's
// type, encoding and compression, and the template's alignment. Activation
// happens on the first write when auto-create is on, or explicitly with
// CREATE TIMESERIES USING DEVICE TEMPLATE ON <device>. A write with a
// measurement the template lacks extends the template (auto-create on), so
// every device using it gets that measurement; with auto-create off such a
// measurement, like any on a device not yet activated, is refused as a
// missing series (507, the rest of the write applied).
//
// Refusals (codes of the Go client's named constants): an unknown template
// 512, a second template of the same name 511, a series created by hand
// under a path with a template set, and a template set over existing
// series, 516.

// Status codes of templates (client/protocol.go of the Go client).
const (
	codeCreateTemplateError  int32 = 510
	codeDuplicatedTemplate   int32 = 511
	codeUndefinedTemplate    int32 = 512
	codeTemplateNotSet       int32 = 513
	codeTemplateIncompatible int32 = 516
)

type template struct {
	name    string
	aligned bool
	meas    []tmplMeas
	idx     map[string]int // stored measurement -> index in meas
	setOn   []string       // paths the template is set on, in order
	devices []*device      // the devices that activated it
}

type tmplMeas struct {
	name       string // stored (normalised) node
	typ        TSDataType
	encoding   string
	compressor string
}

// tmplSet is one SET DEVICE TEMPLATE: the template applies at nodes and below.
type tmplSet struct {
	nodes []string
	path  string
	t     *template
}

type templates struct {
	byName map[string]*template
	set    []tmplSet
}

func newTemplates() templates { return templates{byName: map[string]*template{}} }

func (t *template) has(name string) bool { _, ok := t.idx[name]; return ok }

func (t *template) typeOf(name string) TSDataType { return t.meas[t.idx[name]].typ }

func (t *template) add(m tmplMeas) {
	t.idx[m.name] = len(t.meas)
	t.meas = append(t.meas, m)
}

// templateName is the SHOW DEVICES "Template" cell: the name, or NULL.
func (d *device) templateName() any {
	if d.tmpl == nil {
		return nil
	}
	return d.tmpl.name
}

// setOf returns the SET that covers nodes (the path itself or a prefix).
func (s *store) setOf(nodes []string) *tmplSet {
	for i := range s.tmpls.set {
		if hasPrefixNodes(nodes, s.tmpls.set[i].nodes) {
			return &s.tmpls.set[i]
		}
	}
	return nil
}

// templateOf returns the template set on nodes or one of their prefixes.
func (s *store) templateOf(nodes []string) *template {
	if len(s.tmpls.set) == 0 {
		return nil
	}
	if ts := s.setOf(nodes); ts != nil {
		return ts.t
	}
	return nil
}

// refuseUnderTemplate is the check of every explicit series creation: a
// series may not be created by hand under a path with a template set.
func (s *store) refuseUnderTemplate(devNodes []string, name string) *statusErr {
	if len(s.tmpls.set) == 0 {
		return nil
	}
	ts := s.setOf(devNodes)
	if ts == nil {
		return nil
	}
	return stErr(codeTemplateIncompatible, "Cannot create timeseries [%s.%s] since device template [%s] already set on path [%s].",
		strings.Join(devNodes, "."), name, ts.t.name, ts.path)
}

// activate gives d the template's measurements as series.
func (s *store) activate(d *device, t *template) {
	d.tmpl = t
	d.aligned = t.aligned
	for _, m := range t.meas {
		if d.series[m.name] == nil {
			sr := d.addSeries(m.name, m.typ)
			sr.encoding, sr.compressor = m.encoding, m.compressor
		}
	}
	t.devices = append(t.devices, d)
}

// extendTemplate adds a measurement to t and to every device using it.
func (s *store) extendTemplate(t *template, name string, typ TSDataType) {
	if t.has(name) {
		return
	}
	m := tmplMeas{name: name, typ: typ, encoding: defaultEncoding(typ), compressor: "LZ4"}
	t.add(m)
	for _, d := range t.devices {
		if d.series[name] == nil {
			sr := d.addSeries(name, typ)
			sr.encoding, sr.compressor = m.encoding, m.compressor
		}
	}
}

// ---- SQL ----

type tmplKind int

const (
	tkCreate    tmplKind = iota // CREATE DEVICE TEMPLATE t [ALIGNED] (m T [ENCODING=E] [COMPRESSOR=C], ...)
	tkSet                       // SET DEVICE TEMPLATE t TO path
	tkActivate                  // CREATE TIMESERIES USING DEVICE TEMPLATE ON path
	tkShowAll                   // SHOW DEVICE TEMPLATES
	tkShowNodes                 // SHOW NODES IN DEVICE TEMPLATE t
	tkShowSet                   // SHOW PATHS SET DEVICE TEMPLATE t
	tkShowUsing                 // SHOW PATHS USING DEVICE TEMPLATE t
)

// tmplStmt is a parsed template statement (stmt.kind stTemplate).
type tmplStmt struct {
	kind    tmplKind
	name    string
	path    string
	aligned bool
	cols    []colDef
}

func (t *tmplStmt) isQuery() bool { return t.kind >= tkShowAll }

// acceptTemplateWord accepts DEVICE TEMPLATE or the older SCHEMA TEMPLATE.
func (p *parser) acceptTemplateWord() bool {
	save := p.pos
	if (p.accept("device") || p.accept("schema")) && p.accept("template") {
		return true
	}
	p.pos = save
	return false
}

func (p *parser) acceptTemplatesWord() bool {
	save := p.pos
	if (p.accept("device") || p.accept("schema")) && p.accept("templates") {
		return true
	}
	p.pos = save
	return false
}

// parseTemplate recognises the template statements; ok is false for any
// other statement (the caller parses it).
func parseTemplate(toks []token, dialect string) (st *stmt, ok bool, err error) {
	if dialect == "table" {
		return nil, false, nil
	}
	p := &parser{toks: toks}
	ts := &tmplStmt{}
	switch {
	case p.accept("create"):
		switch {
		case p.acceptTemplateWord():
			ts.kind = tkCreate
			if ts.name, err = p.word(); err != nil {
				return nil, true, err
			}
			ts.aligned = p.accept("aligned")
			if !p.acceptPunct("(") {
				return nil, true, fmt.Errorf("expected ( after the template name")
			}
			for {
				m, err := p.word()
				if err != nil {
					return nil, true, err
				}
				cd, err := p.parseTSAttrs()
				if err != nil {
					return nil, true, err
				}
				cd.name = m
				ts.cols = append(ts.cols, cd)
				if p.acceptPunct(",") {
					continue
				}
				if p.acceptPunct(")") {
					break
				}
				return nil, true, fmt.Errorf("expected , or ) near %q", p.peek().s)
			}
		case p.accept("timeseries"):
			// CREATE TIMESERIES USING DEVICE TEMPLATE ON path (and the older
			// CREATE TIMESERIES OF SCHEMA TEMPLATE ON path)
			if !p.accept("using") && !p.accept("of") {
				return nil, false, nil
			}
			if !p.acceptTemplateWord() {
				return nil, true, fmt.Errorf("expected DEVICE TEMPLATE after USING")
			}
			if err := p.expect("on"); err != nil {
				return nil, true, err
			}
			ts.kind = tkActivate
			if ts.path, err = p.word(); err != nil {
				return nil, true, err
			}
		default:
			return nil, false, nil
		}
	case p.accept("set"):
		if !p.acceptTemplateWord() {
			return nil, false, nil
		}
		ts.kind = tkSet
		if ts.name, err = p.word(); err != nil {
			return nil, true, err
		}
		if err := p.expect("to"); err != nil {
			return nil, true, err
		}
		if ts.path, err = p.word(); err != nil {
			return nil, true, err
		}
	case p.accept("show"):
		switch {
		case p.acceptTemplatesWord():
			ts.kind = tkShowAll
		case p.accept("nodes"):
			if err := p.expect("in"); err != nil {
				return nil, true, err
			}
			if !p.acceptTemplateWord() {
				return nil, true, fmt.Errorf("expected DEVICE TEMPLATE after SHOW NODES IN")
			}
			ts.kind = tkShowNodes
			if ts.name, err = p.word(); err != nil {
				return nil, true, err
			}
		case p.accept("paths"):
			switch {
			case p.accept("set"):
				ts.kind = tkShowSet
			case p.accept("using"):
				ts.kind = tkShowUsing
			default:
				return nil, true, fmt.Errorf("expected SET or USING after SHOW PATHS")
			}
			if !p.acceptTemplateWord() {
				return nil, true, fmt.Errorf("expected DEVICE TEMPLATE")
			}
			if ts.name, err = p.word(); err != nil {
				return nil, true, err
			}
		default:
			return nil, false, nil
		}
	default:
		return nil, false, nil
	}
	if !p.eof() {
		return nil, true, fmt.Errorf("unexpected %q", p.peek().s)
	}
	return &stmt{kind: stTemplate, tmpl: ts}, true, nil
}

// run executes a template statement (store lock held).
func (t *tmplStmt) run(s *store, o writeOpts) execResult {
	switch t.kind {
	case tkCreate:
		return execResult{st: s.createTemplate(t)}
	case tkSet:
		return execResult{st: s.setTemplate(t.name, t.path)}
	case tkActivate:
		return execResult{st: s.activateOn(t.path)}
	case tkShowAll:
		rs := &resultSet{ignoreTime: true}
		rs.names, rs.types = textCols("TemplateName")
		rs.cols = make([][]any, 1)
		names := make([]string, 0, len(s.tmpls.byName))
		for n := range s.tmpls.byName {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			rs.times = append(rs.times, 0)
			rs.cols[0] = append(rs.cols[0], n)
		}
		return execResult{rs: rs}
	case tkShowNodes:
		tp := s.tmpls.byName[t.name]
		if tp == nil {
			return fail(codeUndefinedTemplate, "Undefined template name: %s", t.name)
		}
		rs := &resultSet{ignoreTime: true}
		rs.names, rs.types = textCols("ChildNodes", "DataType", "Encoding", "Compression")
		rs.cols = make([][]any, 4)
		for _, m := range tp.meas {
			rs.times = append(rs.times, 0)
			rs.cols[0] = append(rs.cols[0], m.name)
			rs.cols[1] = append(rs.cols[1], typeName(m.typ))
			rs.cols[2] = append(rs.cols[2], m.encoding)
			rs.cols[3] = append(rs.cols[3], m.compressor)
		}
		return execResult{rs: rs}
	case tkShowSet, tkShowUsing:
		tp := s.tmpls.byName[t.name]
		if tp == nil {
			return fail(codeUndefinedTemplate, "Undefined template name: %s", t.name)
		}
		var paths []string
		if t.kind == tkShowSet {
			paths = append(paths, tp.setOn...)
		} else {
			for _, d := range tp.devices {
				paths = append(paths, d.path)
			}
		}
		sort.Strings(paths)
		rs := &resultSet{ignoreTime: true}
		rs.names, rs.types = textCols("Paths")
		rs.cols = make([][]any, 1)
		for _, p := range paths {
			rs.times = append(rs.times, 0)
			rs.cols[0] = append(rs.cols[0], p)
		}
		return execResult{rs: rs}
	}
	return fail(codeSQLParseError, "unsupported template statement")
}

func (s *store) createTemplate(t *tmplStmt) *statusErr {
	if !legalUnquoted(t.name) {
		return stErr(codeIllegalPath, "%s is not a legal template name", t.name)
	}
	if s.tmpls.byName[t.name] != nil {
		return stErr(codeDuplicatedTemplate, "Failed to create duplicated template for path %s", t.name)
	}
	tp := &template{name: t.name, aligned: t.aligned, idx: map[string]int{}}
	for _, cd := range t.cols {
		m, err := parseMeasurement(cd.name)
		if err != nil {
			return stErr(codeIllegalPath, "%s", err.Error())
		}
		if tp.has(m) {
			return stErr(codeCreateTemplateError, "Duplicated measurement [%s] in device template.", m)
		}
		if !validType(cd.typ) {
			return stErr(codeCreateTemplateError, "unsupported data type for %s", m)
		}
		tm := tmplMeas{name: m, typ: cd.typ, encoding: defaultEncoding(cd.typ), compressor: "LZ4"}
		if cd.encoding != "" {
			tm.encoding = strings.ToUpper(cd.encoding)
		}
		if cd.comp != "" {
			tm.compressor = strings.ToUpper(cd.comp)
		}
		tp.add(tm)
	}
	s.tmpls.byName[tp.name] = tp
	return nil
}

func (s *store) setTemplate(name, path string) *statusErr {
	tp := s.tmpls.byName[name]
	if tp == nil {
		return stErr(codeUndefinedTemplate, "Undefined template name: %s", name)
	}
	nodes, err := splitPath(path, false)
	if err != nil {
		return stErr(codeIllegalPath, "%s", err.Error())
	}
	full := strings.Join(nodes, ".")
	// The database must exist: at the path or above it (a template set above
	// a database is allowed but not recommended by the IoTDB docs).
	inDB := false
	for _, dn := range s.dbs {
		if hasPrefixNodes(nodes, dn) || hasPrefixNodes(dn, nodes) {
			inDB = true
			break
		}
	}
	if !inDB {
		return stErr(codeDatabaseNotExist, "Database is not set for path [%s]; create the database before setting a device template", full)
	}
	for _, ts := range s.tmpls.set {
		if hasPrefixNodes(nodes, ts.nodes) || hasPrefixNodes(ts.nodes, nodes) {
			return stErr(codeTemplateIncompatible, "Template already exists on %s", ts.path)
		}
	}
	// No series may exist at or below the path.
	exists := false
	s.index.under(nodes, func(d *device) {
		if len(d.order) > 0 {
			exists = true
		}
	})
	if exists {
		return stErr(codeTemplateIncompatible, "Cannot set device template [%s] to path [%s] since there's timeseries under path [%s].", name, full, full)
	}
	s.tmpls.set = append(s.tmpls.set, tmplSet{nodes: nodes, path: full, t: tp})
	tp.setOn = append(tp.setOn, full)
	return nil
}

// activateOn is CREATE TIMESERIES USING DEVICE TEMPLATE ON path.
func (s *store) activateOn(path string) *statusErr {
	nodes, full, err := parseDevicePath(path)
	if err != nil {
		return stErr(codeIllegalPath, "%s", err.Error())
	}
	ts := s.setOf(nodes)
	if ts == nil {
		return stErr(codeTemplateNotSet, "Path [%s] has not been set any template.", full)
	}
	d := s.devices[full]
	if d != nil {
		if d.tmpl == ts.t {
			return stErr(codeTemplateIncompatible, "Device template has already been activated on path [%s]", full)
		}
		if len(d.order) > 0 {
			return stErr(codeTemplateIncompatible, "Cannot activate device template [%s] on path [%s] since there's timeseries under it.", ts.t.name, full)
		}
	}
	db, ok := s.findDB(nodes)
	if !ok {
		return stErr(codeDatabaseNotExist, "Database is not set for path [%s]", full)
	}
	if d == nil {
		d = s.newDevice(full, nodes, db, ts.t.aligned)
	}
	s.activate(d, ts.t)
	return nil
}
