package iotdbtest

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// session is the per-connection state (docs/iotdb.md §1.3: the server's session
// identity is the connection).
type session struct {
	opened   bool
	loggedIn bool
	dialect  string // "tree" | "table"
	db       string
}

// execResult is the outcome of one SQL statement.
type execResult struct {
	st    *statusErr
	rs    *resultSet // queries
	useDB *string    // USE db
}

func fail(code int32, format string, a ...any) execResult {
	return execResult{st: stErr(code, format, a...)}
}

// exec runs a parsed statement against the store (lock held by caller).
func (s *store) exec(st *stmt, sess *session, o writeOpts) execResult {
	table := sess.dialect == "table"
	switch st.kind {
	case stCreateDB:
		if table {
			return execResult{st: s.createTableDB(st.name, st.ifNotExists)}
		}
		e := s.createDB(st.name)
		if e != nil && st.ifNotExists && e.code == codeDatabaseExists {
			e = nil
		}
		return execResult{st: e}
	case stCreateTS:
		if table {
			return fail(codeSemanticError, "CREATE TIMESERIES is a tree-model statement")
		}
		cd := st.cols[0]
		return execResult{st: s.createSeries(st.name, cd.typ, false, cd.encoding, cd.comp, o.autoCreate)}
	case stCreateAlignedTS:
		if table {
			return fail(codeSemanticError, "CREATE ALIGNED TIMESERIES is a tree-model statement")
		}
		nodes, _, err := parseDevicePath(st.name)
		if err != nil {
			return fail(codeIllegalPath, "%s", err.Error())
		}
		for _, cd := range st.cols {
			m, err := parseMeasurement(cd.name)
			if err != nil {
				return fail(codeIllegalPath, "%s", err.Error())
			}
			if e := s.createSeriesNodes(nodes, m, cd.typ, true, cd.encoding, cd.comp, o.autoCreate); e != nil {
				return execResult{st: e}
			}
		}
		return execResult{}
	case stCreateTable:
		return s.createTable(st, sess)
	case stUse:
		if !table {
			return fail(codeSemanticError, "USE is a table-model statement (session dialect is tree)")
		}
		name := strings.ToLower(st.name)
		if s.tdbs[name] == nil {
			return fail(codeDatabaseNotExist, "Database %s doesn't exist", name)
		}
		return execResult{useDB: &name}
	case stDelete:
		s.stats.Deletes++
		if st.where != nil && st.where.hasOr {
			return fail(codeIllegalParameter, "For delete statement, where clause can only contain atomic expressions like : time > XXX, time <= XXX, or two atomic expressions connected by 'AND'")
		}
		tr := fullRange()
		if st.where != nil {
			tr = st.where.tr
		}
		if table {
			return s.deleteTableRows(st, sess, tr)
		}
		if st.where != nil && len(st.where.eq) > 0 {
			return fail(codeIllegalParameter, "For delete statement, where clause can only contain atomic expressions like : time > XXX, time <= XXX, or two atomic expressions connected by 'AND'")
		}
		if tr.lo > tr.hi {
			return execResult{}
		}
		return execResult{st: s.deleteTree(st.paths, tr.lo, tr.hi)}
	case stShowDatabases:
		return execResult{rs: s.showDatabases(table)}
	case stShowDevices:
		return s.showDevices(st.name)
	case stShowTimeseries:
		return s.showTimeseries(st.name)
	case stShowTables:
		return s.showTables(st, sess)
	case stAggregate:
		s.stats.Queries++
		return st.agg.run(s, sess, o)
	case stTemplate:
		return st.tmpl.run(s, o)
	case stSelect:
		s.stats.Queries++
		if table {
			return s.selectTable(st, sess)
		}
		return s.selectTree(st)
	}
	return fail(codeSQLParseError, "unsupported statement")
}

func textCols(names ...string) ([]string, []TSDataType) {
	ts := make([]TSDataType, len(names))
	for i := range ts {
		ts[i] = TEXT
	}
	return names, ts
}

