package binlog

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Check is one preflight verdict.
type Check struct {
	Name string
	// OK is false when cdc cannot run correctly until the source is fixed.
	OK bool
	// Warning marks an OK check with a caveat worth reading.
	Warning bool
	// Detail says what was found and, when not OK, how to fix it.
	Detail string
}

func (c Check) String() string {
	verdict := "ok"
	switch {
	case !c.OK:
		verdict = "FAIL"
	case c.Warning:
		verdict = "warn"
	}
	return fmt.Sprintf("[%s] %s: %s", verdict, c.Name, c.Detail)
}

// Preflight checks what the binlog stream needs from the source: log_bin=ON,
// binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL (where
// the server has it) and the user's privileges (REPLICATION SLAVE,
// REPLICATION CLIENT or MariaDB's BINLOG MONITOR, SELECT). It reads the
// GLOBAL values, which new connections (the stream's) get. An error is
// returned only when the server cannot be asked at all.
func Preflight(ctx context.Context, db *sql.DB) ([]Check, error) {
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return nil, fmt.Errorf("binlog: preflight: %w", err)
	}
	rows, err := queryMaps(ctx, db, "SHOW GLOBAL VARIABLES WHERE Variable_name IN "+
		"('log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata', 'binlog_row_value_options')")
	if err != nil {
		return nil, fmt.Errorf("binlog: preflight: reading variables: %w", err)
	}
	vars := make(map[string]string, len(rows))
	for _, r := range rows {
		vars[strings.ToLower(r["variable_name"])] = strings.ToUpper(r["value"])
	}
	var checks []Check
	checks = append(checks, varCheck(vars, "log_bin", "ON", "start the server with --log-bin"))
	checks = append(checks, varCheck(vars, "binlog_format", "ROW",
		"SET GLOBAL binlog_format=ROW and set binlog_format=ROW in the server config (sessions started before keep their format)"))
	checks = append(checks, varCheck(vars, "binlog_row_image", "FULL",
		"SET GLOBAL binlog_row_image=FULL and set it in the server config"))
	checks = append(checks, rowMetadataCheck(vars, version))
	if v, ok := vars["binlog_row_value_options"]; ok && v != "" {
		checks = append(checks, Check{Name: "binlog_row_value_options", OK: false,
			Detail: fmt.Sprintf("is %q: partial JSON updates cannot be applied as full images; SET GLOBAL binlog_row_value_options=''", v)})
	}
	checks = append(checks, grantsCheck(ctx, db))
	return checks, nil
}

func varCheck(vars map[string]string, name, want, fix string) Check {
	got, ok := vars[name]
	switch {
	case !ok:
		return Check{Name: name, OK: false, Detail: "not reported by the server; " + fix}
	case got == want || (want == "ON" && got == "1"):
		return Check{Name: name, OK: true, Detail: got}
	default:
		return Check{Name: name, OK: false, Detail: fmt.Sprintf("is %s, need %s: %s", got, want, fix)}
	}
}

// rowMetadataCheck: binlog_row_metadata exists from MySQL 8.0.1 and MariaDB
// 10.5. With FULL the table map events carry column names; without it the
// stream must take names from information_schema, which describes today's
// table, not necessarily the one an old event was written with.
func rowMetadataCheck(vars map[string]string, version string) Check {
	got, ok := vars["binlog_row_metadata"]
	switch {
	case !ok:
		return Check{Name: "binlog_row_metadata", OK: true, Warning: true,
			Detail: fmt.Sprintf("not available on %s (MySQL 8.0.1+ / MariaDB 10.5+): column names come from information_schema, "+
				"so events written before a schema change may be misread", version)}
	case got == "FULL":
		return Check{Name: "binlog_row_metadata", OK: true, Detail: got}
	default:
		return Check{Name: "binlog_row_metadata", OK: false,
			Detail: fmt.Sprintf("is %s, need FULL for column names in the binlog: SET GLOBAL binlog_row_metadata=FULL and set it in the server config", got)}
	}
}

