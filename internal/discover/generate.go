package discover

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/cli"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

type generator struct {
	o    Options
	ts   *mapping.TableSchema
	cols []*column
	smp  sample

	warnings []string
}

func (g *generator) warnf(format string, args ...any) {
	g.warnings = append(g.warnings, fmt.Sprintf(format, args...))
}

// Words that make a column look like it names a device (or a place, a
// kind) rather than a reading.
var deviceWords = []string{"site", "plant", "factory", "line", "area", "region", "location", "building", "floor", "room",
	"device", "sensor", "machine", "asset", "host", "node", "meter", "station", "equipment", "gateway", "tag", "channel",
	"probe", "vehicle", "tenant", "customer", "farm", "well", "tank", "pump", "turbine", "unit", "cell", "rack", "serial"}

// Last words of a name that make it an identifier.
var idWords = []string{"id", "code", "name", "no", "sn", "key", "uuid"}

// Words of a time column's name, and of one that changes on update.
var (
	timeWords    = []string{"ts", "time", "timestamp", "datetime", "date", "at", "epoch"}
	changedWords = []string{"updated", "modified", "changed", "deleted", "last"}
	epochWords   = []string{"ts", "time", "timestamp", "epoch", "ms", "us", "ns", "millis", "micros", "nanos", "sec", "seconds"}
)

func (g *generator) build() *Mapping {
	m := &Mapping{Table: g.ts.Name, Usable: true}
	timeCol, unit := g.pickTime()
	device := g.pickDevice(timeCol)

	if len(g.ts.PrimaryKey) == 0 {
		g.warnf("the table has no primary key: backfill reads each partition in one streaming query and an interrupted " +
			"partition again from its start (set mysql.tables[].partition.column to split it), and a dirty row cannot name its key")
	}

	var meas []*column
	for _, c := range g.cols {
		if c == timeCol || slices.Contains(device, c) {
			continue
		}
		meas = append(meas, c)
	}
	rowID := g.rowID()
	active := 0
	for _, c := range meas {
		if c.info.Refused == nil && c != rowID {
			active++
		}
	}
	if active == 0 && rowID != nil && slices.Contains(meas, rowID) {
		rowID = nil // nothing else to measure: keep the key
		active++
	}
	if timeCol == nil {
		m.Usable = false
		g.warnf("no usable time column (DATETIME, TIMESTAMP, DATE or an integer epoch): set time.column before using this mapping")
	}
	if active == 0 {
		m.Usable = false
		g.warnf("no column is left to measure: every column is the time or names the device")
	}
	if g.o.Model == config.ModelTable && len(device) == 0 {
		m.Usable = false
	}

	var b strings.Builder
	g.header(&b, timeCol)
	fmt.Fprintf(&b, "table: %s\n", plain(g.ts.Name))
	g.target(&b, device)
	g.timeSpec(&b, timeCol, unit)
	b.WriteString("measurements:\n")
	for _, c := range meas {
		g.measurement(&b, c, c == rowID)
	}
	b.WriteString(`# What cdc does with UPDATE and DELETE (the defaults):
# on_update: overwrite    # write the new row (ignore: keep the first version)
# on_delete: ignore       # keep the point (delete: delete it from IoTDB too)
`)
	m.Warnings = g.warnings
	// The warnings go at the top, where the header left a mark for them.
	text := b.String()
	var w strings.Builder
	if len(g.warnings) > 0 {
		w.WriteString("#\n# Warnings:\n")
		for _, x := range g.warnings {
			for i, line := range cli.Wrap(x, 90) {
				if i == 0 {
					fmt.Fprintf(&w, "#   - %s\n", line)
				} else {
					fmt.Fprintf(&w, "#     %s\n", line)
				}
			}
		}
	}
	m.YAML = []byte(strings.Replace(text, "#@warnings\n", w.String(), 1))
	return m
}

