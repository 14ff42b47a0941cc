package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// A replica is a second server that replicates from a running one:
//
//	p := testenv.StartMariaDB(t)         // server_id 1, binlog.NNNNNN, GTIDs 0-1-N
//	r := testenv.StartReplica(t, p)      // server_id 2, replica-bin.NNNNNN
//	p.Exec(ctx, "INSERT ...")
//	r.WaitReplicaCaughtUp(t, p)          // r applied (and binlogged) all of p's GTIDs
//	p.Kill()                             // SIGKILL; r keeps serving reads and its binlog
//
// The replica's IO thread logs in to the primary as repl@127.0.0.1 (REPLICATION
// SLAVE only; the account is in the template, so every server has it) and
// replicates by GTID (MASTER_USE_GTID=slave_pos) from the beginning of the
// primary's binlog; that is also how the replica gets Database, which it does
// not create itself. With log_slave_updates the replica writes every applied
// transaction to its own binlog under the primary's GTID (0-<primary
// server_id>-<seq>) and with the primary's server_id in the event headers, so
// a binlog reader can move from the primary to the replica and resume from the
// last GTID it saw. Binlog file names and offsets differ between the two.
//
// The replica is writable (no read_only); transactions written on it get
// GTIDs 0-<replica server_id>-<seq>. Promote turns replication off first so
// that a primary coming back cannot conflict with them.

// replicaArgs are added to serverArgs for a replica:
//
//	--log-slave-updates=ON      applied transactions go to the replica's own binlog
//	--gtid-strict-mode=ON       a GTID out of order in a domain is an error, not a silent fork
//	--relay-log=relay-bin       relay-bin.NNNNNN (the default name has the host name in it)
//	--slave-net-timeout=10      an unresponsive (not dead) primary is noticed within 10s
//
// Replication starts again by itself when the replica is restarted (master.info
// is kept in the data directory).
var replicaArgs = []string{
	"--log-slave-updates=ON",
	"--gtid-strict-mode=ON",
	"--relay-log=relay-bin",
	"--slave-net-timeout=10",
}

// StartReplica starts a throwaway replica of primary for a test (Options
// optional, at most one; ReplicaOf is set to primary) and stops it at the end
// of the test, like StartMariaDB (same skip/fail policy). It returns once
// replication runs and the replica has applied everything primary had
// executed, so Database and its tables are there.
func StartReplica(t testing.TB, primary *MariaDB, o ...Options) *MariaDB {
	t.Helper()
	if len(o) > 1 {
		t.Fatalf("StartReplica: at most one Options, got %d", len(o))
	}
	if primary == nil {
		t.Fatal("StartReplica: nil primary")
	}
	var opts Options
	if len(o) == 1 {
		opts = o[0]
	}
	opts.ReplicaOf = primary
	return startForTest(t, "StartReplica", opts)
}

// checkPrimary validates Options.ReplicaOf and fills in the replica's
// defaults (ServerID, Database) from it.
func checkPrimary(p *MariaDB, o *Options) error {
	p.mu.Lock()
	running := p.proc != nil && !p.stopped
	p.mu.Unlock()
	if !running {
		return errors.New("testenv: ReplicaOf: the primary is not running")
	}
	if o.ServerID == 0 {
		o.ServerID = p.ServerID + p.replicas.Add(1)
	}
	if o.ServerID == p.ServerID {
		return fmt.Errorf("testenv: ReplicaOf: the replica's server_id %d is the primary's", o.ServerID)
	}
	switch o.Database {
	case "":
		o.Database = p.Database
	case p.Database:
	default:
		return fmt.Errorf("testenv: ReplicaOf: a replica's Database is its primary's (%q), not %q", p.Database, o.Database)
	}
	return nil
}

// adminDB is a short-lived root pool with no default database (which may not
// exist yet on a replica), one connection.
func (m *MariaDB) adminDB() (*sql.DB, error) {
	m.mu.Lock()
	stopped := m.stopped
	m.mu.Unlock()
	if stopped {
		return nil, errors.New("testenv: server is stopped")
	}
	conn, err := mysql.NewConnector(m.config(m.RootUser, m.RootPassword, ""))
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	return db, nil
}

