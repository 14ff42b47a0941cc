package wire

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
)

// The first run copies the table whole; later runs bring what moved the
// cursor: new rows and updates that set updated_at. What incremental
// cannot see is shown to be real: an update that leaves the cursor alone
// and a delete leave IoTDB as it was.
func TestIntegrationSyncIncremental(t *testing.T) {
	f := newSyncFix(t)
	f.insert(1, 40, "'2024-01-01 00:00:00'")
	r := f.mustRun(SyncArgs{})
	if !strings.Contains(r.stdout, "first copy 40 rows") {
		t.Errorf("first run: want the first copy of 40 rows in the summary, got:\n%s", r.stdout)
	}
	f.assertSame("after the first run", f.expected(""))
	st := f.loadState()
	if ts := st.Tables["readings"]; ts == nil || ts.Phase != "incremental" || ts.Lanes[0].Mark == nil || ts.Lanes[0].Mark.Text != "2024-01-01 00:00:00" {
		t.Fatalf("state after the first run: %+v", st.Tables["readings"])
	}

	// New rows, and updates that move the cursor: the next run reads them
	// (and the lookback's span: every row, all at the old mark).
	f.insert(41, 60, "'2024-01-01 00:02:00'")
	f.exec("UPDATE readings SET temp = -1, updated_at = '2024-01-01 00:03:00' WHERE id IN (3, 4)")
	r = f.mustRun(SyncArgs{})
	f.assertSame("after new rows and cursor-moving updates", f.expected(""))
	if got := r.rows(); got != 60 {
		t.Errorf("second run read %d rows, want 60 (the lookback of 5m covers the old mark)", got)
	}

	// What incremental cannot see: an update that leaves updated_at alone
	// (outside the lookback's span before the mark: newer rows moved the
	// mark to 01:00), and a delete. IoTDB keeps the old values (the
	// documented limit).
	f.insert(61, 62, "'2024-01-01 01:00:00'")
	f.mustRun(SyncArgs{})
	before := f.expected("")
	f.exec("UPDATE readings SET temp = 999 WHERE id = 10", "DELETE FROM readings WHERE id = 11")
	f.mustRun(SyncArgs{})
	f.assertSame("after an update without a cursor change and a delete", before)

	// A run with nothing new reads the lookback's span only (the two rows
	// at 01:00), and the mark stays.
	r = f.mustRun(SyncArgs{})
	if m := f.loadState().Tables["readings"].Lanes[0].Mark; m == nil || m.Text != "2024-01-01 01:00:00" {
		t.Errorf("mark after an idle run: %v, want 2024-01-01 01:00:00", m)
	}
	if got := r.rows(); got != 2 {
		t.Errorf("idle run read %d rows, want the 2 in the lookback's span", got)
	}
	if lag, ok := r.finished["lag_s"].(float64); !ok || lag <= 0 {
		t.Errorf("the run's line has no lag of the newest cursor behind now: %v", r.finished)
	}
}

// Many rows share one cursor value across page boundaries (pages of 7, 100
// rows at one value): each is read exactly once per run, none is skipped,
// and the run ends.
func TestIntegrationSyncSharedCursorValue(t *testing.T) {
	f := newSyncFix(t)
	f.pageRows = 7
	f.syncExtra = "lookback: 0s"
	f.mustRun(SyncArgs{}) // empty table: the first copy copies nothing, the lane has no values
	f.insert(1, 100, "'2024-01-01 00:05:00'")
	f.insert(101, 103, "'2024-01-01 00:04:00'")
	f.insert(104, 106, "'2024-01-01 00:06:00'")

	// A watchdog: the state's acknowledged row count of the run may never
	// pass the rows of the table (that would be reading rows again).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reread := make(chan int64, 1)
	go func() {
		for ctx.Err() == nil {
			if st, err := os.ReadFile(f.statePath()); err == nil {
				var n int64
				if i := strings.Index(string(st), `"rows": `); i >= 0 {
					fmt.Sscanf(string(st[i+len(`"rows": `):]), "%d", &n)
				}
				if n > 106 {
					reread <- n
					cancel()
					return
				}
			}
		}
	}()
	r := f.runCtx(ctx, SyncArgs{})
	select {
	case n := <-reread:
		t.Fatalf("the run acknowledged %d rows of a 106-row table: it reads rows again", n)
	default:
	}
	if r.code != 0 {
		t.Fatalf("sync exited %d: %s", r.code, tail(r.stderr, 20))
	}
	if got := r.rows(); got != 106 {
		t.Errorf("the run read %d rows, want each of the 106 once", got)
	}
	f.assertSame("rows sharing cursor values across pages", f.expected(""))

	// With lookback 0 the next run reads the rows at the mark again (a row
	// with the newest value may commit late), and only those.
	if got := f.mustRun(SyncArgs{}).rows(); got != 3 {
		t.Errorf("idle run with lookback 0 read %d rows, want the 3 at the mark", got)
	}
}

