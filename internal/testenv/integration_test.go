package testenv

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-sql-driver/mysql"
)

// newSyncer is a BinlogSyncer logged in as the bridge user, to prove that
// the bridge grants suffice for a binlog stream.
func newSyncer(t *testing.T, m *MariaDB, serverID uint32, disableRetry bool) *replication.BinlogSyncer {
	t.Helper()
	s := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID:         serverID,
		Flavor:           gomysql.MariaDBFlavor,
		Host:             m.Host,
		Port:             uint16(m.Port),
		User:             m.BridgeUser,
		Password:         m.BridgePassword,
		ParseTime:        true,
		DisableRetrySync: disableRetry,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(s.Close)
	return s
}

func startSync(t *testing.T, s *replication.BinlogSyncer, file string, pos uint32) *replication.BinlogStreamer {
	t.Helper()
	st, err := s.StartSync(gomysql.Position{Name: file, Pos: pos})
	if err != nil {
		t.Fatalf("StartSync(%s:%d): %v", file, pos, err)
	}
	return st
}

// rowsKind names a rows event whatever its version (MariaDB writes v1).
func rowsKind(t replication.EventType) string {
	switch t {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2:
		return "insert"
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2:
		return "update"
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2:
		return "delete"
	}
	return ""
}

func mustExec(t *testing.T, m *MariaDB, query string, args ...any) {
	t.Helper()
	if err := m.Exec(t.Context(), query, args...); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationBinlogRowEvents(t *testing.T) {
	m := StartMariaDB(t, Options{ServerID: 7})
	ctx := t.Context()
	mustExec(t, m, `CREATE TABLE readings (id INT PRIMARY KEY, device VARCHAR(32) NOT NULL,
		ts DATETIME(3) NOT NULL, temp DOUBLE NULL)`)

	file, pos, gtidBefore, err := m.BinlogPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if file != "binlog.000001" || pos < 4 {
		t.Fatalf("BinlogPosition = %s:%d, want binlog.000001:>=4", file, pos)
	}
	// CREATE DATABASE and CREATE TABLE are the first two GTIDs.
	if gtidBefore != "0-7-2" {
		t.Fatalf("gtid before = %q, want 0-7-2", gtidBefore)
	}

	db := m.DB(t)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"INSERT INTO readings VALUES (1, 'pump-1', '2024-01-02 03:04:05.678', 21.5), (2, 'pump-2', '2024-01-02 03:04:06.000', NULL)",
		"UPDATE readings SET temp = 22.25 WHERE id = 1",
		"DELETE FROM readings WHERE id = 2",
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	fileAfter, posAfter, gtidAfter, err := m.BinlogPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if gtidAfter != "0-7-3" {
		t.Fatalf("gtid after = %q, want 0-7-3", gtidAfter)
	}

	st := startSync(t, newSyncer(t, m, 1001, true), file, pos)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	ts1 := time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC)
	ts2 := time.Date(2024, 1, 2, 3, 4, 6, 0, time.UTC)
	var (
		gtid    string
		columns []string
		changes []string
		rows    = map[string][][]any{}
		xid     *replication.XIDEvent
		xidPos  uint32
	)
	for xid == nil {
		ev, err := st.GetEvent(rctx)
		if err != nil {
			t.Fatalf("GetEvent: %v (so far: %v)", err, changes)
		}
		switch e := ev.Event.(type) {
		case *replication.MariadbGTIDEvent:
			gtid = e.GTID.String()
		case *replication.TableMapEvent:
			if string(e.Table) == "readings" {
				if string(e.Schema) != "factory" {
					t.Errorf("schema = %q, want factory", e.Schema)
				}
				columns = e.ColumnNameString()
			}
		case *replication.RowsEvent:
			kind := rowsKind(ev.Header.EventType)
			changes = append(changes, kind)
			for _, r := range e.Rows {
				for i, v := range r {
					if tm, ok := v.(time.Time); ok {
						r[i] = tm.UTC() // compare instants, not locations
					}
				}
			}
			rows[kind] = append(rows[kind], e.Rows...)
		case *replication.XIDEvent:
			xid = e
			xidPos = ev.Header.LogPos
		}
	}

	if gtid != "0-7-3" {
		t.Errorf("transaction GTID = %q, want 0-7-3", gtid)
	}
	if want := []string{"id", "device", "ts", "temp"}; !reflect.DeepEqual(columns, want) {
		t.Errorf("TableMapEvent columns = %q, want %q (binlog_row_metadata=FULL)", columns, want)
	}
	if want := []string{"insert", "update", "delete"}; !reflect.DeepEqual(changes, want) {
		t.Errorf("rows events = %v, want %v", changes, want)
	}
	wantRows := map[string][][]any{
		"insert": {{int32(1), "pump-1", ts1, 21.5}, {int32(2), "pump-2", ts2, nil}},
		"update": {{int32(1), "pump-1", ts1, 21.5}, {int32(1), "pump-1", ts1, 22.25}}, // before, after
		"delete": {{int32(2), "pump-2", ts2, nil}},
	}
	for kind, want := range wantRows {
		if got := rows[kind]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s rows = %#v\nwant %#v", kind, got, want)
		}
	}
	if xid.XID == 0 {
		t.Errorf("XID = 0, want the commit's transaction id")
	}
	if fileAfter != file || xidPos != posAfter {
		t.Errorf("XID ends at %s:%d, SHOW MASTER STATUS says %s:%d", file, xidPos, fileAfter, posAfter)
	}
}

