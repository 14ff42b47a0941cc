// Package dirty is the dirty-row policy of both engines: the one record
// written for a row that will not reach IoTDB (the mapping refused it, or
// IoTDB refused its point for good), the JSON-lines file it goes to, and the
// rule that decides whether the run goes on (policy skip, up to max rows)
// or stops (policy fail, or max exceeded). See docs/delivery.md for how a
// dirty row relates to the saved position.
package dirty

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/jsonl"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Reasons recorded for points IoTDB refused (the mapping's reasons are the
// mapping.Reason constants).
const (
	ReasonRejected       = "iotdb_rejected"        // IoTDB refused a point for good
	ReasonDeleteRejected = "iotdb_delete_rejected" // IoTDB refused a deletion for good
	ReasonCursorNull     = "cursor_null"           // cmd/sync: every cursor column of the row is NULL, so incremental runs cannot follow it (cursor.nulls: dirty)
)

// Record is one line of the dirty-rows file. Action, Position and GTID are
// set by cdc only.
type Record struct {
	Time     time.Time `json:"time"`
	Table    string    `json:"table"`
	Key      string    `json:"key"`
	Column   string    `json:"column,omitempty"`
	Value    any       `json:"value,omitempty"`
	Reason   string    `json:"reason"`
	Detail   string    `json:"detail,omitempty"`
	Action   string    `json:"action,omitempty"`   // insert | update | delete
	Position string    `json:"position,omitempty"` // binlog position of the rows event ("file:pos")
	GTID     string    `json:"gtid,omitempty"`     // GTID of the transaction, when the source has GTIDs
}

// FromMapping is the record of a row the mapping refused.
func FromMapping(table string, de *mapping.DirtyError) Record {
	return Record{Table: table, Key: de.Key, Column: de.Column, Value: de.Value, Reason: de.Reason, Detail: de.Detail}
}

// Rejected is the record of a point IoTDB refused with a status.
func Rejected(table, key, device string, code int32, message string) Record {
	return Record{Table: table, Key: key, Value: device, Reason: ReasonRejected, Detail: fmt.Sprintf("status %d: %s", code, message)}
}

// StopError is what Log.Record returns when the policy stops the run.
type StopError struct{ msg string }

func (e *StopError) Error() string { return e.msg }

// IsStop reports whether err (or an error it wraps) is a policy stop.
func IsStop(err error) bool {
	var se *StopError
	return errors.As(err, &se)
}

// Log writes Records and applies the policy. It is safe for concurrent use.
// Sync runs before every state or checkpoint save, so a saved position
// never gets ahead of the rows skipped before it.
type Log struct {
	cfg     config.DirtyRows
	out     *jsonl.File
	skipped atomic.Int64
	counter atomic.Pointer[func(table, reason string)]
}

// New returns the log of cfg; the file is created at the first record.
func New(cfg config.DirtyRows) *Log {
	cfg = cfg.WithDefaults()
	return &Log{cfg: cfg, out: jsonl.New(cfg.File)}
}

// CountWith makes the log call fn for every row it records (the binary's
// dirty-row metric), whichever engine recorded it.
func (l *Log) CountWith(fn func(table, reason string)) { l.counter.Store(&fn) }

// Path is the dirty-rows file.
func (l *Log) Path() string { return l.out.Path() }

// Used reports whether anything was recorded.
func (l *Log) Used() bool { return l.out.Lines() > 0 }

// Record appends r (Time is set here) and returns a *StopError when the
// run must stop: the policy is fail, or more than max rows were skipped.
// Any other error is the file's.
func (l *Log) Record(r Record) error {
	r.Time = time.Now().UTC()
	r.Value = jsonValue(r.Value)
	b, err := json.Marshal(r)
	if err != nil {
		r.Value = fmt.Sprint(r.Value)
		if b, err = json.Marshal(r); err != nil {
			return fmt.Errorf("dirty-rows file: %w", err)
		}
	}
	if err := l.out.Write(b); err != nil {
		return fmt.Errorf("dirty-rows file: %w", err)
	}
	if fn := l.counter.Load(); fn != nil {
		(*fn)(r.Table, r.Reason)
	}
	what := "table " + r.Table
	if r.Key != "" {
		what += ", key " + r.Key
	}
	if r.Column != "" {
		what += ", column " + r.Column
	}
	if r.Position != "" {
		what += ", binlog " + r.Position
	}
	reason := r.Reason
	if r.Detail != "" {
		reason += " (" + r.Detail + ")"
	}
	if l.cfg.Policy == config.DirtyFail {
		_ = l.Sync()
		return &StopError{fmt.Sprintf("dirty row (%s): %s; dirty_rows.policy is fail (recorded in %s)", what, reason, l.cfg.File)}
	}
	n := l.skipped.Add(1)
	if l.cfg.Max >= 0 && n > int64(l.cfg.Max) {
		_ = l.Sync()
		return &StopError{fmt.Sprintf("more than dirty_rows.max=%d rows skipped (last: %s: %s); see %s", l.cfg.Max, what, reason, l.cfg.File)}
	}
	return nil
}

// Sync flushes and fsyncs the file.
func (l *Log) Sync() error {
	if err := l.out.Sync(); err != nil {
		return fmt.Errorf("dirty-rows file: %w", err)
	}
	return nil
}

// Close syncs and closes the file.
func (l *Log) Close() error { return l.out.Close() }

// jsonValue makes a source value readable in JSON: text as a string, other
// bytes as "0x..." hex, times in RFC 3339.
func jsonValue(v any) any {
	switch x := v.(type) {
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return "0x" + hex.EncodeToString(x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	default:
		return v
	}
}
