package mapping

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	// Zones are named in mappings; embed the database so a minimal container
	// without /usr/share/zoneinfo still loads them.
	_ "time/tzdata"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// Options are the target-side facts Compile needs besides the mapping.
type Options struct {
	Model     string // "tree" (default) or "table"
	Precision string // IoTDB server timestamp precision: "ms" (default), "us" or "ns"
	Database  string // table model: the IoTDB database (required); tree: default database path when the mapping names none
}

// Mapper maps rows of one source table to points. It is immutable after
// Compile and safe for concurrent use.
type Mapper struct {
	table   string
	schema  *Schema
	columns []string // Columns(), row order
	model   string

	timeIdx    int
	timeConv   *colConv
	timeUnit   int64 // integer epochs: units per second; 0 for DATE/DATETIME/TIMESTAMP
	timeMax    int64
	deviceCols []int          // row indexes of device (tree) or tag (table) columns, for NULL checks
	nodes      []compiledNode // tree model device template
	deviceLen  int            // bytes of the literal parts, a Grow hint
	tags       []partRef      // table model tag columns
	fields     []fieldRef     // measurements, in Schema order after the tags
	keyIdx     []int
	keyNames   []string
}

type compiledNode struct {
	literal string
	pieces  []piece
}

type piece struct {
	text string
	ref  *partRef // nil for text
}

type partRef struct {
	idx  int
	conv *colConv
}

type fieldRef struct {
	idx      int
	conv     *colConv
	zeroNull bool
	// pass names the Go type of source values that conv.value returns
	// unchanged (same type, same value); Map stores such values as they
	// are instead of boxing a copy.
	pass passKind
}

type passKind uint8

const (
	passNone    passKind = iota
	passFloat64          // DOUBLE column to DOUBLE: float64 as is
	passFloat32          // FLOAT column to FLOAT: float32 as is
	passInt64            // signed integer column to INT64: int64 as is
)

// passOf tells which source values cc.value returns unchanged.
func passOf(cc *colConv) passKind {
	switch {
	case cc.fam == famDouble && cc.target == client.DOUBLE:
		return passFloat64
	case cc.fam == famFloat && cc.target == client.FLOAT:
		return passFloat32
	case cc.fam == famInt && !cc.unsigned && cc.target == client.INT64:
		return passInt64
	}
	return passNone
}

