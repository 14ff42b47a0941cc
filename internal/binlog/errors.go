package binlog

import (
	"errors"
	"fmt"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	driver "github.com/go-sql-driver/mysql"
)

// ErrBinlogPurged is matched (errors.Is) by the error Run returns when the
// server no longer has the binlog the stream must resume from. Retrying
// cannot help: the changes in the purged files are gone.
var ErrBinlogPurged = errors.New("binlog purged")

// PurgedError is the detail behind ErrBinlogPurged.
type PurgedError struct {
	From   Position // where the stream asked to start
	Server string   // the server's message
}

func (e *PurgedError) Error() string {
	what := "binlog file " + e.From.File
	if e.From.GTID != "" {
		what = "binlog holding the transactions after GTID set " + e.From.GTID
		if e.From.File != "" {
			what += " (file " + e.From.File + ")"
		}
	}
	return fmt.Sprintf("binlog purged: the %s is no longer on the server (%s); "+
		"changes since then cannot be streamed. Start over with a new snapshot: run `cdc --reset` and start again with cdc.start: initial, "+
		"or set cdc.on_purged: resnapshot to do this by itself",
		what, e.Server)
}

// Is makes errors.Is(err, ErrBinlogPurged) true.
func (e *PurgedError) Is(target error) bool { return target == ErrBinlogPurged }

// ErrDuplicateServerID is matched (errors.Is) by the error Run returns when
// the server dropped or refused the stream because another replica uses the
// same server_id. Retrying cannot help: the two would take turns kicking
// each other off for ever.
var ErrDuplicateServerID = errors.New("another replica uses the same server_id")

// DuplicateServerIDError is the detail behind ErrDuplicateServerID.
type DuplicateServerIDError struct {
	Server string // the server's message
}

func (e *DuplicateServerIDError) Error() string {
	return fmt.Sprintf("binlog: another replica uses this bridge's server_id (mysql.server_id) on the source (%s): "+
		"set a unique mysql.server_id; every cdc process and every replica of the server needs its own", e.Server)
}

// Is makes errors.Is(err, ErrDuplicateServerID) true.
func (e *DuplicateServerIDError) Is(target error) bool { return target == ErrDuplicateServerID }

// Server error codes the stream classifies.
const (
	erAccessDenied       = 1045 // ER_ACCESS_DENIED_ERROR
	erDBAccessDenied     = 1044 // ER_DBACCESS_DENIED_ERROR
	erSpecificAccess     = 1227 // ER_SPECIFIC_ACCESS_DENIED_ERROR (needs REPLICATION SLAVE)
	erTableAccessDenied  = 1142 // ER_TABLEACCESS_DENIED_ERROR
	erMasterFatalReading = 1236 // ER_MASTER_FATAL_ERROR_READING_BINLOG
	erUnknownSysVar      = 1193 // ER_UNKNOWN_SYSTEM_VARIABLE
	erParse              = 1064 // ER_PARSE_ERROR
	erSlaveSameID        = 4052 // MariaDB ER_SLAVE_SAME_ID: another replica has our server_id
)

// isDuplicateServerID recognises the server's "same server_id" error:
//   - MariaDB: 4052 "A slave with the same server_uuid/server_id is already
//     connected" (10.11, to the newcomer) or "... as this slave has connected
//     to the master" (to the replica dropped for the newcomer)
//   - MySQL: 1236 "A replica (slave) with the same server_uuid/server_id as
//     this replica (slave) has connected to the source (master)"
func isDuplicateServerID(code uint16, msg string) bool {
	return code == erSlaveSameID ||
		code == erMasterFatalReading && strings.Contains(strings.ToLower(msg), "same server_uuid/server_id")
}

