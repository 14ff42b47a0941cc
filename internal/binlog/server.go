package binlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// queryMaps runs q and returns every row as column name -> text (NULL as
// ""). Column names are matched case-insensitively by the callers through
// get.
func queryMaps(ctx context.Context, db *sql.DB, q string, args ...any) ([]map[string]string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		m := make(map[string]string, len(cols))
		for i, c := range cols {
			m[strings.ToLower(c)] = vals[i].String
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// DetectFlavor tells a MariaDB server from a MySQL one by its VERSION().
func DetectFlavor(ctx context.Context, db *sql.DB) (string, error) {
	var v string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return "", fmt.Errorf("binlog: reading the server version: %w", err)
	}
	if strings.Contains(strings.ToLower(v), "mariadb") {
		return FlavorMariaDB, nil
	}
	return FlavorMySQL, nil
}

// binlogStatus runs SHOW BINARY LOG STATUS (MySQL 8.2+, the only spelling in
// 8.4) and falls back to SHOW MASTER STATUS (MariaDB, older MySQL).
func binlogStatus(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := queryMaps(ctx, db, "SHOW BINARY LOG STATUS")
	if err != nil {
		if code, _ := serverCode(err); code != erParse {
			return nil, err
		}
		rows, err = queryMaps(ctx, db, "SHOW MASTER STATUS")
		if err != nil {
			return nil, err
		}
	}
	if len(rows) == 0 || rows[0]["file"] == "" {
		return nil, errors.New("binary logging is disabled on the server (log_bin=OFF)")
	}
	return rows[0], nil
}

// CurrentPosition returns the server's current end of binlog: the file and
// offset, and the GTID set (MySQL: Executed_Gtid_Set, empty when gtid_mode
// is OFF; MariaDB: @@gtid_binlog_pos). A stream started there delivers the
// transactions committed afterwards.
//
// On MariaDB the GTID and the file offset come from two statements; they are
// read GTID, status, GTID and retried until both GTID reads agree, so the
// pair describes one point. If the server stays too busy for that, the first
// GTID is kept: it can only be behind the offset, which re-delivers (never
// skips) a few transactions.
func CurrentPosition(ctx context.Context, db *sql.DB, flavor string) (Position, error) {
	switch flavor {
	case FlavorMySQL:
		st, err := binlogStatus(ctx, db)
		if err != nil {
			return Position{}, fmt.Errorf("binlog: current position: %w", err)
		}
		return statusPosition(st, compactGTID(st["executed_gtid_set"]))
	case FlavorMariaDB:
		conn, err := db.Conn(ctx)
		if err != nil {
			return Position{}, fmt.Errorf("binlog: current position: %w", err)
		}
		defer conn.Close()
		var first string
		for attempt := 0; attempt < 5; attempt++ {
			var g1, g2 string
			if err := conn.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&g1); err != nil {
				return Position{}, fmt.Errorf("binlog: current position: reading gtid_binlog_pos: %w", err)
			}
			if attempt == 0 {
				first = g1
			}
			st, err := binlogStatus(ctx, db)
			if err != nil {
				return Position{}, fmt.Errorf("binlog: current position: %w", err)
			}
			if err := conn.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&g2); err != nil {
				return Position{}, fmt.Errorf("binlog: current position: reading gtid_binlog_pos: %w", err)
			}
			if g1 == g2 {
				return statusPosition(st, g1)
			}
		}
		// Busy server: GTID from before the last status read, offset unknown
		// relative to it: resume by GTID only.
		return Position{GTID: first}, nil
	default:
		return Position{}, fmt.Errorf("binlog: current position: unknown flavor %q", flavor)
	}
}

func statusPosition(st map[string]string, gtid string) (Position, error) {
	n, err := strconv.ParseUint(st["position"], 10, 32)
	if err != nil {
		return Position{}, fmt.Errorf("binlog: current position: bad offset %q: %w", st["position"], err)
	}
	return Position{File: st["file"], Pos: uint32(n), GTID: gtid}, nil
}

// BinaryLogs lists the server's binlog files, oldest first (SHOW BINARY
// LOGS: needs REPLICATION CLIENT / BINLOG MONITOR).
func BinaryLogs(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := queryMaps(ctx, db, "SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("binlog: SHOW BINARY LOGS: %w", err)
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, r["log_name"])
	}
	return out, nil
}

// EarliestPosition returns the start of the oldest binlog file the server
// still has (offset 4, after the magic header). It has no GTID: a stream
// from it runs by file and offset.
func EarliestPosition(ctx context.Context, db *sql.DB) (Position, error) {
	logs, err := BinaryLogs(ctx, db)
	if err != nil {
		return Position{}, err
	}
	if len(logs) == 0 {
		return Position{}, errors.New("binlog: the server lists no binary logs (log_bin=OFF?)")
	}
	return Position{File: logs[0], Pos: 4}, nil
}

