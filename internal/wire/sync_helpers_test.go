package wire

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/incremental"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// syncFix is one MariaDB, one iotdbtest and a configuration for cmd/sync
// run in this process through RunSync, the function the binary calls.
type syncFix struct {
	t   *testing.T
	m   *testenv.MariaDB
	db  *sql.DB // root
	iot *iotdbtest.Server
	dir string

	table      string // default readings
	cursor     string // YAML of mysql.tables[0].cursor ("" = none)
	where      string
	tableModel bool
	syncExtra  string // more keys of sync:, one per line
	pageRows   int    // sync.page_rows (default 10000)
	user, pass string // default the bridge user
	dirtyMax   int
}

// readingsSQL is the test table: a device from site and dev, a unique time
// per row (id milliseconds after a base), two measurements and the cursor
// candidates.
const readingsSQL = `CREATE TABLE %s (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  site VARCHAR(16) NOT NULL,
  dev VARCHAR(16) NOT NULL,
  ts DATETIME(3) NOT NULL,
  temp DOUBLE NULL,
  hum INT NULL,
  updated_at DATETIME(6) NULL,
  created_at DATETIME(6) NOT NULL DEFAULT '2024-01-01 00:00:00',
  seq BIGINT NULL,
  KEY (updated_at), KEY (created_at), KEY (seq), KEY (ts)
)`

func newSyncFix(t *testing.T) *syncFix {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	m := testenv.StartMariaDB(t)
	f := &syncFix{t: t, m: m, db: m.DB(t), iot: iotdbtest.Start(t, iotdbtest.Options{}), dir: t.TempDir(),
		table: "readings", cursor: "{columns: [updated_at]}", pageRows: 10000, user: m.BridgeUser, pass: m.BridgePassword, dirtyMax: -1}
	f.exec(fmt.Sprintf(readingsSQL, f.table))
	return f
}

func (f *syncFix) exec(stmts ...string) {
	f.t.Helper()
	for _, s := range stmts {
		if _, err := f.db.Exec(s); err != nil {
			f.t.Fatalf("%s: %v", s[:min(len(s), 200)], err)
		}
	}
}

// insert adds rows id from..to (inclusive) with the cursor value upd (SQL
// expression, e.g. '2024-01-01 00:01:00' quoted or NULL).
func (f *syncFix) insert(from, to int, upd string) {
	f.t.Helper()
	var vals []string
	for id := from; id <= to; id++ {
		vals = append(vals, fmt.Sprintf("(%d, 's%d', 'd%d', TIMESTAMPADD(MICROSECOND, %d * 1000, '2024-01-01 00:00:00'), %d.5, %d, %s, %d)",
			id, id%3, id%5, id, id, id, upd, id))
	}
	for len(vals) > 0 {
		n := min(len(vals), 500)
		f.exec("INSERT INTO " + f.table + " (id, site, dev, ts, temp, hum, updated_at, seq) VALUES " + strings.Join(vals[:n], ", "))
		vals = vals[n:]
	}
}

func (f *syncFix) statePath() string { return filepath.Join(f.dir, "sync.state.json") }
func (f *syncFix) dirtyPath() string { return filepath.Join(f.dir, "dirty.jsonl") }

func (f *syncFix) yaml() string {
	model, device := "", `device: "root.factory.${site}.${dev}"`
	if f.tableModel {
		model = "model: table\n  database: factory"
		device = "device: readings\n      tags: [site, dev]"
	}
	table := "    - name: " + f.table + "\n"
	if f.cursor != "" {
		table += "      cursor: " + f.cursor + "\n"
	}
	if f.where != "" {
		table += fmt.Sprintf("      where: %q\n", f.where)
	}
	extra := ""
	for _, l := range strings.Split(strings.TrimSpace(f.syncExtra), "\n") {
		if l != "" {
			extra += "  " + l + "\n"
		}
	}
	return fmt.Sprintf(`mysql:
  host: 127.0.0.1
  port: %d
  user: %s
  password: %q
  database: %s
  tls: disabled
  tables:
%siotdb:
  nodes: ["%s"]
  user: root
  password: root
  batch: {rows: 1000, interval: 50ms}
  retry: {initial: 20ms, max: 200ms, give_up_after: 2s}
  %s
  mappings:
    - table: %s
      %s
      time: {column: ts}
      measurements:
        - {column: temp}
        - {column: hum}
backfill: {readers: 2, writers: 2, page_rows: 50}
sync:
  state: %s
  page_rows: %d
%sdirty_rows: {policy: skip, file: %s, max: %d}
metrics: {listen: ""}
log: {level: debug}
`, f.m.Port, f.user, f.pass, f.m.Database, table, f.iot.Addr(), model, f.table, device,
		f.statePath(), f.pageRows, extra, f.dirtyPath(), f.dirtyMax)
}