// serverCode returns the MySQL error number carried by err (from either
// go-mysql or go-sql-driver), or 0.
func serverCode(err error) (uint16, string) {
	var me *gomysql.MyError
	if errors.As(err, &me) {
		return me.Code, me.Message
	}
	var de *driver.MySQLError
	if errors.As(err, &de) {
		return de.Number, de.Message
	}
	if err != nil && strings.HasPrefix(err.Error(), "ERROR ") {
		if c := gomysql.ErrorCode(err.Error()); c > 0 {
			return uint16(c), err.Error()
		}
	}
	return 0, ""
}

// isPurgedMessage recognises the 1236 texts for a start position that is no
// longer on the server:
//   - file/pos, both flavors: "Could not find first log file name in binary log index file"
//   - MariaDB GTID: "Could not find GTID state requested by slave in any binlog files.
//     Probably the slave state is too old and required binlog files have been purged."
//   - MySQL GTID: "Cannot replicate because the source purged required binary logs ..."
//     and the older "... the master has purged binary logs containing GTIDs that the slave requires."
func isPurgedMessage(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "could not find first log file") ||
		strings.Contains(m, "could not find gtid state") ||
		strings.Contains(m, "purged")
}

// refusalRemedy says what to do about a 1236 refusal that is not a purge,
// from the server's message: a position that is not an event's start, a
// GTID set the server never had. It returns "" for messages it does not know.
func refusalRemedy(msg string, from Position) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "truncated in the middle of event") || strings.Contains(m, "impossible position") ||
		strings.Contains(m, "position > file size") || strings.Contains(m, "bogus data in log event"):
		return fmt.Sprintf("The offset %d is not the start of an event in %s: the checkpoint was edited by hand, or it "+
			"comes from another server whose binlog files have the same names, or the file was truncated (a crash with "+
			"sync_binlog=0). Restore the checkpoint, or set the offset of an event boundary (SHOW BINLOG EVENTS IN '%s' "+
			"lists them; rows between the two are then skipped or repeated), or start over with `cdc --reset`",
			from.Pos, from.File, from.File)
	case strings.Contains(m, "gtid") && (strings.Contains(m, "not in the master's binlog") || strings.Contains(m, "more gtids than") ||
		strings.Contains(m, "not in the binlog") || strings.Contains(m, "unknown gtid")):
		return fmt.Sprintf("The checkpoint's GTID set %s holds transactions this server never had: mysql.host points at a "+
			"server that is not the one the checkpoint came from, or at a replica that is behind it. Point cdc at that "+
			"server, or wait until this one has caught up (SELECT @@gtid_binlog_pos on MariaDB, @@gtid_executed on MySQL, "+
			"must contain the set), or start over with `cdc --reset`", from.GTID)
	}
	return ""
}

// refusedError is a start position the server refused, with the remedy
// when one is known.
type refusedError struct {
	from   Position
	err    error
	remedy string
}

func (e *refusedError) Error() string {
	msg := fmt.Sprintf("binlog: the server refused to stream from %s: %v", e.from, e.err)
	if e.remedy == "" {
		return msg
	}
	return strings.TrimRight(msg, ". ") + ". " + e.remedy
}

func (e *refusedError) Unwrap() error { return e.err }

// streamFailure tells whether a stream error is permanent (no reconnect can fix
// it) and turns a purged binlog into *PurgedError.
func streamFailure(err error, from Position) (permanent bool, out error) {
	code, msg := serverCode(err)
	if isDuplicateServerID(code, msg) {
		return true, &DuplicateServerIDError{Server: msg}
	}
	switch code {
	case erMasterFatalReading:
		if isPurgedMessage(msg) {
			return true, &PurgedError{From: from, Server: msg}
		}
		// Other 1236s (a GTID the server never had, a position past the end of
		// the file or inside an event) do not heal by retrying.
		return true, &refusedError{from: from, err: err, remedy: refusalRemedy(msg, from)}
	case erAccessDenied, erDBAccessDenied, erSpecificAccess, erTableAccessDenied:
		return true, fmt.Errorf("binlog: access denied (the user needs REPLICATION SLAVE and REPLICATION CLIENT): %w", err)
	}
	return false, err
}
