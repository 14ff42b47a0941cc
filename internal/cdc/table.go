package cdc

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// tableState is one mapped table: its mapping, its compiled mapper and that
// mapper reordered for the binlog's column order.
//
// The mappers are owned by the handler goroutine (DDL replaces them there);
// batches in flight keep the mapper they were mapped with.
type tableState struct {
	name   string
	cfg    *config.Mapping
	mapper *mapping.Mapper

	// The mapper reordered for the last column list seen in a rows event of
	// this table (binlog row images hold every column in table order). Row
	// images are read by the binlog's own column names, so an event written
	// before a schema change is read with the columns it was written with.
	lastCols []string
	byCols   *mapping.Mapper
}

// mapperFor returns the table's mapper for rows in the order of an event's
// column list.
func (t *tableState) mapperFor(cols []string, pos binlog.Position) (*mapping.Mapper, error) {
	if t.byCols != nil && slices.Equal(cols, t.lastCols) {
		return t.byCols, nil
	}
	mp, err := t.mapper.Reorder(cols)
	if err != nil {
		return nil, fmt.Errorf("table %s: the binlog rows event at %s lacks a column the mapping uses: %w; "+
			"the column was dropped or renamed: fix the mapping, or if the event predates the column, start from a later position",
			t.name, pos, err)
	}
	t.lastCols, t.byCols = cols, mp
	return mp, nil
}

// ddlTables returns the mapped tables a statement may change. It errs on
// the side of reloading: a table whose name appears as an identifier in a
// schema-changing statement is reloaded (reloading is cheap and harmless).
func ddlTables(query string, tables map[string]*tableState) []*tableState {
	q := strings.TrimSpace(stripComments(query))
	verb := strings.ToUpper(firstWord(q))
	switch verb {
	case "ALTER", "DROP", "RENAME", "CREATE", "TRUNCATE":
	default:
		return nil
	}
	lq := strings.ToLower(q)
	var out []*tableState
	for name, t := range tables {
		if containsIdent(lq, strings.ToLower(name)) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b *tableState) int { return strings.Compare(a.name, b.name) })
	return out
}

func firstWord(s string) string {
	for i, r := range s {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '(' {
			return s[:i]
		}
	}
	return s
}

// stripComments removes /* ... */ comments (MariaDB logs some DDL with
// them) so the verb is the first word.
func stripComments(s string) string {
	for {
		i := strings.Index(s, "/*")
		if i < 0 {
			return s
		}
		j := strings.Index(s[i+2:], "*/")
		if j < 0 {
			return s[:i]
		}
		s = s[:i] + " " + s[i+2+j+2:]
	}
}

// containsIdent reports whether name occurs in q as a whole identifier
// (bounded by non-identifier characters; backquotes count as bounds).
func containsIdent(q, name string) bool {
	isIdent := func(b byte) bool {
		return b == '_' || b == '$' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= 0x80
	}
	for from := 0; ; {
		i := strings.Index(q[from:], name)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(name)
		if (i == 0 || !isIdent(q[i-1])) && (end == len(q) || !isIdent(q[end])) {
			return true
		}
		from = i + 1
	}
}
