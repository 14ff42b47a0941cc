package e2e

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/cdc"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

func snapshotRows() int {
	if v, err := strconv.Atoi(os.Getenv("E2E_SNAPSHOT_ROWS")); err == nil {
		return v
	}
	return 60000
}

// insertRows inserts n new rows (device "late", one second apart after
// the ones inserted before) in one transaction.
func (e *env) insertRows(table string, n int) {
	e.t.Helper()
	var have int
	if err := e.db.QueryRow("SELECT COUNT(*) FROM " + table + " WHERE dev = 'late'").Scan(&have); err != nil {
		e.t.Fatal(err)
	}
	var vals []string
	for i := have; i < have+n; i++ {
		vals = append(vals, "('s9', 'late', TIMESTAMP('2031-01-01') + INTERVAL "+strconv.Itoa(i)+" SECOND, "+strconv.Itoa(i)+".5, "+strconv.Itoa(i)+", 'late', 1)")
	}
	e.exec("INSERT INTO " + table + " (site, dev, ts, temp, hum, status, ok) VALUES " + strings.Join(vals, ", "))
}

// waitSnapshotUnderWay waits until cdc's snapshot state file records a
// finished partition (so a kill now leaves a half-done snapshot behind).
func (e *env) waitSnapshotUnderWay(p *proc) {
	e.t.Helper()
	path := cdc.SnapshotStatePath(e.checkpointPath())
	testenv.WaitFor(e.t, 5*time.Minute, "a partition of the snapshot to finish", func() bool {
		if p.exited() {
			e.t.Fatalf("cdc exited (code %d) during the snapshot; log:\n%s", p.code, p.tail(40))
		}
		if len(p.logEntries("snapshot done")) > 0 {
			e.t.Fatalf("the snapshot finished before a partition was seen done: slow IoTDB down (SetLatency) or copy more rows")
		}
		b, err := os.ReadFile(path)
		return err == nil && strings.Contains(string(b), `"done": true`)
	})
}

