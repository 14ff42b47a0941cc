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

// Server error codes the stream classifies.
const (
	erAccessDenied       = 1045 // ER_ACCESS_DENIED_ERROR
	erDBAccessDenied     = 1044 // ER_DBACCESS_DENIED_ERROR
	erSpecificAccess     = 1227 // ER_SPECIFIC_ACCESS_DENIED_ERROR (needs REPLICATION SLAVE)
	erTableAccessDenied  = 1142 // ER_TABLEACCESS_DENIED_ERROR
	erMasterFatalReading = 1236 // ER_MASTER_FATAL_ERROR_READING_BINLOG
	erUnknownSysVar      = 1193 // ER_UNKNOWN_SYSTEM_VARIABLE
	erParse              = 1064 // ER_PARSE_ERROR
)

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

// streamFailure tells whether a stream error is permanent (no reconnect can fix
// it) and turns a purged binlog into *PurgedError.
func streamFailure(err error, from Position) (permanent bool, out error) {
	code, msg := serverCode(err)
	switch code {
	case erMasterFatalReading:
		if isPurgedMessage(msg) {
			return true, &PurgedError{From: from, Server: msg}
		}
		// Other 1236s (a GTID the server never had, a position past the end of
		// the file, a duplicate server_id on MySQL) do not heal by retrying.
		return true, fmt.Errorf("binlog: the server refused to stream from %s: %w", from, err)
	case erAccessDenied, erDBAccessDenied, erSpecificAccess, erTableAccessDenied:
		return true, fmt.Errorf("binlog: access denied (the user needs REPLICATION SLAVE and REPLICATION CLIENT): %w", err)
	}
	return false, err
}
