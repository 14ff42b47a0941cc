package mapping

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// Column is one column of a source table as information_schema describes it.
type Column struct {
	Name              string   // COLUMN_NAME
	Ordinal           int      // ORDINAL_POSITION, 1-based; binlog row images are in this order
	DataType          string   // DATA_TYPE, lower case: int, bigint, decimal, datetime, enum, ...
	ColumnType        string   // COLUMN_TYPE, lower case: "bigint(20) unsigned", "enum('a','b')", ...
	Unsigned          bool     // COLUMN_TYPE ends in "unsigned"
	Nullable          bool     // IS_NULLABLE = 'YES'
	Precision         int      // NUMERIC_PRECISION (DECIMAL digits, BIT width) or 0
	Scale             int      // NUMERIC_SCALE or 0
	DatetimePrecision int      // DATETIME_PRECISION (fractional digits) or 0
	Charset           string   // CHARACTER_SET_NAME or "" (binary strings and non-strings)
	Elements          []string // ENUM / SET members in declaration order
}

// TableSchema is a source table's shape.
type TableSchema struct {
	Database   string
	Name       string
	Columns    []Column // in ordinal order
	PrimaryKey []string // column names, in key order; empty when the table has none
}

// Column returns the named column (case-insensitive, as MySQL compares column names).
func (t *TableSchema) Column(name string) (*Column, bool) {
	for i := range t.Columns {
		if strings.EqualFold(t.Columns[i].Name, name) {
			return &t.Columns[i], true
		}
	}
	return nil, false
}

// LoadTableSchema reads the columns and primary key of database.table from
// information_schema. A missing table is an error naming it.
func LoadTableSchema(ctx context.Context, db *sql.DB, database, table string) (*TableSchema, error) {
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, ORDINAL_POSITION, LOWER(DATA_TYPE), LOWER(COLUMN_TYPE),
		IS_NULLABLE, COALESCE(NUMERIC_PRECISION, 0), COALESCE(NUMERIC_SCALE, 0), COALESCE(DATETIME_PRECISION, 0),
		COALESCE(CHARACTER_SET_NAME, '')
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, database, table)
	if err != nil {
		return nil, fmt.Errorf("reading columns of %s.%s: %w", database, table, err)
	}
	defer rows.Close()
	ts := &TableSchema{Database: database, Name: table}
	for rows.Next() {
		var c Column
		var nullable string
		if err := rows.Scan(&c.Name, &c.Ordinal, &c.DataType, &c.ColumnType, &nullable,
			&c.Precision, &c.Scale, &c.DatetimePrecision, &c.Charset); err != nil {
			return nil, fmt.Errorf("reading columns of %s.%s: %w", database, table, err)
		}
		c.Nullable = nullable == "YES"
		c.Unsigned = strings.Contains(c.ColumnType, "unsigned")
		if c.DataType == "enum" || c.DataType == "set" {
			c.Elements = parseElements(c.ColumnType)
		}
		ts.Columns = append(ts.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading columns of %s.%s: %w", database, table, err)
	}
	if len(ts.Columns) == 0 {
		return nil, fmt.Errorf("table %s.%s does not exist (or the user cannot see it)", database, table)
	}
	krows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`, database, table)
	if err != nil {
		return nil, fmt.Errorf("reading primary key of %s.%s: %w", database, table, err)
	}
	defer krows.Close()
	for krows.Next() {
		var name string
		if err := krows.Scan(&name); err != nil {
			return nil, fmt.Errorf("reading primary key of %s.%s: %w", database, table, err)
		}
		ts.PrimaryKey = append(ts.PrimaryKey, name)
	}
	return ts, krows.Err()
}

// parseElements splits the member list of "enum('a','b”c')" or "set(...)",
// undoing SQL quote doubling.
func parseElements(columnType string) []string {
	open := strings.IndexByte(columnType, '(')
	end := strings.LastIndexByte(columnType, ')')
	if open < 0 || end <= open {
		return nil
	}
	s := columnType[open+1 : end]
	var out []string
	var cur strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case !in && ch == '\'':
			in = true
		case in && ch == '\'' && i+1 < len(s) && s[i+1] == '\'':
			cur.WriteByte('\'')
			i++
		case in && ch == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			i++
		case in && ch == '\'':
			in = false
			out = append(out, cur.String())
			cur.Reset()
		case in:
			cur.WriteByte(ch)
		}
	}
	return out
}

// columnHint is what an error about a missing column adds: the closest
// column name when one is near, and the table's columns.
func (t *TableSchema) columnHint(name string) string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	hint := ""
	if best := Closest(name, names); best != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", best)
	}
	return fmt.Sprintf("%s; its columns: %s", hint, strings.Join(names, ", "))
}

// Closest returns the name of names nearest to name (case-insensitive,
// at most two edits away), or "" when none is that near: the "did you
// mean" of a misspelt column or table.
func Closest(name string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if d := config.EditDistance(strings.ToLower(name), strings.ToLower(n)); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}