func (g *generator) header(b *strings.Builder, timeCol *column) {
	by := g.o.Generator
	if by == "" {
		by = "discover"
	}
	fmt.Fprintf(b, "# Mapping of %s.%s, written by %s from information_schema and a\n", g.ts.Database, g.ts.Name, by)
	fmt.Fprintf(b, "# sample of %s (at most %d, the first the server returned).\n", cli.Count(g.smp.rows, "row"), g.o.SampleRows)
	b.WriteString("# It is yours to edit: every key is explained in config.example.yaml, the types in\n")
	b.WriteString("# mapping/TYPES.md. Check it with: backfill --config <your config> --dry-run\n")
	b.WriteString("#@warnings\n")
}

// rowID is the single-column integer primary key that is not the time: a
// row counter, not a reading.
func (g *generator) rowID() *column {
	if len(g.ts.PrimaryKey) != 1 {
		return nil
	}
	for _, c := range g.cols {
		if c.inKey && c.info.Family == "integer" {
			return c
		}
	}
	return nil
}

// pickTime chooses the time column: a DATETIME, TIMESTAMP or DATE whose
// name says time (never one that changes on update, if another is there),
// NOT NULL and in the key preferred; else an integer epoch whose name says
// so, its unit from the name or the size of its largest sampled value.
func (g *generator) pickTime() (*column, string) {
	var best *column
	bestScore := 0
	for _, c := range g.cols {
		if c.info.Refused != nil || (c.info.Time != mapping.TimeWall && c.info.Time != mapping.TimeInstant) {
			continue
		}
		score := 10
		if c.has(timeWords...) || strings.HasSuffix(strings.ToLower(c.c.Name), "time") {
			score += 4
		}
		if c.has(changedWords...) {
			score -= 6
		}
		if !c.c.Nullable {
			score += 2
		}
		if c.inKey {
			score += 2
		}
		if c.c.DataType == "date" {
			score -= 3
		}
		if best == nil || score > bestScore {
			best, bestScore = c, score
		}
	}
	if best != nil {
		if best.c.Nullable {
			g.warnf("the time column %s allows NULL: a row with a NULL time becomes a dirty row (null_time)", best.c.Name)
		}
		if best.has(changedWords...) {
			g.warnf("the time column %s looks like it changes when a row is updated: cdc then writes the row at a new time "+
				"(set on_delete: delete to remove the old point); a time the row keeps is better", best.c.Name)
		}
		if best.c.DataType == "date" {
			g.warnf("the time column %s is a DATE: rows of one device on one day share one time, and IoTDB keeps only the last", best.c.Name)
		}
		return best, ""
	}
	for _, c := range g.cols {
		if c.info.Refused != nil || c.info.Time != mapping.TimeEpoch || c.inKey && len(g.ts.PrimaryKey) == 1 || !c.has(epochWords...) {
			continue
		}
		unit := ""
		switch c.last() {
		case "ms", "millis":
			unit = "ms"
		case "us", "micros":
			unit = "us"
		case "ns", "nanos":
			unit = "ns"
		case "s", "sec", "seconds":
			unit = "s"
		}
		if unit == "" {
			switch v := c.maxVal; {
			case !v.Valid:
				unit = "ms"
				g.warnf("the time column %s is an integer with no sampled value: its unit is guessed as ms; set time.unit (s, ms, us or ns)", c.c.Name)
			case v.Int64 < 1e11:
				unit = "s"
			case v.Int64 < 1e14:
				unit = "ms"
			case v.Int64 < 1e17:
				unit = "us"
			default:
				unit = "ns"
			}
			if v := c.maxVal; v.Valid {
				g.warnf("the time column %s is an integer epoch: its unit %s is guessed from its largest sampled value %d; check time.unit", c.c.Name, unit, v.Int64)
			}
		}
		return c, unit
	}
	return nil, ""
}

