package iotdbtest

import (
	"fmt"
	"sort"
	"strings"

	"github.com/apache/iotdb-client-go/v2/common"
)

// Table model (docs/iotdb.md §6): a database holds tables; a table has a time
// column plus TAG / ATTRIBUTE (STRING) and FIELD columns; a device is a tuple
// of TAG values; rows are keyed by (device, time) with the tree model's
// overwrite / NULL rules.

// Column categories as sent by the Go client (docs/iotdb.md §6).
const (
	catTag       int8 = 0
	catField     int8 = 1
	catAttribute int8 = 2
)

func catName(c int8) string {
	switch c {
	case catTag:
		return "TAG"
	case catField:
		return "FIELD"
	case catAttribute:
		return "ATTRIBUTE"
	}
	return fmt.Sprintf("UNKNOWN(%d)", c)
}

type tableDB struct {
	name   string
	tables map[string]*table
}

type tcol struct {
	name string
	cat  int8
	typ  TSDataType
}

type table struct {
	name    string
	cols    []*tcol
	colIdx  map[string]*tcol
	tags    []*tcol
	devices map[string]*tdevice
}

type tdevice struct {
	tags   []*string // in table tag order; nil = NULL
	attrs  map[string]string
	rows   *pointsOf[bool] // row existence per time
	fields map[string]seriesStore
}

func newTable(name string) *table {
	return &table{name: name, colIdx: map[string]*tcol{}, devices: map[string]*tdevice{}}
}

func (t *table) addCol(name string, cat int8, typ TSDataType) *tcol {
	c := &tcol{name: name, cat: cat, typ: typ}
	t.cols = append(t.cols, c)
	t.colIdx[name] = c
	if cat == catTag {
		t.tags = append(t.tags, c)
		// existing devices get NULL for the new tag; re-key them
		old := t.devices
		t.devices = make(map[string]*tdevice, len(old))
		for _, d := range old {
			d.tags = append(d.tags, nil)
			t.devices[deviceKey(d.tags)] = d
		}
	}
	return c
}

func deviceKey(tags []*string) string {
	var b strings.Builder
	for _, v := range tags {
		if v == nil {
			b.WriteString("\x00|")
			continue
		}
		b.WriteString("\x01")
		b.WriteString(strings.ReplaceAll(*v, "|", "||"))
		b.WriteString("\x01|")
	}
	return b.String()
}

func (t *table) device(tags []*string) *tdevice {
	k := deviceKey(tags)
	d := t.devices[k]
	if d == nil {
		cp := make([]*string, len(tags))
		for i, v := range tags {
			if v != nil {
				c := *v
				cp[i] = &c
			}
		}
		d = &tdevice{tags: cp, attrs: map[string]string{}, rows: &pointsOf[bool]{}, fields: map[string]seriesStore{}}
		t.devices[k] = d
	}
	return d
}

// createTableDB is CREATE DATABASE in the table dialect.
func (s *store) createTableDB(name string, ifNotExists bool) *statusErr {
	name = strings.ToLower(name)
	if !legalUnquoted(name) {
		return stErr(codeIllegalPath, "%s is not a legal database name", name)
	}
	if s.tdbs[name] != nil {
		if ifNotExists {
			return nil
		}
		return stErr(codeDatabaseExists, "Database %s already exists", name)
	}
	s.tdbs[name] = &tableDB{name: name, tables: map[string]*table{}}
	return nil
}

