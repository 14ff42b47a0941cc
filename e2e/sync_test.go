package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/incremental"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// Process-level tests of cmd/sync: repeated runs under concurrent writers
// with transactions held open across run boundaries, kill -9 in the middle
// of a run, and the schedule.

// syncBinary is the path of cmd/sync, built with the others.
func syncBinary(t *testing.T) string {
	t.Helper()
	binaries(t)
	return filepath.Join(binDir, "sync")
}

// syncReadyMsg starts the first line cmd/sync logs, after its SIGTERM
// handler is installed ("sync starting", "sync starting on a schedule").
const syncReadyMsg = "sync starting"

func (e *env) startSync(cfgPath string, extra ...string) *proc {
	e.t.Helper()
	p := e.startProc(syncBinary(e.t), "sync", append([]string{"--config", cfgPath, "--log-format", "json"}, extra...)...)
	p.readyMsg = syncReadyMsg
	return p
}

// runSync runs cmd/sync to its end and fails the test unless it exits 0.
func (e *env) runSync(cfgPath string, extra ...string) *proc {
	e.t.Helper()
	p := e.startSync(cfgPath, extra...)
	code, ok := p.wait(5 * time.Minute)
	if !ok {
		p.kill9()
		e.t.Fatalf("%s still running after 5 minutes; log:\n%s", p.name, p.tail(30))
	}
	if code != 0 {
		e.t.Fatalf("%s exited %d; log:\n%s", p.name, code, p.tail(30))
	}
	return p
}

// syncTable creates the readings table name with a cursor column upd
// (set at insert and at every update by the server) and its index.
func (e *env) syncTable(name string) {
	e.t.Helper()
	e.exec(strings.ReplaceAll(readingsDDL, "%s", name),
		"ALTER TABLE "+name+" ADD COLUMN upd DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), ADD KEY (upd)")
}

// heldTxn inserts n rows in a transaction it keeps open; commit ends it.
type heldTxn struct {
	conn *sql.Conn
	tx   *sql.Tx
	upd  string // the cursor value the rows took (the server's NOW(6) at the insert)
}

