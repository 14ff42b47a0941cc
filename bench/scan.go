package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"
)

// scanQuery is the keyset page query shared by the raw reader and the
// insertRecords writer: a prepared statement, so rows arrive in the binary
// protocol, as they do for the bridge.
const scanQuery = `SELECT id, device_id, site, created_at, temperature, humidity, pressure, voltage, status
FROM sensor_readings WHERE id > ? AND id <= ? ORDER BY id LIMIT ?`

// scanRow holds one row scanned into typed Go variables.
type scanRow struct {
	id          int64
	device      string
	site        string
	createdAt   time.Time
	temperature sql.NullFloat64
	humidity    sql.NullFloat64
	pressure    sql.NullFloat64
	voltage     sql.NullFloat64
	status      sql.NullInt32
}

// points is the number of non-NULL measurement cells in r.
func (r *scanRow) points() int64 {
	var n int64
	for _, v := range [...]bool{r.temperature.Valid, r.humidity.Valid, r.pressure.Valid, r.voltage.Valid, r.status.Valid} {
		if v {
			n++
		}
	}
	return n
}

// scanDSN forces the settings every bench reader uses, whatever DSN testenv
// hands out: binary protocol (no client-side interpolation), DATETIME as
// time.Time in UTC.
func scanDSN(dsn string) (string, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", err
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.InterpolateParams = false
	return cfg.FormatDSN(), nil
}

// keyRange is the half-open id range (lo, hi].
type keyRange struct{ lo, hi int64 }

// splitRange cuts (lo, hi] into n contiguous ranges of nearly equal width.
func splitRange(lo, hi int64, n int) []keyRange {
	if n < 1 {
		n = 1
	}
	out := make([]keyRange, 0, n)
	w := (hi - lo) / int64(n)
	for i := range n {
		r := keyRange{lo: lo + int64(i)*w, hi: lo + int64(i+1)*w}
		if i == n-1 {
			r.hi = hi
		}
		out = append(out, r)
	}
	return out
}

// scanRange reads (kr.lo, kr.hi] in keyset pages of page rows and calls fn
// for each row. The scanRow is reused: fn must copy what it keeps.
func scanRange(ctx context.Context, stmt *sql.Stmt, kr keyRange, page int, fn func(*scanRow) error) error {
	var r scanRow
	last := kr.lo
	for {
		rows, err := stmt.QueryContext(ctx, last, kr.hi, page)
		if err != nil {
			return fmt.Errorf("page after id %d: %w", last, err)
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(&r.id, &r.device, &r.site, &r.createdAt,
				&r.temperature, &r.humidity, &r.pressure, &r.voltage, &r.status); err != nil {
				rows.Close()
				return fmt.Errorf("page after id %d: %w", last, err)
			}
			if err := fn(&r); err != nil {
				rows.Close()
				return err
			}
			n++
			last = r.id
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("page after id %d: %w", last, err)
		}
		if n < page {
			return nil
		}
	}
}
