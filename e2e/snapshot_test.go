package e2e

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// TestIntegrationCDCInitialWithConcurrentWrites starts cdc with start:
// initial on a table of ~200k rows while a writer inserts, updates and
// deletes during the snapshot; after the writer stops and cdc caught up,
// IoTDB must equal the source exactly.
func TestIntegrationCDCInitialWithConcurrentWrites(t *testing.T) {
	e := newEnv(t)
	s := seed(t)
	rows := 200000
	if v, err := strconv.Atoi(os.Getenv("E2E_SNAPSHOT_ROWS")); err == nil {
		rows = v
	}
	srv := e.bigTable(s, rows)
	cfgPath, cfg := e.bigConfig(srv, cfgOpts{Start: "initial", BatchRows: 5000})

	w := chaosWorkload(e.db, "big", rand.New(rand.NewPCG(s, 2)))
	w.sizes, w.sizeW = []int{1, 10, 100, 1000}, []int{30, 30, 30, 10}
	p := e.startCDC(cfgPath)
	began := time.Now()
	w.start()
	defer w.stop()
	var duringSnapshot int64
	testenv.WaitFor(t, 10*time.Minute, "the snapshot to finish", func() bool {
		if p.exited() {
			t.Fatalf("cdc exited (code %d) during the snapshot; log:\n%s", p.code, p.tail(40))
		}
		duringSnapshot = w.changes.Load()
		return len(p.logEntries("snapshot done")) > 0
	})
	t.Logf("snapshot of %d rows done after %s; %d rows changed by the writer meanwhile",
		rows, time.Since(began).Round(100*time.Millisecond), duringSnapshot)
	if duringSnapshot == 0 {
		t.Errorf("the writer changed nothing during the snapshot: the test did not test concurrency")
	}
	time.Sleep(time.Second)
	w.stop()
	t.Logf("writer: %s", w)

	e.waitCaughtUp(p, srv, 5*time.Minute)
	if code := p.terminate(2 * time.Minute); code != 0 {
		t.Errorf("cdc exited %d after SIGTERM; log:\n%s", code, p.tail(30))
	}
	if d := e.dirtyRows(); len(d) > 0 {
		t.Errorf("%d dirty rows recorded, e.g. %s", len(d), d[0])
	}
	assertSameState(t, "initial snapshot with concurrent writes", expectedState(t, e.db, cfg, "big"), actualState(srv))
}

