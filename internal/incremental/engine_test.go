package incremental

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// engineFix builds Options the way package wire does (which this package
// cannot import in its tests), for tests that need the page hook.
type engineFix struct {
	t    *testing.T
	m    *testenv.MariaDB
	iot  *iotdbtest.Server
	cfg  *config.Config
	sink *iotdbsink.Sink
	dir  string
}

func newEngineFix(t *testing.T, cursor string) *engineFix {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	m := testenv.StartMariaDB(t)
	f := &engineFix{t: t, m: m, iot: iotdbtest.Start(t, iotdbtest.Options{}), dir: t.TempDir()}
	db := m.DB(t)
	if _, err := db.Exec(`CREATE TABLE r (id INT PRIMARY KEY, dev VARCHAR(8) NOT NULL, ts DATETIME(3) NOT NULL,
		v DOUBLE, upd DATETIME(6) NOT NULL, KEY (upd))`); err != nil {
		t.Fatal(err)
	}
	y := fmt.Sprintf(`mysql: {host: 127.0.0.1, port: %d, user: %s, password: %q, database: %s, tls: disabled,
  tables: [{name: r, cursor: %s}]}
iotdb:
  nodes: [%q]
  password: root
  mappings: [{table: r, device: "root.e.${dev}", time: {column: ts}, measurements: [{column: v}]}]
sync: {state: %s, page_rows: 5}
dirty_rows: {file: %s}
`, m.Port, m.BridgeUser, m.BridgePassword, m.Database, cursor, f.iot.Addr(), filepath.Join(f.dir, "sync.json"), filepath.Join(f.dir, "dirty.jsonl"))
	cfg, err := config.Parse([]byte(y), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = cfg
	sink, err := iotdbsink.New(cfg.IoTDB, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	f.sink = sink
	return f
}

func (f *engineFix) exec(q string) {
	f.t.Helper()
	if _, err := f.m.DB(f.t).Exec(q); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

// options are the engine's options for one run; hook is the page hook.
func (f *engineFix) options(hook func(table string, lane int, after backfill.Key)) Options {
	f.t.Helper()
	ctx := context.Background()
	db := f.m.DB(f.t)
	tc := f.cfg.MySQL.Tables[0]
	schema, err := mapping.LoadTableSchema(ctx, db, f.cfg.MySQL.Database, tc.Name)
	if err != nil {
		f.t.Fatal(err)
	}
	mc, _ := f.cfg.Mapping(tc.Name)
	mp, err := mapping.Compile(mc, schema, mapping.Options{Precision: "ms"})
	if err != nil {
		f.t.Fatal(err)
	}
	cu, err := NewCursor(tc, schema, f.cfg.Sync.Lookback, "test.yaml")
	if err != nil {
		f.t.Fatal(err)
	}
	dl := dirty.New(f.cfg.DirtyRows)
	f.t.Cleanup(func() { dl.Close() })
	return Options{DB: db, Database: f.cfg.MySQL.Database, Tables: []Table{{Config: tc, Cursor: cu, Mapper: mp}}, Writer: f.sink, Dirty: dl,
		Sync: f.cfg.Sync, Retry: f.cfg.IoTDB.Retry, beforePage: hook,
		Copy: func(ctx context.Context, tables []backfill.Table, statePath, tag string) (backfill.Summary, error) {
			return backfill.Run(ctx, backfill.Options{DB: db, Database: f.cfg.MySQL.Database, Tables: tables, Writer: f.sink, Dirty: dl,
				Backfill: config.Backfill{State: statePath}, StateTag: tag})
		}}
}

func (f *engineFix) has(dev string) bool {
	for _, si := range f.iot.Series() {
		if strings.Contains(si.Path, "."+dev+".") && len(f.iot.Points(si.Path)) > 0 {
			return true
		}
	}
	return false
}

// A run reads up to the newest cursor value it found when it started, and
// that value becomes the mark, however long the run takes. Rows written
// while it runs wait for the next run. This is what keeps the lookback's
// promise for a long run: here a transaction takes its cursor value just
// after the run started (above the run's bound), newer rows keep arriving
// and commit while the run goes on, and the transaction commits after the
// run. A run that chased the newer rows would move the mark 10 minutes past
// the transaction's value, beyond the 5-minute lookback, and lose it.
func TestIntegrationSyncRunUpperBound(t *testing.T) {
	f := newEngineFix(t, "{columns: [upd], lookback: 5m}")
	for i := 1; i <= 20; i++ {
		f.exec(fmt.Sprintf("INSERT INTO r VALUES (%d, 'd%d', TIMESTAMPADD(SECOND, %d, '2024-01-01'), %d, '2024-01-01 00:00:00')", i, i, i, i))
	}
	ctx := context.Background()
	if _, err := Run(ctx, f.options(nil)); err != nil { // the first copy: mark 00:00:00
		t.Fatal(err)
	}
	for i := 21; i <= 40; i++ {
		f.exec(fmt.Sprintf("INSERT INTO r VALUES (%d, 'd%d', TIMESTAMPADD(SECOND, %d, '2024-01-01'), %d, '2024-01-01 00:01:00')", i, i, i, i))
	}
	conn, err := f.m.DB(t).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	pages := 0
	hook := func(_ string, _ int, _ backfill.Key) {
		pages++
		if pages != 2 {
			return
		}
		// The run has started (its bound is 00:01:00): the late transaction
		// takes 00:01:10, and newer rows up to 00:11:00 commit meanwhile.
		if _, err := tx.Exec("INSERT INTO r VALUES (500, 'late', '2024-01-02', 5, '2024-01-01 00:01:10')"); err != nil {
			t.Error(err)
		}
		for i := 41; i <= 60; i++ {
			f.exec(fmt.Sprintf("INSERT INTO r VALUES (%d, 'd%d', TIMESTAMPADD(SECOND, %d, '2024-01-01'), %d, TIMESTAMPADD(SECOND, %d, '2024-01-01 00:01:30'))", i, i, i, i, (i-40)*30))
		}
	}
	sum, err := Run(ctx, f.options(hook))
	if err != nil {
		t.Fatal(err)
	}
	if got := sum.Tables[0].RowsRead; got != 40 {
		t.Errorf("the run read %d rows, want the 40 up to its bound 00:01:00 (none written after it started)", got)
	}
	st, _, err := LoadState(f.cfg.Sync.State)
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Tables["r"].Lanes[0].Mark; m == nil || m.Text != "2024-01-01 00:01:00" {
		t.Errorf("mark %v, want the run's bound 2024-01-01 00:01:00", m)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, f.options(nil)); err != nil {
		t.Fatal(err)
	}
	if !f.has("late") {
		t.Error("the transaction that took its cursor value after the run started and committed after it is missing")
	}
	for i := 41; i <= 60; i++ {
		if !f.has(fmt.Sprintf("d%d", i)) {
			t.Errorf("row %d, written during the first run, is missing after the second", i)
		}
	}
}
