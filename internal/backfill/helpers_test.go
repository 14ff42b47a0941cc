package backfill

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// fmtVal renders a value the same way whatever protocol delivered it.
func fmtVal(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.000")
	default:
		return fmt.Sprint(x)
	}
}

// testMapper maps a row to a point whose only value is the row key, so the
// memory writer can check what arrived. The first keyCols columns are the
// key; column devCol (or -1) names the device; dirty, when set, rejects rows.
type testMapper struct {
	cols    []string
	keyCols int
	devCol  int
	timeCol int // -1: time 0... use the key's position instead
	dirty   func(row []any) *mapping.DirtyError
}

var testSchema = &mapping.Schema{SourceTable: "t", Measurements: []string{"key"}}

func (m *testMapper) Columns() []string { return m.cols }

func (m *testMapper) KeyString(row []any) string {
	parts := make([]string, m.keyCols)
	for i := range parts {
		parts[i] = fmtVal(row[i])
	}
	return strings.Join(parts, "|")
}

func (m *testMapper) Map(row []any) (mapping.Point, error) {
	if m.dirty != nil {
		if de := m.dirty(row); de != nil {
			return mapping.Point{}, de
		}
	}
	key := m.KeyString(row)
	p := mapping.Point{Device: "root.t.k" + key, Schema: testSchema, Values: []any{key}}
	if m.devCol >= 0 {
		p.Device = "root.t." + fmtVal(row[m.devCol])
	}
	if m.timeCol >= 0 {
		switch x := row[m.timeCol].(type) {
		case time.Time:
			p.Time = x.UnixMilli()
		case int64:
			p.Time = x
		}
	}
	return p, nil
}

// memWriter records the keys it was given.
type memWriter struct {
	mu     sync.Mutex
	keys   map[string]int
	calls  int
	fail   func(n int) error          // decide per call whether it fails
	reject func(p mapping.Point) bool // points rejected with code 507
	after  func(calls int)            // called after a successful write (outside the lock)
}

func newMemWriter() *memWriter { return &memWriter{keys: map[string]int{}} }

func (w *memWriter) Write(ctx context.Context, points []mapping.Point) (iotdbsink.Result, error) {
	w.mu.Lock()
	w.calls++
	n := w.calls
	if w.fail != nil {
		if err := w.fail(n); err != nil {
			w.mu.Unlock()
			return iotdbsink.Result{}, err
		}
	}
	var res iotdbsink.Result
	var rj iotdbsink.Rejection
	for i, p := range points {
		if w.reject != nil && w.reject(p) {
			rj.Points = append(rj.Points, i)
			rj.Device, rj.Code, rj.Message = p.Device, 507, "type mismatch"
			continue
		}
		w.keys[p.Values[0].(string)]++
	}
	if len(rj.Points) > 0 {
		res.Rejected = append(res.Rejected, rj)
	}
	after := w.after
	w.mu.Unlock()
	if after != nil {
		after(n)
	}
	return res, nil
}

func (w *memWriter) snapshot() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, len(w.keys))
	for k, v := range w.keys {
		out[k] = v
	}
	return out
}

// sourceKeys returns the keys of query's rows (first keyCols columns).
func sourceKeys(t *testing.T, db *sql.DB, query string, keyCols int) map[string]int {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := map[string]int{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, keyCols)
		for i := range parts {
			parts[i] = fmtVal(vals[i])
		}
		out[strings.Join(parts, "|")]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// exactlyOnce fails unless got has every key of want once and nothing else.
func exactlyOnce(t *testing.T, got, want map[string]int) {
	t.Helper()
	atLeastOnce(t, got, want)
	var dups []string
	for k, n := range got {
		if n != 1 {
			dups = append(dups, fmt.Sprintf("%s×%d", k, n))
		}
	}
	sort.Strings(dups)
	if len(dups) > 0 {
		t.Fatalf("%d keys delivered more than once, e.g. %v", len(dups), dups[:min(5, len(dups))])
	}
}

// atLeastOnce fails unless the set of keys in got equals that of want.
func atLeastOnce(t *testing.T, got, want map[string]int) {
	t.Helper()
	var missing, extra []string
	for k := range want {
		if got[k] == 0 {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if want[k] == 0 {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("%d keys missing (e.g. %v), %d unexpected (e.g. %v); want %d keys", len(missing), missing[:min(5, len(missing))], len(extra), extra[:min(5, len(extra))], len(want))
	}
}

type fixture struct {
	t    *testing.T
	m    *testenv.MariaDB
	root *sql.DB
	db   *sql.DB // bridge user
	dir  string
}

func newFixture(t *testing.T) *fixture {
	m := testenv.StartMariaDB(t)
	db, err := sql.Open("mysql", m.BridgeDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &fixture{t: t, m: m, root: m.DB(t), db: db, dir: t.TempDir()}
}

func (f *fixture) exec(qs ...string) {
	f.t.Helper()
	for _, q := range qs {
		if err := f.m.Exec(context.Background(), q); err != nil {
			f.t.Fatalf("%s: %v", q, err)
		}
	}
}

func (f *fixture) opts(w PointWriter, tables ...Table) Options {
	return Options{
		DB:       f.db,
		Database: f.m.Database,
		Tables:   tables,
		Writer:   w,
		Backfill: config.Backfill{Readers: 3, Writers: 2, PageRows: 250, Queue: 4, State: filepath.Join(f.dir, "state.json")},
		Dirty:    dirty.New(config.DirtyRows{Policy: "skip", File: filepath.Join(f.dir, "dirty.jsonl"), Max: -1}),
		Retry:    config.Retry{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond, Elapsed: 20 * time.Second},
	}
}

// rangeCounts returns the real row count of each planned partition.
func (f *fixture) rangeCounts(tp *TablePlan) []int64 {
	f.t.Helper()
	out := make([]int64, len(tp.Partitions))
	for i, p := range tp.Partitions {
		cond, args := tp.Condition(p)
		q := "SELECT COUNT(*) FROM " + quoteTable(f.m.Database, tp.Table) + " WHERE " + cond
		if err := f.db.QueryRow(q, args...).Scan(&out[i]); err != nil {
			f.t.Fatalf("%s: %v", q, err)
		}
	}
	return out
}

// queryCounter counts page/stream queries per (table, partition).
type queryCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *queryCounter) hook(table string, part int, _ Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[fmt.Sprintf("%s/p%d", table, part)]++
}

func (c *queryCounter) get(table string, part int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[fmt.Sprintf("%s/p%d", table, part)]
}

func (c *queryCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := 0
	for _, v := range c.n {
		s += v
	}
	return s
}

// listerMapper is a testMapper with its own SELECT expressions.
type listerMapper struct {
	*testMapper
	exprs []string
}

func (m *listerMapper) SelectList() []string { return m.exprs }
