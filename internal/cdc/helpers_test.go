package cdc_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/cdc"
	"github.com/mysql-iotdb-bridge/bridge/internal/checkpoint"
	"github.com/mysql-iotdb-bridge/bridge/internal/ops"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/internal/wire"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// readingsDDL is the table most tests use.
const readingsDDL = `CREATE TABLE readings (
	id BIGINT PRIMARY KEY AUTO_INCREMENT,
	site VARCHAR(16) NULL,
	dev VARCHAR(32) NOT NULL,
	ts DATETIME(3) NOT NULL,
	temp DOUBLE NULL,
	hum INT NULL,
	status INT NULL
)`

// fixture is a MariaDB, an iotdbtest server and a cdc configuration.
type fixture struct {
	t   *testing.T
	m   *testenv.MariaDB
	iot *iotdbtest.Server
	db  *sql.DB
	dir string

	onUpdate, onDelete string
	start              string // YAML value of cdc.start
	batchRows          int
	batchInterval      string // YAML value of iotdb.batch.interval
	dirtyPolicy        string
	dirtyMax           int
	extraTables        string // YAML appended to mysql.tables
	extraMappings      string // YAML appended to iotdb.mappings
	retryGiveUp        string
	tableModel         bool // IoTDB table model: readings -> table factory.readings, tags site, dev
	logw               *testLogWriter
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	m := testenv.StartMariaDB(t)
	f := &fixture{
		t: t, m: m, iot: iotdbtest.Start(t, iotdbtest.Options{}), db: m.DB(t), dir: t.TempDir(),
		onUpdate: "overwrite", onDelete: "delete", start: "latest", batchRows: 1000, batchInterval: "50ms",
		dirtyPolicy: "skip", dirtyMax: 1000, retryGiveUp: "2s",
	}
	f.logw = newTestLogWriter(t)
	return f
}

func (f *fixture) exec(stmts ...string) {
	f.t.Helper()
	for _, s := range stmts {
		if _, err := f.db.Exec(s); err != nil {
			f.t.Fatalf("%s: %v", s, err)
		}
	}
}

func (f *fixture) yaml() string {
	model, device := "", `device: "root.factory.${site}.${dev}"`
	if f.tableModel {
		model = "model: table\n  database: factory"
		device = "device: readings\n      tags: [site, dev]"
	}
	return fmt.Sprintf(`
mysql:
  host: 127.0.0.1
  port: %d
  user: %s
  password: %s
  database: %s
  tls: disabled
  server_id: 5401
  tables:
    - name: readings
%s
iotdb:
  nodes: ["%s"]
  user: root
  password: root
  batch: {rows: %d, interval: %s}
  retry: {initial: 20ms, max: 200ms, give_up_after: %s}
  %s
  mappings:
    - table: readings
      %s
      time: {column: ts}
      measurements:
        - {column: temp}
        - {column: hum}
        - {column: status, name: state}
      on_update: %s
      on_delete: %s
%s
backfill: {readers: 2, writers: 2, page_rows: 500}
cdc:
  start: %s
  checkpoint: {path: %s, interval: 100ms}
  heartbeat: 500ms
  shutdown_timeout: 10s
dirty_rows: {policy: %s, file: %s, max: %d}
metrics: {listen: "127.0.0.1:0"}
log: {level: debug}
`, f.m.Port, f.m.BridgeUser, f.m.BridgePassword, f.m.Database, f.extraTables,
		f.iot.Addr(), f.batchRows, f.batchInterval, f.retryGiveUp, model, device, f.onUpdate, f.onDelete, f.extraMappings,
		f.start, f.checkpointPath(), f.dirtyPolicy, f.dirtyPath(), f.dirtyMax)
}

func (f *fixture) checkpointPath() string { return filepath.Join(f.dir, "cdc.checkpoint.json") }
func (f *fixture) dirtyPath() string      { return filepath.Join(f.dir, "dirty.jsonl") }