// Compile checks m against the live table schema t and precomputes
// everything Map needs. Errors name the mapping position, the table and the
// column.
func Compile(m *config.Mapping, t *TableSchema, o Options) (*Mapper, error) {
	where := fmt.Sprintf("mapping %s:%d (table %s)", m.Pos.File, m.Pos.Line, m.Table)
	errf := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...))
	}
	model := o.Model
	if model == "" {
		model = "tree"
	}
	if model != "tree" && model != "table" {
		return nil, errf("unknown IoTDB model %q (want tree or table)", o.Model)
	}
	precision := o.Precision
	if precision == "" {
		precision = "ms"
	}
	perSec, ok := perSecond(precision)
	if !ok || perSec == 1 {
		return nil, errf("unknown timestamp precision %q (want ms, us or ns)", o.Precision)
	}
	zone := time.UTC
	if m.Time.Zone != "" {
		z, err := time.LoadLocation(m.Time.Zone)
		if err != nil {
			return nil, errf("time zone %q: %v", m.Time.Zone, err)
		}
		zone = z
	}
	unsignedPolicy := m.Unsigned
	switch unsignedPolicy {
	case "", "error", "clip", "string":
	default:
		return nil, errf("bigint_unsigned %q: want error, clip or string", m.Unsigned)
	}
	switch m.Decimal {
	case "", "double", "string":
	default:
		return nil, errf("decimal %q: want double or string", m.Decimal)
	}
	switch m.ZeroDate {
	case "", "dirty", "null":
	default:
		return nil, errf("zero_date %q: want dirty or null", m.ZeroDate)
	}

	mp := &Mapper{table: m.Table, model: model, timeMax: maxTime(perSec)}
	// Columns() bookkeeping: each source column once, in first-use order.
	colIndex := map[string]int{}
	convs := map[string]*colConv{}
	use := func(name, role string, p config.Pos) (int, *colConv, error) {
		c, ok := t.Column(name)
		if !ok {
			pos := where
			if p.Line != 0 {
				pos = fmt.Sprintf("mapping %s:%d (table %s)", p.File, p.Line, m.Table)
			}
			return 0, nil, fmt.Errorf("%s: %s column %q does not exist in %s.%s%s", pos, role, name, t.Database, t.Name, t.columnHint(name))
		}
		key := strings.ToLower(c.Name)
		if i, ok := colIndex[key]; ok {
			return i, convs[key], nil
		}
		cc, err := newColConv(c, zone, perSec)
		if err != nil {
			return 0, nil, errf("%s column: %v", role, err)
		}
		colIndex[key] = len(mp.columns)
		convs[key] = cc
		mp.columns = append(mp.columns, c.Name)
		return colIndex[key], cc, nil
	}

	// Time column.
	if m.Time.Column == "" {
		return nil, errf("time.column is required")
	}
	ti, tc, err := use(m.Time.Column, "time", m.Pos)
	if err != nil {
		return nil, err
	}
	mp.timeIdx, mp.timeConv = ti, tc
	switch tc.fam {
	case famDate, famDateTime, famTimestamp:
		if m.Time.Unit != "" {
			return nil, errf("time column %s is %s: time.unit applies only to integer epoch columns", tc.name, tc.fam)
		}
	case famInt:
		u, ok := perSecond(m.Time.Unit)
		if !ok {
			return nil, errf("time column %s is an integer: time.unit must be s, ms, us or ns (got %q)", tc.name, m.Time.Unit)
		}
		mp.timeUnit = u
	default:
		return nil, errf("time column %s is %s: want DATETIME, TIMESTAMP, DATE or an integer epoch", tc.name, tc.fam)
	}

	sch := &Schema{SourceTable: m.Table, Model: model}
	if model == "tree" {
		if len(m.Tags) > 0 {
			return nil, errf("tags apply to the table model only; the tree model's device is the template")
		}
		nodes, err := parseTemplate(m.Device)
		if err != nil {
			return nil, errf("%v", err)
		}
		for _, n := range nodes {
			cn := compiledNode{literal: n.literal}
			mp.deviceLen += len(n.literal) + 1
			for _, p := range n.pieces {
				if p.col == "" {
					cn.pieces = append(cn.pieces, piece{text: p.text})
					mp.deviceLen += len(p.text)
					continue
				}
				i, cc, err := use(p.col, "device", m.Pos)
				if err != nil {
					return nil, err
				}
				if !cc.deviceable() {
					return nil, errf("device column %s is %s, which cannot name a device", cc.name, cc.fam)
				}
				ref := &partRef{idx: i, conv: cc}
				cn.pieces = append(cn.pieces, piece{ref: ref})
				mp.deviceCols = append(mp.deviceCols, i)
				mp.deviceLen += 8
			}
			mp.nodes = append(mp.nodes, cn)
		}
		db, err := treeDatabase(m.Database, o.Database, nodes)
		if err != nil {
			return nil, errf("%v", err)
		}
		sch.Database = db
		sch.Aligned = m.Aligned == nil || *m.Aligned
		if m.DeviceTemplate != "" {
			sch.Template = m.DeviceTemplate
			if sch.TemplatePath, err = fixedBeginning(nodes); err != nil {
				return nil, errf("device_template: %v", err)
			}
		}
	} else {
		if m.Device == "" || strings.Contains(m.Device, "${") || strings.ContainsAny(m.Device, ".` \t") {
			return nil, errf("table model: device must be a plain IoTDB table name, got %q", m.Device)
		}
		if o.Database == "" {
			return nil, errf("table model: the IoTDB database is required")
		}
		if len(m.Tags) == 0 {
			return nil, errf("table model: at least one tag column is required to identify the device")
		}
		sch.Database = o.Database
		sch.TargetTable = m.Device
		sch.Aligned = true
		for _, tag := range m.Tags {
			i, cc, err := use(tag, "tag", m.Pos)
			if err != nil {
				return nil, err
			}
			if !cc.deviceable() {
				return nil, errf("tag column %s is %s, which cannot identify a device", cc.name, cc.fam)
			}
			mp.tags = append(mp.tags, partRef{idx: i, conv: cc})
			mp.deviceCols = append(mp.deviceCols, i)
			sch.Measurements = append(sch.Measurements, cc.name)
			sch.Types = append(sch.Types, client.STRING)
			sch.Categories = append(sch.Categories, client.TAG)
		}
	}

	// Measurements.
	if len(m.Measurements) == 0 {
		return nil, errf("at least one measurement is required")
	}
	seen := map[string]bool{}
	for _, name := range sch.Measurements {
		seen[strings.ToLower(name)] = true
	}
	for _, ms := range m.Measurements {
		p := ms.Pos
		if p.Line == 0 {
			p = m.Pos
		}
		i, shared, err := use(ms.Column, "measurement", p)
		if err != nil {
			return nil, err
		}
		// Each measurement gets its own converter: the same column may be
		// mapped twice with different types.
		cc := *shared
		name := ms.Name
		if name == "" {
			name = cc.name
		}
		wire := name
		key := name
		if model == "tree" {
			if wire, err = QuoteNode(name); err != nil {
				return nil, errf("measurement name %q: %v", name, err)
			}
		} else {
			key = strings.ToLower(name)
			if key == "time" {
				return nil, errf("measurement name %q collides with the table model's time column; set name:", name)
			}
		}
		if seen[key] {
			return nil, errf("measurement name %q is used twice", name)
		}
		seen[key] = true

		tp, err := pickType(&cc, ms.Type, unsignedPolicy, m.Decimal, m.DecimalSet)
		if err != nil {
			return nil, errf("measurement %s (column %s): %v", name, cc.name, err)
		}
		cc.target = tp
		cc.clip = unsignedPolicy == "clip"
		mp.fields = append(mp.fields, fieldRef{idx: i, conv: &cc, zeroNull: m.ZeroDate == "null", pass: passOf(&cc)})
		sch.Measurements = append(sch.Measurements, wire)
		sch.Types = append(sch.Types, tp)
		if model == "table" {
			sch.Categories = append(sch.Categories, client.FIELD)
		}
	}

	// Primary key, for messages.
	for _, k := range t.PrimaryKey {
		i, _, err := use(k, "primary key", m.Pos)
		if err != nil {
			return nil, err
		}
		mp.keyIdx = append(mp.keyIdx, i)
		mp.keyNames = append(mp.keyNames, k)
	}
	mp.schema = sch
	return mp, nil
}

