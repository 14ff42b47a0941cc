package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Exec runs one statement as root on Database.
func (m *MariaDB) Exec(ctx context.Context, query string, args ...any) error {
	db, err := m.rootPool()
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("testenv: exec %q: %w", abbreviate(query), err)
	}
	return nil
}

// ExecScript runs several ';'-separated statements as root on Database, in
// one round trip (multiStatements=true). It stops at the first failing
// statement and returns its error. Do not use DELIMITER: it is a client
// command, not SQL.
func (m *MariaDB) ExecScript(ctx context.Context, script string) error {
	cfg := m.config(m.RootUser, m.RootPassword, m.Database)
	cfg.MultiStatements = true
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	if _, err := db.ExecContext(ctx, script); err != nil {
		return fmt.Errorf("testenv: script %q: %w", abbreviate(script), err)
	}
	return nil
}

var readerSeq atomic.Uint64

// LoadCSV bulk-loads rows into table (in Database, or "db.table") with LOAD
// DATA LOCAL INFILE, streaming r through the driver's reader handler, and
// returns the number of rows loaded. It is fast: about a second per few
// hundred thousand narrow rows.
//
// Format of r: one row per line ("\n"), no header line, fields separated by
// ',', optionally enclosed in '"' ("" or \" inside a quoted field is a
// quote), backslash escapes, \N for NULL, columns in the order of columns.
// Character set utf8mb4.
//
// With LOCAL, the server turns conversion errors into warnings (it cannot stop
// the client mid-file), so LoadCSV checks the warning count and returns an
// error naming the first warnings, with the number of rows loaded.
func (m *MariaDB) LoadCSV(ctx context.Context, table string, columns []string, r io.Reader) (int64, error) {
	db, err := m.rootPool()
	if err != nil {
		return 0, err
	}
	conn, err := db.Conn(ctx) // SHOW WARNINGS must run on the same session
	if err != nil {
		return 0, err
	}
	defer conn.Close()

	name := fmt.Sprintf("testenv-load-%d", readerSeq.Add(1))
	mysql.RegisterReaderHandler(name, func() io.Reader { return r })
	defer mysql.DeregisterReaderHandler(name)

	cols := make([]string, len(columns))
	for i, c := range columns {
		cols[i] = quoteIdent(c)
	}
	query := fmt.Sprintf("LOAD DATA LOCAL INFILE 'Reader::%s' INTO TABLE %s CHARACTER SET utf8mb4 "+
		`FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY '\\' LINES TERMINATED BY '\n' (%s)`,
		name, quoteIdent(table), strings.Join(cols, ", "))
	res, err := conn.ExecContext(ctx, query)
	if err != nil {
		return 0, fmt.Errorf("testenv: load data into %s: %w", table, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	var warnings int
	if err := conn.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&warnings); err != nil {
		return n, err
	}
	if warnings > 0 {
		return n, fmt.Errorf("testenv: load data into %s: %d rows loaded with %d warnings: %s", table, n, warnings, firstWarnings(ctx, conn, 3))
	}
	return n, nil
}

func firstWarnings(ctx context.Context, conn *sql.Conn, limit int) string {
	rows, err := conn.QueryContext(ctx, fmt.Sprintf("SHOW WARNINGS LIMIT %d", limit))
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var level, msg string
		var code int
		if err := rows.Scan(&level, &code, &msg); err != nil {
			return err.Error()
		}
		msgs = append(msgs, fmt.Sprintf("%s %d: %s", level, code, msg))
	}
	return strings.Join(msgs, "; ")
}

// BinlogPosition returns the current binlog coordinates (SHOW MASTER STATUS)
// and @@gtid_binlog_pos (e.g. "0-1-42"; "" before the first transaction).
// The two are read separately; take them while nothing else writes.
func (m *MariaDB) BinlogPosition(ctx context.Context) (file string, pos uint32, gtid string, err error) {
	db, err := m.rootPool()
	if err != nil {
		return "", 0, "", err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", 0, "", err
	}
	defer conn.Close()
	file, pos, err = masterStatus(ctx, conn)
	if err != nil {
		return "", 0, "", err
	}
	if err := conn.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&gtid); err != nil {
		return "", 0, "", fmt.Errorf("testenv: reading @@gtid_binlog_pos: %w", err)
	}
	return file, pos, gtid, nil
}

// masterStatus reads File and Position of SHOW MASTER STATUS, whatever other
// columns the server adds.
func masterStatus(ctx context.Context, conn *sql.Conn) (string, uint32, error) {
	rows, err := conn.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return "", 0, fmt.Errorf("testenv: SHOW MASTER STATUS: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", 0, err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", 0, err
		}
		return "", 0, errors.New("testenv: SHOW MASTER STATUS returned no row (binlog disabled?)")
	}
	vals := make([]any, len(cols))
	for i := range vals {
		vals[i] = new(sql.RawBytes)
	}
	if err := rows.Scan(vals...); err != nil {
		return "", 0, err
	}
	var pos uint64
	if _, err := fmt.Sscan(string(*vals[1].(*sql.RawBytes)), &pos); err != nil {
		return "", 0, fmt.Errorf("testenv: SHOW MASTER STATUS position: %w", err)
	}
	return string(*vals[0].(*sql.RawBytes)), uint32(pos), rows.Err()
}

