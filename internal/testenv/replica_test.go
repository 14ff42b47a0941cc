package testenv

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

func TestGTIDPos(t *testing.T) {
	p, err := parseGTIDPos("0-1-42, 3-7-5")
	if err != nil {
		t.Fatal(err)
	}
	if want := (gtidPos{0: {0, 1, 42}, 3: {3, 7, 5}}); !reflect.DeepEqual(p, want) {
		t.Fatalf("parse = %#v, want %#v", p, want)
	}
	if p.String() != "0-1-42,3-7-5" {
		t.Errorf("String = %q", p.String())
	}
	empty, err := parseGTIDPos("")
	if err != nil || len(empty) != 0 {
		t.Fatalf(`parse("") = %v, %v`, empty, err)
	}
	for _, c := range []struct {
		have, want string
		ok         bool
	}{
		{"0-1-42", "0-1-42", true},
		{"0-2-43", "0-1-42", true}, // a later GTID in the domain, whoever wrote it
		{"0-1-41", "0-1-42", false},
		{"", "0-1-1", false},
		{"0-1-1", "", true},
		{"0-1-9", "0-1-9,1-1-1", false},
		{"1-1-1,0-1-9", "0-1-9,1-1-1", true},
	} {
		h, _ := parseGTIDPos(c.have)
		w, _ := parseGTIDPos(c.want)
		if got := h.covers(w); got != c.ok {
			t.Errorf("%q covers %q = %v, want %v", c.have, c.want, got, c.ok)
		}
	}
	for _, bad := range []string{"0-1", "a-1-2", "0-1-2-3", "0-1-1,0-1-2"} {
		if _, err := parseGTIDPos(bad); err == nil {
			t.Errorf("parse(%q) succeeded", bad)
		}
	}
}

func queryString(t *testing.T, m *MariaDB, query string) string {
	t.Helper()
	db, err := m.rootPool()
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if err := db.QueryRowContext(t.Context(), query).Scan(&s); err != nil {
		t.Fatalf("%s on port %d: %v", query, m.Port, err)
	}
	return s
}

func binaryLogs(t *testing.T, m *MariaDB) []string {
	t.Helper()
	files, err := m.BinaryLogs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// startSyncGTID streams m's binlog as the bridge user from after the GTID
// position pos ("" = from the start of the oldest binlog), as a cdc resume does.
func startSyncGTID(t *testing.T, m *MariaDB, serverID uint32, pos string) *replication.BinlogStreamer {
	t.Helper()
	set, err := gomysql.ParseMariadbGTIDSet(pos)
	if err != nil {
		t.Fatal(err)
	}
	st, err := newSyncer(t, m, serverID, true).StartSyncGTID(set)
	if err != nil {
		t.Fatalf("StartSyncGTID(%q) on port %d: %v", pos, m.Port, err)
	}
	return st
}

// readTxs reads st until the end of transaction until and summarises each
// change as "<gtid>/<event server_id> <what>": "ddl" for a statement,
// "<insert|update|delete> <table> <rows>" for a rows event (an update counts
// before and after images).
func readTxs(t *testing.T, st *replication.BinlogStreamer, until string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var out []string
	var gtid string
	for {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			t.Fatalf("GetEvent (waiting for the end of %s): %v; so far %q", until, err, out)
		}
		switch e := ev.Event.(type) {
		case *replication.MariadbGTIDEvent:
			gtid = e.GTID.String()
		case *replication.QueryEvent:
			if q := strings.ToUpper(string(e.Query)); q != "BEGIN" && q != "COMMIT" {
				out = append(out, fmt.Sprintf("%s/%d ddl", gtid, ev.Header.ServerID))
				if gtid == until {
					return out
				}
			}
		case *replication.RowsEvent:
			out = append(out, fmt.Sprintf("%s/%d %s %s %d", gtid, ev.Header.ServerID, rowsKind(ev.Header.EventType), e.Table.Table, len(e.Rows)))
		case *replication.XIDEvent:
			if gtid == until {
				return out
			}
		}
	}
}