// pickType derives the measurement type or checks the declared one.
//
// For a DECIMAL column the declared type implies the conversion: STRING or
// TEXT is the exact text, DOUBLE the rounded number. The mapping's decimal
// policy only decides for measurements without a declared type, and
// conflicts with a declared type only when it was written (decimalSet):
// decimal: double is the default, so a STRING declared under it is exact
// text, not an error.
func pickType(cc *colConv, declared, unsignedPolicy, decimalPolicy string, decimalSet bool) (client.TSDataType, error) {
	bigUnsigned := cc.fam == famInt && cc.width == 64 && cc.unsigned
	if declared == "" {
		return cc.defaultType(unsignedPolicy == "string", decimalPolicy == "string"), nil
	}
	tp, ok := typeByName[strings.ToUpper(declared)]
	if !ok {
		return 0, fmt.Errorf("unknown IoTDB type %q", declared)
	}
	if !cc.allows(tp) {
		return 0, fmt.Errorf("type %s cannot hold a %s column (%s) without loss; see mapping/TYPES.md for the allowed pairs",
			TypeName(tp), cc.fam, cc.name)
	}
	if bigUnsigned && unsignedPolicy == "string" && !isText(tp) {
		return 0, fmt.Errorf("bigint_unsigned: string conflicts with type %s", TypeName(tp))
	}
	if cc.fam == famDecimal {
		if decimalPolicy == "string" && !isText(tp) {
			return 0, fmt.Errorf("decimal: string conflicts with type %s: for the rounded number remove decimal: string (or write decimal: double); for the exact text write type: STRING",
				TypeName(tp))
		}
		if decimalPolicy == "double" && decimalSet && isText(tp) {
			return 0, fmt.Errorf("decimal: double conflicts with type %s: for the exact text remove decimal: double (or write decimal: string); for the rounded number write type: DOUBLE",
				TypeName(tp))
		}
	}
	return tp, nil
}