func (e *env) holdTxn(table string, n int, day int) *heldTxn {
	e.t.Helper()
	ctx := context.Background()
	conn, err := e.db.Conn(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range n {
		if _, err := tx.Exec(fmt.Sprintf("INSERT INTO %s (site, dev, ts, temp) VALUES ('held', 'h%d', '2024-02-%02d 00:00:00', %d)", table, i, day, day*100+i)); err != nil {
			e.t.Fatal(err)
		}
	}
	h := &heldTxn{conn: conn, tx: tx}
	if err := tx.QueryRow("SELECT CAST(MAX(upd) AS CHAR) FROM " + table + " WHERE site = 'held'").Scan(&h.upd); err != nil {
		e.t.Fatal(err)
	}
	return h
}

func (h *heldTxn) commit(t *testing.T) {
	t.Helper()
	if err := h.tx.Commit(); err != nil {
		t.Fatal(err)
	}
	h.conn.Close()
}

// Writers insert and update rows while one-shot runs repeat; twice a
// transaction takes its cursor values before a run and commits after it.
// With the default lookback (5 minutes) every row arrives, the held ones
// included. With a lookback shorter than the time a transaction was held
// (100 ms against more than a second), exactly its rows are lost: the
// documented limit, not a hidden one.
func TestIntegrationSyncConcurrentWriters(t *testing.T) {
	e := newEnv(t)
	s := seed(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	e.syncTable("big")
	e.preload("big", rand.New(rand.NewPCG(s, 1)), 3000)
	cfgPath, cfg := e.bigConfig(srv, cfgOpts{TableExtra: "cursor: {columns: [upd]}", SyncExtra: "page_rows: 500"})

	w := &workload{db: e.db, table: "big", rng: rand.New(rand.NewPCG(s, 2)),
		sizes: []int{1, 5, 20, 100}, sizeW: []int{30, 30, 30, 10},
		// Inserts, and updates that give NULL columns a value: cursor mode
		// cannot see a value set to NULL (IoTDB keeps the old one), so the
		// mix has none.
		kinds: []string{"insert", "restore"}, kindW: []int{60, 40}, pause: 5 * time.Millisecond}
	w.start()
	var held []*heldTxn
	for run := 1; run <= 6; run++ {
		if run == 2 || run == 4 {
			held = append(held, e.holdTxn("big", 3, run))
		}
		e.runSync(cfgPath)
		if run == 2 || run == 4 {
			held[len(held)-1].commit(t) // after the run passed its cursor values
		}
	}
	w.stop()
	t.Logf("workload: %s", w)
	if w.changes.Load() == 0 {
		t.Fatal("the workload changed nothing")
	}
	p := e.runSync(cfgPath)
	t.Logf("final run: %v", p.logEntries("sync run finished"))
	assertSameState(t, "after concurrent writers and held transactions", expectedState(t, e.db, cfg, "big"), actualState(srv))

	// The limit: lookback 100ms, one transaction held for more than a
	// second across a run whose mark passed its value.
	cfgPath, cfg = e.bigConfig(srv, cfgOpts{TableExtra: "cursor: {columns: [upd], lookback: 100ms}"})
	h := e.holdTxn("big", 2, 9)
	testenv.WaitFor(t, time.Minute, "the server clock 1s past the held rows' cursor", func() bool {
		var past bool
		_ = e.db.QueryRow("SELECT NOW(6) > ? + INTERVAL 1 SECOND", h.upd).Scan(&past)
		return past
	})
	e.exec("INSERT INTO big (site, dev, ts, temp) VALUES ('late', 'mark', '2024-03-01', 1)") // moves the mark past h.upd + 1s
	e.runSync(cfgPath)
	h.commit(t)
	e.runSync(cfgPath)
	want := expectedState(t, e.db, cfg, "big")
	got := actualState(srv)
	n, d := diffStates(want, got, 20)
	if n != 2 || !strings.Contains(d, "held.h0") || !strings.Contains(d, "held.h1") {
		t.Errorf("lookback 100ms, a transaction held over 1s: want exactly its 2 rows (1 point each) missing, got %d differences:\n%s", n, d)
	}
}

// kill -9 in the middle of the first copy and in the middle of an
// incremental run: the next run resumes where IoTDB's acknowledgements
// ended (it does not start over), and the end state is exact.
func TestIntegrationSyncKill9Resume(t *testing.T) {
	e := newEnv(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	e.syncTable("big")
	e.preload("big", rand.New(rand.NewPCG(seed(t), 1)), 4000)
	cfgPath, cfg := e.bigConfig(srv, cfgOpts{TableExtra: "cursor: {columns: [upd]}", SyncExtra: "page_rows: 100"})
	copyState := incremental.CopyStatePath(e.syncStatePath(), "big")

	// 1. The first copy (backfill engine, pages of 2000, writes slowed).
	srv.SetLatency(300 * time.Millisecond)
	p := e.startSync(cfgPath)
	testenv.WaitFor(t, 2*time.Minute, "the first copy acknowledged a page", func() bool {
		return srv.TotalPoints() > 0 && fileExists(copyState)
	})
	p.kill9()
	srv.SetLatency(0)
	p = e.runSync(cfgPath)
	if len(p.logEntries("resuming from saved state")) == 0 {
		t.Errorf("the first copy did not resume from its state; log:\n%s", p.tail(20))
	}
	if fileExists(copyState) {
		t.Errorf("the finished first copy's state %s is still there", copyState)
	}
	assertSameState(t, "after the first copy", expectedState(t, e.db, cfg, "big"), actualState(srv))

	// 2. An incremental run: every row's cursor moves, pages of 100.
	e.exec("UPDATE big SET temp = COALESCE(temp, 0) + 1")
	srv.SetLatency(100 * time.Millisecond)
	p = e.startSync(cfgPath)
	var after string
	testenv.WaitFor(t, 2*time.Minute, "the run acknowledged pages", func() bool {
		st, ok, err := incremental.LoadState(e.syncStatePath())
		if err != nil || !ok {
			return false
		}
		if run := st.Tables["big"].Lanes[0].Run; run != nil && run.Rows >= 300 {
			after = run.After.String()
			return true
		}
		return false
	})
	p.kill9()
	srv.SetLatency(0)
	st, _, err := incremental.LoadState(e.syncStatePath())
	if err != nil || st.Tables["big"].Lanes[0].Run == nil {
		t.Fatalf("after kill -9 the state holds no run in progress: %v", err)
	}
	done := st.Tables["big"].Lanes[0].Run.Rows
	p = e.runSync(cfgPath)
	res := p.logEntries("resuming the run")
	fin := p.logEntries("sync run finished")
	if len(res) == 0 || len(fin) == 0 {
		t.Fatalf("the run after kill -9 did not resume (saved position %s); log:\n%s", after, p.tail(20))
	}
	if rows, _ := fin[0]["rows"].(float64); int64(rows) > 4000-done+5 || int64(rows) == 0 {
		t.Errorf("the resumed run read %v rows; %d of 4000 were acknowledged before kill -9: it should read only the rest", rows, done)
	}
	assertSameState(t, "after kill -9 and resume", expectedState(t, e.db, cfg, "big"), actualState(srv))
}

// The schedule: --every 1s with runs that take longer than a second. Runs
// never overlap (each run's start follows the previous run's end in the
// log, and the passed fire times are reported as skipped), /metrics,
// /healthz and /readyz answer, a second process on the same state is
// refused, and SIGTERM stops it with exit 0.
func TestIntegrationSyncScheduleNeverOverlaps(t *testing.T) {
	e := newEnv(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	e.syncTable("big")
	e.preload("big", rand.New(rand.NewPCG(seed(t), 1)), 600)
	// Every run re-reads the rows of the last 5 minutes (all 600, in pages
	// of 50, IoTDB answering after 50 ms): a few seconds per run.
	cfgPath, _ := e.bigConfig(srv, cfgOpts{TableExtra: "cursor: {columns: [upd]}", SyncExtra: "page_rows: 50", Metrics: "127.0.0.1:0"})
	e.runSync(cfgPath) // the first copy
	srv.SetLatency(50 * time.Millisecond)
	p := e.startSync(cfgPath, "--every", "1s")
	p.waitLog(t, "sync starting on a schedule", time.Minute)
	if code, _ := readyz(t, p); code != 503 {
		t.Errorf("/readyz before the first run finished: %d, want 503", code)
	}
	testenv.WaitFor(t, 3*time.Minute, "four runs", func() bool { return len(p.logEntries("sync run finished")) >= 4 })

	// A second process on the same state is refused while the first holds it.
	if code, out := e.runProc(syncBinary(t), "sync-second", time.Minute, "--config", cfgPath); code != 1 || !strings.Contains(out, "sync state") || !strings.Contains(out, "is in use by") {
		t.Errorf("a second sync on the same state: exit %d, want 1 naming the holder; output:\n%s", code, out)
	}
	if code, body := readyz(t, p); code != 200 {
		t.Errorf("/readyz after successful runs: %d %q", code, body)
	}
	m := scrapeMetrics(t, p)
	if m[incremental.MetricRuns+`{result="ok"}`] < 4 || m[incremental.MetricSkipped] < 1 || m[incremental.MetricLag+`{table="big"}`] <= 0 {
		t.Errorf("metrics: runs ok %v, skipped %v, lag %v; want >= 4, >= 1, > 0",
			m[incremental.MetricRuns+`{result="ok"}`], m[incremental.MetricSkipped], m[incremental.MetricLag+`{table="big"}`])
	}
	if code := p.terminate(time.Minute); code != 0 {
		t.Errorf("sync on a schedule exited %d after SIGTERM, want 0; log:\n%s", code, p.tail(20))
	}

	// In the log: started, finished, started, finished, ... never two
	// starts in a row.
	var seq []string
	for _, l := range p.logEntries("sync run ") {
		switch msg := l["message"].(string); msg {
		case "sync run starting":
			seq = append(seq, "start")
		case "sync run finished", "sync run failed", "sync run interrupted":
			seq = append(seq, "end")
		}
	}
	for i, s := range seq {
		if want := []string{"start", "end"}[i%2]; s != want {
			t.Fatalf("runs overlap: log sequence %v (position %d is %s, want %s)", seq, i, s, want)
		}
	}
	if len(p.logEntries("scheduled runs skipped")) == 0 {
		t.Errorf("runs of ~2s every 1s, but no skipped fire times were logged")
	}
	t.Logf("%d runs, sequence ok", len(seq)/2)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// SIGTERM in the middle of a one-shot run: the write in flight finishes,
// the position is saved, exit 3 with "resume by running again"; the next
// run resumes and the end state is exact.
func TestIntegrationSyncSIGTERM(t *testing.T) {
	e := newEnv(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	e.syncTable("big")
	e.preload("big", rand.New(rand.NewPCG(seed(t), 1)), 2000)
	cfgPath, cfg := e.bigConfig(srv, cfgOpts{TableExtra: "cursor: {columns: [upd]}", SyncExtra: "page_rows: 50"})
	e.runSync(cfgPath)
	e.exec("UPDATE big SET hum = COALESCE(hum, 0) + 1")
	srv.SetLatency(100 * time.Millisecond)
	p := e.startSync(cfgPath)
	testenv.WaitFor(t, 2*time.Minute, "the run acknowledged pages", func() bool {
		st, ok, err := incremental.LoadState(e.syncStatePath())
		return err == nil && ok && st.Tables["big"].Lanes[0].Run != nil && st.Tables["big"].Lanes[0].Run.Rows > 0
	})
	if code := p.terminate(time.Minute); code != 3 || !strings.Contains(p.output(), "interrupted, resume by running again") {
		t.Fatalf("SIGTERM during a one-shot run: exit %d, want 3 and the resume hint; log:\n%s", code, p.tail(10))
	}
	st, _, err := incremental.LoadState(e.syncStatePath())
	if err != nil || st.Tables["big"].Lanes[0].Run == nil {
		t.Fatalf("after SIGTERM the state holds no run in progress (%v)", err)
	}
	srv.SetLatency(0)
	p = e.runSync(cfgPath)
	if len(p.logEntries("resuming the run")) == 0 {
		t.Errorf("the next run did not resume; log:\n%s", p.tail(10))
	}
	assertSameState(t, "after SIGTERM and resume", expectedState(t, e.db, cfg, "big"), actualState(srv))
}