func TestIntegrationReplica(t *testing.T) {
	p := StartMariaDB(t) // server_id 1
	ctx := t.Context()
	mustExec(t, p, "CREATE TABLE readings (id INT PRIMARY KEY, v VARCHAR(10))") // 0-1-2
	mustExec(t, p, "INSERT INTO readings VALUES (1, 'a')")                      // 0-1-3

	r := StartReplica(t, p)
	t.Logf("replica start-to-ready (template copy, start, CHANGE MASTER, catch-up): %s; primary: %s", r.StartupTime, p.StartupTime)
	if r.ServerID != 2 || r.BinlogBase != "replica-bin" || r.Database != p.Database || r.Port == p.Port {
		t.Errorf("replica ServerID %d BinlogBase %q Database %q Port %d (primary's %d)", r.ServerID, r.BinlogBase, r.Database, r.Port, p.Port)
	}
	// Start waited for the catch-up: what the primary had is there.
	if got := queryString(t, r, "SELECT GROUP_CONCAT(id, ':', v) FROM readings"); got != "1:a" {
		t.Errorf("replica rows right after start = %q, want 1:a", got)
	}
	for q, want := range map[string]string{
		"SELECT @@server_id":                             "2",
		"SELECT @@log_bin":                               "1",
		"SELECT @@log_slave_updates":                     "1",
		"SELECT @@binlog_format":                         "ROW",
		"SELECT @@binlog_row_image":                      "FULL",
		"SELECT @@binlog_row_metadata":                   "FULL",
		"SELECT @@gtid_strict_mode":                      "1",
		"SELECT @@gtid_domain_id":                        "0",
		"SELECT @@read_only":                             "0",
		"SELECT @@log_bin_basename LIKE '%/replica-bin'": "1",
	} {
		if got := queryString(t, r, q); got != want {
			t.Errorf("replica: %s = %q, want %q", q, got, want)
		}
	}
	st, err := r.ReplicaStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Using_Gtid": "Slave_Pos",
		"Master_User": "repl", "Master_Host": "127.0.0.1", "Master_Port": fmt.Sprint(p.Port),
	} {
		if st[k] != want {
			t.Errorf("replica SHOW SLAVE STATUS %s = %q, want %q", k, st[k], want)
		}
	}
	if pst, err := p.ReplicaStatus(ctx); err != nil || pst != nil {
		t.Errorf("primary ReplicaStatus = %v, %v; want nil (not a replica)", pst, err)
	}
	// The bridge account is there with the same grants (from the template).
	if got := queryString(t, r, "SHOW GRANTS FOR 'bridge'@'127.0.0.1'"); !strings.HasPrefix(got, "GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `bridge`@`127.0.0.1`") {
		t.Errorf("replica bridge grants = %q", got)
	}

	_, _, before, err := p.BinlogPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before != "0-1-3" {
		t.Fatalf("primary gtid before = %q, want 0-1-3", before)
	}
	db := p.DB(t)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO readings VALUES (2, 'b'), (3, 'c'), (4, 'd')"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil { // 0-1-4
		t.Fatal(err)
	}
	mustExec(t, p, "UPDATE readings SET v = 'B' WHERE id = 2") // 0-1-5

	r.WaitReplicaCaughtUp(t, p)
	if got := queryString(t, r, "SELECT GROUP_CONCAT(id, ':', v ORDER BY id) FROM readings"); got != "1:a,2:B,3:c,4:d" {
		t.Errorf("replica rows = %q, want 1:a,2:B,3:c,4:d", got)
	}
	pPos := queryString(t, p, "SELECT @@gtid_binlog_pos")
	for _, q := range []string{"SELECT @@gtid_binlog_pos", "SELECT @@gtid_slave_pos", "SELECT @@gtid_current_pos"} {
		if got := queryString(t, r, q); got != pPos || got != "0-1-5" {
			t.Errorf("replica %s = %q; primary @@gtid_binlog_pos = %q; want both 0-1-5", q, got, pPos)
		}
	}

	if got := binaryLogs(t, p); !reflect.DeepEqual(got, []string{"binlog.000001"}) {
		t.Errorf("primary binlogs = %v", got)
	}
	if got := binaryLogs(t, r); !reflect.DeepEqual(got, []string{"replica-bin.000001"}) {
		t.Errorf("replica binlogs = %v", got)
	}
	if file, _, gtid, err := r.BinlogPosition(ctx); err != nil || file != "replica-bin.000001" || gtid != "0-1-5" {
		t.Errorf("replica BinlogPosition = %s %s, %v", file, gtid, err)
	}

	// The replica's binlog holds the primary's transactions, whole, under
	// the primary's GTIDs and server_id; so does a resume by GTID there.
	want := []string{
		"0-1-1/1 ddl", // CREATE DATABASE factory
		"0-1-2/1 ddl", // CREATE TABLE
		"0-1-3/1 insert readings 1",
		"0-1-4/1 insert readings 3",
		"0-1-5/1 update readings 2",
	}
	fromP := readTxs(t, startSyncGTID(t, p, 1001, ""), "0-1-5")
	fromR := readTxs(t, startSyncGTID(t, r, 1002, ""), "0-1-5")
	if !reflect.DeepEqual(fromP, want) || !reflect.DeepEqual(fromR, want) {
		t.Errorf("binlog transactions:\nprimary %q\nreplica %q\nwant    %q", fromP, fromR, want)
	}
	if got := readTxs(t, startSyncGTID(t, r, 1003, before), "0-1-5"); !reflect.DeepEqual(got, want[3:]) {
		t.Errorf("replica binlog after GTID %s = %q, want %q", before, got, want[3:])
	}
}

