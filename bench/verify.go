package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// The verify phase: ./cmd/verify over the table backfill just wrote, on
// the same iotdbtest (phase.keep), with the same configuration. Its rows/s
// is set against raw-scan's in the ratios: the target is at least
// the raw scan's.

func verifyCommand(ctx context.Context, w *world, n int64) (*exec.Cmd, error) {
	if w.iot == nil {
		return nil, errors.New("verify compares what the backfill phase wrote: run it with backfill (--only backfill,verify)")
	}
	bin, err := w.build(ctx, "verify")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(w.tmp, fmt.Sprintf("verify-%d", n))
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	o := w.opts
	cfg := backfillConfig(bfParams{
		host: w.db.Host, port: w.db.Port,
		user: w.db.BridgeUser, password: w.db.BridgePassword, dbName: w.db.Database,
		iotdb: w.iotAddr, dir: dir,
		readers: o.readers, writers: o.writers, partitions: o.partitions,
		pageRows: o.pageRows, batchRows: o.batchRows,
	})
	path := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "--config", path, "--json")
	cmd.Dir = dir
	return cmd, nil
}

// checkVerify reads verify's JSON report: equal, every row read, every
// non-NULL cell compared on both sides.
func checkVerify(_ context.Context, w *world, n int64, out []byte) (int64, string) {
	var rep struct {
		Equal  bool `json:"equal"`
		Tables []struct {
			RowsRead     int64 `json:"rows_read"`
			SourcePoints int64 `json:"source_points"`
			IoTDBPoints  int64 `json:"iotdb_points"`
		} `json:"tables"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &rep); err != nil || len(rep.Tables) != 1 {
		return 0, fmt.Sprintf("verify report: %v: %.200s", err, out)
	}
	t := rep.Tables[0]
	switch {
	case !rep.Equal:
		return t.SourcePoints, "verify found differences after a clean backfill"
	case t.RowsRead != n || t.SourcePoints != w.points || t.IoTDBPoints != w.points:
		return t.SourcePoints, fmt.Sprintf("verify read %d rows and compared %d/%d points; the table has %d rows, %d non-NULL cells",
			t.RowsRead, t.SourcePoints, t.IoTDBPoints, n, w.points)
	}
	return t.SourcePoints, ""
}