func (f *fixture) config() *config.Config {
	f.t.Helper()
	cfg, err := config.Parse([]byte(f.yaml()), "test.yaml")
	if err != nil {
		f.t.Fatalf("config: %v\n%s", err, f.yaml())
	}
	return cfg
}

// runner is one running engine.
type runner struct {
	e      *cdc.Engine
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func (f *fixture) run() *runner {
	f.t.Helper()
	return f.runWith(f.config())
}

func (f *fixture) runWith(cfg *config.Config, setup ...func(*cdc.Engine)) *runner {
	f.t.Helper()
	log := zerolog.New(zerolog.ConsoleWriter{Out: f.logw, NoColor: true, TimeFormat: "15:04:05.000"}).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	e, err := wire.NewCDC(cfg, log, cdc.Options{Registry: ops.NewRegistry("cdc"), StatusEvery: time.Second,
		RestartInitial: 50 * time.Millisecond, RestartMax: 500 * time.Millisecond})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, fn := range setup {
		fn(e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{e: e, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- e.Run(ctx) }()
	f.t.Cleanup(func() { _ = r.stop() })
	return r
}

// stop cancels the engine (SIGTERM) and returns Run's result.
func (r *runner) stop() error {
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(60 * time.Second):
			r.err = fmt.Errorf("engine did not stop within 60s")
		}
	})
	return r.err
}

// wait waits for Run to end by itself.
func (r *runner) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.once.Do(func() { r.err = err })
		return err
	case <-time.After(d):
		t.Fatalf("engine still running after %s", d)
		return nil
	}
}