func TestIntegrationRestartKeepsDataAndPort(t *testing.T) {
	m := StartMariaDB(t)
	ctx := t.Context()
	mustExec(t, m, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))")
	mustExec(t, m, "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
	db := m.DB(t) // opened before the restart: must reconnect by itself
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	port, pid, dataDir := m.Port, m.PID(), m.DataDir
	_, _, gtid, err := m.BinlogPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if err := m.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart to ready: %s", m.StartupTime)
	if m.Port != port || m.DataDir != dataDir {
		t.Errorf("after restart port/datadir = %d %s, want %d %s", m.Port, m.DataDir, port, dataDir)
	}
	if p := m.PID(); p == 0 || p == pid {
		t.Errorf("after restart PID = %d, want a new process (old %d)", p, pid)
	}
	var vals string
	if err := db.QueryRowContext(ctx, "SELECT GROUP_CONCAT(v ORDER BY id) FROM t").Scan(&vals); err != nil {
		t.Fatalf("query on the old pool after restart: %v", err)
	}
	if vals != "a,b,c" {
		t.Errorf("rows after restart = %q, want a,b,c", vals)
	}
	file, _, gtid2, err := m.BinlogPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if file != "binlog.000002" || gtid2 != gtid {
		t.Errorf("after restart binlog = %s gtid %q, want binlog.000002 gtid %q", file, gtid2, gtid)
	}
}

func TestIntegrationReuseDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m := StartMariaDB(t, Options{DataDir: dir, Database: "plant"})
	mustExec(t, m, "CREATE TABLE kept (id INT PRIMARY KEY)")
	mustExec(t, m, "INSERT INTO kept VALUES (42)")
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(); err != nil { // idempotent
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "plant")); err != nil {
		t.Fatalf("caller's data dir was not kept: %v", err)
	}
	if _, err := os.Stat(m.runDir); !os.IsNotExist(err) {
		t.Errorf("run dir %s still exists after Stop (err %v)", m.runDir, err)
	}

	m2 := StartMariaDB(t, Options{DataDir: dir, Database: "plant"})
	var id int
	if err := m2.DB(t).QueryRowContext(t.Context(), "SELECT id FROM kept").Scan(&id); err != nil || id != 42 {
		t.Errorf("row in reused data dir = %d, %v; want 42", id, err)
	}
}