// BinaryLogs lists the binlog files on the server (SHOW BINARY LOGS), oldest first.
func (m *MariaDB) BinaryLogs(ctx context.Context) ([]string, error) {
	db, err := m.rootPool()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("testenv: SHOW BINARY LOGS: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var files []string
	for rows.Next() {
		vals := make([]any, len(cols))
		vals[0] = new(string)
		for i := 1; i < len(vals); i++ {
			vals[i] = new(sql.RawBytes)
		}
		if err := rows.Scan(vals...); err != nil {
			return nil, err
		}
		files = append(files, *vals[0].(*string))
	}
	return files, rows.Err()
}

// FlushBinlogs closes the current binlog file and opens the next one
// (FLUSH BINARY LOGS).
func (m *MariaDB) FlushBinlogs(ctx context.Context) error {
	return m.Exec(ctx, "FLUSH BINARY LOGS")
}

// PurgeBinlogs deletes every binlog file before to (PURGE BINARY LOGS TO);
// to itself is kept. To purge the current file as well, pass "": the server
// first rotates to a new file (FLUSH BINARY LOGS) and purges everything
// before it. A to that does not exist yet but sorts after the current file
// (e.g. the next one) is reached by flushing until it exists (at most 100
// times). It waits (up to 30s) until the older files are really gone:
// MariaDB keeps a file until its binlog checkpoint has moved past it.
func (m *MariaDB) PurgeBinlogs(ctx context.Context, to string) error {
	if to == "" {
		if err := m.FlushBinlogs(ctx); err != nil {
			return err
		}
		files, err := m.BinaryLogs(ctx)
		if err != nil {
			return err
		}
		to = files[len(files)-1]
	}
	for range 100 {
		files, err := m.BinaryLogs(ctx)
		if err != nil {
			return err
		}
		if len(files) == 0 || to <= files[len(files)-1] {
			break
		}
		if err := m.FlushBinlogs(ctx); err != nil {
			return err
		}
	}
	if !binlogNameRE.MatchString(to) {
		return fmt.Errorf("testenv: PurgeBinlogs: invalid binlog file name %q", to)
	}
	// PURGE takes no placeholders (it cannot be prepared), hence the check above.
	purge := fmt.Sprintf("PURGE BINARY LOGS TO '%s'", to)
	// MariaDB silently keeps a file until its "binlog checkpoint" has moved
	// past it, i.e. until InnoDB has made that file's transactions durable.
	// After FLUSH BINARY LOGS that happens in the background (within about a
	// second with innodb_flush_log_at_trx_commit=2), so retry until the older
	// files are gone.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if err := m.Exec(ctx, purge); err != nil {
			return err
		}
		files, err := m.BinaryLogs(ctx)
		if err != nil {
			return err
		}
		if len(files) == 0 || files[0] >= to {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testenv: %s: %v still present (binlog checkpoint did not advance, or a replica is reading them): %w", purge, files, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// KillConnections kills every connection for which match(user, command, info)
// is true and returns how many it killed. It reads SHOW PROCESSLIST's columns
// from information_schema.PROCESSLIST (same data, typed) and runs KILL
// CONNECTION, which closes the socket: a binlog dump reader ("Binlog Dump")
// sees EOF or a read error, a client sees "invalid connection" / error 1927.
// The helper's own connection and server threads are never matched. info is
// the running statement ("" when idle).
func (m *MariaDB) KillConnections(ctx context.Context, match func(user, command, info string) bool) (int, error) {
	db, err := m.rootPool()
	if err != nil {
		return 0, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, "SELECT ID, USER, COMMAND, COALESCE(INFO, '') FROM information_schema.PROCESSLIST "+
		"WHERE ID <> CONNECTION_ID() AND COMMAND NOT IN ('Daemon', 'Slave_IO', 'Slave_SQL', 'Slave_worker')")
	if err != nil {
		return 0, fmt.Errorf("testenv: reading process list: %w", err)
	}
	var ids []uint64
	for rows.Next() {
		var id uint64
		var user, command, info string
		if err := rows.Scan(&id, &user, &command, &info); err != nil {
			rows.Close()
			return 0, err
		}
		if user == "system user" || user == "event_scheduler" {
			continue
		}
		if match(user, command, info) {
			ids = append(ids, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	killed := 0
	for _, id := range ids {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
			var me *mysql.MySQLError
			if errors.As(err, &me) && me.Number == 1094 { // ER_NO_SUCH_THREAD: it ended by itself
				continue
			}
			return killed, fmt.Errorf("testenv: KILL CONNECTION %d: %w", id, err)
		}
		killed++
	}
	return killed, nil
}

var (
	privilegeRE  = regexp.MustCompile(`^[A-Za-z ]+$`)
	binlogNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// GrantBridge grants more global privileges (e.g. "INSERT", "RELOAD") to the
// bridge user on both its hosts, for tests that need to widen it. Like any
// global grant in MariaDB, it applies to connections opened afterwards:
// close pooled connections (or open a new pool) to see it.
func (m *MariaDB) GrantBridge(ctx context.Context, privileges ...string) error {
	if len(privileges) == 0 {
		return errors.New("testenv: GrantBridge needs at least one privilege")
	}
	for _, p := range privileges {
		if !privilegeRE.MatchString(p) {
			return fmt.Errorf("testenv: GrantBridge: invalid privilege %q", p)
		}
	}
	return m.Exec(ctx, fmt.Sprintf("GRANT %s ON *.* TO '%s'@'127.0.0.1', '%s'@'localhost'",
		strings.Join(privileges, ", "), m.BridgeUser, m.BridgeUser))
}

func abbreviate(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}
