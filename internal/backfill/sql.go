package backfill

import (
	"strconv"
	"strings"

	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// quoteIdent quotes a MySQL identifier with backticks, doubling any backtick
// inside it.
func quoteIdent(name string) string { return mapping.QuoteIdent(name) }

// quoteTable is `db`.`table` (or `table` when db is empty).
func quoteTable(db, table string) string {
	if db == "" {
		return quoteIdent(table)
	}
	return quoteIdent(db) + "." + quoteIdent(table)
}

// placeholder is the bind expression for a key column: DECIMAL keys are cast
// so they compare as decimals, not as doubles (a string against a DECIMAL
// column is compared as floating point).
func placeholder(c keyCol) string {
	if c.Kind == KindDec {
		return "CAST(? AS DECIMAL(65," + strconv.Itoa(min(max(c.Scale, 0), 30)) + "))"
	}
	return "?"
}

// keysetAfter renders "the ordering tuple is greater than (?, ?, ...)".
//
// MariaDB (unlike MySQL 5.7+) does not turn a row-constructor comparison
// (a,b) > (?,?) into an index range, so it would scan from the start of the
// partition on every page. The expansion
//
//	a >= ? AND (a > ? OR (a = ? AND (b > ? OR (b = ? AND c > ?))))
//
// is equivalent, and its leading "a >= ?" gives the optimizer a range on the
// first column; the rest is checked on the rows of that range only (at most
// the rows sharing the cursor's first column value are filtered out).
// keysetArgs gives its arguments.
func keysetAfter(cols []keyCol) string {
	var b strings.Builder
	b.WriteString(quoteIdent(cols[0].Name) + " >= " + placeholder(cols[0]) + " AND ")
	var rec func(i int) string
	rec = func(i int) string {
		c := quoteIdent(cols[i].Name)
		ph := placeholder(cols[i])
		if i == len(cols)-1 {
			return c + " > " + ph
		}
		return "(" + c + " > " + ph + " OR (" + c + " = " + ph + " AND " + rec(i+1) + "))"
	}
	b.WriteString(rec(0))
	return b.String()
}

// keysetArgs are the arguments of keysetAfter for cursor k.
func keysetArgs(k Key) []any {
	args := []any{k[0].arg()}
	for i := range k {
		args = append(args, k[i].arg())
		if i < len(k)-1 {
			args = append(args, k[i].arg())
		}
	}
	return args
}