func TestIntegrationStopRemovesTempDir(t *testing.T) {
	m := StartMariaDB(t)
	pid := m.PID()
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.runDir); !os.IsNotExist(err) {
		t.Errorf("run dir %s still exists after Stop (err %v)", m.runDir, err)
	}
	if processAlive(pid) {
		t.Errorf("mariadbd %d still alive after Stop", pid)
	}
	if m.PID() != 0 {
		t.Errorf("PID after Stop = %d, want 0", m.PID())
	}
	if err := m.Exec(t.Context(), "SELECT 1"); err == nil {
		t.Error("Exec after Stop succeeded")
	}
}

func TestIntegrationPurgeBinlogs(t *testing.T) {
	m := StartMariaDB(t)
	ctx := t.Context()
	logs := func() []string {
		t.Helper()
		files, err := m.BinaryLogs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	if got := logs(); !reflect.DeepEqual(got, []string{"binlog.000001"}) {
		t.Fatalf("initial binlogs = %v", got)
	}
	for range 2 {
		if err := m.FlushBinlogs(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := logs(), []string{"binlog.000001", "binlog.000002", "binlog.000003"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after 2 flushes = %v, want %v", got, want)
	}

	if err := m.PurgeBinlogs(ctx, "binlog.000003"); err != nil {
		t.Fatal(err)
	}
	if got, want := logs(), []string{"binlog.000003"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after PurgeBinlogs(binlog.000003) = %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(m.DataDir, "binlog.000001")); !os.IsNotExist(err) {
		t.Errorf("binlog.000001 still on disk (err %v)", err)
	}

	if err := m.PurgeBinlogs(ctx, ""); err != nil { // everything written so far
		t.Fatal(err)
	}
	if got, want := logs(), []string{"binlog.000004"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after PurgeBinlogs(\"\") = %v, want %v", got, want)
	}

	if err := m.PurgeBinlogs(ctx, "binlog.000006"); err != nil { // not there yet: flushes to it
		t.Fatal(err)
	}
	if got, want := logs(), []string{"binlog.000006"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after PurgeBinlogs(binlog.000006) = %v, want %v", got, want)
	}
	if file, _, _, err := m.BinlogPosition(ctx); err != nil || file != "binlog.000006" {
		t.Errorf("current binlog = %s, %v; want binlog.000006", file, err)
	}
}

// dumpThreads returns the ids of the binlog dump connections.
func dumpThreads(t *testing.T, db *sql.DB) []int64 {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump' ORDER BY ID")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// nextInsertID reads events until a rows insert into table t and returns its first id.
func nextInsertID(ctx context.Context, st *replication.BinlogStreamer) (int32, error) {
	for {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			return 0, err
		}
		if e, ok := ev.Event.(*replication.RowsEvent); ok && rowsKind(ev.Header.EventType) == "insert" && string(e.Table.Table) == "t" {
			return e.Rows[0][0].(int32), nil
		}
	}
}

func isDump(_, command, _ string) bool { return command == "Binlog Dump" }

func TestIntegrationKillConnections(t *testing.T) {
	m := StartMariaDB(t)
	ctx := t.Context()
	db := m.DB(t)
	mustExec(t, m, "CREATE TABLE t (id INT PRIMARY KEY)")

	t.Run("binlog dump, syncer reconnects", func(t *testing.T) {
		file, pos, _, err := m.BinlogPosition(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st := startSync(t, newSyncer(t, m, 2001, false), file, pos)
		mustExec(t, m, "INSERT INTO t VALUES (1)")
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if id, err := nextInsertID(rctx, st); err != nil || id != 1 {
			t.Fatalf("first insert = %d, %v; want 1", id, err)
		}
		before := dumpThreads(t, db)
		if len(before) != 1 {
			t.Fatalf("dump threads = %v, want one", before)
		}

		n, err := m.KillConnections(ctx, isDump)
		if err != nil || n != 1 {
			t.Fatalf("KillConnections = %d, %v; want 1", n, err)
		}
		mustExec(t, m, "INSERT INTO t VALUES (2)")
		// The syncer reconnects from its last position and delivers the next row.
		if id, err := nextInsertID(rctx, st); err != nil || id != 2 {
			t.Fatalf("insert after kill = %d, %v; want 2", id, err)
		}
		after := dumpThreads(t, db)
		if len(after) != 1 || after[0] == before[0] {
			t.Errorf("dump threads after reconnect = %v, want one new thread (old %v)", after, before)
		}
		n, err = m.KillConnections(ctx, isDump) // clean up for the next subtest
		if err != nil || n != 1 {
			t.Fatalf("second KillConnections = %d, %v; want 1", n, err)
		}
	})

	t.Run("binlog dump, syncer without retry sees the error", func(t *testing.T) {
		file, pos, _, err := m.BinlogPosition(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st := startSync(t, newSyncer(t, m, 2002, true), file, pos)
		mustExec(t, m, "INSERT INTO t VALUES (3)")
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if id, err := nextInsertID(rctx, st); err != nil || id != 3 {
			t.Fatalf("insert = %d, %v; want 3", id, err)
		}
		// Only this syncer's thread may be left: the first one was killed and
		// its syncer may still be reconnecting, so match on count.
		var n int
		for deadline := time.Now().Add(5 * time.Second); n == 0 && time.Now().Before(deadline); {
			if n, err = m.KillConnections(ctx, isDump); err != nil {
				t.Fatal(err)
			}
		}
		if n < 1 {
			t.Fatalf("KillConnections killed %d dump threads", n)
		}
		for {
			_, err := st.GetEvent(rctx)
			if err == nil {
				continue
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("syncer saw no error after its connection was killed")
			}
			t.Logf("syncer error after kill (expected): %v", err)
			break
		}
	})

	t.Run("a user's SELECT", func(t *testing.T) {
		bridge, err := sql.Open("mysql", m.BridgeDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer bridge.Close()
		done := make(chan error, 1)
		start := time.Now()
		go func() {
			var r int
			done <- bridge.QueryRowContext(ctx, "SELECT SLEEP(30)").Scan(&r)
		}()
		match := func(user, command, info string) bool {
			return user == m.BridgeUser && command == "Query" && strings.Contains(info, "SLEEP")
		}
		var n int
		for deadline := time.Now().Add(5 * time.Second); n == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if n, err = m.KillConnections(ctx, match); err != nil {
				t.Fatal(err)
			}
		}
		if n != 1 {
			t.Fatalf("KillConnections(bridge SELECT) = %d, want 1", n)
		}
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("killed SELECT returned no error")
			}
			t.Logf("killed SELECT after %s: %v", time.Since(start).Round(time.Millisecond), err)
		case <-time.After(10 * time.Second):
			t.Fatal("killed SELECT still running after 10s")
		}
	})
}

func TestIntegrationBridgeGrants(t *testing.T) {
	m := StartMariaDB(t)
	ctx := t.Context()
	mustExec(t, m, "CREATE TABLE t (id INT PRIMARY KEY)")
	mustExec(t, m, "INSERT INTO t VALUES (1)")
	bridge, err := sql.Open("mysql", m.BridgeDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer bridge.Close()
	bridge.SetMaxOpenConns(1)

	var grants []string
	rows, err := bridge.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			t.Fatal(err)
		}
		grants = append(grants, g)
	}
	rows.Close()
	// MariaDB 10.5+ prints REPLICATION CLIENT as BINLOG MONITOR.
	if len(grants) != 1 || !strings.HasPrefix(grants[0], "GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `bridge`@`127.0.0.1`") {
		t.Errorf("bridge grants = %q", grants)
	}

	var id int
	if err := bridge.QueryRowContext(ctx, "SELECT id FROM t").Scan(&id); err != nil || id != 1 {
		t.Errorf("SELECT as bridge = %d, %v", id, err)
	}
	if _, err := bridge.ExecContext(ctx, "SHOW MASTER STATUS"); err != nil {
		t.Errorf("SHOW MASTER STATUS as bridge: %v", err)
	}
	if _, err := bridge.ExecContext(ctx, "SHOW BINARY LOGS"); err != nil {
		t.Errorf("SHOW BINARY LOGS as bridge: %v", err)
	}
	for _, q := range []string{"INSERT INTO t VALUES (2)", "DELETE FROM t", "CREATE TABLE t2 (id INT)"} {
		_, err := bridge.ExecContext(ctx, q)
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1142 { // ER_TABLEACCESS_DENIED_ERROR
			t.Errorf("%s as bridge: err = %v, want error 1142 (command denied)", q, err)
		}
	}
	for _, q := range []string{"FLUSH BINARY LOGS", "SHOW SLAVE STATUS"} {
		_, err := bridge.ExecContext(ctx, q)
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1227 { // ER_SPECIFIC_ACCESS_DENIED_ERROR
			t.Errorf("%s as bridge: err = %v, want error 1227", q, err)
		}
	}

	if err := m.GrantBridge(ctx, "INSERT"); err != nil {
		t.Fatal(err)
	}
	widened, err := sql.Open("mysql", m.BridgeDSN()) // global grants apply to new connections
	if err != nil {
		t.Fatal(err)
	}
	defer widened.Close()
	if _, err := widened.ExecContext(ctx, "INSERT INTO t VALUES (2)"); err != nil {
		t.Errorf("INSERT after GrantBridge(INSERT): %v", err)
	}
	if err := m.GrantBridge(ctx, "INSERT; DROP DATABASE factory"); err == nil {
		t.Error("GrantBridge accepted a statement as a privilege")
	}
}

func TestIntegrationExecScript(t *testing.T) {
	m := StartMariaDB(t)
	ctx := t.Context()
	err := m.ExecScript(ctx, `
		CREATE TABLE a (id INT PRIMARY KEY);
		CREATE TABLE b (id INT PRIMARY KEY, a_id INT);
		INSERT INTO a VALUES (1), (2);
		INSERT INTO b VALUES (10, 1), (20, 2), (30, 2);`)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := m.DB(t).QueryRowContext(ctx, "SELECT COUNT(*) FROM a JOIN b ON b.a_id = a.id WHERE a.id = 2").Scan(&n); err != nil || n != 2 {
		t.Errorf("join count = %d, %v; want 2", n, err)
	}
	err = m.ExecScript(ctx, "INSERT INTO a VALUES (3); INSERT INTO nope VALUES (1); INSERT INTO a VALUES (4)")
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("script with a bad statement: err = %v, want table 'nope' doesn't exist", err)
	}
}

func TestIntegrationLoadCSV(t *testing.T) {
	m := StartMariaDB(t)
	ctx := t.Context()
	mustExec(t, m, `CREATE TABLE readings (id BIGINT PRIMARY KEY, device VARCHAR(64) NOT NULL,
		ts DATETIME(3) NOT NULL, temp DOUBLE NULL, note VARCHAR(100) NULL)`)

	const rows = 100_000
	pr, pw := io.Pipe()
	go func() {
		// The first two rows exercise quoting and NULL; the rest are generated.
		_, err := io.WriteString(pw, `1,pump-1,2024-01-01 00:00:00.001,\N,"a, ""quoted"" note"`+"\n"+
			`2,"pump-2",2024-01-01 00:00:00.002,-1.5,\N`+"\n")
		base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := 3; i <= rows && err == nil; i++ {
			_, err = fmt.Fprintf(pw, "%d,dev-%d,%s,%d.25,\n", i, i%100, base.Add(time.Duration(i)*time.Millisecond).Format("2006-01-02 15:04:05.000"), i%50)
		}
		pw.CloseWithError(err)
	}()
	start := time.Now()
	n, err := m.LoadCSV(ctx, "readings", []string{"id", "device", "ts", "temp", "note"}, pr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("LoadCSV: %d rows in %s", n, time.Since(start).Round(time.Millisecond))
	if n != rows {
		t.Fatalf("LoadCSV = %d rows, want %d", n, rows)
	}

	db := m.DB(t)
	var count, sumID int64
	var maxTS time.Time
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*), SUM(id), MAX(ts) FROM readings").Scan(&count, &sumID, &maxTS); err != nil {
		t.Fatal(err)
	}
	if count != rows || sumID != rows*(rows+1)/2 || !maxTS.Equal(time.Date(2024, 1, 1, 0, 1, 40, 0, time.UTC)) {
		t.Errorf("count, sum(id), max(ts) = %d, %d, %s", count, sumID, maxTS)
	}
	var device string
	var temp sql.NullFloat64
	var note sql.NullString
	var ts time.Time
	if err := db.QueryRowContext(ctx, "SELECT device, ts, temp, note FROM readings WHERE id = 1").Scan(&device, &ts, &temp, &note); err != nil {
		t.Fatal(err)
	}
	if device != "pump-1" || !ts.Equal(time.Date(2024, 1, 1, 0, 0, 0, 1e6, time.UTC)) || temp.Valid || note.String != `a, "quoted" note` {
		t.Errorf("row 1 = %q %s %v %q", device, ts, temp, note.String)
	}
	if err := db.QueryRowContext(ctx, "SELECT device, temp, note FROM readings WHERE id = 2").Scan(&device, &temp, &note); err != nil {
		t.Fatal(err)
	}
	if device != "pump-2" || temp.Float64 != -1.5 || note.Valid {
		t.Errorf("row 2 = %q %v %v", device, temp, note)
	}
	if err := db.QueryRowContext(ctx, "SELECT device, temp, note FROM readings WHERE id = 777").Scan(&device, &temp, &note); err != nil {
		t.Fatal(err)
	}
	if device != "dev-77" || temp.Float64 != 27.25 || note.String != "" || !note.Valid {
		t.Errorf("row 777 = %q %v %v", device, temp, note)
	}

	// Bad values load with warnings in LOCAL mode; LoadCSV reports them.
	mustExec(t, m, "CREATE TABLE small (id INT PRIMARY KEY, v DOUBLE)")
	n, err = m.LoadCSV(ctx, "small", []string{"id", "v"}, strings.NewReader("1,1.5\n2,not-a-number\n"))
	if err == nil || !strings.Contains(err.Error(), "warnings") || n != 2 {
		t.Errorf("LoadCSV with a bad value = %d, %v; want 2 rows and a warnings error", n, err)
	}
}

// TestIntegrationStartupTime logs start-to-ready with the cached template and
// with mariadb-install-db per server. No timed assertion: shared CI cores.
func TestIntegrationStartupTime(t *testing.T) {
	var log lockedBuffer
	tmpl := StartMariaDB(t, Options{Log: &log})
	fresh := StartMariaDB(t, Options{NoTemplate: true})
	t.Logf("start-to-ready: %s with the template copy, %s with mariadb-install-db", tmpl.StartupTime, fresh.StartupTime)
	if got := log.String(); !strings.Contains(got, "ready for connections") || !strings.Contains(got, fmt.Sprintf("port: %d", tmpl.Port)) {
		t.Errorf("Options.Log did not receive the server log; got:\n%s", got)
	}
	var user string
	if err := fresh.DB(t).QueryRowContext(t.Context(), "SELECT CURRENT_USER()").Scan(&user); err != nil || user != "root@127.0.0.1" {
		t.Errorf("fresh install: CURRENT_USER() = %q, %v", user, err)
	}
}

// lockedBuffer is an io.Writer safe for the server-log copier goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