// TestIntegrationCDCNewTableJoins runs cdc on one table, stops it, adds a
// second mapped table that already holds rows, and starts cdc again: the
// new table is snapshotted and streamed, the first one is not snapshotted
// again (checked in the log, the metrics and iotdbtest's write counter),
// and both end equal to the source.
func TestIntegrationCDCNewTableJoins(t *testing.T) {
	e := newEnv(t)
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 1))
	const rows1, rows2 = 20000, 2000
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	e.exec(strings.ReplaceAll(readingsDDL, "%s", "j1"))
	e.loadBig("j1", rng, rows1, 1)
	cfg1Path, _ := e.writeConfig(cfgOpts{Name: "one.yaml", IoTDB: srv, Tables: []string{"j1"},
		Mappings: readingsMapping("j1", "j1"), Start: "initial", Metrics: "127.0.0.1:0"})

	// Run 1: snapshot j1, stream some changes, SIGTERM.
	p1 := e.startCDC(cfg1Path)
	e.waitStreaming(p1, 5*time.Minute)
	w1 := steadyWorkload(e.db, "j1", rand.New(rand.NewPCG(s, 2)))
	w1.start()
	time.Sleep(time.Second)
	w1.stop()
	e.waitCaughtUp(p1, srv, 3*time.Minute)
	if code := p1.terminate(2 * time.Minute); code != 0 {
		t.Fatalf("run 1: cdc exited %d after SIGTERM; log:\n%s", code, p1.tail(30))
	}
	snaps1 := snapshotTables(p1)
	if len(snaps1) != 1 || snaps1[0] != "j1" {
		t.Errorf("run 1 snapshotted %v, want [j1]", snaps1)
	}
	ck1, _ := readCheckpoint(e.checkpointPath())
	written1 := srv.Stats().PointsWritten
	j1Points := actualState(srv).points()

	// While cdc is stopped: changes to j1, and a new table with rows.
	w1.start()
	time.Sleep(500 * time.Millisecond)
	w1.stop()
	e.exec(strings.ReplaceAll(readingsDDL, "%s", "j2"))
	e.loadBig("j2", rng, rows2, 2)
	e.exec("UPDATE j2 SET temp = NULL WHERE id % 10 = 0", "DELETE FROM j2 WHERE id % 17 = 0")
	changedWhileStopped := w1.changes.Load()

	cfg2Path, cfg2 := e.writeConfig(cfgOpts{Name: "two.yaml", IoTDB: srv, Tables: []string{"j1", "j2"},
		Mappings: readingsMapping("j1", "j1") + "\n" + readingsMapping("j2", "j2"), Start: "initial", Metrics: "127.0.0.1:0"})

	// Run 2a: j2 joins; killed with SIGKILL as soon as its snapshot scans
	// (best effort), so run 2b must resume j2's snapshot, still without j1.
	p2a := e.startCDC(cfg2Path)
	p2a.waitLog(t, "snapshot: copying", 2*time.Minute)
	p2a.kill9()
	killedMid := len(p2a.logEntries("snapshot done")) == 0

	// Run 2b.
	p2 := e.startCDC(cfg2Path)
	e.waitStreaming(p2, 5*time.Minute)
	w2 := steadyWorkload(e.db, "j2", rand.New(rand.NewPCG(s, 3)))
	w1.start()
	w2.start()
	time.Sleep(time.Second)
	w1.stop()
	w2.stop()
	e.waitCaughtUp(p2, srv, 3*time.Minute)
	metrics := scrapeMetrics(t, p2)
	if code := p2.terminate(2 * time.Minute); code != 0 {
		t.Errorf("run 2: cdc exited %d after SIGTERM; log:\n%s", code, p2.tail(30))
	}

	snaps2a, snaps2 := snapshotTables(p2a), snapshotTables(p2)
	t.Logf("run 1 checkpoint %s; run 2a (kill -9 mid-snapshot: %v) snapshotted %v, run 2b %v; j1 changes: %d while stopped, %d in all",
		ck1.Position, killedMid, snaps2a, snaps2, changedWhileStopped, w1.changes.Load())
	if len(snaps2a) != 1 || snaps2a[0] != "j2" {
		t.Errorf("run 2a snapshotted %v, want only [j2] (j1 must not be snapshotted again)", snaps2a)
	}
	if killedMid && (len(snaps2) != 1 || snaps2[0] != "j2") {
		t.Errorf("run 2b snapshotted %v, want only [j2] (j2's interrupted snapshot resumed, j1 not again)", snaps2)
	}
	if !killedMid && len(snaps2) != 0 {
		t.Errorf("run 2b snapshotted %v after run 2a finished the snapshot", snaps2)
	}
	if len(p2a.logEntries("table added to the mappings")) == 0 {
		t.Errorf("run 2a did not log that j2 was added to the mappings")
	}
	written2 := srv.Stats().PointsWritten - written1
	t.Logf("points written: run 1 %d (j1 holds %d points), runs 2a+2b %d (j2 snapshot of %d rows + streamed changes)",
		written1, j1Points, written2, rows2)
	if written2 >= int64(j1Points)/2 {
		t.Errorf("run 2 wrote %d points, at least half of j1's %d: j1 looks re-delivered wholesale", written2, j1Points)
	}
	if metrics != nil {
		j1Rows := metrics[`mysql_iotdb_bridge_cdc_rows_total{outcome="insert_written",table="j1"}`] +
			metrics[`mysql_iotdb_bridge_cdc_rows_total{outcome="update_written",table="j1"}`]
		t.Logf("run 2 metrics: j1 rows written %v (inserts+updates)", j1Rows)
		if j1Rows >= rows1/2 {
			t.Errorf("run 2 streamed %v j1 rows, at least half of its %d: re-delivered wholesale?", j1Rows, rows1)
		}
	}

	want := expectedState(t, e.db, cfg2, "j1")
	expectedInto(t, e.db, cfg2, "j2", want)
	assertSameState(t, "after a table joined", want, actualState(srv))
}

// snapshotTables returns the tables of cdc's "snapshot: copying tables"
// log lines.
func snapshotTables(p *proc) []string {
	var out []string
	for _, m := range p.logEntries("snapshot: copying tables") {
		ts, _ := m["tables"].([]any)
		for _, x := range ts {
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}

// scrapeMetrics reads cdc's /metrics (address from its log line) into
// "name{labels}" -> value; nil (logged) when unavailable.
func scrapeMetrics(t *testing.T, p *proc) map[string]float64 {
	t.Helper()
	var addr string
	for _, m := range p.logEntries("serving /metrics") {
		addr, _ = m["listen"].(string)
	}
	if addr == "" {
		t.Logf("%s logged no metrics address", p.name)
		return nil
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Logf("GET /metrics: %v", err)
		return nil
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(l[i+1:], 64); err == nil {
			out[l[:i]] = v
		}
	}
	return out
}