func grantsCheck(ctx context.Context, db *sql.DB) Check {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return Check{Name: "privileges", OK: false, Detail: fmt.Sprintf("SHOW GRANTS failed: %v", err)}
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return Check{Name: "privileges", OK: false, Detail: fmt.Sprintf("SHOW GRANTS: %v", err)}
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		return Check{Name: "privileges", OK: false, Detail: fmt.Sprintf("SHOW GRANTS: %v", err)}
	}
	return evalGrants(lines)
}

// Grants is what SHOW GRANTS says about the privileges the stream needs.
type Grants struct {
	ReplicationSlave  bool     // REPLICATION SLAVE (REPLICA) on *.*
	ReplicationClient bool     // REPLICATION CLIENT or BINLOG MONITOR on *.*
	Select            []string // where SELECT is granted: "*.*", "`db`.*", "`db`.`t`"
	Roles             bool     // roles are granted: their privileges are not expanded
}

var grantRE = regexp.MustCompile(`(?is)^GRANT\s+(.+?)\s+ON\s+(.+?)\s+TO\s+`)

// ParseGrants reads SHOW GRANTS lines.
func ParseGrants(lines []string) Grants {
	var g Grants
	for _, line := range lines {
		m := grantRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(line)), "GRANT ") {
				g.Roles = true // GRANT `role` TO `user`
			}
			continue
		}
		target := strings.TrimSpace(m[2])
		if strings.HasPrefix(strings.ToUpper(target), "PROCEDURE ") || strings.HasPrefix(strings.ToUpper(target), "FUNCTION ") {
			continue
		}
		global := target == "*.*"
		for _, p := range splitPrivileges(m[1]) {
			switch p {
			case "ALL", "ALL PRIVILEGES":
				if global {
					g.ReplicationSlave, g.ReplicationClient = true, true
				}
				g.Select = append(g.Select, target)
			case "REPLICATION SLAVE", "REPLICATION REPLICA":
				g.ReplicationSlave = g.ReplicationSlave || global
			case "REPLICATION CLIENT", "BINLOG MONITOR":
				g.ReplicationClient = g.ReplicationClient || global
			case "SELECT":
				g.Select = append(g.Select, target)
			}
		}
	}
	return g
}

// splitPrivileges splits "SELECT (a, b), INSERT, REPLICATION SLAVE" at the
// top-level commas and drops column lists, upper-cased.
func splitPrivileges(s string) []string {
	var out []string
	depth, start := 0, 0
	flush := func(end int) {
		p := strings.TrimSpace(s[start:end])
		if i := strings.IndexByte(p, '('); i >= 0 {
			p = strings.TrimSpace(p[:i])
		}
		if p != "" {
			out = append(out, strings.ToUpper(strings.Join(strings.Fields(p), " ")))
		}
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				flush(i)
				start = i + 1
			}
		}
	}
	flush(len(s))
	return out
}

func evalGrants(lines []string) Check {
	g := ParseGrants(lines)
	var missing []string
	if !g.ReplicationSlave {
		missing = append(missing, "REPLICATION SLAVE ON *.*")
	}
	if !g.ReplicationClient {
		missing = append(missing, "REPLICATION CLIENT (MariaDB: BINLOG MONITOR) ON *.*")
	}
	if len(g.Select) == 0 {
		missing = append(missing, "SELECT on the mapped tables")
	}
	if len(missing) == 0 {
		return Check{Name: "privileges", OK: true,
			Detail: "REPLICATION SLAVE, REPLICATION CLIENT/BINLOG MONITOR, SELECT on " + strings.Join(g.Select, ", ")}
	}
	detail := "missing " + strings.Join(missing, ", ") + " (GRANT them to the bridge user)"
	if g.Roles {
		// Role privileges are not expanded here; the user may well have them.
		return Check{Name: "privileges", OK: true, Warning: true,
			Detail: detail + "; roles are granted too and were not inspected: " + strconv.Quote(strings.Join(lines, "; "))}
	}
	return Check{Name: "privileges", OK: false, Detail: detail}
}
