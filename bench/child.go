package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/apache/iotdb-client-go/v2/client"
)

// childOpts is what the parent passes to a re-executed bench process.
type childOpts struct {
	dsn     string
	readers int
	maxID   int64
	page    int
	iotdb   string // host:port of iotdbtest
	batch   int    // rows per insertRecords call
	prefix  string // device path prefix for insertRecords
	from    string // binlog-raw: start position file:pos
	to      string // binlog-raw: end position file:pos
}

// childReport is the one JSON line a child prints on stdout.
type childReport struct {
	Rows   int64 `json:"rows"`
	Points int64 `json:"points"`
}

// worker is the body of a child phase. The parent measures it from outside.
type worker func(ctx context.Context, o childOpts) (childReport, error)

// workers are the child phases a bench process can be re-executed as
// (--phase NAME).
var workers = map[string]worker{
	"raw-scan":       workRawScan,
	"insert-records": workInsertRecords,
	"binlog-raw":     workBinlogRaw,
}

// childMain runs one worker and prints its report.
func childMain(ctx context.Context, name string, o childOpts) int {
	w, ok := workers[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "bench: unknown --phase %q\n", name)
		return 2
	}
	rep, err := w(ctx, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench %s: %v\n", name, err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		return 1
	}
	return 0
}

// parallel runs fn once per range of (0, maxID] split readers ways and sums
// the reports; the first error cancels the others.
func parallel(ctx context.Context, o childOpts, fn func(ctx context.Context, kr keyRange) (childReport, error)) (childReport, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		total childReport
		errs  []error
		wg    sync.WaitGroup
	)
	for _, kr := range splitRange(0, o.maxID, o.readers) {
		wg.Go(func() {
			rep, err := fn(ctx, kr)
			mu.Lock()
			defer mu.Unlock()
			total.Rows += rep.Rows
			total.Points += rep.Points
			if err != nil {
				errs = append(errs, err)
				cancel()
			}
		})
	}
	wg.Wait()
	return total, errors.Join(errs...)
}

func openScan(ctx context.Context, o childOpts) (*sql.DB, *sql.Stmt, error) {
	dsn, err := scanDSN(o.dsn)
	if err != nil {
		return nil, nil, err
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(o.readers)
	db.SetMaxIdleConns(o.readers)
	stmt, err := db.PrepareContext(ctx, scanQuery)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, stmt, nil
}

// workRawScan is the floor: a bare Go reader that scans every row into typed
// variables and does nothing else.
func workRawScan(ctx context.Context, o childOpts) (childReport, error) {
	db, stmt, err := openScan(ctx, o)
	if err != nil {
		return childReport{}, err
	}
	defer db.Close()
	defer stmt.Close()
	return parallel(ctx, o, func(ctx context.Context, kr keyRange) (childReport, error) {
		var rep childReport
		err := scanRange(ctx, stmt, kr, o.page, func(r *scanRow) error {
			rep.Rows++
			rep.Points += r.points()
			return nil
		})
		return rep, err
	})
}

// workInsertRecords is the peers' way: the same scan, each row turned into
// one record (NULL measurements left out, as records cannot carry NULLs) and
// sent with insertRecords in batches of o.batch rows.
func workInsertRecords(ctx context.Context, o childOpts) (childReport, error) {
	db, stmt, err := openScan(ctx, o)
	if err != nil {
		return childReport{}, err
	}
	defer db.Close()
	defer stmt.Close()
	host, port, err := net.SplitHostPort(o.iotdb)
	if err != nil {
		return childReport{}, err
	}
	// The one setup step a peer's user does by hand: create the database,
	// so the run does not depend on the server auto-creating it. Series are
	// left to auto-creation (typed by the records), as the peers do.
	sess := client.NewSession(&client.Config{Host: host, Port: port, UserName: "root", Password: "root"})
	if err := sess.Open(false, 10000); err != nil {
		return childReport{}, fmt.Errorf("iotdb open: %w", err)
	}
	err = sess.SetStorageGroup(o.prefix)
	sess.Close()
	if err != nil {
		return childReport{}, fmt.Errorf("create database %s: %w", o.prefix, err)
	}
	return parallel(ctx, o, func(ctx context.Context, kr keyRange) (childReport, error) {
		var rep childReport
		sess := client.NewSession(&client.Config{Host: host, Port: port, UserName: "root", Password: "root"})
		if err := sess.Open(false, 10000); err != nil {
			return rep, fmt.Errorf("iotdb open: %w", err)
		}
		defer sess.Close()
		var (
			devices []string
			meas    [][]string
			types   [][]client.TSDataType
			values  [][]any
			times   []int64
			pending int64
		)
		flush := func() error {
			if len(devices) == 0 {
				return nil
			}
			if err := sess.InsertRecords(devices, meas, types, values, times); err != nil {
				return fmt.Errorf("insertRecords: %w", err)
			}
			rep.Points += pending
			pending = 0
			devices, meas, types, values, times = devices[:0], meas[:0], types[:0], values[:0], times[:0]
			return nil
		}
		err := scanRange(ctx, stmt, kr, o.page, func(r *scanRow) error {
			m := make([]string, 0, 5)
			t := make([]client.TSDataType, 0, 5)
			v := make([]any, 0, 5)
			if r.temperature.Valid {
				m, t, v = append(m, "temperature"), append(t, client.DOUBLE), append(v, r.temperature.Float64)
			}
			if r.humidity.Valid {
				m, t, v = append(m, "humidity"), append(t, client.DOUBLE), append(v, r.humidity.Float64)
			}
			if r.pressure.Valid {
				m, t, v = append(m, "pressure"), append(t, client.DOUBLE), append(v, r.pressure.Float64)
			}
			if r.voltage.Valid {
				m, t, v = append(m, "voltage"), append(t, client.FLOAT), append(v, float32(r.voltage.Float64))
			}
			if r.status.Valid {
				m, t, v = append(m, "status"), append(t, client.INT32), append(v, r.status.Int32)
			}
			rep.Rows++
			if len(m) == 0 {
				return nil // a record needs at least one value
			}
			pending += int64(len(m))
			devices = append(devices, o.prefix+"."+r.site+"."+r.device)
			meas, types, values = append(meas, m), append(types, t), append(values, v)
			times = append(times, r.createdAt.UnixMilli())
			if len(devices) >= o.batch {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		return rep, err
	})
}