// HasBinlog reports whether the server still has the binlog file. Use it
// before resuming from a checkpoint: false means the file was purged.
func HasBinlog(ctx context.Context, db *sql.DB, file string) (bool, error) {
	logs, err := BinaryLogs(ctx, db)
	if err != nil {
		return false, err
	}
	for _, l := range logs {
		if l == file {
			return true, nil
		}
	}
	return false, nil
}

// ErrNotChecked is wrapped by ServerIDInUse when it could not look.
var ErrNotChecked = errors.New("could not be checked")

// ServerIDInUse reports whether id is already taken on the server: by the
// server itself (@@server_id) or by a registered replica (SHOW REPLICAS on
// MySQL 8.0.22+, SHOW SLAVE HOSTS elsewhere). It is best effort:
//   - a replica appears only if it registered (go-mysql and real replicas
//     do; mysqlbinlog does not);
//   - on MariaDB 10.5+ SHOW SLAVE HOSTS needs REPLICATION MASTER ADMIN, on
//     MySQL REPLICATION SLAVE; without it the answer is false with an error
//     wrapping ErrNotChecked, and the binlog dump threads counted from the
//     process list are named in the error (their ids are not visible);
//   - a previous run of this bridge that died without closing its connection
//     can still be listed until the server notices.
func ServerIDInUse(ctx context.Context, db *sql.DB, id uint32) (bool, error) {
	var own uint32
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.server_id").Scan(&own); err != nil {
		return false, fmt.Errorf("binlog: reading server_id: %w", err)
	}
	if own == id {
		return true, nil
	}
	hosts, err := queryMaps(ctx, db, "SHOW REPLICAS")
	if err != nil {
		hosts, err = queryMaps(ctx, db, "SHOW SLAVE HOSTS")
	}
	if err != nil {
		dumps := countDumpThreads(ctx, db)
		return false, fmt.Errorf("binlog: whether server_id %d is free %w: listing replicas failed (%v; %s). "+
			"Grant the bridge's user REPLICATION MASTER ADMIN on MariaDB 10.5+ (REPLICATION SLAVE on MySQL) to make this check work; "+
			"without it a second bridge with the same server_id is still detected once the server disconnects one of them",
			id, ErrNotChecked, err, dumps)
	}
	want := strconv.FormatUint(uint64(id), 10)
	for _, h := range hosts {
		if h["server_id"] == want {
			return true, nil
		}
	}
	return false, nil
}

func countDumpThreads(ctx context.Context, db *sql.DB) string {
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'").Scan(&n)
	if err != nil {
		return "process list unreadable"
	}
	return fmt.Sprintf("%d binlog dump connections visible to this user", n)
}

// Identity names a source server, so that a checkpoint is never resumed
// on another server by a file name and offset that mean something else
// there.
type Identity struct {
	ServerID   uint32 // @@server_id
	ServerUUID string // @@server_uuid (MySQL; "" on MariaDB, which has none)
}

// String renders the identity for messages.
func (id Identity) String() string {
	if id.ServerUUID != "" {
		return fmt.Sprintf("server_id %d (server_uuid %s)", id.ServerID, id.ServerUUID)
	}
	return fmt.Sprintf("server_id %d", id.ServerID)
}

// ServerIdentity reads the identity of the server db is connected to.
func ServerIdentity(ctx context.Context, db *sql.DB, flavor string) (Identity, error) {
	var id Identity
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.server_id").Scan(&id.ServerID); err != nil {
		return id, fmt.Errorf("binlog: reading @@server_id: %w", err)
	}
	if flavor == FlavorMySQL {
		if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.server_uuid").Scan(&id.ServerUUID); err != nil {
			return id, fmt.Errorf("binlog: reading @@server_uuid: %w", err)
		}
	}
	return id, nil
}

// GTIDAt returns the MariaDB GTID position (the last GTID of each
// replication domain) that corresponds to a binlog file and offset, with
// the server's BINLOG_GTID_POS: a position given by file and offset then
// also carries the exact GTID set a failover needs. It returns "" when the
// server has no GTID before that place.
func GTIDAt(ctx context.Context, db *sql.DB, p Position) (string, error) {
	var g sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", p.File, p.Pos).Scan(&g); err != nil {
		return "", fmt.Errorf("binlog: GTID position at %s: %w", p, err)
	}
	if !g.Valid {
		return "", fmt.Errorf("binlog: GTID position at %s: the server has no such binlog file or offset", p)
	}
	return g.String, nil
}