// writeTable applies an insertTablet with writeToTable=true.
func (s *store) writeTable(db, tname string, cats []int8, times []int64, cols []inCol, o writeOpts) *common.TSStatus {
	if db == "" {
		return status(codeSemanticError, "database is not specified (docs/iotdb.md §1.5: a reconnected table session loses its database)")
	}
	tdb := s.tdbs[strings.ToLower(db)]
	if tdb == nil {
		return status(codeDatabaseNotExist, fmt.Sprintf("Database %s does not exist", db))
	}
	if len(cats) != len(cols) {
		return status(codeIllegalParameter, "Missing or invalid column categories for table insertion")
	}
	if e := checkPrecision(o.precision, times); e != nil {
		return status(e.code, e.msg)
	}
	tname = strings.ToLower(tname)
	if tname == "" {
		return status(codeSemanticError, "table name is empty")
	}
	t := tdb.tables[tname]
	if t == nil && !o.autoCreate {
		return status(codeTableNotExist, fmt.Sprintf("Table %s.%s does not exist", tdb.name, tname))
	}
	names := make([]string, len(cols))
	newCols := map[string]bool{}
	var failedNames, failedMsgs []string
	fail := make([]bool, len(cols))
	for i := range cols {
		c := &cols[i]
		names[i] = strings.ToLower(c.name)
		if names[i] == "" || names[i] == "time" {
			return status(codeSemanticError, fmt.Sprintf("illegal column name %q", c.name))
		}
		if cats[i] != catTag && cats[i] != catField && cats[i] != catAttribute {
			return status(codeIllegalParameter, "Missing or invalid column categories for table insertion")
		}
		if (cats[i] == catTag || cats[i] == catAttribute) && c.typ != STRING {
			return status(codeSemanticError, fmt.Sprintf("DataType of %s column %s should only be STRING, current is %s", catName(cats[i]), names[i], typeName(c.typ)))
		}
		var ex *tcol
		if t != nil {
			ex = t.colIdx[names[i]]
		}
		if ex == nil {
			if !o.autoCreate {
				fail[i] = true
				failedNames = append(failedNames, names[i])
				failedMsgs = append(failedMsgs, fmt.Sprintf("Column %s does not exists or fails to be created", names[i]))
			} else {
				newCols[names[i]] = true
			}
			continue
		}
		if ex.cat != cats[i] {
			return status(codeSemanticError, fmt.Sprintf("column category mismatch for %s: registered %s, inserting %s", names[i], catName(ex.cat), catName(cats[i])))
		}
		if !canCast(c.typ, ex.typ) {
			r := c.firstNonNull(len(times))
			ts := "null"
			if len(times) > 0 {
				ts = fmt.Sprint(times[r])
			}
			fail[i] = true
			failedNames = append(failedNames, names[i])
			failedMsgs = append(failedMsgs, fmt.Sprintf("data type of %s.%s is not consistent, registered type %s, inserting type %s, timestamp %s, value %s",
				tname, names[i], typeName(ex.typ), typeName(c.typ), ts, c.valueString(r)))
		}
	}
	var failMsg string
	if len(failedNames) > 0 {
		failMsg = fmt.Sprintf("Fail to insert measurements [%s] caused by [%s]", strings.Join(failedNames, ", "), strings.Join(failedMsgs, ", "))
		if !o.partialInsert {
			return status(codeMetadataError, failMsg)
		}
	}
	if t == nil {
		t = newTable(tname)
		tdb.tables[tname] = t
	}
	for i := range cols {
		if newCols[names[i]] && t.colIdx[names[i]] == nil {
			t.addCol(names[i], cats[i], cols[i].typ)
		}
	}
	// tablet column index of each table tag
	tagSrc := make([]int, len(t.tags))
	for k, tc := range t.tags {
		tagSrc[k] = -1
		for i := range cols {
			if names[i] == tc.name && !fail[i] {
				tagSrc[k] = i
			}
		}
	}
	tags := make([]*string, len(t.tags))
	strs := make([]string, len(t.tags))
	var points int64
	var last *tdevice
	for r := range times {
		same := last != nil
		for k, src := range tagSrc {
			var v *string
			if src >= 0 && !cols[src].isNull(r) {
				strs[k] = string(cols[src].bin[r])
				v = &strs[k]
			}
			tags[k] = v
			if same {
				lv := last.tags[k]
				if (lv == nil) != (v == nil) || (v != nil && *lv != *v) {
					same = false
				}
			}
		}
		d := last
		if !same {
			d = t.device(tags)
			last = d
		}
		d.rows.put(times[r], true)
		for i := range cols {
			if fail[i] || cols[i].isNull(r) {
				continue
			}
			switch cats[i] {
			case catAttribute:
				d.attrs[names[i]] = string(cols[i].bin[r])
			case catField:
				tc := t.colIdx[names[i]]
				fs := d.fields[names[i]]
				if fs == nil {
					fs = newSeriesStore(tc.typ)
					d.fields[names[i]] = fs
				}
				one := cols[i]
				one.fixed, one.bin, one.nulls = sliceRow(&cols[i], r)
				points += int64(ingest(fs, tc.typ, &one, times[r:r+1]))
			}
		}
	}
	s.stats.PointsWritten += points
	if failMsg != "" {
		s.stats.PartialWrites++
		return status(codeMetadataError, failMsg)
	}
	return okStatus()
}