// Starting over must not lose rows. The old advice for a purged binlog or a
// corrupt checkpoint was "delete the checkpoint and restart with start:
// initial": after a kill -9 mid-snapshot, the leftover snapshot state was
// then resumed with its old plan while the stream began at a new position,
// and rows written in between reached IoTDB by neither. Then cdc --reset,
// the first-class way to start over, removes every piece of cdc state.
func TestIntegrationCDCStartOverKeepsRows(t *testing.T) {
	e := newEnv(t)
	rows := snapshotRows()
	srv := e.bigTable(seed(t), rows)
	cfgPath, cfg := e.bigConfig(srv, cfgOpts{Start: "initial", BatchRows: 500, Metrics: "127.0.0.1:0"})

	// Slow IoTDB writes so the snapshot is still running when it is looked
	// at and killed (the copy alone takes a fraction of a second).
	srv.SetLatency(20 * time.Millisecond)
	p := e.startCDC(cfgPath)
	e.waitSnapshotUnderWay(p)
	// A snapshot is a phase of its own: /readyz says so (503: nothing is
	// streamed yet) and the gauge is 1.
	if code, body := readyz(t, p); code != 503 || !strings.Contains(body, "snapshot of big in progress") ||
		scrapeMetrics(t, p)[cdc.MetricSnapshotting] != 1 {
		t.Errorf("during the snapshot: /readyz %d %q, %s %v; want 503 naming the snapshot and 1",
			code, body, cdc.MetricSnapshotting, scrapeMetrics(t, p)[cdc.MetricSnapshotting])
	}
	// Its progress per table: rows copied so far against the plan's estimate.
	m := scrapeMetrics(t, p)
	copied, est := m[cdc.MetricSnapshotRows+`{table="big"}`], m[cdc.MetricSnapshotEstRows+`{table="big"}`]
	if copied <= 0 || est < float64(rows)/2 || copied > float64(rows) {
		t.Errorf("snapshot progress metrics: %v rows copied of an estimated %v (table of %d rows)", copied, est, rows)
	}
	// And in /status, for people and scripts.
	if st := getStatus(t, p); st.Phase != "snapshot" || st.Ready || st.Snapshot["big"] == nil || st.Snapshot["big"].CopiedRows <= 0 ||
		st.Snapshot["big"].EstimatedRows <= 0 {
		t.Errorf("/status during the snapshot: %+v (snapshot %v); want phase snapshot with big's progress", st, st.Snapshot)
	}
	p.kill9()
	srv.SetLatency(0)
	// The operator deletes the checkpoint by hand; the snapshot state stays.
	if err := os.Remove(e.checkpointPath()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cdc.SnapshotStatePath(e.checkpointPath())); err != nil {
		t.Fatalf("the test needs a leftover snapshot state: %v", err)
	}
	e.insertRows("big", 100)

	p = e.startCDC(cfgPath)
	e.waitCaughtUp(p, srv, 5*time.Minute)
	if code := p.terminate(2 * time.Minute); code != 0 {
		t.Fatalf("cdc exited %d; log:\n%s", code, p.tail(30))
	}
	if len(p.logEntries("the saved state belongs to another run")) == 0 {
		t.Errorf("the leftover snapshot state was not recognised as another position's")
	}
	// The snapshot's progress is in the log, as its own component.
	var progress bool
	for _, l := range p.logEntries("snapshot finished") {
		progress = progress || l["component"] == "snapshot" && l["rows"].(float64) > 0
	}
	if !progress {
		t.Errorf("no snapshot progress line (component snapshot, rows > 0) in the log")
	}
	if !assertSameState(t, "after deleting the checkpoint mid-snapshot", expectedState(t, e.db, cfg, "big"), actualState(srv)) {
		return
	}

	// cdc --reset removes the checkpoint and the snapshot state together and
	// connects to nothing; the next start snapshots again and streams.
	code, out := e.runProc(e.cdcBin, "cdc-reset", time.Minute, "--config", cfgPath, "--reset")
	if code != 0 || !strings.Contains(out, "removed "+e.checkpointPath()) || !strings.Contains(out, "cdc state reset") {
		t.Fatalf("cdc --reset: exit %d\n%s", code, out)
	}
	for _, f := range []string{e.checkpointPath(), cdc.SnapshotStatePath(e.checkpointPath())} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Fatalf("%s still there after --reset (%v)", f, err)
		}
	}
	// A snapshot state that cannot be read stops cdc with cdc's own remedy
	// (the snapshot runs the backfill engine, whose own advice is backfill's
	// --restart flag).
	if err := os.WriteFile(cdc.SnapshotStatePath(e.checkpointPath()), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = e.runProc(e.cdcBin, "cdc-corrupt-snapshot", time.Minute, "--config", cfgPath, "--log-format", "json")
	if code == 0 || !strings.Contains(out, "cdc --reset") || strings.Contains(out, "--restart") {
		t.Fatalf("cdc on a corrupt snapshot state: exit %d, want an error naming cdc --reset (not --restart):\n%s", code, out)
	}
	if code, out := e.runProc(e.cdcBin, "cdc-reset", time.Minute, "--config", cfgPath, "--reset"); code != 0 {
		t.Fatalf("cdc --reset: exit %d\n%s", code, out)
	}
	// Changes while cdc is away reach IoTDB through the new snapshot.
	e.exec("UPDATE big SET temp = -2 WHERE dev = 'late'")
	e.insertRows("big", 20)
	p = e.startCDC(cfgPath)
	e.waitCaughtUp(p, srv, 5*time.Minute)
	if code := p.terminate(2 * time.Minute); code != 0 {
		t.Fatalf("cdc exited %d; log:\n%s", code, p.tail(30))
	}
	assertSameState(t, "after cdc --reset", expectedState(t, e.db, cfg, "big"), actualState(srv))
}

