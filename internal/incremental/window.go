package incremental

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Windows and full copies: a run over the rows whose mapped time lies in
// [From, To), or over every row, read with the backfill engine. They never
// read or change the incremental state: a window can be run again at any
// time (IoTDB overwrites a point written twice), slices can run in
// parallel, and they can run next to a scheduled incremental sync.

// Window is a half-open time range [From, To).
type Window struct{ From, To time.Time }

// String is "[from, to)" in RFC 3339.
func (w Window) String() string {
	return "[" + w.From.UTC().Format(time.RFC3339Nano) + ", " + w.To.UTC().Format(time.RFC3339Nano) + ")"
}

// ParseWindowTime reads a --from/--to value: RFC 3339 (2024-05-01T00:00:00Z,
// with an offset or Z) or a date (2024-05-01, midnight UTC).
func ParseWindowTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (2024-05-01T00:00:00Z) or a date (2024-05-01)", s)
}

// WindowStatePath is the backfill state of an explicit window's copy: one
// file per window, so that slices run in parallel and an interrupted slice
// resumes when it is run again.
func WindowStatePath(statePath string, w Window) string {
	f := func(t time.Time) string {
		return strings.TrimSuffix(t.UTC().Format("20060102T150405.999999999"), ".") + "Z"
	}
	return statePath + ".window-" + f(w.From) + "-" + f(w.To) + ".json"
}

// RecurringWindowStatePath is the backfill state of the window a schedule
// (--window) moves: one file, tagged with the window it belongs to.
func RecurringWindowStatePath(statePath string) string { return statePath + ".window.json" }

// FullStatePath is the backfill state of a full copy (--full).
func FullStatePath(statePath string) string { return statePath + ".full.json" }

// RemoveCopyState removes the backfill state of a finished copy.
func RemoveCopyState(path string) error { return removeCopyState(path) }

// WindowFilter is the SQL condition selecting the rows of mapping m (its
// table's live schema) whose time column maps to an instant in w, and that
// column. DATETIME and DATE values are compared as wall-clock times in the
// mapping's time.zone, TIMESTAMP values in UTC (the session's zone),
// integer epochs in their unit; the bounds are rounded up to the column's
// resolution, which keeps the range exact: t >= from holds for a value of
// the column exactly when it holds for the rounded bound.
func WindowFilter(m *config.Mapping, schema *mapping.TableSchema, w Window) (cond, column string, err error) {
	col, ok := schema.Column(m.Time.Column)
	if !ok {
		return "", "", fmt.Errorf("%s: mapping for table %s: time column %q does not exist", m.Pos, m.Table, m.Time.Column)
	}
	q := backfill.QuoteIdent(col.Name)
	zone := time.UTC
	if m.Time.Zone != "" {
		if zone, err = time.LoadLocation(m.Time.Zone); err != nil {
			return "", "", err
		}
	}
	ceilTo := func(t time.Time, unit time.Duration) time.Time {
		if r := t.Truncate(unit); !r.Equal(t) {
			return r.Add(unit)
		}
		return t
	}
	text := func(t time.Time) string {
		return "'" + ceilTo(t, time.Microsecond).In(zone).Format("2006-01-02 15:04:05.999999") + "'"
	}
	switch kind := backfill.KindOf(col.DataType, col.Unsigned); kind {
	case backfill.KindTime, backfill.KindDate:
		if col.DataType == "timestamp" {
			zone = time.UTC
		}
		return fmt.Sprintf("%s >= %s AND %s < %s", q, text(w.From), q, text(w.To)), col.Name, nil
	case backfill.KindInt, backfill.KindUint:
		var unit time.Duration
		switch m.Time.Unit {
		case "s":
			unit = time.Second
		case "ms":
			unit = time.Millisecond
		case "us":
			unit = time.Microsecond
		case "ns":
			unit = time.Nanosecond
		default:
			return "", "", fmt.Errorf("%s: mapping for table %s: time column %s is an integer without time.unit", m.Pos, m.Table, col.Name)
		}
		epoch := func(t time.Time) int64 {
			t = ceilTo(t, unit)
			if unit >= time.Second {
				return t.Unix() / int64(unit/time.Second)
			}
			return t.UnixNano() / int64(unit)
		}
		return fmt.Sprintf("%s >= %d AND %s < %d", q, epoch(w.From), q, epoch(w.To)), col.Name, nil
	}
	return "", "", fmt.Errorf("%s: mapping for table %s: time column %s (%s) cannot bound a window", m.Pos, m.Table, col.Name, col.ColumnType)
}

// LeadsIndex reports whether column is the first column of an index of
// the table, so that a range on it is an index range.
func LeadsIndex(ctx context.Context, db *sql.DB, database, table, column string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ? AND SEQ_IN_INDEX = 1`, database, table, column).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("table %s: reading indexes: %w", table, err)
	}
	return n > 0, nil
}
