package backfill

import "github.com/mysql-iotdb-bridge/bridge/mapping"

// The key machinery of the scan, for cmd/sync's incremental reader
// (internal/incremental), which pages by (cursor, primary key) and saves
// its position in its own state: the same kinds, the same stored form of a
// value, the same bind arguments and placeholders, so both readers compare
// keys exactly as MySQL orders them.

// KindOf is the Kind of a column with information_schema DATA_TYPE
// dataType.
func KindOf(dataType string, unsigned bool) Kind { return kindOf(dataType, unsigned) }

// KeyColumnOf is the key column of a table column.
func KeyColumnOf(c *mapping.Column) KeyColumn { return keyColumnOf(c) }

// ValueOf converts a value read from MySQL (either protocol) into a Value
// of kind k.
func ValueOf(k Kind, v any) (Value, error) { return valueOf(k, v) }

// Arg is the prepared-statement argument that compares equal to v.
func (v Value) Arg() any { return v.arg() }

// Placeholder is the bind expression for a value of column c ("?", or a
// CAST for DECIMAL so that it compares as a decimal).
func Placeholder(c KeyColumn) string { return placeholder(c) }

// QuoteIdent quotes a MySQL identifier with backticks.
func QuoteIdent(name string) string { return quoteIdent(name) }

// QuoteTable is `db`.`table`.
func QuoteTable(db, table string) string { return quoteTable(db, table) }

// KeysetAfter is the condition "the tuple of cols is greater than (?, ?,
// ...)", written so that MariaDB uses an index range on the first column;
// KeysetArgs are its arguments for the cursor k.
func KeysetAfter(cols []KeyColumn) string { return keysetAfter(cols) }

// KeysetArgs are the arguments of KeysetAfter for cursor k.
func KeysetArgs(k Key) []any { return keysetArgs(k) }