// pickDevice chooses the columns that name the device: the key columns
// other than the time, and the columns whose names say they identify
// something (site, device_id, ...), but none that differs in every sampled
// row (each row would be a device of its own), in order of their sampled
// distinct counts (few sites before many devices), at most four.
func (g *generator) pickDevice(timeCol *column) []*column {
	var out []*column
	rowID := g.rowID()
	for _, c := range g.cols {
		if c == timeCol || c == rowID || c.info.Refused != nil || !c.info.Device || !placeholderSafe(c.c.Name) {
			continue
		}
		switch c.info.Family {
		case "integer", "text", "ENUM":
		default:
			continue
		}
		named := c.has(deviceWords...) || slices.Contains(idWords, c.last())
		if !(c.inKey || named) || (c.info.Family == "text" && !c.sampled) {
			continue
		}
		if c.sampled && c.distinct == g.smp.rows && g.smp.rows >= 100 && !c.inKey {
			g.warnf("column %s looks like it names a device but differs in every sampled row: it is not in the device "+
				"(each row would be a device of its own); add it if it really is one", c.c.Name)
			continue
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].distinct < out[j].distinct })
	if len(out) > 4 {
		out = out[:4]
	}
	if len(out) == 0 {
		if g.o.Model == config.ModelTable {
			g.warnf("no column names a device: the table model needs at least one tag column; add it to tags")
		} else {
			g.warnf("no column names a device: every row goes to one device; when the table holds readings of several " +
				"sources, add the columns that tell them apart to the device template (${column})")
		}
	}
	return out
}

// target writes device (and tags in the table model).
func (g *generator) target(b *strings.Builder, device []*column) {
	var names []string
	for _, c := range device {
		names = append(names, c.c.Name)
	}
	if g.o.Model == config.ModelTable {
		fmt.Fprintf(b, "# the IoTDB table the rows go to, in database %s; each distinct tag tuple is a device\n", g.o.Database)
		fmt.Fprintf(b, "device: %s\n", tableName(g.ts.Name))
		if len(names) > 0 {
			fmt.Fprintf(b, "tags: [%s]\n", strings.Join(mapStrings(names, plain), ", "))
		} else {
			b.WriteString("tags: []   # FIXME: at least one column that identifies a device\n")
		}
		return
	}
	base := g.o.Database
	if base == "" {
		base = "root." + nodeName(g.ts.Database)
	}
	tpl := base + "." + literalNode(g.ts.Name)
	for _, n := range names {
		tpl += ".${" + n + "}"
	}
	if len(names) > 0 {
		fmt.Fprintf(b, "# one IoTDB device per distinct %s (distinct values in the sample: %s);\n", strings.Join(names, ", "), g.distinctList(device))
	} else {
		b.WriteString("# one IoTDB device for the whole table (no column names a device);\n")
	}
	b.WriteString("# the table's name keeps its devices apart from other tables'\n")
	fmt.Fprintf(b, "device: %s\n", jsonString(tpl))
}

func (g *generator) distinctList(cols []*column) string {
	var parts []string
	for _, c := range cols {
		if c.sampled {
			parts = append(parts, fmt.Sprintf("%s %d", c.c.Name, c.distinct))
		} else {
			parts = append(parts, c.c.Name+" not counted")
		}
	}
	return strings.Join(parts, ", ")
}

func (g *generator) timeSpec(b *strings.Builder, c *column, unit string) {
	b.WriteString("time:\n")
	if c == nil {
		b.WriteString("  column: FIXME      # no DATETIME, TIMESTAMP, DATE or integer epoch column was found\n")
		return
	}
	fmt.Fprintf(b, "  column: %-18s # %s\n", plain(c.c.Name), describeColumn(c))
	switch {
	case unit != "":
		fmt.Fprintf(b, "  unit: %-20s # the epoch's unit: s, ms, us or ns\n", unit)
	case c.info.Time == mapping.TimeWall:
		fmt.Fprintf(b, "  zone: %-20s # the zone the values were written in (an IANA name): change it if it is not UTC\n", "UTC")
	}
}