func TestIntegrationReplicaSurvivesPrimaryKill(t *testing.T) {
	p := StartMariaDB(t, Options{ServerID: 21})
	r := StartReplica(t, p, Options{ServerID: 31})
	ctx := t.Context()
	mustExec(t, p, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))") // 0-21-2
	mustExec(t, p, "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")  // 0-21-3
	if err := p.FlushBinlogs(ctx); err != nil {
		t.Fatal(err)
	}
	mustExec(t, p, "INSERT INTO t VALUES (4, 'd')") // 0-21-4, in binlog.000002
	r.WaitReplicaCaughtUp(t, p)
	pFiles := binaryLogs(t, p)
	if !reflect.DeepEqual(pFiles, []string{"binlog.000001", "binlog.000002"}) {
		t.Fatalf("primary binlogs = %v", pFiles)
	}
	const g = "0-21-4"
	if got := queryString(t, p, "SELECT @@gtid_binlog_pos"); got != g {
		t.Fatalf("primary @@gtid_binlog_pos = %q, want %s", got, g)
	}

	pid := p.PID()
	p.Kill()
	if p.PID() != 0 || processAlive(pid) {
		t.Fatalf("primary %d still alive after Kill", pid)
	}
	WaitFor(t, 10*time.Second, "the replica to notice the primary is gone", func() bool {
		st, err := r.ReplicaStatus(ctx)
		return err == nil && st["Slave_IO_Running"] != "Yes"
	})
	st, err := r.ReplicaStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("replica after the primary's kill: IO %s, SQL %s, last IO error %q", st["Slave_IO_Running"], st["Slave_SQL_Running"], st["Last_IO_Error"])
	if st["Slave_SQL_Running"] != "Yes" || st["Slave_IO_Running"] != "Connecting" {
		t.Errorf("replica IO/SQL threads = %s/%s, want Connecting/Yes", st["Slave_IO_Running"], st["Slave_SQL_Running"])
	}

	// Still serving reads and its binlog.
	if got := queryString(t, r, "SELECT GROUP_CONCAT(id ORDER BY id) FROM t"); got != "1,2,3,4" {
		t.Errorf("replica rows = %q", got)
	}
	if got := queryString(t, r, "SELECT @@gtid_binlog_pos"); got != g {
		t.Errorf("replica @@gtid_binlog_pos = %q, want %s", got, g)
	}
	rFiles := binaryLogs(t, r)
	if len(rFiles) == 0 {
		t.Fatal("replica has no binlog")
	}
	for _, f := range rFiles {
		if !strings.HasPrefix(f, "replica-bin.") || slices.Contains(pFiles, f) {
			t.Errorf("replica binlog %q: want replica-bin.NNNNNN, never a primary file name (%v)", f, pFiles)
		}
	}
	// A reader that had seen 0-21-2 on the primary resumes on the replica.
	s := startSyncGTID(t, r, 1001, "0-21-2")
	want := []string{"0-21-3/21 insert t 3", "0-21-4/21 insert t 1"}
	if got := readTxs(t, s, g); !reflect.DeepEqual(got, want) {
		t.Errorf("replica binlog after 0-21-2 = %q, want %q", got, want)
	}

	// Failover: the replica becomes the primary; its writes carry its id.
	if err := r.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := r.ReplicaStatus(ctx); err != nil || st != nil {
		t.Errorf("ReplicaStatus after Promote = %v, %v; want nil", st, err)
	}
	mustExec(t, r, "INSERT INTO t VALUES (5, 'e')")
	if got := queryString(t, r, "SELECT @@gtid_binlog_pos"); got != "0-31-5" {
		t.Errorf("replica @@gtid_binlog_pos after a local write = %q, want 0-31-5", got)
	}
	if got := readTxs(t, s, "0-31-5"); !reflect.DeepEqual(got, []string{"0-31-5/31 insert t 1"}) {
		t.Errorf("replica binlog after Promote = %q", got)
	}

	// Kill kept the primary's files: it comes back with its data.
	if err := p.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, p, "SELECT CONCAT(@@gtid_binlog_pos, ' ', (SELECT COUNT(*) FROM t))"); got != g+" 4" {
		t.Errorf("primary after Kill and Restart: gtid and rows = %q, want %q", got, g+" 4")
	}
}

