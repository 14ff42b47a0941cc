package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// The sync suite (--suite sync): cmd/sync on a table of --sync-rows rows
// with an index on its cursor column upd (the row's time: 1000 devices, one
// row per device per second, so the lookback's span before the mark holds
// about 1000 rows per second of lookback):
//
//	sync-first    the first run: the table is copied whole (backfill engine)
//	sync-changed  --sync-changed rows got a new cursor value (spread over the
//	              hour after the mark): the run reads them, plus the rows in
//	              the lookback's span before the old mark
//	sync-idle     nothing changed: the run reads the lookback's span only
//
// Each run is a child process (its CPU and peak RSS from rusage, the
// servers' CPU from /proc around it); rows read come from the run's log
// line.

const syncTable = "sync_readings"

func syncPhaseNames() []string { return []string{"sync-first", "sync-changed", "sync-idle"} }

// syncResult is one run of cmd/sync.
type syncResult struct {
	result
	RowsRead  int64  `json:"rows_read"`
	FirstCopy int64  `json:"first_copy_rows"`
	Note      string `json:"note"`
}

// ensureSyncTable creates and loads the sync table: the generator's rows
// with upd = created_at.
func (w *world) ensureSyncTable(ctx context.Context) error {
	n := w.opts.syncRows
	ddl := strings.Replace(tableDDL, "CREATE TABLE sensor_readings (", "CREATE TABLE "+syncTable+" (", 1)
	ddl = strings.Replace(ddl, "\n) ENGINE=InnoDB", ",\n  upd DATETIME(3) NOT NULL,\n  KEY (upd)\n) ENGINE=InnoDB", 1)
	for _, q := range []string{"DROP TABLE IF EXISTS " + syncTable, ddl} {
		if err := w.db.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	logf("sync suite: loading %d rows into %s (cursor upd = created_at, indexed)", n, syncTable)
	start := time.Now()
	pr, pw := io.Pipe()
	go func() {
		// The generator's lines with their created_at field again at the end.
		gr, gw := io.Pipe()
		go func() { _, err := w.gen.writeCSV(gw, 0, n); gw.CloseWithError(err) }()
		sc := bufio.NewScanner(gr)
		bw := bufio.NewWriterSize(pw, 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			f := bytes.SplitN(line, []byte(","), 5)
			bw.Write(line)
			bw.WriteByte(',')
			bw.Write(f[3])
			bw.WriteByte('\n')
		}
		err := sc.Err()
		if err == nil {
			err = bw.Flush()
		}
		gr.CloseWithError(errors.New("load ended"))
		pw.CloseWithError(err)
	}()
	loaded, err := w.db.LoadCSV(ctx, syncTable, append(append([]string(nil), loadColumns...), "upd"), pr)
	pr.CloseWithError(errors.New("load ended"))
	if err != nil {
		return fmt.Errorf("load %s: %w", syncTable, err)
	}
	if loaded != n {
		return fmt.Errorf("load %s: %d rows loaded, want %d", syncTable, loaded, n)
	}
	logf("sync suite: loaded in %.1fs", time.Since(start).Seconds())
	return nil
}

// syncConfig is the YAML of the suite's cmd/sync runs.
func (w *world) syncConfig(dir string) string {
	o := w.opts
	cfg := backfillConfig(w.params(dir))
	cfg = strings.ReplaceAll(cfg, tableName, syncTable)
	cfg = strings.Replace(cfg, "      partition:", fmt.Sprintf("      cursor: {columns: [upd], lookback: %s}\n      partition:", o.syncLookback), 1)
	cfg = strings.Replace(cfg, "root.bench.", "root.sync.", 1)
	return cfg + fmt.Sprintf("sync:\n  state: %s\n  page_rows: %d\n", yamlStr(filepath.Join(dir, "sync.state.json")), o.pageRows)
}

// runSyncSuite runs the three phases in order on one iotdbtest.
func runSyncSuite(ctx context.Context, w *world) []*syncResult {
	var out []*syncResult
	fail := func(name string, err error) []*syncResult {
		logf("sync suite: %s: %v", name, err)
		return append(out, &syncResult{result: result{Phase: name, Err: err.Error(), Check: "FAIL"}})
	}
	if err := w.ensureSyncTable(ctx); err != nil {
		return fail("sync-first", err)
	}
	if err := w.restartIoTDB(ctx); err != nil {
		return fail("sync-first", err)
	}
	bin, err := w.build(ctx, "sync")
	if err != nil {
		return fail("sync-first", err)
	}
	dir := filepath.Join(w.tmp, "sync")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail("sync-first", err)
	}
	cfgPath := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(cfgPath, []byte(w.syncConfig(dir)), 0o600); err != nil {
		return fail("sync-first", err)
	}
	for i, name := range syncPhaseNames() {
		if name == "sync-changed" {
			// Rows spread over the table get a new value of the cursor, spread
			// over the hour after the newest one (not timed).
			n := w.opts.syncChanged
			step := max(w.opts.syncRows/n, 1)
			var newest string
			if err := w.rootDB.QueryRowContext(ctx, "SELECT CAST(MAX(upd) AS CHAR) FROM "+syncTable).Scan(&newest); err != nil {
				return fail(name, err)
			}
			q := fmt.Sprintf("UPDATE %s SET temperature = temperature + 1, upd = TIMESTAMPADD(SECOND, 1 + MOD(id DIV %d, 3600), '%s') WHERE MOD(id, %d) = 0 LIMIT %d",
				syncTable, step, newest, step, n)
			if err := w.db.Exec(ctx, q); err != nil {
				return fail(name, err)
			}
		}
		logf("phase %s", name)
		srv := w.sampleServers()
		cmd := exec.CommandContext(ctx, bin, "--config", cfgPath, "--log-format", "json")
		cmd.Dir = dir
		logPath := filepath.Join(dir, fmt.Sprintf("%d-%s.log", i, name))
		run, err := runChild(ctx, cmd, logPath)
		if err != nil {
			return fail(name, err)
		}
		r := &syncResult{result: result{Phase: name, WallS: run.wall.Seconds(), ClientCPUS: run.cpu.Seconds(), ClientRSS: run.maxRSS, Check: "ok"}}
		srv.done(&r.result)
		line, err := lastRunLine(logPath)
		if err != nil {
			return fail(name, err)
		}
		r.RowsRead, r.FirstCopy, r.Points = int64(line["rows"].(float64)), int64(num(line["first_copy_rows"])), int64(num(line["points"]))
		r.Rows = r.RowsRead + r.FirstCopy
		switch name {
		case "sync-first":
			r.Note = fmt.Sprintf("first copy of %d rows, then the lanes", w.opts.syncRows)
			if r.FirstCopy != w.opts.syncRows {
				r.Check = fmt.Sprintf("FAIL: first copy read %d rows, want %d", r.FirstCopy, w.opts.syncRows)
			}
		case "sync-changed":
			r.Note = fmt.Sprintf("%d rows changed; lookback %s", w.opts.syncChanged, w.opts.syncLookback)
			if r.RowsRead < w.opts.syncChanged {
				r.Check = fmt.Sprintf("FAIL: read %d rows, fewer than the %d changed", r.RowsRead, w.opts.syncChanged)
			}
		case "sync-idle":
			r.Note = "nothing changed: the lookback's span only"
		}
		logf("%s: %d rows read in %.3fs, %.3f CPU s", name, r.Rows, r.WallS, r.ClientCPUS)
		out = append(out, r)
	}
	return out
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

// lastRunLine is the "sync run finished" line of a run's log.
func lastRunLine(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var line map[string]any
	for _, l := range strings.Split(string(b), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["message"] == "sync run finished" {
			line = m
		}
	}
	if line == nil {
		return nil, fmt.Errorf("%s: no \"sync run finished\" line", path)
	}
	return line, nil
}

// writeSyncText prints the suite's table.
func writeSyncText(w io.Writer, o *options, rs []*syncResult) {
	fmt.Fprintf(w, "\nsync (cmd/sync, one-shot runs; table of %d rows, cursor upd indexed, lookback %s):\n", o.syncRows, o.syncLookback)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tfirst copy rows\tlane rows read\twall s\tbridge CPU s\tmariadbd CPU s\tiotdbtest CPU s\tpeak RSS MB\tcheck\tnote")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.0f\t%s\t%s\n", r.Phase, r.FirstCopy, r.RowsRead, r.WallS, r.ClientCPUS, r.MariaCPUS, r.IoTCPUS, mb(r.ClientRSS), r.Check, r.Note)
	}
	tw.Flush()
}
