package incremental

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Cursor is a table's compiled cursor: its lanes (one per configured
// column: lane i holds the rows whose columns before i are NULL and whose
// column i is not), the primary key that breaks ties, and the lookback.
type Cursor struct {
	Def   Definition
	Lanes []Lane
	Key   []backfill.KeyColumn // the primary key, in key order
	// Lookback: Span for time cursors (date/time columns and integer
	// epochs), Count for integer sequences.
	Span  time.Duration
	Count int64
	Nulls string // config.CursorNulls*
	// Nullable is true when a row can have every cursor column NULL.
	Nullable bool
}

// Lane is one column of the cursor.
type Lane struct {
	Column   backfill.KeyColumn
	DataType string         // information_schema DATA_TYPE
	Zone     *time.Location // date/time lanes: the zone of the values (TIMESTAMP: UTC, as the session reads them)
	Unit     time.Duration  // integer epochs: one unit; 0 for sequences
	Indexed  bool           // the column leads an index (set by Explain)
}

// Definition is what a saved state belongs to: the cursor columns and their
// kinds, the epoch unit, the primary key and the row filter. A state saved
// for another definition is refused (DiffDefinitions shows the change).
type Definition struct {
	Columns []string        `json:"columns"`
	Kinds   []backfill.Kind `json:"kinds"`
	Unit    string          `json:"unit,omitempty"`
	Key     []string        `json:"key"`
	Where   string          `json:"where,omitempty"`
}

// DiffDefinitions lists what differs between the saved definition a and
// the configured one b, one "field: saved -> now" per line; none when
// they are the same.
func DiffDefinitions(a, b Definition) []string {
	var out []string
	list := func(name string, x, y []string) {
		if strings.Join(x, "\x00") != strings.Join(y, "\x00") {
			out = append(out, fmt.Sprintf("%s: [%s] -> [%s]", name, strings.Join(x, ", "), strings.Join(y, ", ")))
		}
	}
	kinds := func(k []backfill.Kind) []string {
		s := make([]string, len(k))
		for i, x := range k {
			s[i] = string(x)
		}
		return s
	}
	list("columns", a.Columns, b.Columns)
	list("column kinds", kinds(a.Kinds), kinds(b.Kinds))
	if a.Unit != b.Unit {
		out = append(out, fmt.Sprintf("unit: %q -> %q", a.Unit, b.Unit))
	}
	list("primary key", a.Key, b.Key)
	if a.Where != b.Where {
		out = append(out, fmt.Sprintf("where: %q -> %q", a.Where, b.Where))
	}
	return out
}

// NewCursor compiles the cursor of table t against its live schema.
// defaultSpan is sync.lookback. at names the cursor's place in the
// configuration for messages ("config.yaml:12 (mysql.tables[0].cursor)").
func NewCursor(t config.Table, schema *mapping.TableSchema, defaultSpan time.Duration, at string) (*Cursor, error) {
	cu := t.Cursor
	if cu == nil {
		return nil, fmt.Errorf("%s: table %s has no cursor", at, t.Name)
	}
	errf := func(format string, args ...any) error {
		return fmt.Errorf("%s: table %s: %s", at, t.Name, fmt.Sprintf(format, args...))
	}
	if len(schema.PrimaryKey) == 0 {
		return nil, errf("incremental sync needs a primary key to order rows that share a cursor value; the table has none (windows and --full work without one)")
	}
	c := &Cursor{Nulls: cu.Nulls, Nullable: true, Def: Definition{Unit: cu.Unit, Key: append([]string(nil), schema.PrimaryKey...), Where: t.Where}}
	if c.Nulls == "" {
		c.Nulls = config.CursorNullsDirty
	}
	for _, name := range schema.PrimaryKey {
		col, _ := schema.Column(name)
		c.Key = append(c.Key, backfill.KeyColumnOf(col))
	}
	zone := time.UTC
	if cu.Zone != "" {
		z, err := time.LoadLocation(cu.Zone)
		if err != nil {
			return nil, errf("cursor.zone %q: %v", cu.Zone, err)
		}
		zone = z
	}
	var unit time.Duration
	switch cu.Unit {
	case "":
	case "s":
		unit = time.Second
	case "ms":
		unit = time.Millisecond
	case "us":
		unit = time.Microsecond
	case "ns":
		unit = time.Nanosecond
	default:
		return nil, errf("cursor.unit %q: want s, ms, us or ns", cu.Unit)
	}
	family := ""
	for _, name := range cu.Columns {
		col, ok := schema.Column(name)
		if !ok {
			return nil, errf("cursor column %q does not exist in %s.%s", name, schema.Database, schema.Name)
		}
		kc := backfill.KeyColumnOf(col)
		fam := ""
		switch kc.Kind {
		case backfill.KindTime, backfill.KindDate:
			fam = "date/time"
		case backfill.KindInt, backfill.KindUint:
			fam = "integer"
		default:
			return nil, errf("cursor column %s is %s: a cursor is a DATETIME, TIMESTAMP or DATE column, or an integer", col.Name, col.ColumnType)
		}
		if family != "" && fam != family {
			return nil, errf("cursor columns mix %s and %s columns (%s is %s): list columns of one kind", family, fam, col.Name, col.ColumnType)
		}
		family = fam
		l := Lane{Column: kc, DataType: col.DataType, Zone: zone, Unit: unit}
		if col.DataType == "timestamp" {
			l.Zone = time.UTC // the session reads TIMESTAMP in UTC
		}
		c.Lanes = append(c.Lanes, l)
		c.Def.Columns = append(c.Def.Columns, col.Name)
		c.Def.Kinds = append(c.Def.Kinds, kc.Kind)
		if !col.Nullable {
			c.Nullable = false
		}
	}
	lb := cu.Lookback
	switch {
	case family == "date/time" && unit != 0:
		return nil, errf("cursor.unit is for integer epoch cursors; %s is a date/time column", c.Def.Columns[0])
	case family == "integer" && unit == 0 && cu.Zone != "":
		return nil, errf("cursor.zone is for date/time cursors; %s is an integer (give unit for an epoch)", c.Def.Columns[0])
	case family == "date/time" || unit != 0:
		switch {
		case lb.Count:
			return nil, errf("cursor.lookback %s is a count: a time cursor takes a duration such as 5m", lb)
		case lb.Set:
			c.Span = lb.Duration
		default:
			c.Span = defaultSpan
		}
	default: // integer sequence
		switch {
		case !lb.Set:
			return nil, errf("cursor column %s is an integer sequence: set cursor.lookback to the number of values to re-read before the mark at every run "+
				"(rows committed late with a smaller value are found only within it; e.g. 1000), or 0 to accept that such rows are missed; "+
				"for an epoch time give cursor.unit", c.Def.Columns[0])
		case lb.Count:
			c.Count = lb.N
		case lb.Duration != 0:
			return nil, errf("cursor.lookback %s is a duration, but %s is an integer sequence: give a count of values (or unit for an epoch)", lb, c.Def.Columns[0])
		}
	}
	return c, nil
}