func TestIntegrationReplicaFollowsRestarts(t *testing.T) {
	p := StartMariaDB(t)
	r1 := StartReplica(t, p)
	r2 := StartReplica(t, p)
	ctx := t.Context()
	if r1.ServerID != 2 || r2.ServerID != 3 {
		t.Errorf("default replica server ids = %d, %d; want 2, 3", r1.ServerID, r2.ServerID)
	}
	mustExec(t, p, "CREATE TABLE t (id INT PRIMARY KEY)")
	mustExec(t, p, "INSERT INTO t VALUES (1)")
	r1.WaitReplicaCaughtUp(t, p)
	r2.WaitReplicaCaughtUp(t, p)

	if err := p.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	mustExec(t, p, "INSERT INTO t VALUES (2)")
	begin := time.Now()
	r1.WaitReplicaCaughtUp(t, p)
	t.Logf("replica caught up %s after the primary's restart", time.Since(begin).Round(time.Millisecond))

	if err := r1.Restart(ctx); err != nil { // replication starts again by itself
		t.Fatal(err)
	}
	mustExec(t, p, "INSERT INTO t VALUES (3)")
	r1.WaitReplicaCaughtUp(t, p)
	r2.WaitReplicaCaughtUp(t, p)
	for _, r := range []*MariaDB{r1, r2} {
		if got := queryString(t, r, "SELECT GROUP_CONCAT(id ORDER BY id) FROM t"); got != "1,2,3" {
			t.Errorf("replica %d rows = %q", r.ServerID, got)
		}
	}

	// Misuse is refused before anything starts.
	if _, err := Start(ctx, Options{ReplicaOf: p, ServerID: p.ServerID}); err == nil || !strings.Contains(err.Error(), "server_id") {
		t.Errorf("replica with the primary's server_id: err = %v", err)
	}
	if _, err := Start(ctx, Options{ReplicaOf: p, Database: "other"}); err == nil || !strings.Contains(err.Error(), "Database") {
		t.Errorf("replica with another Database: err = %v", err)
	}
	p.Kill()
	if _, err := Start(ctx, Options{ReplicaOf: p}); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("replica of a killed primary: err = %v", err)
	}
	// A replica whose primary is gone does not catch up, and says why.
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := r1.WaitCaughtUp(wctx, p); err == nil {
		t.Error("WaitCaughtUp with a dead primary succeeded")
	}
}