// treeDatabase picks the tree-model database path: the mapping's, else the
// default, else the template's first two literal nodes (root.x). The device
// template must lie under it.
func treeDatabase(mappingDB, defaultDB string, nodes []templateNode) (string, error) {
	db := mappingDB
	if db == "" {
		db = defaultDB
	}
	if db == "" {
		if len(nodes) < 3 || nodes[1].literal == "" {
			return "", errors.New("cannot derive the database from the device template (its second node is not literal): set database:")
		}
		db = "root." + nodes[1].literal
	}
	parts := strings.Split(db, ".")
	if parts[0] != "root" || len(parts) < 2 || len(db) > 64 {
		return "", fmt.Errorf("database %q must be root.<name>[.<name>...] of at most 64 characters", db)
	}
	for _, p := range parts[1:] {
		if p == "" {
			return "", fmt.Errorf("database %q has an empty node", db)
		}
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !(c == '_' || isDigit(c) || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')) {
				return "", fmt.Errorf("database %q: use only letters, digits and _ in database nodes", db)
			}
		}
	}
	if len(parts) >= len(nodes) {
		return "", fmt.Errorf("device template must have at least one node below the database %s", db)
	}
	for i, p := range parts {
		if nodes[i].literal != p {
			return "", fmt.Errorf("device template does not lie under the database %s (node %d)", db, i+1)
		}
	}
	return db, nil
}

// Columns lists the source columns Map needs, in the order Map expects the
// values: the time column, the device (tree) or tag (table) columns, the
// measurement columns, then the primary key columns; each column once, with
// the schema's spelling.
func (mp *Mapper) Columns() []string { return mp.columns }

// Reorder returns a mapper for rows whose values come in the order of cols
// (names matched case-insensitively, as MySQL does) instead of Columns():
// CDC maps binlog row images, which list every column of the table in table
// order, without copying each row into Columns() order. cols may hold
// columns the mapping does not use; every column it does use must be
// there. The result shares the schema.
func (mp *Mapper) Reorder(cols []string) (*Mapper, error) {
	pos := make([]int, len(mp.columns))
	for i, c := range mp.columns {
		pos[i] = -1
		for j, ec := range cols {
			if strings.EqualFold(c, ec) {
				pos[i] = j
				break
			}
		}
		if pos[i] < 0 {
			return nil, fmt.Errorf("mapping %s: column %q is not among the row's columns (%s)", mp.table, c, strings.Join(cols, ", "))
		}
	}
	remap := func(idx []int) []int {
		out := make([]int, len(idx))
		for i, x := range idx {
			out[i] = pos[x]
		}
		return out
	}
	nm := *mp
	nm.columns = append([]string(nil), cols...)
	nm.timeIdx = pos[mp.timeIdx]
	nm.deviceCols = remap(mp.deviceCols)
	nm.keyIdx = remap(mp.keyIdx)
	nm.nodes = make([]compiledNode, len(mp.nodes))
	for i, n := range mp.nodes {
		cn := compiledNode{literal: n.literal}
		for _, p := range n.pieces {
			if p.ref != nil {
				p.ref = &partRef{idx: pos[p.ref.idx], conv: p.ref.conv}
			}
			cn.pieces = append(cn.pieces, p)
		}
		nm.nodes[i] = cn
	}
	nm.tags = make([]partRef, len(mp.tags))
	for i, t := range mp.tags {
		nm.tags[i] = partRef{idx: pos[t.idx], conv: t.conv}
	}
	nm.fields = make([]fieldRef, len(mp.fields))
	for i, f := range mp.fields {
		f.idx = pos[f.idx]
		nm.fields[i] = f
	}
	return &nm, nil
}

// Schema is the layout shared by every point of this mapping.
func (mp *Mapper) Schema() *Schema { return mp.schema }

// Table is the source table name.
func (mp *Mapper) Table() string { return mp.table }

