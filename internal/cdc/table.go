package cdc

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// tableState is one mapped table: its mapping, its compiled mapper and the
// projection from binlog column order to the mapper's column order.
//
// The mapper and the projection are owned by the handler goroutine (DDL
// replaces them there); batches in flight keep the mapper they were mapped
// with.
type tableState struct {
	name   string
	cfg    *config.Mapping
	src    config.Table
	schema *mapping.TableSchema
	mapper *mapping.Mapper

	// Projection cache for the last column list seen in a rows event of this
	// table: idx[i] is the event column holding mapper.Columns()[i]. Row
	// images are decoded by the binlog's own column names, so an event
	// written before a schema change is read with the columns it was written
	// with.
	lastCols []string
	idx      []int
}

// projection returns the index vector for an event's column list.
func (t *tableState) projection(cols []string, pos binlog.Position) ([]int, error) {
	if t.idx != nil && slices.Equal(cols, t.lastCols) {
		return t.idx, nil
	}
	want := t.mapper.Columns()
	idx := make([]int, len(want))
	for i, c := range want {
		idx[i] = -1
		for j, ec := range cols {
			if strings.EqualFold(c, ec) {
				idx[i] = j
				break
			}
		}
		if idx[i] < 0 {
			return nil, &fatalError{fmt.Errorf("table %s: the binlog rows event at %s has no column %q that the mapping uses (event columns: %s); "+
				"the column was dropped or renamed: fix the mapping, or if the event predates the column, start from a later position",
				t.name, pos, c, strings.Join(cols, ", "))}
		}
	}
	t.lastCols, t.idx = cols, idx
	return idx, nil
}

// projectAll returns the rows' values in mapper column order. The rows
// share one array.
func projectAll(rows [][]any, idx []int) [][]any {
	k := len(idx)
	vals := make([]any, len(rows)*k)
	out := make([][]any, len(rows))
	for r, row := range rows {
		dst := vals[r*k : (r+1)*k : (r+1)*k]
		for i, j := range idx {
			if j < len(row) {
				dst[i] = row[j]
			}
		}
		out[r] = dst
	}
	return out
}

// compileTable loads the live schema of a table and compiles its mapping.
func compileTable(ctx context.Context, e *Engine, m *config.Mapping) (*mapping.TableSchema, *mapping.Mapper, error) {
	ts, err := mapping.LoadTableSchema(ctx, e.db, e.cfg.MySQL.Database, m.Table)
	if err != nil {
		return nil, nil, err
	}
	mp, err := mapping.Compile(m, ts, e.mapOptions())
	if err != nil {
		return ts, nil, err
	}
	return ts, mp, nil
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