func (s *store) showDatabases(table bool) *resultSet {
	rs := &resultSet{ignoreTime: true}
	if table {
		rs.names = []string{"Database", "TTL(ms)", "SchemaReplicationFactor", "DataReplicationFactor", "TimePartitionInterval"}
		rs.types = []TSDataType{STRING, STRING, INT32, INT32, INT64}
		rs.cols = make([][]any, 5)
		names := make([]string, 0, len(s.tdbs))
		for n := range s.tdbs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			rs.times = append(rs.times, 0)
			rs.cols[0] = append(rs.cols[0], n)
			rs.cols[1] = append(rs.cols[1], "INF")
			rs.cols[2] = append(rs.cols[2], int32(1))
			rs.cols[3] = append(rs.cols[3], int32(1))
			rs.cols[4] = append(rs.cols[4], int64(604800000))
		}
		return rs
	}
	rs.names = []string{"Database", "SchemaReplicationFactor", "DataReplicationFactor", "TimePartitionOrigin", "TimePartitionInterval"}
	rs.types = []TSDataType{TEXT, INT32, INT32, INT64, INT64}
	rs.cols = make([][]any, 5)
	for _, db := range s.sortedDBs() {
		rs.times = append(rs.times, 0)
		rs.cols[0] = append(rs.cols[0], db)
		rs.cols[1] = append(rs.cols[1], int32(1))
		rs.cols[2] = append(rs.cols[2], int32(1))
		rs.cols[3] = append(rs.cols[3], int64(0))
		rs.cols[4] = append(rs.cols[4], int64(604800000))
	}
	return rs
}

func (s *store) showDevices(pattern string) execResult {
	pat, err := splitPath(pattern, true)
	if err != nil {
		return fail(codeIllegalPath, "%s", err.Error())
	}
	rs := &resultSet{ignoreTime: true}
	rs.names, rs.types = textCols("Device", "IsAligned", "Template", "TTL(ms)")
	rs.cols = make([][]any, 4)
	var devs []*device
	s.devicesMatching(pat, func(d *device) { devs = append(devs, d) })
	sort.Slice(devs, func(i, j int) bool { return devs[i].path < devs[j].path })
	for _, d := range devs {
		rs.times = append(rs.times, 0)
		rs.cols[0] = append(rs.cols[0], d.path)
		rs.cols[1] = append(rs.cols[1], fmt.Sprint(d.aligned))
		rs.cols[2] = append(rs.cols[2], d.templateName()) // the template's name, or NULL (template.go)
		rs.cols[3] = append(rs.cols[3], "INF")
	}
	return execResult{rs: rs}
}

func (s *store) showTimeseries(pattern string) execResult {
	pat, err := splitPath(pattern, true)
	if err != nil {
		return fail(codeIllegalPath, "%s", err.Error())
	}
	rs := &resultSet{ignoreTime: true}
	rs.names, rs.types = textCols("Timeseries", "Alias", "Database", "DataType", "Encoding", "Compression", "Tags", "Attributes", "Deadband", "DeadbandParameters", "ViewType")
	rs.cols = make([][]any, len(rs.names))
	for _, sr := range s.matchSeries(pat) {
		rs.times = append(rs.times, 0)
		row := []any{sr.path, nil, sr.dev.db, typeName(sr.dtype), sr.encoding, sr.compressor, nil, nil, nil, nil, "BASE"}
		for i, v := range row {
			rs.cols[i] = append(rs.cols[i], v)
		}
	}
	return execResult{rs: rs}
}

// seriesCol is one selected tree series.
type seriesCol struct {
	name string
	sr   *series
}