// SelectList returns one SELECT expression per Columns() entry for the
// backfill query. DATE and DATETIME columns are read as text
// (CAST(`c` AS CHAR)) because go-sql-driver's parseTime builds them with
// time.Date, which silently turns '2024-00-10' into 2023-12-10; as text,
// both paths classify such values as zero dates. All other columns are
// selected as they are (backquoted). Using it is optional: Map accepts both.
func (mp *Mapper) SelectList() []string {
	out := make([]string, len(mp.columns))
	for i, c := range mp.columns {
		q := "`" + strings.ReplaceAll(c, "`", "``") + "`"
		if cc := mp.convAt(i); cc != nil && (cc.fam == famDate || cc.fam == famDateTime) {
			q = "CAST(" + q + " AS CHAR) AS " + q
		}
		out[i] = q
	}
	return out
}

func (mp *Mapper) convAt(idx int) *colConv {
	if idx == mp.timeIdx {
		return mp.timeConv
	}
	for _, n := range mp.nodes {
		for _, p := range n.pieces {
			if p.ref != nil && p.ref.idx == idx {
				return p.ref.conv
			}
		}
	}
	for _, t := range mp.tags {
		if t.idx == idx {
			return t.conv
		}
	}
	for _, f := range mp.fields {
		if f.idx == idx {
			return f.conv
		}
	}
	return nil
}

// KeyString renders the primary key of a row for messages, e.g. "id=42" or
// "site=berlin,id=7"; "" when the table has no primary key.
func (mp *Mapper) KeyString(row []any) string {
	if len(mp.keyIdx) == 0 || len(row) != len(mp.columns) {
		return ""
	}
	var b strings.Builder
	for i, idx := range mp.keyIdx {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(mp.keyNames[i])
		b.WriteByte('=')
		b.WriteString(renderValue(row[idx]))
	}
	return b.String()
}

// AppendKey appends KeyString(row) to dst without building the string:
// backfill hashes it for every point.
func (mp *Mapper) AppendKey(dst []byte, row []any) []byte {
	if len(mp.keyIdx) == 0 || len(row) != len(mp.columns) {
		return dst
	}
	for i, idx := range mp.keyIdx {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, mp.keyNames[i]...)
		dst = append(dst, '=')
		switch x := row[idx].(type) {
		case int64:
			dst = strconv.AppendInt(dst, x, 10)
		case uint64:
			dst = strconv.AppendUint(dst, x, 10)
		default:
			dst = append(dst, renderValue(x)...)
		}
	}
	return dst
}

func (mp *Mapper) dirty(row []any, idx int, reason, detail string) *DirtyError {
	return &DirtyError{
		Table: mp.table, Key: mp.KeyString(row), Column: mp.columns[idx],
		Value: renderValue(row[idx]), Reason: reason, Detail: detail,
	}
}

func (mp *Mapper) dirtyErr(row []any, idx int, err error) *DirtyError {
	reason, detail := reasonOf(err)
	return mp.dirty(row, idx, reason, detail)
}

func (mp *Mapper) checkRow(row []any) error {
	if len(row) != len(mp.columns) {
		return fmt.Errorf("mapping %s: row has %d values, want %d (Columns())", mp.table, len(row), len(mp.columns))
	}
	return nil
}

// Map converts one row, values in Columns() order as either source path
// delivers them, to a point. Rows that cannot be mapped return a
// *DirtyError; any other error is a caller bug (wrong row length).
func (mp *Mapper) Map(row []any) (Point, error) {
	return mp.MapInto(row, make([]any, len(mp.schema.Measurements)))
}

// MapInto is Map with the point's Values in values, which must have one
// nil entry per Schema().Measurements: callers mapping many rows slice them
// from one array.
func (mp *Mapper) MapInto(row, values []any) (Point, error) {
	return mp.MapArena(row, values, nil)
}