func (g *generator) measurement(b *strings.Builder, c *column, rowID bool) {
	note := describeColumn(c)
	if c.info.Refused != nil {
		g.warnf("%v: it is left out", c.info.Refused)
		fmt.Fprintf(b, "  # - {column: %s}   # %s: refused (see the warnings)\n", plain(c.c.Name), c.c.ColumnType)
		return
	}
	if rowID {
		fmt.Fprintf(b, "  # - %-40s # %s; the primary key (a row counter, not a reading): uncomment to keep it\n",
			"{column: "+plain(c.c.Name)+", type: "+mapping.TypeName(c.info.Type)+"}", note)
		return
	}
	typ := mapping.TypeName(c.info.Type)
	entry := "{column: " + plain(c.c.Name)
	if name := g.measurementName(c.c.Name); name != "" {
		entry += ", name: " + name
	}
	entry += ", type: " + typ + "}"
	switch {
	case c.info.BigUnsigned:
		note += "; values above 2^63-1 become dirty rows (bigint_unsigned: clip or string keeps them)"
		g.warnf("column %s is BIGINT UNSIGNED: values above 2^63-1 become dirty rows unless the mapping says bigint_unsigned: clip or string", c.c.Name)
	case c.info.Rounded:
		note += "; rounded to DOUBLE (type: STRING keeps the exact digits)"
	case c.info.Type == client.BLOB:
		note += "; bytes as they are"
	}
	if c.info.Text && c.sampled && g.smp.rows >= 20 && c.distinct <= 32 && c.distinct*10 <= g.smp.rows {
		note += fmt.Sprintf("; %s in the sample: a tag?", cli.Count(c.distinct, "distinct value"))
		where := "the device template"
		if g.o.Model == config.ModelTable {
			where = "tags"
		}
		g.warnf("column %s has %s in %s: if it names a device, a place or a kind rather than a reading, "+
			"move it into %s", c.c.Name, cli.Count(c.distinct, "distinct value"), cli.Count(g.smp.rows, "sampled row"), where)
	}
	fmt.Fprintf(b, "  - %-42s # %s\n", entry, note)
}

// measurementName is the name: a measurement needs when the column's name
// cannot be one as it is ("" when it can).
func (g *generator) measurementName(col string) string {
	if g.o.Model == config.ModelTable {
		if strings.EqualFold(col, "time") {
			return jsonString(col + "_value")
		}
		return ""
	}
	if config.IsLegalNodeName(col) && !config.IsReservedMeasurement(col) {
		return ""
	}
	return jsonString("`" + strings.ReplaceAll(col, "`", "``") + "`")
}

// describeColumn is the comment after a column: its MySQL type and NULL.
func describeColumn(c *column) string {
	s := c.c.ColumnType
	if !c.c.Nullable {
		s += " NOT NULL"
	}
	return s
}

var plainRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// plain writes a column or table name as a YAML scalar: bare when it is a
// plain identifier that YAML reads as a string, else double-quoted; a $ is
// doubled (the loader expands ${VAR} in values).
func plain(s string) string {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "y", "n":
		return jsonString(s)
	}
	if plainRE.MatchString(s) {
		return s
	}
	return jsonString(strings.ReplaceAll(s, "$", "$$"))
}

func jsonString(s string) string {
	out, _ := json.Marshal(s)
	return string(out)
}

func mapStrings(xs []string, f func(string) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// placeholderSafe: a column a ${...} placeholder can name.
func placeholderSafe(name string) bool { return !strings.ContainsAny(name, "${}") }

// nodeName turns a MySQL name into a plain IoTDB node name (letters,
// digits, _), for the database node, which cannot be backquoted.
func nodeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	n := b.String()
	if !config.IsLegalNodeName(n) || strings.EqualFold(n, "root") {
		n = "db_" + n
	}
	return n
}

// literalNode is a literal node of the device template: bare when legal,
// else backquoted.
func literalNode(s string) string {
	if config.IsLegalNodeName(s) && !strings.EqualFold(s, "root") {
		return s
	}
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// tableName is a table-model table name: letters, digits and _ only.
func tableName(s string) string {
	n := nodeName(s)
	return plain(n)
}