func (s *store) selectTree(st *stmt) execResult {
	if st.where != nil && len(st.where.eq) > 0 {
		return fail(codeSemanticError, "iotdbtest supports only time predicates in tree queries")
	}
	_, full, err := parseDevicePath(st.name)
	if err != nil {
		return fail(codeIllegalPath, "%s (iotdbtest: FROM must name one device, no wildcards)", err.Error())
	}
	d := s.devices[full]
	var sel []seriesCol
	if d != nil {
		if st.paths == nil {
			for _, sr := range d.order {
				sel = append(sel, seriesCol{sr.path, sr})
			}
			sort.Slice(sel, func(i, j int) bool { return sel[i].sr.name < sel[j].sr.name })
		} else {
			for _, p := range st.paths {
				m, err := parseMeasurement(p)
				if err != nil {
					return fail(codeIllegalPath, "%s", err.Error())
				}
				if sr := d.series[m]; sr != nil {
					sel = append(sel, seriesCol{sr.path, sr})
				}
			}
		}
	}
	tr := fullRange()
	if st.where != nil {
		tr = st.where.tr
	}
	rs := &resultSet{}
	for _, c := range sel {
		rs.names = append(rs.names, c.name)
		rs.types = append(rs.types, c.sr.dtype)
	}
	rs.cols = make([][]any, len(sel))
	// union of times within the range
	var all []int64
	for _, c := range sel {
		ts := c.sr.data.times()
		a, _ := slices.BinarySearch(ts, tr.lo)
		for _, t := range ts[a:] {
			if t > tr.hi {
				break
			}
			all = append(all, t)
		}
	}
	slices.Sort(all)
	all = slices.Compact(all)
	if st.orderDesc {
		slices.Reverse(all)
	}
	if st.offset > 0 {
		all = all[min(int64(len(all)), st.offset):]
	}
	if st.limit >= 0 && int64(len(all)) > st.limit {
		all = all[:st.limit]
	}
	rs.times = all
	for ci, c := range sel {
		col := make([]any, len(all))
		for i, t := range all {
			if j, ok := c.sr.data.find(t); ok {
				col[i] = c.sr.data.anyAt(j)
			}
		}
		rs.cols[ci] = col
	}
	return execResult{rs: rs}
}

// tableRef resolves "t" or "db.t" against the session database.
func (s *store) tableRef(name string, sess *session) (*table, string, *statusErr) {
	db := sess.db
	tn := name
	if i := strings.IndexByte(name, '.'); i >= 0 {
		db, tn = name[:i], name[i+1:]
	}
	if db == "" {
		return nil, "", stErr(codeSemanticError, "database is not specified")
	}
	tdb := s.tdbs[strings.ToLower(db)]
	if tdb == nil {
		return nil, "", stErr(codeDatabaseNotExist, "Database %s doesn't exist", db)
	}
	t := tdb.tables[strings.ToLower(tn)]
	if t == nil {
		return nil, "", stErr(codeTableNotExist, "Table '%s.%s' does not exist", tdb.name, strings.ToLower(tn))
	}
	return t, tdb.name, nil
}

func (s *store) selectTable(st *stmt, sess *session) execResult {
	t, _, e := s.tableRef(st.name, sess)
	if e != nil {
		return execResult{st: e}
	}
	pred := &tablePred{lo: fullRange().lo, hi: fullRange().hi}
	if st.where != nil {
		pred.lo, pred.hi = st.where.tr.lo, st.where.tr.hi
		pred.eq = st.where.eq
		for col := range pred.eq {
			tc := t.colIdx[col]
			if tc == nil || tc.cat == catField {
				return fail(codeSemanticError, "iotdbtest supports equality predicates on TAG/ATTRIBUTE columns only, got %s", col)
			}
		}
	}
	rows := t.rowsOf(pred)
	if st.orderDesc {
		sort.SliceStable(rows, func(i, j int) bool { return rows[i]["time"].(int64) > rows[j]["time"].(int64) })
	}
	if st.offset > 0 {
		rows = rows[min(int64(len(rows)), st.offset):]
	}
	if st.limit >= 0 && int64(len(rows)) > st.limit {
		rows = rows[:st.limit]
	}
	rs := &resultSet{ignoreTime: true}
	type outCol struct {
		name string
		typ  TSDataType
	}
	var sel []outCol
	if st.paths == nil {
		sel = append(sel, outCol{"time", TIMESTAMP})
		for _, c := range t.cols {
			sel = append(sel, outCol{c.name, c.typ})
		}
	} else {
		for _, p := range st.paths {
			n := strings.ToLower(p)
			if n == "time" {
				sel = append(sel, outCol{"time", TIMESTAMP})
				continue
			}
			c := t.colIdx[n]
			if c == nil {
				return fail(codeSemanticError, "Column '%s' cannot be resolved", p)
			}
			sel = append(sel, outCol{c.name, c.typ})
		}
	}
	rs.cols = make([][]any, len(sel))
	for ci, c := range sel {
		rs.names = append(rs.names, c.name)
		rs.types = append(rs.types, c.typ)
		col := make([]any, len(rows))
		for i, r := range rows {
			col[i] = r[c.name]
		}
		rs.cols[ci] = col
	}
	rs.times = make([]int64, len(rows))
	for i, r := range rows {
		rs.times[i] = r["time"].(int64)
	}
	return execResult{rs: rs}
}