// MapArena is MapInto with the tree-model device path rendered into the
// arena a (when a is nil, into a string of its own). The engines map their
// rows this way, one Arena per goroutine: no allocation per row for the
// path (see Arena).
func (mp *Mapper) MapArena(row, values []any, a *Arena) (Point, error) {
	if err := mp.checkRow(row); err != nil {
		return Point{}, err
	}
	if len(values) != len(mp.schema.Measurements) {
		return Point{}, fmt.Errorf("mapping %s: %d value slots, want %d (Schema().Measurements)", mp.table, len(values), len(mp.schema.Measurements))
	}
	ts, err := mp.timeOf(row)
	if err != nil {
		return Point{}, err
	}
	var device string
	if mp.model == "tree" {
		device, err = mp.treeDevice(row, a)
	} else {
		device, err = mp.tableDevice(row, values)
	}
	if err != nil {
		return Point{}, err
	}
	off := len(mp.tags)
	for i := range mp.fields {
		f := &mp.fields[i]
		v := row[f.idx]
		if v == nil {
			continue
		}
		switch f.pass {
		case passFloat64:
			if _, ok := v.(float64); ok {
				values[off+i] = v
				continue
			}
		case passFloat32:
			if _, ok := v.(float32); ok {
				values[off+i] = v
				continue
			}
		case passInt64:
			if _, ok := v.(int64); ok {
				values[off+i] = v
				continue
			}
		}
		out, err := f.conv.value(v)
		if err != nil {
			if f.zeroNull {
				if ce, ok := err.(*convError); ok && ce.reason == ReasonZeroDate {
					continue
				}
			}
			return Point{}, mp.dirtyErr(row, f.idx, err)
		}
		values[off+i] = out
	}
	return Point{Device: device, Time: ts, Schema: mp.schema, Values: values}, nil
}

// DeviceAndTime computes only the point key of a row: CDC compares the
// before and after images of an UPDATE to see whether the key moved.
func (mp *Mapper) DeviceAndTime(row []any) (device string, ts int64, err error) {
	if err := mp.checkRow(row); err != nil {
		return "", 0, err
	}
	if ts, err = mp.timeOf(row); err != nil {
		return "", 0, err
	}
	if mp.model == "tree" {
		device, err = mp.treeDevice(row, nil)
	} else {
		device, err = mp.tableDevice(row, nil)
	}
	return device, ts, err
}

// NullMeasurements returns the indexes (into Schema().Measurements) of the
// measurements this row leaves NULL: NULL source values, and zero dates
// under zero_date: null. IoTDB ignores a NULL write, so CDC deletes these
// points after an UPDATE that set them to NULL. nil when there are none.
// Values that would make the row dirty are not reported.
func (mp *Mapper) NullMeasurements(row []any) []int {
	if len(row) != len(mp.columns) {
		return nil
	}
	var out []int
	off := len(mp.tags)
	for i := range mp.fields {
		f := &mp.fields[i]
		v := row[f.idx]
		if v != nil {
			if !f.zeroNull || !isTemporal(f.conv.fam) {
				continue
			}
			if _, err := f.conv.value(v); err == nil {
				continue
			} else if ce, ok := err.(*convError); !ok || ce.reason != ReasonZeroDate {
				continue
			}
		}
		out = append(out, off+i)
	}
	return out
}

func isTemporal(f family) bool { return f == famDate || f == famDateTime || f == famTimestamp }

// timeOf converts the time column to an epoch in server precision.
func (mp *Mapper) timeOf(row []any) (int64, error) {
	v := row[mp.timeIdx]
	if v == nil {
		return 0, mp.dirty(row, mp.timeIdx, ReasonNullTime, "the time column is NULL")
	}
	tc := mp.timeConv
	var ts int64
	var err error
	switch tc.fam {
	case famInt:
		var n integer
		if n, err = convInteger(v, tc.width, tc.unsigned); err == nil {
			if n.big {
				err = fail(ReasonOutOfRange, "epoch above 2^63-1")
			} else {
				ts, err = scaleEpoch(n.v, mp.timeUnit, tc.perSec)
			}
		}
	case famTimestamp:
		var t time.Time
		if t, err = convTimestamp(v); err == nil {
			ts, err = instantTo(t, tc.perSec)
		}
	default: // DATE, DATETIME: wall clock in the mapping zone
		var c civil
		if c, err = convCivil(v); err == nil {
			if tc.zone == time.UTC {
				ts, err = civilUTCTo(c, tc.perSec)
			} else {
				ts, err = instantTo(c.in(tc.zone), tc.perSec)
			}
		}
	}
	if err != nil {
		return 0, mp.dirtyErr(row, mp.timeIdx, err)
	}
	if ts > mp.timeMax {
		return 0, mp.dirty(row, mp.timeIdx, ReasonOutOfRange,
			fmt.Sprintf("timestamp %d exceeds IoTDB's precision check (%d); wrong time.unit?", ts, mp.timeMax))
	}
	return ts, nil
}