// waitStreaming waits until the engine streams (and the lag is known).
func (r *runner) waitStreaming(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if r.e.Streaming() {
			return
		}
		select {
		case err := <-r.done:
			r.once.Do(func() { r.err = err })
			t.Fatalf("engine ended before streaming: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("engine not streaming after 60s")
}

// state is series -> time -> value.
type state map[string]map[int64]any

func (s state) String() string {
	var keys []string
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		var ts []int64
		for t := range s[k] {
			ts = append(ts, t)
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		fmt.Fprintf(&b, "%s:", k)
		for i, t := range ts {
			if i == 8 {
				fmt.Fprintf(&b, " ... (%d)", len(ts))
				break
			}
			fmt.Fprintf(&b, " %d=%v", t, s[k][t])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func (s state) points() int {
	n := 0
	for _, v := range s {
		n += len(v)
	}
	return n
}

// actual reads everything iotdbtest stores. In the table model a row's
// columns (tags included) become "site\x00dev.column" series, as
// mapQuery names them.
func (f *fixture) actual() state {
	out := state{}
	if f.tableModel {
		for _, row := range f.iot.TableRows("factory", "readings") {
			site, _ := row["site"].(string)
			dev, _ := row["dev"].(string)
			ts, _ := row["time"].(int64)
			for col, v := range row {
				if col == "time" || v == nil {
					continue
				}
				k := site + "\x00" + dev + "." + col
				if out[k] == nil {
					out[k] = map[int64]any{}
				}
				out[k][ts] = v
			}
		}
		return out
	}
	for _, si := range f.iot.Series() {
		pts := f.iot.Points(si.Path)
		if len(pts) == 0 {
			continue
		}
		m := map[int64]any{}
		for _, p := range pts {
			m[p.Time] = p.Value
		}
		out[si.Path] = m
	}
	return out
}

// expected maps the source table through the mapping (the backfill path).
func (f *fixture) expected(table string) state {
	f.t.Helper()
	cfg := f.config()
	mc, ok := cfg.Mapping(table)
	if !ok {
		f.t.Fatalf("no mapping for %s", table)
	}
	ts, err := mapping.LoadTableSchema(context.Background(), f.db, f.m.Database, table)
	if err != nil {
		f.t.Fatal(err)
	}
	mp, err := mapping.Compile(mc, ts, f.mapOptions())
	if err != nil {
		f.t.Fatal(err)
	}
	return f.mapQuery(mp, "SELECT "+strings.Join(mp.SelectList(), ", ")+" FROM "+table)
}

func (f *fixture) mapOptions() mapping.Options {
	if f.tableModel {
		return mapping.Options{Precision: "ms", Model: "table", Database: "factory"}
	}
	return mapping.Options{Precision: "ms"}
}

// waitState polls until IoTDB holds want.
func (f *fixture) waitState(want func() state, d time.Duration) {
	f.t.Helper()
	deadline := time.Now().Add(d)
	var got, w state
	for {
		got, w = f.actual(), want()
		if reflect.DeepEqual(got, w) {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.t.Fatalf("IoTDB state differs after %s\ngot (%d points):\n%s\nwant (%d points):\n%s", d, got.points(), got, w.points(), w)
}

func (f *fixture) waitSource(d time.Duration) {
	f.waitState(func() state { return f.expected("readings") }, d)
}

func (f *fixture) loadCheckpoint() *checkpoint.State {
	f.t.Helper()
	st, ok, err := (&checkpoint.Store{Path: f.checkpointPath()}).Load()
	if err != nil || !ok {
		f.t.Fatalf("checkpoint: ok=%v err=%v", ok, err)
	}
	return st
}

// testLogWriter sends log lines to t.Log until the test ends (logging after
// the end panics).
type testLogWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func newTestLogWriter(t *testing.T) *testLogWriter {
	w := &testLogWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && os.Getenv("CDC_TEST_LOG") != "" {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// stat returns one counter of the engine.
func stat(e *cdc.Engine, table, outcome string) int64 {
	return e.Stats()[table][outcome]
}

// expectedWhere is expected() restricted to the rows matching where.
func (f *fixture) expectedWhere(table, where string) state {
	f.t.Helper()
	tmp := "exp_" + strings.ReplaceAll(fmt.Sprint(time.Now().UnixNano()), "-", "")
	f.exec("CREATE TABLE " + tmp + " AS SELECT * FROM " + table + " WHERE " + where)
	defer f.exec("DROP TABLE " + tmp)
	cfg := f.config()
	mc, _ := cfg.Mapping(table)
	m := *mc
	m.Table = tmp
	ts, err := mapping.LoadTableSchema(context.Background(), f.db, f.m.Database, tmp)
	if err != nil {
		f.t.Fatal(err)
	}
	mp, err := mapping.Compile(&m, ts, f.mapOptions())
	if err != nil {
		f.t.Fatal(err)
	}
	return f.mapQuery(mp, "SELECT "+strings.Join(mp.SelectList(), ", ")+" FROM "+tmp)
}

func (f *fixture) mapQuery(mp *mapping.Mapper, q string) state {
	f.t.Helper()
	rows, err := f.db.Query(q)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := state{}
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
			continue // dirty
		}
		for i, v := range p.Values {
			if v == nil {
				continue
			}
			s := p.Device + "." + p.Schema.Measurements[i]
			if out[s] == nil {
				out[s] = map[int64]any{}
			}
			out[s][p.Time] = v
		}
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// merge overlays the states in order (later values win).
func merge(states ...state) state {
	out := state{}
	for _, s := range states {
		for k, m := range s {
			if out[k] == nil {
				out[k] = map[int64]any{}
			}
			for t, v := range m {
				out[k][t] = v
			}
		}
	}
	return out
}

// testutilCounter sums a metric family of the engine's registry.
func testutilCounter(t *testing.T, e *cdc.Engine, name string) float64 {
	t.Helper()
	mfs, err := e.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				sum += c.GetValue()
			}
			if g := m.GetGauge(); g != nil {
				sum += g.GetValue()
			}
		}
	}
	return sum
}

// labeledCounter returns the value of the metric name whose label has value.
func labeledCounter(t *testing.T, e *cdc.Engine, name, label, value string) float64 {
	t.Helper()
	mfs, err := e.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no metric %s{%s=%q}", name, label, value)
	return 0
}