// sliceRow returns the storage of row r as a 1-row column.
func sliceRow(c *inCol, r int) ([]byte, [][]byte, []byte) {
	if w := fixedWidth(c.typ); w > 0 {
		return c.fixed[r*w : (r+1)*w], nil, nil
	}
	return nil, c.bin[r : r+1], nil
}

// tablePred is a conjunction of time bounds and column equalities.
type tablePred struct {
	lo, hi int64
	eq     map[string]string
}

func (p *tablePred) deviceMatches(t *table, d *tdevice) bool {
	for col, want := range p.eq {
		tc := t.colIdx[col]
		if tc == nil {
			return false
		}
		switch tc.cat {
		case catTag:
			for k, tg := range t.tags {
				if tg == tc {
					if d.tags[k] == nil || *d.tags[k] != want {
						return false
					}
				}
			}
		case catAttribute:
			if v, ok := d.attrs[col]; !ok || v != want {
				return false
			}
		}
	}
	return true
}

// sortedDevices returns the devices of t sorted by tag tuple.
func (t *table) sortedDevices() []*tdevice {
	ds := make([]*tdevice, 0, len(t.devices))
	for _, d := range t.devices {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool {
		a, b := ds[i].tags, ds[j].tags
		for k := range a {
			switch {
			case a[k] == nil && b[k] == nil:
				continue
			case a[k] == nil:
				return true
			case b[k] == nil:
				return false
			case *a[k] != *b[k]:
				return *a[k] < *b[k]
			}
		}
		return false
	})
	return ds
}

// rowsOf materialises the rows of t matching p: one map per row with "time",
// every tag/attribute/field column (nil = NULL).
func (t *table) rowsOf(p *tablePred) []map[string]any {
	var out []map[string]any
	for _, d := range t.sortedDevices() {
		if p != nil && !p.deviceMatches(t, d) {
			continue
		}
		ts := d.rows.times()
		for i, tm := range ts {
			if p != nil && (tm < p.lo || tm > p.hi) {
				continue
			}
			_ = i
			row := map[string]any{"time": tm}
			for _, c := range t.cols {
				switch c.cat {
				case catTag:
					row[c.name] = nil
					for k, tg := range t.tags {
						if tg == c && d.tags[k] != nil {
							row[c.name] = *d.tags[k]
						}
					}
				case catAttribute:
					if v, ok := d.attrs[c.name]; ok {
						row[c.name] = v
					} else {
						row[c.name] = nil
					}
				case catField:
					row[c.name] = nil
					if fs := d.fields[c.name]; fs != nil {
						if j, ok := fs.find(tm); ok {
							row[c.name] = outValue(c.typ, fs.anyAt(j))
						}
					}
				}
			}
			out = append(out, row)
		}
	}
	return out
}

// deleteRows deletes whole rows matching p (table deletes are row-granular,
// docs/iotdb.md §5.1).
func (t *table) deleteRows(p *tablePred) int {
	n := 0
	for _, d := range t.devices {
		if !p.deviceMatches(t, d) {
			continue
		}
		n += d.rows.deleteRange(p.lo, p.hi)
		for _, fs := range d.fields {
			fs.deleteRange(p.lo, p.hi)
		}
	}
	return n
}
