// Package discover writes a first mapping for a source table: it reads the
// table's columns and primary key from information_schema, samples a
// bounded number of rows (the first SampleRows the server returns) to count
// distinct values and to size integer epochs, and turns that into a
// commented YAML mapping file the user edits: a device template from the
// key and name-like columns, the time column, every other column as a
// measurement with the IoTDB type the converter picks (mapping.Describe:
// Compile's own rules), and warnings for what needs a human (no usable time
// column, a refused type, a column that looks like a tag).
package discover

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// DefaultSampleRows bounds the sample query: at most this many rows are read.
const DefaultSampleRows = 10000

// Options say where the tables are and what the mapping targets.
type Options struct {
	DB     *sql.DB
	Schema string // mysql.database
	// Model is iotdb.model: tree (default) or table.
	Model string
	// Database is iotdb.database: tree: the path the devices go under
	// (default root.<schema>); table model: the database (required there).
	Database string
	// SampleRows bounds the sample (default DefaultSampleRows).
	SampleRows int
	// Generator names what wrote the file, for its header.
	Generator string
}

// Mapping is one generated mapping file.
type Mapping struct {
	Table    string
	YAML     []byte
	Warnings []string
	// Usable is false when the mapping cannot load or compile as written
	// (no usable time column, nothing to measure): the caller saves it as a
	// draft the loader skips.
	Usable bool
}

// Tables resolves table names and patterns against the base tables of
// schema. A pattern has * or % in it (each matches any run of characters,
// every other character is itself: _ is an underscore, not SQL's "any
// character"); anything else is one table name, which must exist. The
// result is sorted and has each table once.
func Tables(ctx context.Context, db *sql.DB, schema string, args []string) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`, schema)
	if err != nil {
		return nil, fmt.Errorf("listing the tables of %s: %w", schema, err)
	}
	defer rows.Close()
	var all []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		all = append(all, n)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out, problems []string
	for _, a := range args {
		if strings.ContainsAny(a, "*%") {
			re := globRE(a)
			n := 0
			for _, t := range all {
				if re.MatchString(t) {
					out = append(out, t)
					n++
				}
			}
			if n == 0 {
				problems = append(problems, fmt.Sprintf("no table of %s matches %q", schema, a))
			}
			continue
		}
		if slices.Contains(all, a) {
			out = append(out, a)
			continue
		}
		problems = append(problems, fmt.Sprintf("table %s.%s does not exist (or the user cannot see it)%s", schema, a, didYouMean(mapping.Closest(a, all))))
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

func didYouMean(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", s)
}

func globRE(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range p {
		if r == '*' || r == '%' {
			b.WriteString(".*")
		} else {
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// column is one source column with what the converter and the sample say.
type column struct {
	c        *mapping.Column
	info     mapping.ColumnInfo
	inKey    bool
	sampled  bool  // distinct counted
	distinct int64 // distinct values in the sample
	maxVal   sql.NullInt64
	tokens   []string
}

// sample is the bounded sample of a table.
type sample struct {
	rows int64
}

// Generate writes the mapping of one table.
func Generate(ctx context.Context, o Options, table string) (*Mapping, error) {
	if o.SampleRows <= 0 {
		o.SampleRows = DefaultSampleRows
	}
	if o.Model == "" {
		o.Model = config.ModelTree
	}
	ts, err := mapping.LoadTableSchema(ctx, o.DB, o.Schema, table)
	if err != nil {
		return nil, err
	}
	cols := make([]*column, len(ts.Columns))
	for i := range ts.Columns {
		c := &ts.Columns[i]
		cols[i] = &column{c: c, info: mapping.Describe(c), inKey: slices.ContainsFunc(ts.PrimaryKey, func(k string) bool { return strings.EqualFold(k, c.Name) }),
			tokens: tokens(c.Name)}
	}
	smp, err := takeSample(ctx, o, ts, cols)
	if err != nil {
		return nil, err
	}
	g := &generator{o: o, ts: ts, cols: cols, smp: smp}
	return g.build(), nil
}

// takeSample counts the rows and the distinct values of the candidate
// columns over at most o.SampleRows rows, and the largest value of the
// integer columns that could be epochs, in one query.
func takeSample(ctx context.Context, o Options, ts *mapping.TableSchema, cols []*column) (sample, error) {
	var exprs, inner []string
	var targets []any
	var n int64
	targets = append(targets, &n)
	for _, c := range cols {
		if c.info.Refused != nil {
			continue
		}
		use := false
		if countable(c) {
			exprs = append(exprs, "COUNT(DISTINCT "+quoteIdent(c.c.Name)+")")
			targets = append(targets, &c.distinct)
			c.sampled, use = true, true
		}
		if c.info.Time == mapping.TimeEpoch {
			exprs = append(exprs, "MAX("+quoteIdent(c.c.Name)+")")
			targets = append(targets, &c.maxVal)
			use = true
		}
		if use {
			inner = append(inner, quoteIdent(c.c.Name))
		}
	}
	sel := "1"
	if len(inner) > 0 {
		sel = strings.Join(inner, ", ")
	}
	q := fmt.Sprintf("SELECT COUNT(*)%s FROM (SELECT %s FROM %s.%s LIMIT %d) AS sample",
		prefixEach(", ", exprs), sel, quoteIdent(ts.Database), quoteIdent(ts.Name), o.SampleRows)
	if err := o.DB.QueryRowContext(ctx, q).Scan(targets...); err != nil {
		return sample{}, fmt.Errorf("sampling %s.%s: %w", ts.Database, ts.Name, err)
	}
	return sample{rows: n}, nil
}

// countable: the columns whose distinct values are counted (short names:
// integers, CHAR/VARCHAR up to 255 characters, ENUM).
func countable(c *column) bool {
	switch c.c.DataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "enum":
		return true
	case "char", "varchar":
		return parenWidth(c.c.ColumnType) <= 255
	}
	return false
}

func parenWidth(columnType string) int {
	var n int
	if i := strings.IndexByte(columnType, '('); i >= 0 {
		fmt.Sscanf(columnType[i+1:], "%d", &n)
	}
	return n
}

func prefixEach(sep string, xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return sep + strings.Join(xs, sep)
}

// quoteIdent quotes a MySQL identifier with backticks (doubled inside).
func quoteIdent(s string) string { return mapping.QuoteIdent(s) }

// tokens splits a column name into lower-case words: created_at -> created, at;
// deviceId -> device, id.
func tokens(name string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, strings.ToLower(cur.String()))
			cur.Reset()
		}
	}
	prevLower := false
	for _, r := range name {
		switch {
		case r == '_' || r == '-' || r == ' ' || r == '.':
			flush()
			prevLower = false
			continue
		case r >= 'A' && r <= 'Z' && prevLower:
			flush()
		}
		cur.WriteRune(r)
		prevLower = r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
	}
	flush()
	return out
}

func (c *column) has(words ...string) bool {
	for _, t := range c.tokens {
		if slices.Contains(words, t) {
			return true
		}
	}
	return false
}

func (c *column) last() string {
	if len(c.tokens) == 0 {
		return ""
	}
	return c.tokens[len(c.tokens)-1]
}