// cdc.on_purged: resnapshot: a checkpoint whose binlog the server purged
// makes cdc discard its state, snapshot the tables again and stream.
func TestIntegrationCDCOnPurgedResnapshots(t *testing.T) {
	e := newEnv(t)
	srv := e.bigTable(seed(t), 2000)
	cfgPath, cfg := e.bigConfig(srv, cfgOpts{Start: "latest", CDCExtra: "on_purged: resnapshot", Metrics: "127.0.0.1:0"})
	p := e.startCDC(cfgPath)
	e.waitStreaming(p, time.Minute)
	e.insertRows("big", 10)
	e.waitCaughtUp(p, srv, time.Minute)
	if code := p.terminate(time.Minute); code != 0 {
		t.Fatalf("cdc exited %d; log:\n%s", code, p.tail(30))
	}
	// While cdc is down, rows change and the server purges the binlog the
	// checkpoint points into.
	e.insertRows("big", 30)
	e.exec("UPDATE big SET temp = -1 WHERE id <= 100")
	if err := e.m.PurgeBinlogs(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	p = e.startCDC(cfgPath)
	e.waitCaughtUp(p, srv, 5*time.Minute)
	m := scrapeMetrics(t, p)
	if code := p.terminate(time.Minute); code != 0 {
		t.Fatalf("cdc exited %d; log:\n%s", code, p.tail(30))
	}
	if len(p.logEntries("cdc.on_purged is resnapshot: starting over")) == 0 || m[cdc.MetricResnapshots] != 1 {
		t.Errorf("no re-snapshot logged/counted (metric %v); log:\n%s", m[cdc.MetricResnapshots], p.tail(30))
	}
	// The snapshot copied the whole table: rows from before the first start
	// (start: latest never copied them) are there too.
	assertSameState(t, "after a re-snapshot on a purged binlog", expectedState(t, e.db, cfg, "big"), actualState(srv))
}

// Hand-over: backfill records the source's binlog position before it plans;
// cdc with start: backfill streams from there. Rows changed while the
// backfill runs reach IoTDB, and nothing is copied twice (no snapshot).
func TestIntegrationBackfillHandOverToCDC(t *testing.T) {
	e := newEnv(t)
	s := seed(t)
	rows := snapshotRows()
	srv := e.bigTable(s, rows)
	cfgPath, cfg := e.bigConfig(srv, cfgOpts{Start: "backfill", BatchRows: 2000})

	// cdc refuses to start before a backfill finished.
	code, out := e.runProc(e.cdcBin, "cdc-early", time.Minute, "--config", cfgPath)
	if code != 1 || !strings.Contains(out, "run backfill first") {
		t.Fatalf("cdc before any backfill: exit %d, want 1 with \"run backfill first\"\n%s", code, out)
	}

	w := chaosWorkload(e.db, "big", rand.New(rand.NewPCG(s, 2)))
	w.sizes, w.sizeW = []int{1, 10, 100, 1000}, []int{30, 30, 30, 10}
	w.pause = time.Millisecond
	w.start()
	// Let the writer get going first, so that the copy runs under writes.
	testenv.WaitFor(t, time.Minute, "the workload to start", func() bool { return w.changes.Load() > 0 })
	code, out = e.runProc(e.backfillBin, "backfill", 10*time.Minute, "--config", cfgPath, "--log-format", "json")
	w.stop()
	if code != 0 || !strings.Contains(out, "cdc with start: backfill streams from here") {
		t.Fatalf("backfill: exit %d\n%s", code, out)
	}
	if w.changes.Load() == 0 {
		t.Fatal("the workload changed nothing during the backfill: the test did not test the hand-over")
	}
	var st struct {
		Source *struct{ File, GTID string } `json:"source_position"`
	}
	b, err := os.ReadFile(cfg.Backfill.State)
	if err != nil || json.Unmarshal(b, &st) != nil || st.Source == nil || st.Source.File == "" || st.Source.GTID == "" {
		t.Fatalf("backfill state has no source position with file and GTID set: %v\n%s", err, b)
	}
	written := srv.Stats().PointsWritten

	p := e.startCDC(cfgPath)
	e.waitCaughtUp(p, srv, 5*time.Minute)
	if code := p.terminate(2 * time.Minute); code != 0 {
		t.Fatalf("cdc exited %d; log:\n%s", code, p.tail(30))
	}
	if len(p.logEntries("snapshot: copying tables before streaming")) > 0 {
		t.Errorf("cdc snapshotted after a hand-over (a second copy)")
	}
	if len(p.logEntries("hand-over: streaming from the position the backfill recorded")) == 0 {
		t.Errorf("no hand-over logged")
	}
	t.Logf("backfill wrote %d points; cdc then %d more; workload %s", written, srv.Stats().PointsWritten-written, w)
	assertSameState(t, "backfill then cdc from the hand-over", expectedState(t, e.db, cfg, "big"), actualState(srv))
}