func (s *store) deleteTableRows(st *stmt, sess *session, tr timeRange) execResult {
	if len(st.paths) != 1 {
		return fail(codeSemanticError, "table DELETE takes one table")
	}
	t, _, e := s.tableRef(st.paths[0], sess)
	if e != nil {
		return execResult{st: e}
	}
	pred := &tablePred{lo: tr.lo, hi: tr.hi}
	if st.where != nil {
		pred.eq = st.where.eq
		for col := range pred.eq {
			tc := t.colIdx[col]
			if tc == nil || tc.cat != catTag {
				return fail(codeSemanticError, "The column '%s' does not exist or is not a tag column", col)
			}
		}
	}
	if pred.lo > pred.hi {
		return execResult{}
	}
	s.stats.PointsDeleted += int64(t.deleteRows(pred))
	return execResult{}
}

func (s *store) showTables(st *stmt, sess *session) execResult {
	db := sess.db
	if st.name != "" {
		db = st.name
	}
	tdb := s.tdbs[strings.ToLower(db)]
	if tdb == nil {
		return fail(codeDatabaseNotExist, "Database %s doesn't exist", db)
	}
	rs := &resultSet{ignoreTime: true}
	rs.names = []string{"TableName", "TTL(ms)"}
	rs.types = []TSDataType{STRING, STRING}
	rs.cols = make([][]any, 2)
	var names []string
	for n := range tdb.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rs.times = append(rs.times, 0)
		rs.cols[0] = append(rs.cols[0], n)
		rs.cols[1] = append(rs.cols[1], "INF")
	}
	return execResult{rs: rs}
}

func (s *store) createTable(st *stmt, sess *session) execResult {
	db := sess.db
	tn := st.name
	if i := strings.IndexByte(tn, '.'); i >= 0 {
		db, tn = tn[:i], tn[i+1:]
	}
	if db == "" {
		return fail(codeSemanticError, "database is not specified")
	}
	tdb := s.tdbs[strings.ToLower(db)]
	if tdb == nil {
		return fail(codeDatabaseNotExist, "Database %s doesn't exist", db)
	}
	tn = strings.ToLower(tn)
	if tdb.tables[tn] != nil {
		if st.ifNotExists {
			return execResult{}
		}
		return fail(551, "Table '%s.%s' already exists.", tdb.name, tn)
	}
	t := newTable(tn)
	for _, c := range st.cols {
		if c.cat < 0 {
			continue // the time column
		}
		if (c.cat == catTag || c.cat == catAttribute) && c.typ != STRING {
			return fail(codeSemanticError, "DataType of %s column %s should only be STRING, current is %s", catName(c.cat), c.name, typeName(c.typ))
		}
		if t.colIdx[c.name] != nil {
			return fail(codeSemanticError, "Columns in table shall not share the same name %s.", c.name)
		}
		t.addCol(c.name, c.cat, c.typ)
	}
	tdb.tables[tn] = t
	return execResult{}
}