// IsTime reports whether the cursor's values are instants (date/time
// columns or integer epochs), so that a lag can be computed.
func (c *Cursor) IsTime() bool {
	k := c.Lanes[0].Column.Kind
	return k == backfill.KindTime || k == backfill.KindDate || c.Lanes[0].Unit != 0
}

// LookbackString is the lookback for messages.
func (c *Cursor) LookbackString() string {
	if c.IsTime() {
		return c.Span.String()
	}
	return fmt.Sprintf("%d values", c.Count)
}

// Lookback returns the lower bound of a run of lane l after mark: mark
// minus the lookback, clamped to the kind's range.
func (c *Cursor) Lookback(l Lane, mark backfill.Value) (backfill.Value, error) {
	switch mark.Kind {
	case backfill.KindTime, backfill.KindDate:
		t, err := l.Instant(mark)
		if err != nil {
			return backfill.Value{}, err
		}
		t = t.Add(-c.Span).In(l.Zone)
		if mark.Kind == backfill.KindDate {
			// The date holding that instant: its whole day is re-read.
			return backfill.Value{Kind: mark.Kind, Text: t.Format("2006-01-02")}, nil
		}
		if t.Year() < 1000 {
			t = time.Date(1000, 1, 1, 0, 0, 0, 0, l.Zone)
		}
		return backfill.Value{Kind: mark.Kind, Text: t.Format("2006-01-02 15:04:05.999999")}, nil
	case backfill.KindInt, backfill.KindUint:
		n, ok := new(big.Int).SetString(mark.Text, 10)
		if !ok {
			return backfill.Value{}, fmt.Errorf("mark %s is not an integer", mark)
		}
		step := big.NewInt(c.Count)
		if l.Unit != 0 { // units per span, rounded up: never less than the span
			u := int64(l.Unit)
			step = big.NewInt((int64(c.Span) + u - 1) / u)
		}
		n.Sub(n, step)
		lo := big.NewInt(-1 << 63)
		if mark.Kind == backfill.KindUint {
			lo = big.NewInt(0)
		}
		if n.Cmp(lo) < 0 {
			n = lo
		}
		return backfill.Value{Kind: mark.Kind, Text: n.String()}, nil
	}
	return backfill.Value{}, fmt.Errorf("cursor kind %s", mark.Kind)
}

// Instant is the time a value of lane l stands for (date/time values in the
// lane's zone, epochs in their unit); an error for integer sequences.
func (l Lane) Instant(v backfill.Value) (time.Time, error) {
	switch v.Kind {
	case backfill.KindTime:
		t, err := time.ParseInLocation("2006-01-02 15:04:05.999999", v.Text, l.Zone)
		if err != nil {
			return time.Time{}, fmt.Errorf("cursor value %s: %w", v, err)
		}
		return t, nil
	case backfill.KindDate:
		t, err := time.ParseInLocation("2006-01-02", v.Text, l.Zone)
		if err != nil {
			return time.Time{}, fmt.Errorf("cursor value %s: %w", v, err)
		}
		return t, nil
	case backfill.KindInt, backfill.KindUint:
		if l.Unit == 0 {
			return time.Time{}, fmt.Errorf("cursor %s is a sequence, not a time", l.Column.Name)
		}
		n, ok := new(big.Int).SetString(v.Text, 10)
		if !ok || !n.IsInt64() {
			return time.Time{}, fmt.Errorf("cursor value %s is not an epoch", v)
		}
		x := n.Int64()
		per := int64(time.Second / l.Unit)
		if l.Unit >= time.Second {
			return time.Unix(x*int64(l.Unit/time.Second), 0), nil
		}
		return time.Unix(x/per, (x%per)*int64(l.Unit)), nil
	}
	return time.Time{}, fmt.Errorf("cursor kind %s", v.Kind)
}

// selectExpr is the SELECT expression of the lane's cursor value: date and
// time values as the server's text (exact, zero dates included), integers
// as they are.
func (l Lane) selectExpr() string {
	q := backfill.QuoteIdent(l.Column.Name)
	if l.Column.Kind == backfill.KindTime || l.Column.Kind == backfill.KindDate {
		return "CAST(" + q + " AS CHAR)"
	}
	return q
}