// treeDevice renders the device path: literal nodes as compiled, column
// nodes from the row values, each quoted as one node. With an arena the
// path goes into it; without, into a string of its own.
func (mp *Mapper) treeDevice(row []any, a *Arena) (string, error) {
	if a == nil {
		var buf [128]byte
		b, err := mp.appendTreeDevice(buf[:0], row)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
	a.room(mp.deviceLen + 64)
	start := len(a.block)
	b, err := mp.appendTreeDevice(a.block, row)
	if err != nil {
		return "", err
	}
	return a.take(b, start), nil
}

// appendTreeDevice appends the device path of row to dst. On error what
// it appended is to be dropped.
func (mp *Mapper) appendTreeDevice(dst []byte, row []any) ([]byte, error) {
	for i := range mp.nodes {
		n := &mp.nodes[i]
		if i > 0 {
			dst = append(dst, '.')
		}
		if n.pieces == nil {
			dst = append(dst, n.literal...)
			continue
		}
		var node string
		var nb [64]byte
		if len(n.pieces) == 1 {
			s, err := mp.partView(row, n.pieces[0].ref)
			if err != nil {
				return dst, err
			}
			node = s
		} else {
			b := nb[:0]
			for _, p := range n.pieces {
				if p.ref == nil {
					b = append(b, p.text...)
					continue
				}
				s, err := mp.partView(row, p.ref)
				if err != nil {
					return dst, err
				}
				b = append(b, s...)
			}
			node = unsafe.String(unsafe.SliceData(b), len(b))
		}
		var err error
		if dst, err = appendDeviceNode(dst, node); err != nil {
			return dst, mp.dirty(row, mp.firstRef(*n), ReasonIllegalPath, err.Error())
		}
	}
	return dst, nil
}

func (mp *Mapper) firstRef(n compiledNode) int {
	for _, p := range n.pieces {
		if p.ref != nil {
			return p.ref.idx
		}
	}
	return 0
}

func (mp *Mapper) partText(row []any, ref *partRef) (string, error) {
	v := row[ref.idx]
	if v == nil {
		return "", mp.dirty(row, ref.idx, ReasonNullDevice, "a device column is NULL")
	}
	s, err := ref.conv.text(v)
	if err != nil {
		return "", mp.dirtyErr(row, ref.idx, err)
	}
	return s, nil
}

// partView is partText without a copy for text values: a []byte value is
// viewed as a string, valid only while the row is and never to be kept
// (the device path renderer reads it once).
func (mp *Mapper) partView(row []any, ref *partRef) (string, error) {
	if ref.conv.fam == famText {
		switch x := row[ref.idx].(type) {
		case []byte:
			return unsafe.String(unsafe.SliceData(x), len(x)), nil
		case string:
			return x, nil
		}
	}
	return mp.partText(row, ref)
}

// tableDevice renders the tag values (into values[0:len(tags)] when values
// is not nil) and returns them joined by "\x00" for grouping.
func (mp *Mapper) tableDevice(row []any, values []any) (string, error) {
	if len(mp.tags) == 1 {
		s, err := mp.partText(row, &mp.tags[0])
		if err != nil {
			return "", err
		}
		if values != nil {
			values[0] = s
		}
		return s, nil
	}
	var b strings.Builder
	for i := range mp.tags {
		s, err := mp.partText(row, &mp.tags[i])
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(s)
		if values != nil {
			values[i] = s
		}
	}
	return b.String(), nil
}

// civilUTCTo is instantTo(c.in(time.UTC), perSec) computed without
// time.Date, for a valid wall clock (as convCivil returns it without error:
// month 1..12, day within the month, time of day in range).
func civilUTCTo(c civil, perSec int64) (int64, error) {
	sec := daysFromCivil(int64(c.year), int64(c.month), int64(c.day))*86400 +
		int64(c.hour)*3600 + int64(c.min)*60 + int64(c.sec)
	if sec > math.MaxInt64/perSec-1 || sec < math.MinInt64/perSec+1 {
		return 0, fail(ReasonOutOfRange, "time does not fit an int64 epoch at this precision")
	}
	return sec*perSec + int64(c.nsec)/(1e9/perSec), nil
}

// daysFromCivil is the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (H. Hinnant, chrono-Compatible Low-Level
// Date Algorithms).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