// startReplication points m at primary (CHANGE MASTER TO ... MASTER_USE_GTID
// = slave_pos), starts it and waits until m has caught up (at most a minute).
// On a reused data directory a running replication is stopped and re-pointed
// first; it resumes from its gtid_slave_pos.
func (m *MariaDB) startReplication(ctx context.Context, primary *MariaDB) error {
	db, err := m.adminDB()
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := replicaStatus(ctx, db)
	if err != nil {
		return err
	}
	if st != nil {
		if _, err := db.ExecContext(ctx, "STOP SLAVE"); err != nil {
			return fmt.Errorf("testenv: STOP SLAVE: %w", err)
		}
	}
	// MASTER_CONNECT_RETRY=1: after the primary restarts, the replica is back
	// within about a second (the default retries every 60s).
	change := fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', "+
		"MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1", primary.Host, primary.Port, primary.ReplUser, primary.ReplPassword)
	if _, err := db.ExecContext(ctx, change); err != nil {
		return fmt.Errorf("testenv: CHANGE MASTER TO (port %d): %w", primary.Port, err)
	}
	if _, err := db.ExecContext(ctx, "START SLAVE"); err != nil {
		return fmt.Errorf("testenv: START SLAVE: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return m.WaitCaughtUp(wctx, primary)
}

// WaitCaughtUp waits until m, a replica, has applied every transaction primary
// has binlogged: for each GTID domain, the sequence number of m's
// @@gtid_slave_pos is at least that of primary's @@gtid_binlog_pos (read once,
// at the call). It fails at once when a replication thread has stopped with an
// error (e.g. 1236, the primary's binlog was purged), and when ctx ends (30s
// when ctx has no deadline), with the replication state in the error.
func (m *MariaDB) WaitCaughtUp(ctx context.Context, primary *MariaDB) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	pdb, err := primary.adminDB()
	if err != nil {
		return fmt.Errorf("testenv: WaitCaughtUp: primary: %w", err)
	}
	defer pdb.Close()
	target, want, err := readGTIDPos(ctx, pdb, "primary", "gtid_binlog_pos")
	if err != nil {
		return err
	}
	db, err := m.adminDB()
	if err != nil {
		return err
	}
	defer db.Close()
	wait := 5 * time.Millisecond
	for {
		cur, have, err := readGTIDPos(ctx, db, "replica", "gtid_slave_pos")
		if err != nil {
			return err
		}
		if have.covers(want) {
			return nil
		}
		st, err := replicaStatus(ctx, db)
		if err != nil {
			return fmt.Errorf("testenv: WaitCaughtUp: %w", err)
		}
		if st == nil {
			return fmt.Errorf("testenv: WaitCaughtUp: server on port %d is not a replica (SHOW SLAVE STATUS is empty)", m.Port)
		}
		if st["Slave_SQL_Running"] == "No" || st["Slave_IO_Running"] == "No" {
			return fmt.Errorf("testenv: WaitCaughtUp: replication stopped at %q (primary at %q): %s", cur, target, describeStatus(st))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testenv: WaitCaughtUp: replica at %q, primary at %q: %w (%s)", cur, target, ctx.Err(), describeStatus(st))
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// WaitReplicaCaughtUp is WaitCaughtUp for a test: it fails the test when m has
// not applied everything primary has binlogged within 30 seconds.
func (m *MariaDB) WaitReplicaCaughtUp(t testing.TB, primary *MariaDB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.WaitCaughtUp(ctx, primary); err != nil {
		t.Fatal(err)
	}
}

// ReplicaStatus returns the row of SHOW SLAVE STATUS as column name to value
// (NULL as ""), e.g. st["Slave_IO_Running"] is "Yes", "Connecting" (the
// primary is unreachable and being retried) or "No"; nil when the server is
// not a replica.
func (m *MariaDB) ReplicaStatus(ctx context.Context) (map[string]string, error) {
	db, err := m.adminDB()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return replicaStatus(ctx, db)
}

func replicaStatus(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, fmt.Errorf("testenv: SHOW SLAVE STATUS: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		return nil, rows.Err()
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	st := make(map[string]string, len(cols))
	for i, c := range cols {
		st[c] = string(vals[i])
	}
	return st, rows.Err()
}

// describeStatus is the part of SHOW SLAVE STATUS worth an error message.
func describeStatus(st map[string]string) string {
	var b strings.Builder
	for _, k := range []string{"Slave_IO_Running", "Slave_SQL_Running", "Gtid_IO_Pos", "Last_IO_Errno", "Last_IO_Error", "Last_SQL_Errno", "Last_SQL_Error"} {
		if v := st[k]; v != "" && v != "0" {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s=%q", k, v)
		}
	}
	return b.String()
}

// Promote makes a replica a standalone server (STOP SLAVE; RESET SLAVE ALL),
// as a failover would: it stops following its primary, which may be dead or
// come back, and keeps its data, binlog and gtid_slave_pos. Transactions
// written on it afterwards get GTIDs 0-<its ServerID>-<seq>, continuing the
// sequence numbers of domain 0.
func (m *MariaDB) Promote(ctx context.Context) error {
	db, err := m.adminDB()
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range []string{"STOP SLAVE", "RESET SLAVE ALL"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("testenv: Promote: %s: %w", q, err)
		}
	}
	return nil
}

// gtidPos is a MariaDB GTID position (@@gtid_binlog_pos, @@gtid_slave_pos,
// @@gtid_current_pos): per replication domain, the last GTID.
type gtidPos map[uint32]gtid

// gtid is one MariaDB GTID, domain-server-seq.
type gtid struct {
	Domain, Server uint32
	Seq            uint64
}

func (g gtid) String() string { return fmt.Sprintf("%d-%d-%d", g.Domain, g.Server, g.Seq) }

// parseGTIDPos parses a GTID position such as "0-1-42" or "0-1-42,1-7-3"; ""
// is the empty position.
func parseGTIDPos(s string) (gtidPos, error) {
	pos := gtidPos{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Split(part, "-")
		if len(f) != 3 {
			return nil, fmt.Errorf("testenv: bad GTID %q in %q", part, s)
		}
		d, err1 := strconv.ParseUint(f[0], 10, 32)
		srv, err2 := strconv.ParseUint(f[1], 10, 32)
		seq, err3 := strconv.ParseUint(f[2], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("testenv: bad GTID %q in %q: %w", part, s, err)
		}
		if _, dup := pos[uint32(d)]; dup {
			return nil, fmt.Errorf("testenv: domain %d twice in GTID position %q", d, s)
		}
		pos[uint32(d)] = gtid{Domain: uint32(d), Server: uint32(srv), Seq: seq}
	}
	return pos, nil
}

// covers reports whether p is at or past q in every domain of q (sequence
// numbers only: in a domain they only grow, whichever server wrote them).
func (p gtidPos) covers(q gtidPos) bool {
	for d, g := range q {
		if h, ok := p[d]; !ok || h.Seq < g.Seq {
			return false
		}
	}
	return true
}

// String is the position as MariaDB prints it, domains in order.
func (p gtidPos) String() string {
	ds := make([]uint32, 0, len(p))
	for d := range p {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = p[d].String()
	}
	return strings.Join(parts, ",")
}

// readGTIDPos reads the GTID position in @@variable of server, as text
// and parsed.
func readGTIDPos(ctx context.Context, db *sql.DB, server, variable string) (string, gtidPos, error) {
	var v string
	if err := db.QueryRowContext(ctx, "SELECT @@"+variable).Scan(&v); err != nil {
		return "", nil, fmt.Errorf("testenv: WaitCaughtUp: %s @@%s: %w", server, variable, err)
	}
	p, err := parseGTIDPos(v)
	return v, p, err
}