// A transaction that set its cursor value before a run and commits after
// it: with a lookback longer than the distance between its value and the
// mark it arrives; with a shorter one it is lost, the documented limit.
// The cursor values are written explicitly, so the distance is exact.
func TestIntegrationSyncLateCommit(t *testing.T) {
	for _, c := range []struct {
		lookback string
		arrives  bool
	}{{"5m", true}, {"30s", false}} {
		t.Run("lookback "+c.lookback, func(t *testing.T) {
			f := newSyncFix(t)
			f.cursor = "{columns: [updated_at], lookback: " + c.lookback + "}"
			f.insert(1, 10, "'2024-01-01 00:00:00'")
			f.mustRun(SyncArgs{}) // first copy: mark 00:00:00

			// The late transaction takes its cursor value at 00:00:10 and
			// stays open across the next run.
			conn, err := f.db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			tx, err := conn.BeginTx(context.Background(), &sql.TxOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(`INSERT INTO readings (id, site, dev, ts, temp, hum, updated_at) VALUES (500, 's9', 'late', '2024-01-02 00:00:00', 5, 5, '2024-01-01 00:00:10')`); err != nil {
				t.Fatal(err)
			}
			f.insert(11, 20, "'2024-01-01 00:01:00'")
			f.mustRun(SyncArgs{}) // the mark moves to 00:01:00, past the open transaction's value
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			f.mustRun(SyncArgs{}) // reads from 00:01:00 - lookback

			want := f.expected("")
			if !c.arrives {
				want = f.expected("id <> 500")
			}
			f.assertSame("after the late commit", want)
			_, got := f.actual()["root.factory.s9.late.temp"]
			if got != c.arrives {
				t.Errorf("late row in IoTDB: %v, want %v (value 00:00:10, mark 00:01:00, lookback %s)", got, c.arrives, c.lookback)
			}
		})
	}
}

// Rows whose cursor is NULL: incremental runs cannot see them. The first
// copy records them as dirty rows (the default) or copies them (nulls:
// copy). With a fallback column the NULLs of the first are followed by the
// second lane, and a row that later gets the first column set moves to the
// first lane.
func TestIntegrationSyncCursorNulls(t *testing.T) {
	t.Run("dirty", func(t *testing.T) {
		f := newSyncFix(t)
		f.insert(1, 5, "'2024-01-01 00:00:00'")
		f.insert(6, 8, "NULL")
		f.mustRun(SyncArgs{})
		f.assertSame("first copy", f.expected("updated_at IS NOT NULL"))
		keys := map[string]bool{}
		for _, l := range readLinesFile(t, f.dirtyPath()) {
			if strings.Contains(l, `"reason":"`+dirty.ReasonCursorNull+`"`) {
				for _, k := range []string{"id=6", "id=7", "id=8"} {
					if strings.Contains(l, `"key":"`+k+`"`) {
						keys[k] = true
					}
				}
			}
		}
		if len(keys) != 3 {
			t.Errorf("dirty rows with reason %s: %v, want ids 6, 7, 8; file:\n%s", dirty.ReasonCursorNull, keys, strings.Join(readLinesFile(t, f.dirtyPath()), "\n"))
		}
	})
	t.Run("copy", func(t *testing.T) {
		f := newSyncFix(t)
		f.cursor = "{columns: [updated_at], nulls: copy}"
		f.insert(1, 5, "'2024-01-01 00:00:00'")
		f.insert(6, 8, "NULL")
		f.mustRun(SyncArgs{})
		f.assertSame("first copy", f.expected(""))
		// A NULL-cursor row written after the first copy is invisible.
		f.insert(9, 9, "NULL")
		f.mustRun(SyncArgs{})
		f.assertSame("a later NULL-cursor row is not seen", f.expected("id <> 9"))
	})
	t.Run("fallback", func(t *testing.T) {
		f := newSyncFix(t)
		f.cursor = "{columns: [updated_at, created_at]}"
		f.insert(1, 5, "'2024-01-01 00:00:00'")
		f.mustRun(SyncArgs{})
		// Never updated: only created_at is set.
		f.exec(`INSERT INTO readings (id, site, dev, ts, temp, hum, updated_at, created_at) VALUES
			(6, 's1', 'd6', '2024-01-03 00:00:00', 6, 6, NULL, '2024-01-01 00:10:00'),
			(7, 's1', 'd7', '2024-01-03 00:00:01', 7, 7, NULL, '2024-01-01 00:10:00')`)
		f.mustRun(SyncArgs{})
		f.assertSame("rows followed by created_at", f.expected(""))
		// Updated: updated_at is set, so the row moves to the first lane.
		f.exec("UPDATE readings SET temp = 77, updated_at = '2024-01-01 00:20:00' WHERE id = 7")
		f.mustRun(SyncArgs{})
		f.assertSame("the update set the first column", f.expected(""))
		if d := readLinesFile(t, f.dirtyPath()); len(d) > 0 {
			t.Errorf("dirty rows: %v", d)
		}
	})
}

func readLinesFile(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// A state written for another cursor definition is refused, naming the
// difference; --restart copies the table again and follows the new one.
func TestIntegrationSyncDefinitionChanged(t *testing.T) {
	f := newSyncFix(t)
	f.insert(1, 5, "'2024-01-01 00:00:00'")
	f.mustRun(SyncArgs{})
	f.cursor = "{columns: [updated_at, created_at]}"
	r := f.run(SyncArgs{})
	if r.code != ExitFailed || !strings.Contains(r.stderr, "columns: [updated_at] -> [updated_at, created_at]") || !strings.Contains(r.stderr, "--restart") {
		t.Fatalf("changed cursor: exit %d, want 1 with the difference and --restart; stderr:\n%s", r.code, tail(r.stderr, 10))
	}
	f.where = "site <> 's2'"
	f.cursor = "{columns: [updated_at]}"
	if r := f.run(SyncArgs{}); r.code != ExitFailed || !strings.Contains(r.stderr, `where: "" -> "site <> 's2'"`) {
		t.Fatalf("changed where: exit %d; stderr:\n%s", r.code, tail(r.stderr, 10))
	}
	r = f.mustRun(SyncArgs{Restart: true})
	if !strings.Contains(r.stdout, "first copy") {
		t.Errorf("--restart did not copy the table again:\n%s", r.stdout)
	}
}

// A bridge user with SELECT on the database and nothing else (no
// replication grants, no binlog) can sync.
func TestIntegrationSyncSelectOnly(t *testing.T) {
	f := newSyncFix(t)
	ctx := context.Background()
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if err := f.m.Exec(ctx, fmt.Sprintf("CREATE USER 'reader'@'%s' IDENTIFIED BY 'pw'", host)); err != nil {
			t.Fatal(err)
		}
		if err := f.m.Exec(ctx, fmt.Sprintf("GRANT SELECT ON `%s`.* TO 'reader'@'%s'", f.m.Database, host)); err != nil {
			t.Fatal(err)
		}
	}
	f.user, f.pass = "reader", "pw"
	f.insert(1, 10, "'2024-01-01 00:00:00'")
	f.mustRun(SyncArgs{})
	f.insert(11, 20, "'2024-01-01 00:01:00'")
	f.mustRun(SyncArgs{})
	f.assertSame("SELECT-only user", f.expected(""))
}

// A cursor column without an index works, and --dry-run warns that every
// run scans the table.
func TestIntegrationSyncUnindexedCursor(t *testing.T) {
	f := newSyncFix(t)
	f.exec("ALTER TABLE readings DROP INDEX updated_at")
	f.insert(1, 10, "'2024-01-01 00:00:00'")
	r := f.mustRun(SyncArgs{DryRun: true})
	if !strings.Contains(r.stdout, "WARNING: cursor column updated_at leads no index") || !strings.Contains(r.stdout, "full scan") {
		t.Errorf("dry run without an index on the cursor: no full-scan warning:\n%s", r.stdout)
	}
	if _, err := os.Stat(f.statePath()); !os.IsNotExist(err) {
		t.Errorf("the dry run wrote a state (%v)", err)
	}
	if got := f.iot.TotalPoints(); got != 0 {
		t.Errorf("the dry run wrote %d points", got)
	}
	f.mustRun(SyncArgs{})
	f.insert(11, 20, "'2024-01-01 00:01:00'")
	f.mustRun(SyncArgs{})
	f.assertSame("unindexed cursor", f.expected(""))
	// With the index the warning is gone.
	f.exec("ALTER TABLE readings ADD INDEX (updated_at)")
	if r := f.mustRun(SyncArgs{DryRun: true}); strings.Contains(r.stdout, "WARNING") {
		t.Errorf("dry run with an index still warns:\n%s", r.stdout)
	}
}

// Windows [from, to) of the mapped time: a slice copies exactly its rows
// (a row at to belongs to the next slice), running a slice again is
// harmless, and adjacent slices cover the table. They need no cursor and
// touch no incremental state.
func TestIntegrationSyncWindows(t *testing.T) {
	f := newSyncFix(t)
	f.cursor = ""
	// ts = 2024-01-01 00:00:00 + id ms: ids 1..999 before 00:00:01, 1000 at it.
	f.insert(1, 1500, "NULL")
	slice1 := SyncArgs{From: "2024-01-01T00:00:00Z", To: "2024-01-01T00:00:01Z"}
	f.mustRun(slice1)
	f.assertSame("slice 1", f.expected("id < 1000"))
	f.mustRun(slice1)
	f.assertSame("slice 1 again", f.expected("id < 1000"))
	f.mustRun(SyncArgs{From: "2024-01-01T00:00:01Z", To: "2024-01-02"})
	f.assertSame("both slices", f.expected(""))
	if _, err := os.Stat(f.statePath()); !os.IsNotExist(err) {
		t.Errorf("a window wrote the incremental state (%v)", err)
	}
	// Incremental without a cursor: refused before connecting, naming the table.
	if r := f.run(SyncArgs{}); r.code != ExitUsage || !strings.Contains(r.stderr, "mysql.tables[0] (readings)") {
		t.Errorf("incremental run without a cursor: exit %d, want 2 naming the table; stderr:\n%s", r.code, r.stderr)
	}
	if r := f.run(SyncArgs{From: "2024-01-02", To: "2024-01-01"}); r.code != ExitUsage {
		t.Errorf("--from after --to: exit %d, want 2", r.code)
	}
}

// The table model: the same incremental runs, rows as table rows.
func TestIntegrationSyncTableModel(t *testing.T) {
	f := newSyncFix(t)
	f.tableModel = true
	f.insert(1, 30, "'2024-01-01 00:00:00'")
	f.mustRun(SyncArgs{})
	f.insert(31, 50, "'2024-01-01 00:01:00'")
	f.exec("UPDATE readings SET hum = -5, updated_at = '2024-01-01 00:02:00' WHERE id = 2")
	f.mustRun(SyncArgs{})
	f.assertSame("table model", f.expected(""))
}

// An integer sequence cursor: its lookback is a count of values, and it
// must be written (the error names the place in the file).
func TestIntegrationSyncSequenceCursor(t *testing.T) {
	f := newSyncFix(t)
	f.cursor = "{columns: [seq]}"
	f.insert(1, 10, "NULL")
	r := f.run(SyncArgs{})
	if r.code != ExitFailed || !strings.Contains(r.stderr, "config.yaml:10: mysql.tables[0].cursor") || !strings.Contains(r.stderr, "integer sequence") {
		t.Fatalf("sequence cursor without lookback: exit %d; stderr:\n%s", r.code, tail(r.stderr, 5))
	}
	f.cursor = "{columns: [seq], lookback: 3}"
	f.mustRun(SyncArgs{})
	f.insert(11, 20, "NULL")
	if got := f.mustRun(SyncArgs{}).rows(); got != 14 {
		t.Errorf("read %d rows, want 14: seq 7..20 (mark 10 minus 3)", got)
	}
	f.assertSame("sequence cursor", f.expected(""))
}

// A signal that arrives before the run began (while connecting) is an
// interruption (3), as it is mid-run: a CronJob's podFailurePolicy sees
// one code for both, and nothing was copied.
func TestIntegrationSyncInterruptedWhileConnecting(t *testing.T) {
	f := newSyncFix(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := f.runCtx(ctx, SyncArgs{})
	if r.code != ExitInterrupted || !strings.Contains(r.stderr, "interrupted") {
		t.Fatalf("sync with the signal before the run: exit %d, want %d; stderr:\n%s", r.code, ExitInterrupted, tail(r.stderr, 10))
	}
}