func (f *syncFix) configPath() string {
	f.t.Helper()
	path := filepath.Join(f.dir, "config.yaml")
	if err := os.WriteFile(path, []byte(f.yaml()), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return path
}

func (f *syncFix) config() *config.Config {
	f.t.Helper()
	cfg, err := config.Load(f.configPath())
	if err != nil {
		f.t.Fatalf("config: %v\n%s", err, f.yaml())
	}
	return cfg
}

// syncResult is what one RunSync call returned and logged.
type syncResult struct {
	code           int
	stdout, stderr string
	finished       map[string]any // the "sync run finished" log line (nil when none)
}

// rows is the rows field of the run's line (rows read by the lanes).
func (r syncResult) rows() int64 {
	n, _ := r.finished["rows"].(float64)
	return int64(n)
}

// run calls RunSync with args (Config is set here) until it returns.
func (f *syncFix) run(a SyncArgs) syncResult {
	f.t.Helper()
	return f.runCtx(context.Background(), a)
}

func (f *syncFix) runCtx(ctx context.Context, a SyncArgs) syncResult {
	f.t.Helper()
	a.Config = f.configPath()
	var out, errb lockedBuffer
	code := RunSync(ctx, a, &out, &errb)
	r := syncResult{code: code, stdout: out.String(), stderr: errb.String()}
	for _, e := range logLines(r.stderr, "sync run finished") {
		r.finished = e
	}
	return r
}

// mustRun runs and fails the test unless it exits 0.
func (f *syncFix) mustRun(a SyncArgs) syncResult {
	f.t.Helper()
	r := f.run(a)
	if r.code != 0 {
		f.t.Fatalf("sync exited %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, tail(r.stderr, 30))
	}
	return r
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logLines returns the JSON log lines whose message starts with msg.
func logLines(out, msg string) []map[string]any {
	var res []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if s, _ := m["message"].(string); strings.HasPrefix(s, msg) {
			res = append(res, m)
		}
	}
	return res
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// points is device.measurement -> time -> value.
type points map[string]map[int64]any

func (p points) add(series string, t int64, v any) {
	if p[series] == nil {
		p[series] = map[int64]any{}
	}
	p[series][t] = v
}

func (p points) count() int {
	n := 0
	for _, m := range p {
		n += len(m)
	}
	return n
}

// expected maps every source row that matches sel (a WHERE condition, ""
// for all) through the table's mapping, as backfill reads it.
func (f *syncFix) expected(sel string) points {
	f.t.Helper()
	cfg := f.config()
	ctx := context.Background()
	mc, _ := cfg.Mapping(f.table)
	mp, err := CompileOffline(ctx, f.db, cfg, mc)
	if err != nil {
		f.t.Fatal(err)
	}
	q := "SELECT " + strings.Join(mp.SelectList(), ", ") + " FROM " + f.table
	if sel != "" {
		q += " WHERE " + sel
	}
	rows, err := f.db.QueryContext(ctx, q)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := points{}
	n := len(mp.Columns())
	for rows.Next() {
		vals := make([]any, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			f.t.Fatal(err)
		}
		p, err := mp.Map(vals)
		if err != nil {
			continue
		}
		for i, v := range p.Values {
			if v == nil {
				continue
			}
			key := p.Device + "." + p.Schema.Measurements[i]
			if f.tableModel {
				if p.Schema.Categories[i] == client.TAG {
					continue
				}
				key = "readings|" + strings.ReplaceAll(p.Device, "\x00", "") + "." + p.Schema.Measurements[i]
			}
			out.add(key, p.Time, v)
		}
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// actual is what iotdbtest holds, in the form of expected.
func (f *syncFix) actual() points {
	out := points{}
	if f.tableModel {
		for _, row := range f.iot.TableRows("factory", "readings") {
			ts, _ := row["time"].(int64)
			for _, col := range []string{"temp", "hum"} {
				if v := row[col]; v != nil {
					out.add(fmt.Sprintf("readings|%v%v.%s", row["site"], row["dev"], col), ts, v)
				}
			}
		}
		return out
	}
	for _, si := range f.iot.Series() {
		for _, p := range f.iot.Points(si.Path) {
			out.add(si.Path, p.Time, p.Value)
		}
	}
	return out
}

// diff lists the differences between want and got (at most 10).
func diff(want, got points) []string {
	var out []string
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		w, g := want[k], got[k]
		for ts, wv := range w {
			if gv, ok := g[ts]; !ok {
				out = append(out, fmt.Sprintf("missing %s @%d = %v", k, ts, wv))
			} else if fmt.Sprint(gv) != fmt.Sprint(wv) {
				out = append(out, fmt.Sprintf("differs %s @%d: want %v, got %v", k, ts, wv, gv))
			}
		}
		for ts, gv := range g {
			if _, ok := w[ts]; !ok {
				out = append(out, fmt.Sprintf("extra   %s @%d = %v", k, ts, gv))
			}
		}
	}
	sort.Strings(out)
	return out
}

// assertSame fails unless IoTDB holds exactly want.
func (f *syncFix) assertSame(what string, want points) {
	f.t.Helper()
	got := f.actual()
	if d := diff(want, got); len(d) > 0 {
		f.t.Errorf("%s: %d differences between the source (%d points) and IoTDB (%d points):\n  %s", what, len(d), want.count(), got.count(),
			strings.Join(d[:min(len(d), 10)], "\n  "))
	}
}

// loadState reads the sync state file.
func (f *syncFix) loadState() *incremental.State {
	f.t.Helper()
	st, ok, err := incremental.LoadState(f.statePath())
	if err != nil || !ok {
		f.t.Fatalf("sync state: found %v, %v", ok, err)
	}
	return st
}

// waitFor polls cond every 10 ms until it holds or the test's patience
// (2 minutes) runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, 2*time.Minute, what, cond)
}
